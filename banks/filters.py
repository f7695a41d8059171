"""Query parameters of the native bank, memory and entity lists, as django-filter filtersets.
Each filter applies the same domain query the compatible surface uses (``banks.memory_queries``),
so both surfaces filter alike; a bad value is a 400 naming the parameter."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import QuerySet

from .memory_queries import banks_matching, entities_named, memories_with_text
from .models import Bank, Entity, Memory
from .tags import with_tags


class RepeatedCharField(forms.Field):
    """A parameter that may repeat (``?tag=a&tag=b``); empty values are dropped."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: object) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        return [str(item) for item in values if item not in (None, "")]


class RepeatedCharFilter(django_filters.Filter):
    field_class = RepeatedCharField


class NameFragmentField(forms.CharField):
    """Any text: an entity search normalises it the way names are (NUL and punctuation
    included), so nothing typed is an error; it simply matches no name."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators
                           if not isinstance(v, ProhibitNullCharactersValidator)]


class NameFragmentFilter(django_filters.CharFilter):
    field_class = NameFragmentField


class BankFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="substring of the bank id or name")

    class Meta:
        model = Bank
        fields = ["q"]

    def filter_q(self, queryset: QuerySet[Bank], name: str, value: str) -> QuerySet[Bank]:
        return banks_matching(queryset, value)


class MemoryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q",
                                  label="case-insensitive substring of the content or context")
    document_id = django_filters.CharFilter(field_name="document_id")
    tag = RepeatedCharFilter(method="filter_tags", label="repeat: memories having every tag")

    class Meta:
        model = Memory
        fields = ["q", "document_id", "tag"]

    def filter_q(self, queryset: QuerySet[Memory], name: str, value: str) -> QuerySet[Memory]:
        return memories_with_text(queryset, value)

    def filter_tags(self, queryset: QuerySet[Memory], name: str,
                    value: list[str]) -> QuerySet[Memory]:
        return with_tags(queryset, value, match="all") if value else queryset


class EntityFilterSet(django_filters.FilterSet):
    q = NameFragmentFilter(method="filter_q", label="part of the entity's name")

    class Meta:
        model = Entity
        fields = ["q"]

    def filter_q(self, queryset: QuerySet[Entity], name: str, value: str) -> QuerySet[Entity]:
        return entities_named(queryset, value)
