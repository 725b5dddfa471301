"""Load benchmark of the REST API with 1 million stored alerts, SQLite beside PostgreSQL.

For each database: fill the store with N alerts (server-side bulk generation:
a recursive CTE on SQLite, ``generate_series`` on PostgreSQL; both after the
Alembic migration, so indexes are the real ones), start uvicorn in a
subprocess (1 and/or 2 worker processes), and per scenario:

* **capacity**: ``wrk`` on loopback, closed loop at ``--connections`` (a Lua
  script randomises ids, hosts and time ranges); without wrk, the Python client
  below in closed loop.
* **latency at the offered rate**: a separate load-generator process
  (``api_loadgen.open_loop``: raw asyncio HTTP/1.1, cheap per request) at a fixed
  rate, open loop: latency is measured from each request's scheduled start, so a
  stalled server cannot hide queueing delay.
* **server CPU per request**: user + system CPU seconds of uvicorn and its
  workers (from /proc) over the phase, divided by the requests served. This is
  robust to other load on a shared machine, unlike latency.

Scenarios: ``GET /alerts`` with filters (score + status; host; time range) and
``GET /alerts/{id}`` of random ids. Prints one table with both databases.

    .venv/bin/python benchmarks/api_load.py --reuse                  # 1M alerts, 500 req/s
    .venv/bin/python benchmarks/api_load.py --alerts 100000 --duration 5 --backends sqlite

SQLite data lives in ``--work`` (default /tmp/api); PostgreSQL data in the
database ``hopwatch_bench`` (created on 127.0.0.1:5432 if missing). With
``--reuse`` a store that already holds ``--alerts`` alerts is not refilled.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from api_loadgen import cpu_seconds, cpu_snapshot, have_wrk, open_loop, wrk_closed  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql://postgres@127.0.0.1:5432/hopwatch_bench"
HOSTS = 5000
USERS = 2000

_COLUMNS = (
    'key, time, last_time, "window", src_host, dst_host, "user", users, score, detector, '
    "scores, explanation, techniques, evidence, src_ips, severity, status, created_at, updated_at"
)


def _select(i: str, json_cast: str, now: str) -> str:
    """SELECT of one generated alert row from integer expression ``i``."""
    score = f"((({i} * 2654435761) % 1000000) / 1000000.0)"
    det = f"CASE WHEN {i} % 3 = 0 THEN 'gnn' ELSE 'xgb' END"
    return f"""
        'bench|' || {i}, {i} * 5, {i} * 5 + 60, ({i} * 5) / 1800,
        'C' || (({i} * 7919) % {HOSTS}), 'C' || (({i} * 104729 + 17) % {HOSTS}),
        'U' || ({i} % {USERS}) || '@DOM1', '[]'{json_cast}, {score}, {det},
        ('{{"' || {det} || '": ' || {score} || '}}'){json_cast},
        '[]'{json_cast}, '[]'{json_cast}, '[]'{json_cast}, '[]'{json_cast},
        CASE WHEN {score} >= 0.99 THEN 'high' WHEN {score} >= 0.9 THEN 'medium' ELSE 'low' END,
        CASE WHEN {i} % 10 = 0 THEN 'closed' WHEN {i} % 10 = 1 THEN 'triaged' ELSE 'new' END,
        {now}, {now}"""


def fill(url: str, n: int) -> tuple[float, int]:
    """Migrate a fresh store at ``url`` and insert ``n`` alerts (+ one score row each).

    Returns (seconds, alert count).
    """
    from sqlalchemy import text

    from detections.store import migrate, open_engine

    engine = open_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
                f"INSERT INTO alerts ({_COLUMNS}) SELECT {_select('i', '', 'CURRENT_TIMESTAMP')} "
                "FROM s"
            )
        else:
            sql = (
                f"INSERT INTO alerts ({_COLUMNS}) SELECT {_select('i::bigint', '::json', 'now()')} "
                f"FROM generate_series(1, {n}) AS i"
            )
            conn.exec_driver_sql(sql.replace("%", "%%"))
        conn.execute(
            text(
                "INSERT INTO alert_scores (alert_id, detector, score) "
                "SELECT id, detector, score FROM alerts"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # VACUUM sets the visibility map, so PostgreSQL's index-only scans skip the heap
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        count = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
    engine.dispose()
    return time.perf_counter() - t0, int(count)


def make_key(url: str) -> str:
    from detections.store import open_engine, session_factory
    from service.queries import apikeys

    engine = open_engine(url)
    with session_factory(engine)() as session, session.begin():
        _, key = apikeys.create(session=session, name=f"bench-{uuid.uuid4().hex[:8]}", scope="read")
    engine.dispose()
    return key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOPWATCH_")}
    env.update(
        HOPWATCH_DATABASE__URL=url,
        HOPWATCH_LLM__ENGINE="template",
        HOPWATCH_DATABASE__POOL_SIZE="20",
        PYTHONPATH=str(ROOT),
    )
    cmd = [
        sys.executable, "-m", "uvicorn", "service.app:app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    import httpx

    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("uvicorn exited during start-up")
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("uvicorn did not come up in 120 s")


def scenario_paths(name: str, n: int, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    if name == "list: min_score+status":
        return ["/alerts?min_score=0.9&status=new&limit=50" for _ in range(count)]
    if name == "list: host, sort -score":
        return [f"/alerts?host=C{rng.randrange(HOSTS)}&sort=-score&limit=50" for _ in range(count)]
    if name == "list: time range":
        out = []
        for _ in range(count):
            start = rng.randrange(n * 5)
            out.append(f"/alerts?start={start}&end={start + 3600}&limit=50")
        return out
    if name == "get by id":
        return [f"/alerts/{rng.randrange(1, n + 1)}" for _ in range(count)]
    raise ValueError(name)


SCENARIOS = ("list: min_score+status", "list: host, sort -score", "list: time range", "get by id")


def scenario_lua(name: str, n: int) -> str:
    """The Lua expression of one random path of ``name`` (the same as scenario_paths)."""
    return {
        "list: min_score+status": '"/alerts?min_score=0.9&status=new&limit=50"',
        "list: host, sort -score": f'"/alerts?host=C" .. math.random(0, {HOSTS - 1}) .. '
        '"&sort=-score&limit=50"',
        "list: time range": f"(function() local s = math.random(0, {n * 5 - 1}) "
        'return "/alerts?start=" .. s .. "&end=" .. (s + 3600) .. "&limit=50" end)()',
        "get by id": f'"/alerts/" .. math.random(1, {n})',
    }[name]


def stored_count(url: str) -> int:
    """Alerts in the store at ``url`` (0 when it has no alert table)."""
    from sqlalchemy import text

    from detections.store import open_engine

    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM alerts")).scalar_one())
    except Exception:
        return 0
    finally:
        engine.dispose()


def pg_backends(url: str) -> list[int]:
    """Process ids of the PostgreSQL backends serving the bench database (the API's pool)."""
    from sqlalchemy import text

    from detections.store import open_engine

    engine = open_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalars()
        out = [int(p) for p in pids]
    engine.dispose()
    return out


def measure(server: subprocess.Popen, url: str, fn, *args, **kwargs) -> dict:
    """Run a load phase; add the server's CPU ms per request served, and on PostgreSQL
    the CPU of its backends (on SQLite the database works inside the server)."""
    is_pg = url.startswith("postgres")
    before = cpu_snapshot()[0] if is_pg else {}
    cpu0 = cpu_seconds(server.pid)
    res = fn(*args, **kwargs)
    n = max(1, res["requests"])
    res["server_cpu_ms"] = 1000 * (cpu_seconds(server.pid) - cpu0) / n
    if is_pg:
        after = cpu_snapshot()[0]
        used = sum(after.get(p, 0.0) - before.get(p, 0.0) for p in pg_backends(url))
        res["db_cpu_ms"] = 1000 * used / n
    else:
        res["db_cpu_ms"] = float("nan")
    return res


def run_backend(name: str, url: str, args: argparse.Namespace, reset: Callable[[], None]) -> list:
    """Fill (unless reused), then every scenario at every worker count."""
    count = stored_count(url) if args.reuse else 0
    if count == args.alerts:
        print(f"[{name}] reusing {count:,} stored alerts", flush=True)
    else:
        reset()
        seconds, count = fill(url, args.alerts)
        print(f"[{name}] stored {count:,} alerts in {seconds:.1f} s", flush=True)
    key = make_key(url)
    rows = []
    for workers in args.workers:
        port = free_port()
        server = start_server(url, port, workers)
        try:
            for i, scenario in enumerate(SCENARIOS):
                paths = scenario_paths(scenario, count, int(args.rate * args.duration), seed=i)
                if have_wrk():
                    lua = scenario_lua(scenario, count)
                    cap = measure(server, url, wrk_closed, port, key, lua, args.connections,
                                  args.duration, seed=i + 1)  # fmt: skip
                    cap["tool"] = "wrk"
                else:
                    cap = measure(server, url, open_loop, port, key, paths, 1e9, args.connections)
                    cap["tool"] = "python"
                res = measure(server, url, open_loop, port, key, paths, args.rate)
                row = {"db": name, "workers": workers, "scenario": scenario, **res}
                row.update({f"cap_{k}": v for k, v in cap.items()})
                rows.append(row)
                brief = {k: v if isinstance(v, str) else round(v, 2) for k, v in row.items()}
                print(f"[{name}] {json.dumps(brief)}", flush=True)
        finally:
            server.terminate()
            server.wait(30)
    return rows


def table(rows: list[dict], rate: float, connections: int) -> str:
    tool = rows[0]["cap_tool"] if rows else "wrk"
    head = (
        f"| db | workers | scenario | capacity req/s ({tool}, {connections} conns) "
        "| p99 ms at capacity | server CPU ms/req at capacity | offered req/s | served req/s "
        "| p50 ms | p90 ms | p99 ms | server CPU ms/req | PostgreSQL CPU ms/req | errors "
        "| dropped | p99 < 50 ms |\n|" + "---|" * 16
    )
    lines = [head]
    for r in rows:
        db_cpu = "in server" if r["db_cpu_ms"] != r["db_cpu_ms"] else f"{r['db_cpu_ms']:.2f}"
        ok = "yes" if r["p99"] < 50 and r["errors"] == 0 and r["dropped"] == 0 else "no"
        lines.append(
            f"| {r['db']} | {r['workers']} | {r['scenario']} | {r['cap_throughput']:.0f} | "
            f"{r['cap_p99']:.1f} | {r['cap_server_cpu_ms']:.2f} | {rate:.0f} | "
            f"{r['throughput']:.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | "
            f"{r['server_cpu_ms']:.2f} | {db_cpu} | {r['errors']} | {r['dropped']} | {ok} |"
        )
    return "\n".join(lines)


def ensure_pg_database() -> None:
    """Create the ``hopwatch_bench`` database (not the tests' ``test``) if missing."""
    from sqlalchemy import create_engine, text

    admin = create_engine(
        "postgresql+psycopg://" + PG_ADMIN_URL.split("://", 1)[1], isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = 'hopwatch_bench'")
        ).first():
            conn.execute(text("CREATE DATABASE hopwatch_bench"))
    admin.dispose()


def main(argv: list[str] | None = None) -> None:
    """Fill both stores, load them, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500.0, help="offered requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to measure")
    parser.add_argument("--connections", type=int, default=16, help="closed-loop connections")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--work", type=Path, default=Path("/tmp/api"))
    parser.add_argument("--reuse", action="store_true", help="reuse stores already filled")
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in args.workers.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for name in args.backends.split(","):
        if name == "sqlite":
            db = args.work / "api_load.db"

            reset = functools.partial(_reset_sqlite, db)
            rows += run_backend("SQLite (WAL)", f"sqlite:///{db}", args, reset)
        elif name == "postgres":
            ensure_pg_database()
            rows += run_backend("PostgreSQL 15", PG_URL, args, _reset_pg)
        else:
            raise SystemExit(f"unknown backend {name!r}")
    print()
    print(f"machine: {platform.node()} {os.cpu_count()} CPUs, {platform.python_version()}; "
          f"alerts: {args.alerts:,}; {args.duration:g} s per phase; "
          f"load average at end: {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(table(rows, args.rate, args.connections))


def _reset_sqlite(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _reset_pg() -> None:
    from sqlalchemy import text

    from detections.store import open_engine

    engine = open_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()
