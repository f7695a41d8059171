"""Tenant isolation, proved by walking every URL pattern of the project.

A key scoped to bank A ("alpha") is sent against bank B's resources on every route the URL
resolver knows, including routes other apps add later: B's bank_id in the path, B's operation
and memory ids under both banks' paths, ``bank_id``/``q``/``tag`` filters naming B, a cursor
minted for another list, bulk cancel by B's ids, every HTTP method with bodies naming B. Each
answer must be free of B's data and never 500, and B's rows must be exactly as before.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from banks.models import Bank, Memory
from operations import transitions, webhook_services
from operations.models import Operation, Webhook, WebhookDelivery
from tests.factories import make_bank, submit_retain
from tests.security.conftest import client_with

pytestmark = pytest.mark.django_db

B_BANK = "beta-secret-bank"
B_WORD = "zqxbetaprivate"  # in B's memory contents and names: any answer containing it leaks
METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>\w+)>")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    template: str  # "api/banks/{bank_id}/operations/{operation_id}/"
    params: tuple[str, ...]
    callback: object


def walk(resolver: URLResolver | None = None, prefix: str = "") -> list[Route]:
    """Every URL pattern as a fillable template (path() and re_path() both)."""
    resolver = resolver or get_resolver()
    routes = []
    for entry in resolver.url_patterns:
        part = str(entry.pattern)
        if part.startswith("^"):
            part = _GROUP.sub(lambda m: "{" + m["name"] + "}", part[1:].removesuffix("$"))
            # Optional parts ("(?P<token>...)?/?") are exercised as present.
            part = part.replace("\\.", ".").replace("\\/", "/").replace("?", "")
        else:
            part = _PARAM.sub(lambda m: "{" + m["name"] + "}", part)
        if isinstance(entry, URLResolver):
            routes.extend(walk(entry, prefix + part))
        elif isinstance(entry, URLPattern):
            template = prefix + part
            routes.append(Route(template, tuple(re.findall(r"\{(\w+)\}", template)),
                                entry.callback))
    return routes


@pytest.fixture
def tenant_b(db):
    """Bank B with memories and operations in every interesting state."""
    bank = Bank.objects.create(bank_id=B_BANK, name=f"{B_WORD} name", mission=f"{B_WORD} mission")
    memory = Memory.objects.create(bank=bank, content=f"{B_WORD} likes tea", tags=["beta-tag"],
                                   document_id="beta-doc", metadata={"owner": B_WORD})
    pending = submit_retain(bank, 3)
    cancelled = submit_retain(bank, 3)
    transitions.cancel(cancelled.pk)
    failed = submit_retain(bank, 3)
    transitions.claim(failed.pk, "w")
    transitions.fail(failed.pk, "w", f"{B_WORD} failure")
    # Webhooks (issue 14): a subscription of B's with a logged delivery.
    hook = webhook_services.create_webhook(bank, f"https://{B_WORD}.invalid/hook",
                                           secret=f"whsec_{B_WORD}secret")
    transitions.cancel(submit_retain(bank, 1).pk)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    return {"bank": bank, "memory": memory, "ops": [pending, cancelled, failed],
            "webhook": hook, "delivery": delivery}


@pytest.fixture
def tenant_a(db):
    bank = make_bank("alpha")
    Memory.objects.create(bank=bank, content="alpha likes coffee")
    return {"bank": bank, "ops": [submit_retain(bank, 2), submit_retain(bank, 2)]}


def snapshot_b() -> tuple:
    bank = Bank.objects.filter(bank_id=B_BANK).values_list("name", "mission").first()
    ops = sorted(Operation.objects.filter(bank__bank_id=B_BANK)
                 .values_list("id", "status", "progress", "attempt"))
    memories = sorted(Memory.objects.filter(bank__bank_id=B_BANK).values_list("id", "content"))
    hooks = sorted(Webhook.objects.filter(bank__bank_id=B_BANK)
                   .values_list("id", "url", "secret", "enabled", "events"))
    deliveries = sorted(WebhookDelivery.objects.filter(webhook__bank__bank_id=B_BANK)
                        .values_list("id", "event_id"))
    return bank, ops, memories, hooks, deliveries


def secrets_of_b(tenant_b) -> list[str]:
    """B's data as it would appear in an answer. Requests name B's ids and words too, and an
    echo of the caller's own input (a login page's ``next``, a not-found message) is no leak, so
    tokens present in the request are left out per request; B's stored texts never are."""
    ids = [str(op.pk) for op in tenant_b["ops"]] + [str(tenant_b["memory"].pk)]
    ids += [str(tenant_b["webhook"].pk), str(tenant_b["delivery"].pk)]
    texts = [f"{B_WORD} likes tea", f"{B_WORD} name", f"{B_WORD} mission", f"{B_WORD} failure",
             tenant_b["delivery"].event_id, f"{B_WORD}.invalid", f"whsec_{B_WORD}secret"]
    return [*texts, B_BANK, *ids, *(i.replace("-", "") for i in ids)]


