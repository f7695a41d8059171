"""Posting admin actions the way the changelist form and the confirmation page do."""

from __future__ import annotations

from django.test import Client

CHANGELIST = "/admin/operations/operation/"


def post_action(client: Client, action: str, ids: list, *, confirm: bool = False,
                url: str = CHANGELIST, select_across: bool = False):
    """What the changelist's action form posts (first step), or the confirmation page posts."""
    data = {
        "action": action,
        "_selected_action": [str(pk) for pk in ids],
        "select_across": "1" if select_across else "0",
    }
    if confirm:
        data["post"] = "yes"
    else:
        data["index"] = "0"
    return client.post(url, data, follow=confirm)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []
