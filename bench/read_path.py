"""Read path under polling load (issue 15): status polls, list pages and conditional GETs next to
``/version`` on the same server, in one run, with the server started exactly like ``make run``.

    .venv/bin/python bench/read_path.py [--clients 32] [--requests 60] [--processes 1,2]
                                        [--big 1000000] [--ingest-items 10000] [--rounds 3]

For each server layout in ``--processes`` (gunicorn processes; ``make run`` uses one per core) it
starts ``gunicorn -c python:hindsight_project.gunicorn_conf`` on a fresh SQLite file, seeds a
bank, and sends ``--clients`` concurrent keep-alive clients (spread over a few client processes)
each making ``--requests`` GETs of:

- ``/version`` (the baseline: no database),
- the native detail of a completed 10-item operation, and the compatible
  ``get_operation_status`` of it,
- the same detail with a matching ``If-None-Match`` (304),
- the operations list (``?status=completed&limit=20``),
- the detail of a completed 10,000-item operation, with and without ``?include=`` skipping
  ``memory_ids``,
- the native detail of an operation *while* 10,000-item ingests run back to back,

and prints requests/s, p50 and p99 per scenario and the ratios the bars are about: the medians
of ``--rounds`` rounds, each of which runs every scenario once, so that a noisy moment of a
shared 2-core machine spoils one sample, not the figure. Then, for the
last layout: submit -> completed of one 10,000-item ingest per layout (the ingest must not
regress), and list p99 in cursor mode at ``--big`` operations in one bank vs 1,000 (with offset
mode's cost at depth next to it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import free_port, make_items  # a sibling script: bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CLIENT_PROCESSES = 4


# --- the server, as `make run` starts it ---------------------------------------------------------

def start_server(workdir: Path, processes: int) -> tuple[subprocess.Popen, str, Path]:
    db = workdir / "server.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "LOG_LEVEL": "WARNING",
           "HINDSIGHT_DATA_DIR": str(workdir), "HINDSIGHT_WEB_PROCESSES": str(processes),
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + "k" * 40,
           # Every bench client is one address to the throttle, and a run sends more than the
           # default 20,000 requests a minute; the throttle still runs (and costs what it costs).
           "HINDSIGHT_ANON_THROTTLE_RATE": os.environ.get(
               "HINDSIGHT_ANON_THROTTLE_RATE", "100000000/min")}
    env.pop("HINDSIGHT_DOORBELL_FD", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True)
    port = free_port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "python:hindsight_project.gunicorn_conf",
         "hindsight_project.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url, db
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("server did not start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


# --- load: N keep-alive clients over a few processes ---------------------------------------------

def _client_thread(port: int, paths: list[str], headers: dict, count: int,
                   out: list[float], codes: dict) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(count):
        path = paths[i % len(paths)]
        if path.startswith("@"):  # read the current target from a shared file (ingest scenario)
            path = Path(path[1:]).read_text()
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - start)
        codes[response.status] = codes.get(response.status, 0) + 1


def _client_process(port: int, paths: list[str], headers: dict, threads: int, count: int,
                    queue: multiprocessing.Queue) -> None:
    samples: list[list[float]] = [[] for _ in range(threads)]
    per_thread: list[dict[int, int]] = [{} for _ in range(threads)]  # no lost counts
    workers = [threading.Thread(target=_client_thread,
                                args=(port, paths, headers, count, samples[t], per_thread[t]))
               for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    codes: dict[int, int] = {}
    for counted in per_thread:
        for code, n in counted.items():
            codes[code] = codes.get(code, 0) + n
    queue.put(([s for per in samples for s in per], codes))


def load(url: str, paths: list[str], clients: int, count: int,
         headers: dict | None = None) -> dict:
    port = int(url.rsplit(":", 1)[1])
    queue: multiprocessing.Queue = multiprocessing.Queue()
    per_proc = [clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
                for i in range(CLIENT_PROCESSES)]
    procs = [multiprocessing.Process(target=_client_process,
                                     args=(port, paths, headers or {}, n, count, queue))
             for n in per_proc if n]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    samples = sorted(s for got, _ in results for s in got)
    codes: dict[int, int] = {}
    for _, got in results:
        for code, n in got.items():
            codes[code] = codes.get(code, 0) + n
    return {"rps": len(samples) / elapsed, "p50": samples[len(samples) // 2] * 1000,
            "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
            "codes": codes}


# --- seeding ---------------------------------------------------------------------------

def ingest(client: httpx.Client, bank: str, items: list[dict]) -> str:
    response = client.post(f"/api/banks/{bank}/memories/",
                           json={"async": True, "contents": items})
    response.raise_for_status()
    return response.json()["operation_id"]


def wait_done(client: httpx.Client, bank: str, op_id: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = client.get(f"/api/banks/{bank}/operations/{op_id}/?wait=5",
                        params={"result": "summary"}).json()
        if op["status"] in ("completed", "failed", "cancelled"):
            return op
    raise SystemExit(f"operation {op_id} did not finish")


def fill_operations(db: Path, bank_pk: int, count: int) -> None:
    """``count`` completed operations in one bank, written straight into the SQLite file (the
    API would take hours); timestamps one second apart, newest last."""
    conn = sqlite3.connect(db, timeout=120)
    columns = conn.execute("PRAGMA table_info(operations_operation)").fetchall()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    known = {"bank_id": lambda i, t: bank_pk, "type": lambda i, t: "batch_retain",
             "status": lambda i, t: "completed", "progress": lambda i, t: 1,
             "total": lambda i, t: 1, "created_at": lambda i, t: t, "updated_at": lambda i, t: t,
             "started_at": lambda i, t: t, "completed_at": lambda i, t: t,
             "id": lambda i, t: uuid.UUID(int=(i + 1) << 64 | bank_pk).hex,
             "error": lambda i, t: None, "summary": lambda i, t: None}
    names, makers = [], []
    for _, name, kind, notnull, default, _ in columns:
        if name in known:
            names.append(name)
            makers.append(known[name])
        elif notnull and default is None:
            names.append(name)
            filler = 0 if any(t in kind.lower() for t in ("int", "bool", "real")) else ""
            makers.append(lambda i, t, v=filler: v)
    sql = (f"INSERT INTO operations_operation ({', '.join(names)}) "
           f"VALUES ({', '.join('?' * len(names))})")
    batch = 50_000
    for base in range(0, count, batch):
        rows = []
        for i in range(base, min(count, base + batch)):
            stamp = (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f")
            rows.append([make(i, stamp) for make in makers])
        with conn:
            conn.executemany(sql, rows)
    conn.close()


# --- scenarios -------------------------------------------------------------------------

def median_of(samples: list[dict]) -> dict:
    """Median requests/s, p50 and p99 of one scenario's rounds, with every round's rate."""
    def median(key: str) -> float:
        return statistics.median(sample[key] for sample in samples)
    codes: dict[int, int] = {}
    for sample in samples:
        for code, n in sample["codes"].items():
            codes[code] = codes.get(code, 0) + n
    return {"rps": median("rps"), "p50": median("p50"), "p99": median("p99"), "codes": codes,
            "rounds": [round(sample["rps"]) for sample in samples]}


def row(name: str, figures: dict, base: dict | None = None) -> None:
    ratio = ""
    if base is not None:
        ratio = (f"  rps x{figures['rps'] / base['rps']:.2f}  "
                 f"p99 x{figures['p99'] / base['p99']:.2f} of /version")
    print(f"  {name:<44} {figures['rps']:7.0f} req/s  p50 {figures['p50']:6.1f} ms  "
          f"p99 {figures['p99']:6.1f} ms{ratio}  {figures['codes']}"
          + (f"  rounds {figures['rounds']}" if len(figures.get("rounds", ())) > 1 else ""),
          flush=True)


def measure_layout(processes: int, args: argparse.Namespace, workdir: Path) -> dict:
    proc, url, _ = start_server(workdir, processes)
    figures: dict[str, dict] = {}
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            small = ingest(client, "poll", make_items(10, 200))
            wait_done(client, "poll", small)
            for _ in range(200):
                wait_done(client, "poll", ingest(client, "poll", make_items(1, 100)))
            big = ingest(client, "poll", make_items(args.ingest_items, 1024))
            wait_done(client, "poll", big)
            etag = client.get(f"/api/banks/poll/operations/{small}/").headers["ETag"]
        detail = f"/api/banks/poll/operations/{small}/"
        scenarios = [
            ("/version", ["/version"], None),
            ("native detail (completed, 10 items)", [detail], None),
            ("compat get_operation_status", [f"/v1/default/banks/poll/operations/{small}"],
             None),
            ("conditional GET, matching ETag (304)", [detail], {"If-None-Match": etag}),
            ("list ?status=completed&limit=20", [
                "/api/banks/poll/operations/?status=completed&limit=20"], None),
            (f"detail of {args.ingest_items}-item op", [f"/api/banks/poll/operations/{big}/"],
             None),
            (f"detail of {args.ingest_items}-item op ?result=summary",
             [f"/api/banks/poll/operations/{big}/?result=summary"], None),
        ]
        print(f"\n{processes} server process(es), {args.clients} clients x "
              f"{args.requests} GETs, {args.rounds} round(s) (medians)", flush=True)
        # Every round runs every scenario once, /version first: a drift of the machine weighs
        # on the baseline and the reads alike, and the medians drop a round it spoiled.
        rounds: dict[str, list[dict]] = {name: [] for name, _, _ in scenarios}
        for _ in range(args.rounds):
            for name, paths, headers in scenarios:
                rounds[name].append(load(url, paths, args.clients, args.requests, headers))
        for name, _, _ in scenarios:
            figures[name] = median_of(rounds[name])
            row(name, figures[name], None if name == "/version" else figures["/version"])
        figures["during ingest"] = poll_during_ingest(url, workdir, args)
        row("native detail while ingests run", figures["during ingest"], figures["/version"])
        figures["ingest"] = {"seconds": timed_ingest(url, args.ingest_items)}
        print(f"  submit -> completed, {args.ingest_items} items: "
              f"{figures['ingest']['seconds']:.2f} s", flush=True)
    finally:
        stop_server(proc)
    return figures


def point(target: Path, path: str) -> None:
    """Point the pollers at ``path``: written aside and renamed, so no poller reads half of it."""
    aside = target.with_suffix(".new")
    aside.write_text(path)
    os.replace(aside, target)


def poll_during_ingest(url: str, workdir: Path, args: argparse.Namespace) -> dict:
    target = workdir / "current-op"
    items = make_items(args.ingest_items, 1024)
    stop = threading.Event()
    with httpx.Client(base_url=url, timeout=600) as client:
        point(target, f"/api/banks/busy/operations/{ingest(client, 'busy', items)}/")

        def keep_ingesting() -> None:
            with httpx.Client(base_url=url, timeout=600) as feeder:
                while not stop.is_set():
                    op_id = ingest(feeder, "busy", items)
                    point(target, f"/api/banks/busy/operations/{op_id}/")
                    wait_done(feeder, "busy", op_id)

        time.sleep(0.3)  # the first ingest is under way
        feeder = threading.Thread(target=keep_ingesting, daemon=True)
        feeder.start()
        try:
            return load(url, [f"@{target}"], args.clients, args.requests)
        finally:
            stop.set()
            feeder.join()


def timed_ingest(url: str, n: int) -> float:
    with httpx.Client(base_url=url, timeout=600) as client:
        body = json.dumps({"async": True, "contents": make_items(n, 1024)})
        started = time.monotonic()
        response = client.post("/api/banks/ingest/memories/", content=body,
                               headers={"Content-Type": "application/json"})
        op_id = response.json()["operation_id"]
        while client.get(f"/api/banks/ingest/operations/{op_id}/",
                         params={"result": "summary"}).json()["status"] != "completed":
            time.sleep(0.1)
        return time.monotonic() - started


def measure_depth(args: argparse.Namespace, workdir: Path, processes: int) -> None:
    proc, url, db = start_server(workdir, processes)
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            for bank in ("small", "big"):
                client.post("/api/banks/", json={"bank_id": bank}).raise_for_status()
            pks = dict(sqlite3.connect(db).execute("SELECT bank_id, id FROM banks_bank"))
            started = time.monotonic()
            fill_operations(db, pks["small"], 1000)
            fill_operations(db, pks["big"], args.big)
            print(f"\nlist depth: {args.big:,} operations written in "
                  f"{time.monotonic() - started:.0f} s", flush=True)
            cursors = {}
            for bank, size in (("small", 1000), ("big", args.big)):
                base = f"/api/banks/{bank}/operations/?status=completed&limit=20"
                first = client.get(base).json()
                middle = client.get(f"{base}&offset={size // 2}").json()
                cursors[bank] = [f"{base}&cursor={first['next_cursor']}",
                                 f"{base}&cursor={middle['next_cursor']}"]
        results = {}
        for bank, size in (("small", 1000), ("big", args.big)):
            base = f"/api/banks/{bank}/operations/?status=completed&limit=20"
            results[bank] = load(url, cursors[bank], args.clients, args.requests)
            row(f"cursor pages, {size:,} operations", results[bank])
            row(f"offset {size // 2:,}, {size:,} operations",
                load(url, [f"{base}&offset={size // 2}"], 4, 5))
            row(f"first page with total, {size:,} operations", load(url, [base], 4, 5))
        print(f"  cursor p99 at {args.big:,} / at 1,000: "
              f"{results['big']['p99'] / results['small']['p99']:.2f} (bar <= 2)", flush=True)
    finally:
        stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--processes", default=f"1,{os.cpu_count() or 1}")
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--ingest-items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    layouts = sorted({int(p) for p in args.processes.split(",")})
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()}", flush=True)
    results = {}
    for processes in layouts:
        with tempfile.TemporaryDirectory() as workdir:
            results[processes] = measure_layout(processes, args, Path(workdir))
    print("\nbars (same run):")
    for processes, figures in results.items():
        version = figures["/version"]
        print(f"  {processes} process(es):")
        for name, rps_bar, p99_bar in (
            ("native detail (completed, 10 items)", 0.5, 2),
            ("compat get_operation_status", 0.5, 2),
            ("list ?status=completed&limit=20", 0.4, None),
            ("conditional GET, matching ETag (304)", 0.8, None),
            ("during ingest", None, 3),
        ):
            got = figures[name]
            parts = [f"rps x{got['rps'] / version['rps']:.2f}"
                     + (f" (bar >= {rps_bar})" if rps_bar else ""),
                     f"p99 x{got['p99'] / version['p99']:.2f}"
                     + (f" (bar <= {p99_bar})" if p99_bar else "")]
            print(f"    {name:<40} {'  '.join(parts)}")
    if len(layouts) > 1:
        one, many = results[layouts[0]], results[layouts[-1]]
        name = "native detail (completed, 10 items)"
        print(f"  status polls, {layouts[-1]} processes / {layouts[0]}: "
              f"x{many[name]['rps'] / one[name]['rps']:.2f} (bar >= 1.6)")
        print(f"  ingest {layouts[-1]} processes / {layouts[0]} (time): "
              f"x{many['ingest']['seconds'] / one['ingest']['seconds']:.2f} (no regression: ~1)")
    if args.big:
        with tempfile.TemporaryDirectory() as workdir:
            measure_depth(args, Path(workdir), layouts[-1])


if __name__ == "__main__":
    main()
