"""Declarative filters for operation lists (native API, admin-independent)."""

from __future__ import annotations

import django_filters
from django import forms

from .models import Operation
from .states import OperationStatus, OperationType


class CommaMultipleChoiceField(forms.MultipleChoiceField):
    """Accepts ``?status=a&status=b`` and ``?status=a,b`` alike; a bad value is answered with
    the valid ones."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        valid = ", ".join(str(value) for value, _ in self.choices)
        self.error_messages["invalid_choice"] = (
            f"'%(value)s' is not a valid choice; expected one of: {valid}."
        )

    def to_python(self, value: object) -> list[str]:
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]


class CommaMultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = CommaMultipleChoiceField


class OperationFilterSet(django_filters.FilterSet):
    status = CommaMultipleChoiceFilter(choices=OperationStatus.choices)
    type = CommaMultipleChoiceFilter(choices=OperationType.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Operation
        fields = ["status", "type", "created_after", "created_before"]


class CrossBankOperationFilterSet(OperationFilterSet):
    bank_id = django_filters.CharFilter(field_name="bank__bank_id")

    class Meta(OperationFilterSet.Meta):
        fields = [*OperationFilterSet.Meta.fields, "bank_id"]
