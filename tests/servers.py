"""Real servers for the suite: redis-server and a throwaway PostgreSQL 15 cluster.

A pytest plugin (``pytest_plugins = ["tests.servers"]`` in ``tests/conftest.py``) with two
session-scoped fixtures:

- ``redis_server`` / ``redis_url``: ``redis-server`` on a free loopback port in a temporary
  directory, no persistence (``--save "" --appendonly no``). ``redis_server.stop()`` and
  ``.start()`` restart it on the same port (outbox tests stop Redis under a running API).
- ``postgres_cluster`` / ``postgres_url``: ``initdb`` + ``pg_ctl`` from
  ``/usr/lib/postgresql/15/bin`` in a temporary directory on a free loopback port, trust auth on
  loopback only. PostgreSQL refuses to run as root and CI runs as root, so the cluster runs as the
  system user ``hindsight-pg`` (created with ``useradd`` when missing). ``postgres_url`` is a
  ``postgres://`` URL of a database created for the session; ``postgres_cluster.create_database()``
  makes more.

Nothing is skipped: a missing binary fails the fixture with a message naming the Debian package
(``make test`` installs them). The classes are importable by benchmarks and scripts too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
PG_USER = "hindsight-pg"
START_TIMEOUT = 60.0


class ServerError(RuntimeError):
    """A real server the suite needs could not be found or started."""


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it; tiny race accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise ServerError(
            f"{binary} not found: install the Debian package '{package}' "
            f"(`make system-deps` or `apt-get install {package}`)"
        )
    return path


class RedisServer:
    """One redis-server process on a fixed loopback port; can be stopped and started again."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = _need("redis-server", "redis-server")
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hindsight-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "yes",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"redis-server exited: {self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.05)
        raise ServerError(f"redis-server did not answer within {START_TIMEOUT}s: {self.log_tail()}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and wait until the port is closed (clients then get refusals)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server (no shutdown of any kind, like a crash or an OOM kill); with no
        persistence, the next ``start()`` on the same port comes back empty."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=15)
        self.process = None

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def log_tail(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    raise ServerError(
        f"PostgreSQL's {name} not found in {', '.join(PG_BIN_DIRS)}: install the Debian package "
        "'postgresql' (`make system-deps` or `apt-get install postgresql`)"
    )


def _ensure_pg_user() -> pwd.struct_passwd:
    """The unprivileged account the cluster runs as when we are root (postgres refuses root)."""
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            capture_output=True,
            text=True,
        )
    try:  # a parallel test session may have created it first: that is fine too
        return pwd.getpwnam(PG_USER)
    except KeyError:
        raise ServerError(f"could not create user {PG_USER}: {result.stderr}") from None


class PostgresCluster:
    """A throwaway PostgreSQL cluster in a temporary directory, listening on loopback only."""

    def __init__(self, port: int | None = None, durable: bool = False) -> None:
        self.initdb = _pg_bin("initdb")
        self.pg_ctl = _pg_bin("pg_ctl")
        self.port = port or free_port()
        # Tests do not need crash safety of the cluster itself; benchmarks pass durable=True so
        # their figures match a real deployment's commit cost.
        self.durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix="hindsight-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            account = _ensure_pg_user()
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        self.dir.chmod(0o700)
        self.started = False

    def _run(self, args: list[str], timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess:
        command = ["runuser", "-u", PG_USER, "--", *args] if self.as_root else args
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=str(self.dir)
        )
        if result.returncode != 0:
            raise ServerError(
                f"{' '.join(args[:2])} failed ({result.returncode}): "
                f"{result.stdout[-1500:]}{result.stderr[-1500:]}{self.log_tail()}"
            )
        return result

    def start(self) -> None:
        if self.started:
            return
        if not (self.data / "PG_VERSION").exists():
            self._run(
                [self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                timeout=120,
            )
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.dir}",
            "-c max_connections=200",
            "-c shared_buffers=64MB",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            [self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
             "-o", " ".join(options), "start"],
            timeout=120,
        )
        self.started = True

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create (or re-create empty) database ``name``; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if not self.started:
            return
        with contextlib.suppress(ServerError, subprocess.TimeoutExpired):
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        self.started = False

    def stop_fast(self) -> None:
        """``pg_ctl stop -m fast``: every client connection is cut (the first half of the
        ``pg_ctl restart -m fast`` an operator runs); ``start()`` brings it back."""
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"])
        self.started = False

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM a child's process group, then SIGKILL it if it does not exit in time."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


# --- pytest fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except ServerError as exc:
        server.close()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
        cluster.start()
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database("hindsight")
