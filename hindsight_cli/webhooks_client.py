"""Webhook calls of the Python client (docs/webhooks.md), mixed into ``HindsightClient``:
``configure_webhook(bank_id, url, events=[...], secret=None)`` and list / get / update / delete /
ping / deliveries / redeliver, over the native endpoints (docs/api.md 3.3)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def _hooks(bank_id: str) -> str:
    return f"/api/banks/{quote(bank_id, safe='')}/webhooks/"


class WebhooksMixin:
    """Needs the client's ``_json(method, path, **kwargs)``."""

    def configure_webhook(
        self, bank_id: str, url: str, events: list[str] | None = None,
        secret: str | None = None, *, description: str | None = None, enabled: bool = True,
    ) -> dict[str, Any]:
        """Subscribe ``url`` to ``events`` of the bank (default: every ``operation.*``
        event). The answer holds the signing secret in full, the only time it is shown; one is
        generated (``whsec_...``) when ``secret`` is None."""
        body: dict[str, Any] = {"url": url, "enabled": enabled}
        if events is not None:
            body["events"] = list(events)
        if secret is not None:
            body["secret"] = secret
        if description is not None:
            body["description"] = description
        return self._json("POST", _hooks(bank_id), json=body)

    def list_webhooks(self, bank_id: str) -> list[dict[str, Any]]:
        return self._json("GET", _hooks(bank_id))["webhooks"]

    def get_webhook(self, bank_id: str, webhook_id: str) -> dict[str, Any]:
        return self._json("GET", f"{_hooks(bank_id)}{webhook_id}/")

    def update_webhook(self, bank_id: str, webhook_id: str, **changes: Any) -> dict[str, Any]:
        """Change any of ``url``, ``events``, ``secret`` (rotates it), ``enabled``,
        ``description``."""
        return self._json("PATCH", f"{_hooks(bank_id)}{webhook_id}/", json=changes,
                          idempotent=True)

    def delete_webhook(self, bank_id: str, webhook_id: str) -> None:
        self._json("DELETE", f"{_hooks(bank_id)}{webhook_id}/")

    def ping_webhook(self, bank_id: str, webhook_id: str) -> dict[str, Any]:
        """Send a ``ping`` event now: ``{"delivered", "status_code", "duration_ms", "error"}``."""
        return self._json("POST", f"{_hooks(bank_id)}{webhook_id}/ping/")

    def list_webhook_deliveries(
        self, bank_id: str, webhook_id: str, status: str | None = None, limit: int = 20,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page, newest first: ``{"deliveries": [...], "next_cursor"}``."""
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        return self._json("GET", f"{_hooks(bank_id)}{webhook_id}/deliveries/", params=params)

    def redeliver(self, bank_id: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        """A new attempt series of a delivery's event (same ``event_id``)."""
        return self._json(
            "POST", f"{_hooks(bank_id)}{webhook_id}/deliveries/{delivery_id}/redeliver/"
        )
