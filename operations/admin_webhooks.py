"""Staff admin pages for webhooks: subscriptions (secret masked; a new one can be set, and one
is generated at creation) and a read-only delivery log with its attempts, filters and a
*Redeliver* action. Every write goes through ``operations.webhook_services``, so the admin
refuses exactly what the APIs refuse (private addresses, unknown events, the per-bank limit).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import webhook_services, webhooks
from .exceptions import InvalidInput
from .models import Webhook, WebhookAttempt, WebhookDelivery


class WebhookForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in webhooks.EVENTS], required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None checked: every operation.* event.")
    new_secret = forms.CharField(
        required=False, label="New secret",
        help_text="Leave empty to keep the current one (one is generated for a new webhook).")

    class Meta:
        model = Webhook
        fields = ["bank", "url", "events", "enabled", "description"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        changes = {key: data.get(key) for key in ("url", "events", "enabled", "description")
                   if key in data}
        if data.get("new_secret"):
            changes["secret"] = data["new_secret"]
        try:
            self.cleaned_for_service = webhook_services.clean_fields(changes)
        except InvalidInput as exc:
            for field, problems in exc.errors.items():
                target = "new_secret" if field == "secret" else field
                self.add_error(target if target in self.fields else None, problems)
        bank = data.get("bank")
        limit = settings.HINDSIGHT_MAX_WEBHOOKS_PER_BANK
        if self.instance.pk is None and bank is not None and (
                Webhook.objects.filter(bank=bank).count() >= limit):
            self.add_error("bank", f"A bank may have at most {limit} webhooks.")
        return data


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "at", "status_code", "duration_ms", "error", "response_body"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "bank", "event_list", "enabled", "masked_secret", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "bank__bank_id", "description"]
    list_select_related = ["bank"]
    readonly_fields = ["masked_secret", "created_at", "updated_at"]

    @admin.display(description="events")
    def event_list(self, obj: Webhook) -> str:
        return ", ".join(obj.events) or "every operation.* event"

    @admin.display(description="secret")
    def masked_secret(self, obj: Webhook) -> str:
        return webhooks.mask_secret(obj.secret) or "-"

    def save_model(self, request: HttpRequest, obj: Webhook, form: WebhookForm,
                   change: bool) -> None:
        fields = dict(form.cleaned_for_service)
        if change:
            webhook_services.update_webhook(obj, **fields)
            return
        saved = webhook_services.create_webhook(obj.bank, fields.pop("url"), **fields)
        obj.pk = saved.pk
        messages.info(request, f"Signing secret (shown only now): {saved.secret}")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "event_id", "webhook", "status", "attempts", "last_status_code",
                    "last_error", "created_at"]
    list_filter = ["status", "event"]
    search_fields = ["event_id", "=operation_id", "webhook__url", "webhook__bank__bank_id"]
    list_select_related = ["webhook__bank"]
    inlines = [AttemptInline]
    actions = ["redeliver"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a log: what happened is not editable

    @admin.action(description="Redeliver (a new attempt series, same event id)",
                  permissions=["view"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        rows = [webhook_services.redeliver(row) for row in queryset]
        messages.success(request, f"{len(rows)} redelivery(ies) queued.")
