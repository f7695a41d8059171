"""``make run-scale`` as a user runs it: a worker that dies is restarted with a line saying so,
and so is the throwaway redis-server, instead of the whole stack stopping at the first exit."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scale.stack import ROOT, children, wait_until
from tests.servers import free_port

pytestmark = pytest.mark.slow


def descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


class RunScale:
    def __init__(self, tmp_path: Path) -> None:
        self.port, self.redis_port = free_port(), free_port()
        self.log = tmp_path / "run-scale.log"
        env = {**os.environ, "HINDSIGHT_DATA_DIR": str(tmp_path),
               "DATABASE_URL": f"sqlite:///{tmp_path / 'scale.sqlite3'}",
               "HINDSIGHT_STALE_AFTER": "2", "HINDSIGHT_SWEEP_INTERVAL": "0.5",
               "HINDSIGHT_DISPATCH_GRACE": "1"}
        env.pop("REDIS_URL", None)
        # -o: the venv is this one, already installed; never reinstall it from a test.
        self.process = subprocess.Popen(
            ["make", "-s", "-o", ".venv/.installed", "run-scale", f"PORT={self.port}",
             f"REDIS_PORT={self.redis_port}"],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def expect(self, predicate, what: str, timeout: float = 90) -> None:
        try:
            wait_until(predicate, timeout=timeout, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()[-5000:]}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def workers(self) -> list[int]:
        # (not the recipe's shell, whose command line names them all)
        return [pid for pid in descendants(self.process.pid)
                if argv(pid)[1:3] == ["manage.py", "rqworker"]
                and os.getpgid(pid) == self.process.pid]  # not the forked work-horses

    def redis(self) -> list[int]:
        return [pid for pid in descendants(self.process.pid)
                if argv(pid)[0].startswith("redis-server")]

    def healthy_workers(self) -> int:
        response = self.client.get("/health")
        body = response.json()
        return response.status_code == 200 and body["workers"]["alive"] == 2 and \
            body["workers"]["waiting_for_redis"] == 0

    def retain_completes(self, bank_id: str) -> None:
        created = self.client.post(f"/api/banks/{bank_id}/memories/", json={
            "async": True, "contents": [{"content": f"{bank_id} {i}"} for i in range(20)]})
        assert created.status_code == 202, created.text
        op_url = created.headers["Location"]
        wait_until(lambda: self.client.get(op_url).json()["status"] == "completed", timeout=120,
                   what=f"retain into {bank_id} completed")

    def group(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.getpgid(int(entry.name)) == self.process.pid:
                        pids.append(int(entry.name))
        return pids

    def close(self) -> None:
        """SIGTERM the whole process group (make may be gone already), then SIGKILL what is
        left of it: nothing outlives the test."""
        self.client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: self.process.poll() is not None and not self.group(), timeout=30,
                       what="run-scale stopped")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def run_scale(tmp_path: Path) -> Iterator[RunScale]:
    stack = RunScale(tmp_path)
    try:
        wait_until(lambda: stack.process.poll() is None and stack.healthy_workers(),
                   timeout=180, what="make run-scale up")
    except AssertionError:
        stack.close()
        raise AssertionError(stack.output()[-4000:]) from None
    yield stack
    stack.close()


def test_make_run_scale_restarts_a_dead_worker_and_a_dead_redis_instead_of_stopping(run_scale):
    victim = run_scale.workers()[0]
    os.kill(victim, signal.SIGKILL)
    run_scale.expect(lambda: f"(pid {victim}) exited; restarting it" in run_scale.output(),
                     "the restart line")
    run_scale.expect(lambda: len(run_scale.workers()) == 2 and victim not in run_scale.workers(),
                     "a new worker process")
    run_scale.expect(run_scale.healthy_workers, "two workers alive again")
    run_scale.retain_completes("after-worker")

    redis_pid = run_scale.redis()[0]
    workers = run_scale.workers()
    os.kill(redis_pid, signal.SIGKILL)
    run_scale.expect(lambda: re.search(rf"redis-server \(pid {redis_pid}\) exited; starting it "
                                       "again", run_scale.output()), "the Redis restart line")
    run_scale.expect(run_scale.healthy_workers, "workers back on the new Redis", timeout=120)
    run_scale.retain_completes("after-redis")
    assert sorted(run_scale.workers()) == sorted(workers)  # they rode it out themselves
    assert run_scale.process.poll() is None
