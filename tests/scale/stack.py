"""A whole deployment as real processes: the API on gunicorn, plus (scale-out) RQ workers,
redis-server and a PostgreSQL database. The scale-out tests and benchmarks drive it over HTTP
exactly like users do, and kill its processes like a failing machine would.

Two shapes, the two ways to run the product (docs/scale-out.md):
- ``embedded``: SQLite file + the executor thread pool inside the gunicorn process;
- ``rq``: PostgreSQL + Redis + ``manage.py rqworker`` processes (our HindsightWorker class).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.servers import RedisServer, free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]

# Short liveness timings so failures are detected in seconds, not the production 30 s; the
# stale-after is 20 heartbeats long, so a worker stalled for several seconds by a loaded machine
# is not taken for dead (which would make the attempt counts the tests assert wrong).
FAST_LIVENESS = {
    "HINDSIGHT_STALE_AFTER": "10",
    "HINDSIGHT_HEARTBEAT_INTERVAL": "0.5",
    "HINDSIGHT_SWEEP_INTERVAL": "0.5",
    "HINDSIGHT_DISPATCH_GRACE": "1",
    "HINDSIGHT_CANCEL_GRACE": "1",
}


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc; no extra dependency)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Format: pid (comm) state ppid ...; comm may contain spaces, so split after ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, step: float = 0.1,
               what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except httpx.HTTPError as exc:  # server restarting: keep polling
            last = exc
        else:
            if last:
                return last
        time.sleep(step)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


class Stack:
    """Processes of one deployment; ``close()`` stops every process it started."""

    def __init__(
        self,
        kind: str,
        *,
        redis: RedisServer | None = None,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        fast_liveness: bool = True,
        processes: int = 1,
    ) -> None:
        assert kind in ("embedded", "rq")
        self.kind = kind
        self.processes = processes  # gunicorn processes of the API (each with an executor)
        self.redis = redis
        self.dir = Path(tempfile.mkdtemp(prefix=f"hindsight-stack-{kind}-"))
        self.port = free_port()
        self.server: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.worker_logs: dict[int, Path] = {}  # worker pid -> its log file
        self._logs: list[Path] = []
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "hindsight_project.settings",
            "HINDSIGHT_DATA_DIR": str(self.dir),
            "DATABASE_URL": database_url or f"sqlite:///{self.dir / 'hindsight.sqlite3'}",
            "HINDSIGHT_EXECUTOR": kind,
            "LOG_LEVEL": "INFO",
            # With DEBUG off the server refuses the built-in default key (issue 9).
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "scale-stack-" + "k" * 40,
            **(FAST_LIVENESS if fast_liveness else {}),
            **(env or {}),
        }
        if redis is not None:
            self.env["REDIS_URL"] = redis.url
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30.0)

    # -- processes ----------------------------------------------------------------------------
    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log_path = self.dir / log_name
        self._logs.append(log_path)
        log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
        # Own session = own process group: killing it takes the RQ work-horse down too, like a
        # machine dying.
        return subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """Run a management command against this deployment's database and Redis."""
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                              env={**self.env, **env}, check=True, capture_output=True,
                              text=True, timeout=180)

    def migrate(self) -> None:
        self.manage("migrate", "--noinput", "-v0")

    def start_server(self) -> None:
        self.server = self._spawn(
            # As `make run` starts it (its gunicorn configuration), with our process count.
            [sys.executable, "-m", "gunicorn", "-c", "python:hindsight_project.gunicorn_conf",
             "hindsight_project.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.processes), "--threads", "8", "--graceful-timeout", "5"],
            f"server-{len(self._logs)}.log",
        )
        wait_until(self._live, timeout=60, what="API server up")

    def _live(self) -> bool:
        if self.server is not None and self.server.poll() is not None:
            raise RuntimeError(f"API server exited:\n{self.logs()}")
        try:
            return self.client.get("/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill_server(self) -> None:
        """SIGKILL the API process group (for embedded: the executor threads die with it)."""
        assert self.server is not None
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=15)
        self.server = None

    @property
    def runners(self) -> int:
        """Operations this deployment runs at once: executor threads in every API process
        (embedded), or the live RQ workers (one job each)."""
        if self.kind == "rq":
            return len(self.workers)
        return self.processes * int(self.env.get("HINDSIGHT_WORKERS", "2"))

    def start_worker(self) -> subprocess.Popen:
        name = f"worker-{len(self._logs)}.log"
        worker = self._spawn(
            # Plain `rqworker`: settings.RQ["WORKER_CLASS"] makes it our HindsightWorker.
            [sys.executable, "manage.py", "rqworker", "default"],
            name,
        )
        self.workers.append(worker)
        self.worker_logs[worker.pid] = self.dir / name
        return worker

    def worker_log(self, worker: subprocess.Popen) -> str:
        return self.worker_logs[worker.pid].read_text(errors="replace")

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL a worker and its work-horse at once, like a machine dying: no cleanup code of
        either runs. (RQ puts the horse in its own process group, hence two kills.)"""
        horses = children(worker.pid)
        os.killpg(worker.pid, signal.SIGKILL)
        for pid in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=15)
        self.workers.remove(worker)

    def busy_workers(self) -> list[subprocess.Popen]:
        """Workers that have a work-horse (are executing a job) right now."""
        return [worker for worker in self.workers if children(worker.pid)]

    def ensure_workers(self, count: int) -> None:
        for worker in [w for w in self.workers if w.poll() is not None]:
            self.workers.remove(worker)
        while len(self.workers) < count:
            self.start_worker()
        while len(self.workers) > count:
            worker = self.workers.pop()
            stop_process(worker)

    def start(self, workers: int = 2) -> Stack:
        self.migrate()
        self.start_server()
        for _ in range(workers if self.kind == "rq" else 0):
            self.start_worker()
        return self

    def close(self) -> None:
        for worker in list(self.workers):
            stop_process(worker)
        self.workers.clear()
        if self.server is not None:
            stop_process(self.server)
            self.server = None
        self.client.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def open_gate(self, name: str) -> None:
        """Let the operations waiting on the ``gate:<name>`` fault go on (faulty_jobs.py)."""
        (self.dir / f"gate-{name}").touch()

    def running(self, bank_id: str) -> list[str]:
        response = self.client.get(f"/api/banks/{bank_id}/operations/?status=running&limit=100")
        assert response.status_code == 200, response.text
        return [op["operation_id"] for op in response.json()["operations"]]

    def wait_jobs_settled(self, operation_ids: list[str], timeout: float = 60.0) -> None:
        """Until no RQ job of these operations is still queued or executing: each one has
        reached a worker (and run, or had its claim refused) or was never enqueued. The
        embedded executor has no queue outside the database: nothing to wait for."""
        if self.kind != "rq":
            return
        import redis
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        waiting = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED,
                   JobStatus.SCHEDULED}
        connection = redis.Redis.from_url(self.redis.url)

        def settled(job_id: str) -> bool:
            try:
                return Job.fetch(job_id, connection=connection).get_status() not in waiting
            except NoSuchJobError:
                return True

        try:
            wait_until(lambda: all(settled(op_id) for op_id in operation_ids),
                       timeout=timeout, what="RQ jobs of the operations settled")
        finally:
            connection.close()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}"
            for path in self._logs if path.exists()
        )

    # -- API helpers --------------------------------------------------------------------------
    def retain_async(self, bank_id: str, contents: list[dict], **extra: Any) -> dict:
        response = self.client.post(f"/api/banks/{bank_id}/memories/",
                                    json={"contents": contents, "async": True, **extra})
        assert response.status_code == 202, response.text
        return response.json()

    def operation(self, bank_id: str, operation_id: str) -> dict:
        response = self.client.get(f"/api/banks/{bank_id}/operations/{operation_id}/")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_status(self, bank_id: str, operation_id: str, statuses: set[str],
                    timeout: float = 90.0) -> dict:
        def reached() -> dict | None:
            op = self.operation(bank_id, operation_id)
            return op if op["status"] in statuses else None

        try:
            return wait_until(reached, timeout=timeout, step=0.1,
                              what=f"operation {operation_id} in {sorted(statuses)}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def wait_progress(self, bank_id: str, operation_id: str, at_least: int,
                      timeout: float = 90.0) -> dict:
        return wait_until(
            lambda: (op := self.operation(bank_id, operation_id))["progress"] >= at_least and op,
            timeout=timeout, step=0.05, what=f"progress >= {at_least}",
        )

    def memory_count(self, bank_id: str) -> int:
        response = self.client.get(f"/api/banks/{bank_id}/")
        assert response.status_code == 200, response.text
        return response.json()["memory_count"]


def contents(n: int, prefix: str = "memory", size: int = 0, **metadata: str) -> list[dict]:
    """``n`` retain items; ``metadata`` (e.g. ``fault="slow:0.01"``) goes on every item."""
    pad = "x" * size
    return [
        {"content": f"{prefix} {i} {pad}".strip(), **({"metadata": metadata} if metadata else {})}
        for i in range(n)
    ]
