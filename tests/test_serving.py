"""The service as users start it: gunicorn exactly as ``make run`` does, and ``runserver`` (with
its autoreloader parent), each running operations once, in-process, on a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def serve(command: list[str], tmp_path: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
           "HINDSIGHT_CHUNK_SIZE": "50",
           # With DEBUG off the server refuses the built-in default key (issue 9).
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "serving-test-" + "k" * 40}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True)
    port = free_port()
    command = [part.replace("PORT", str(port)) for part in command]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(proc.pid, 9)
    raise AssertionError(f"{command[0]} did not come up")


GUNICORN = [str(BIN / "gunicorn"), "hindsight_project.wsgi:application", "--bind",
            "127.0.0.1:PORT", "--workers", "1", "--worker-class", "gthread", "--threads", "4"]
RUNSERVER = [sys.executable, "manage.py", "runserver", "127.0.0.1:PORT"]
# `make run`: gunicorn with its configuration module, one process per core (two here).
MAKE_RUN = [str(BIN / "gunicorn"), "-c", "python:hindsight_project.gunicorn_conf",
            "hindsight_project.wsgi:application", "--bind", "127.0.0.1:PORT", "--workers", "2"]


@pytest.mark.parametrize("command", [GUNICORN, MAKE_RUN, RUNSERVER],
                         ids=["gunicorn", "make-run-2-processes", "runserver"])
def test_server_runs_each_operation_exactly_once_in_process(command, tmp_path):
    proc, url = serve(command, tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            contents = [{"content": f"note {i}"} for i in range(500)]
            created = client.post("/api/banks/srv/memories/",
                                  json={"async": True, "contents": contents})
            assert created.status_code == 202
            op_url = created.headers["Location"]
            deadline = time.monotonic() + 60
            while (op := client.get(op_url).json())["status"] != "completed":
                assert time.monotonic() < deadline and op["status"] in ("pending", "running")
                time.sleep(0.1)
            assert op["attempt"] == 1 and op["progress"] == 500
            assert client.get("/api/banks/srv/").json()["memory_count"] == 500
            health = client.get("/health").json()
            assert health["executor"]["type"] == "embedded"
            # Swagger UI and admin assets come from this server: the docs work offline.
            docs = client.get("/api/docs/").text
            asset = docs.split('href="')[1].split('"')[0]
            assert client.get(asset).status_code == 200, asset
            assert client.get("/static/admin/css/base.css").status_code == 200
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_openapi_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file",
                 str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")