def param_values(name: str, tenant_b) -> list[str]:
    b_ops = [str(op.pk) for op in tenant_b["ops"][:2]]
    if name == "bank_id":
        return [B_BANK, "alpha"]
    if name == "operation_id":
        return b_ops
    if name == "webhook_id":
        return [str(tenant_b["webhook"].pk)]
    if name == "delivery_id":
        return [str(tenant_b["delivery"].pk)]
    # Ids added by other apps (entity, memory, document, queue index...): try B's ids of each
    # kind, and 0 for integer converters.
    return [str(tenant_b["memory"].pk), b_ops[0], "beta-doc", B_BANK, "0"]


def bodies(tenant_b) -> list[dict]:
    b_ops = [str(op.pk) for op in tenant_b["ops"]]
    return [
        {},
        {"operation_ids": b_ops, "status": ["pending", "running", "failed", "cancelled"],
         "query": B_WORD, "bank_id": B_BANK, "name": "hijack", "mission": "hijack",
         "type": "batch_retain", "contents": [{"content": "from a"}],
         "items": [{"content": "from a"}], "async": True, "tags": ["beta-tag"],
         "document_id": "beta-doc"},
    ]


def query_strings(cursor_of_other_list: str) -> list[str]:
    return ["", f"?bank_id={B_BANK}", f"?q={B_WORD}&tag=beta-tag&tags=beta-tag",
            f"?cursor={cursor_of_other_list}", "?document_id=beta-doc&include_payload=true"]


def test_key_scoped_to_bank_a_never_reaches_bank_b_on_any_route(tenant_a, tenant_b, key_a,
                                                                  key_all):
    operator = client_with(key_all)
    # A cursor minted by an all-banks key on the cross-bank list (it may point into B).
    other_cursor = operator.get("/api/operations/?limit=1").json()["next_cursor"]
    assert other_cursor
    tenant = client_with(key_a)
    leaks, errors, exercised, unresolvable = [], [], set(), []
    before = snapshot_b()
    secrets = secrets_of_b(tenant_b)
    for route in walk():
        combos = itertools.product(*(param_values(p, tenant_b) for p in route.params))
        for values in combos:
            path = "/" + route.template.format(**dict(zip(route.params, values, strict=True)))
            try:
                if resolve(path.split("?")[0]).func is not route.callback:
                    continue  # an earlier, more specific pattern answers this path
            except Resolver404:
                unresolvable.append(path)
                continue
            exercised.add(route.template)
            for method in METHODS:
                variants = (query_strings(other_cursor) if method == "get"
                            else [None, *bodies(tenant_b)])
                for variant in variants:
                    make_bank("alpha")  # a DELETE of A's own bank is allowed; keep A around
                    if method == "get":
                        response = tenant.get(path + variant)
                        label = f"GET {path}{variant}"
                    else:
                        response = getattr(tenant, method)(path, variant, format="json")
                        label = f"{method.upper()} {path} {sorted(variant or {})}"
                        variant = variant or {}
                    if response.status_code >= 500 and not path.startswith("/health"):
                        errors.append(f"{label} -> {response.status_code}")
                    body = response.content.decode("utf-8", "replace")
                    if 200 <= response.status_code < 300:
                        found = [s for s in secrets if s in body and s not in label + str(variant)]
                        if found:
                            leaks.append(f"{label} -> {response.status_code} shows {found[:2]}")
                    if snapshot_b() != before:
                        leaks.append(f"{label} changed bank B's data")
                        before = snapshot_b()
    assert not errors, "server errors:\n" + "\n".join(errors[:40])
    assert not leaks, "bank B reached with bank A's key:\n" + "\n".join(leaks[:40])
    api_routes = {r.template for r in walk() if not r.template.startswith("admin/")}
    assert api_routes <= exercised, f"routes never exercised: {sorted(api_routes - exercised)}"


def test_cursor_minted_for_one_bank_is_rejected_on_another(tenant_a, tenant_b, key_all):
    operator = client_with(key_all)
    cursor = operator.get("/api/banks/alpha/operations/?limit=1").json()["next_cursor"]
    assert operator.get(f"/api/banks/alpha/operations/?limit=1&cursor={cursor}").status_code == 200
    replay = operator.get(f"/api/banks/{B_BANK}/operations/?cursor={cursor}")
    assert replay.status_code == 400
    assert "cursor" in replay.json()


def test_cross_bank_cursor_of_another_key_is_rejected(tenant_a, tenant_b, key_a, key_all):
    cursor = client_with(key_all).get("/api/operations/?limit=1").json()["next_cursor"]
    assert client_with(key_a).get(f"/api/operations/?cursor={cursor}").status_code == 400


def test_cross_bank_list_with_bank_id_filter_of_another_bank_is_empty(tenant_a, tenant_b,
                                                                       key_a):
    body = client_with(key_a).get(f"/api/operations/?bank_id={B_BANK}").json()
    assert body["operations"] == [] and body["total"] == 0
    mine = client_with(key_a).get("/api/operations/").json()
    assert {op["bank_id"] for op in mine["operations"]} == {"alpha"}


def test_bulk_cancel_by_ids_of_another_bank_counts_them_not_found(tenant_a, tenant_b, key_a):
    b_ids = [str(op.pk) for op in tenant_b["ops"]]
    response = client_with(key_a).post("/api/banks/alpha/operations/cancel/",
                                       {"operation_ids": b_ids}, format="json")
    assert response.status_code == 200
    assert response.json()["cancelled"] == 0
    assert response.json()["not_found"] == len(b_ids)
    assert Operation.objects.get(pk=tenant_b["ops"][0].pk).status == "pending"
