"""docs/webhooks.md runs as written: the Python snippets verbatim against a live server (the
receiver verifies real signed deliveries and dedupes a redelivery), the CLI lines parse with the
real parser, the manage.py lines run."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import threading
from http.server import HTTPServer
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from hindsight_cli.main import build_parser
from operations import webhook_services
from operations.executor import get_executor
from operations.models import WebhookDelivery
from tests.factories import make_bank, submit_retain
from tests.webhooks.test_delivery import wait_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```python\n(.*?)```", re.S)
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)

pytestmark = pytest.mark.django_db(transaction=True)


def snippets() -> dict[str, str]:
    return dict(SNIPPET.findall(DOC.read_text()))


def test_configure_snippet_runs_verbatim(live_server, monkeypatch):
    monkeypatch.setenv("HINDSIGHT_API_URL", live_server.url)
    monkeypatch.delenv("HINDSIGHT_API_KEY", raising=False)
    make_bank("my-bank")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippets()["configure"], "docs/webhooks.md:configure", "exec"), {})
    [hook] = webhook_services.webhooks_of(make_bank("my-bank"))
    assert out.getvalue().strip() == hook.secret
    assert hook.events == ["operation.completed", "operation.failed"]


def test_documented_receiver_verifies_real_deliveries_and_dedupes(settings):
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True
    settings.HINDSIGHT_WEBHOOK_POLL_INTERVAL = 0.05
    get_executor().start()
    namespace: dict = {"__name__": "docs_receiver"}
    exec(compile(snippets()["receiver"], "docs/webhooks.md:receiver", "exec"), namespace)
    server = HTTPServer(("127.0.0.1", 0), namespace["Handler"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        bank = make_bank("my-bank")
        hook = webhook_services.create_webhook(bank, url, events=["operation.completed"])
        namespace["SECRET"] = hook.secret
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            op = submit_retain(bank, 2, dispatch=True)
            first = wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").first())
            assert first.last_status_code == 204
            webhook_services.redeliver(first)
            wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 2)
        assert namespace["seen"] == {first.event_id}
        assert out.getvalue() == f"operation.completed {op.pk} completed\n"
        forged = httpx.post(url, content=b'{"event_id": "evt_x"}', headers={
            "X-Hindsight-Signature-V2": "t=1700000000,v1=" + "0" * 64})
        assert forged.status_code == 401
        namespace["SECRET"] = "whsec_a-different-secret"
        webhook_services.redeliver(first)
        wait_for(lambda: WebhookDelivery.objects.filter(last_status_code=401).exists())
    finally:
        server.shutdown()
        server.server_close()


def test_cli_lines_parse_and_manage_lines_run(db):
    parser = build_parser()
    lines = [line for block in BASH_BLOCK.findall(DOC.read_text())
             for line in block.splitlines() if line.strip()]
    cli = [shlex.split(line, comments=True) for line in lines if line.startswith("hindsight ")]
    assert len(cli) == 6
    for argv in cli:
        assert parser.parse_args(argv[1:]).handler
    make_bank("my-bank")
    managed = [shlex.split(line, comments=True) for line in lines if "manage.py" in line]
    assert len(managed) == 2
    for argv in managed:
        call_command(*argv[2:], stdout=io.StringIO())
