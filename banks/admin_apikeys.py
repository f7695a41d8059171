"""Staff admin pages for API keys: create (the key is shown once, in the confirmation message),
list, revoke. Registered from ``BanksConfig.ready`` so ``banks/admin.py`` stays its owner's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from .apikeys import ApiKey, create_key, revoke_key


class ApiKeyCreateForm(forms.ModelForm):
    banks = forms.CharField(
        required=False,
        help_text="Comma-separated bank ids this key may see; empty = all banks.",
    )

    class Meta:
        model = ApiKey
        fields = ["name"]

    def bank_ids(self) -> list[str] | None:
        raw = self.cleaned_data.get("banks") or ""
        ids = [part.strip() for part in raw.split(",") if part.strip()]
        return ids or None


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "scope_label", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["all_banks", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "name", "all_banks", "bank_ids", "created_at", "last_used_at",
                       "revoked_at"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: Any):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # Keys are immutable once issued (scope changes = a new key); the page is read-only.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        issued = create_key(form.cleaned_data["name"], form.bank_ids())
        # The admin logs the addition with ``obj``; point it at the row create_key wrote.
        obj.pk, obj.prefix = issued.api_key.pk, issued.api_key.prefix
        request._issued_api_key = issued

    def response_add(self, request: HttpRequest, obj: ApiKey,
                     post_url_continue: str | None = None) -> HttpResponse:
        # Rendered straight into this response, not put in a message: messages live in a
        # cookie or the session, and the secret must not be stored anywhere.
        issued = request._issued_api_key
        response = TemplateResponse(request, "admin/banks/apikey/created.html", {
            **self.admin_site.each_context(request),
            "api_key": issued.api_key, "key": issued.key,
            "changelist_url": reverse("admin:banks_apikey_changelist"),
        })
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        active = [row.prefix for row in queryset if row.is_active]
        for prefix in active:
            revoke_key(prefix)
        messages.success(
            request, f"{len(active)} revoked, {queryset.count() - len(active)} already revoked."
        )
