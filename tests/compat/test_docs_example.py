"""The example session of ``docs/compat.md`` runs, as written, against a live server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from banks.models import Bank, Memory

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parents[2] / "docs" / "compat.md"


def test_the_documented_session_runs_against_a_live_server(live_server, settings, capsys):
    settings.HINDSIGHT_CHUNK_SIZE = 50  # several progress steps for the 2,000-item retain
    [session] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    code = session.replace("http://localhost:8888", live_server.url)
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_compat_example"})

    printed = capsys.readouterr().out
    assert "memories stored: 2000" in printed
    assert "7001 memories deleted" in printed
    assert not Bank.objects.exists() and not Memory.objects.exists()
