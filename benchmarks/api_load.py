"""Load benchmark of the REST API with 1 million stored alerts, SQLite beside PostgreSQL.

For each database: fill the store with N alerts (server-side bulk generation:
a recursive CTE on SQLite, ``generate_series`` on PostgreSQL; both after the
Alembic migration, so indexes are the real ones), start uvicorn in a
subprocess, and drive it from a separate load-generator process on loopback at
a fixed request rate (open loop: latency is measured from each request's
scheduled start, so a stalled server cannot hide queueing delay).

Scenarios: ``GET /alerts`` with filters (score + status; host), and
``GET /alerts/{id}`` of random ids. Prints one table with both databases.

    .venv/bin/python benchmarks/api_load.py                      # 1M alerts, 500 req/s, 20 s
    .venv/bin/python benchmarks/api_load.py --alerts 100000 --duration 5 --backends sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
GRACE_S = 10.0
CLOSED_CLIENTS = 32
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
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        count = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
    engine.dispose()
    return time.perf_counter() - t0, int(count)


def make_key(url: str) -> str:
    from detections.store import open_engine, session_factory
    from service.services import apikeys

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


async def _drive(base: str, key: str, paths: list[str], rate: float, mode: str) -> dict:
    """Open loop (``rate`` req/s, latency from each request's scheduled start) or closed
    loop (``mode="closed"``: 32 concurrent clients back to back, for capacity). Bounded
    in time: requests unfinished ``GRACE_S`` after the last scheduled one are dropped."""
    import httpx

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    lat: list[float] = []
    errors = 0
    duration = len(paths) / rate
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=GRACE_S,
                                 headers={"X-API-Key": key}) as client:  # fmt: skip
        for p in paths[:5]:  # warm-up
            await client.get(p, timeout=60)
        t0 = time.perf_counter()

        async def call(path: str, start: float) -> None:
            nonlocal errors
            try:
                r = await client.get(path)
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            lat.append(time.perf_counter() - start)

        gate = asyncio.Semaphore(CLOSED_CLIENTS * 4)
        dropped = 0

        async def scheduled(i: int, path: str) -> None:
            nonlocal dropped
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            async with gate:
                if time.perf_counter() > t0 + duration + GRACE_S:
                    dropped += 1  # the server fell too far behind: not sent
                    return
                await call(path, t0 + i / rate)

        async def closed(worker: int) -> None:
            i = worker
            while time.perf_counter() - t0 < duration:
                await call(paths[i % len(paths)], time.perf_counter())
                i += CLOSED_CLIENTS

        if mode == "closed":
            tasks = [asyncio.ensure_future(closed(w)) for w in range(CLOSED_CLIENTS)]
        else:
            tasks = [asyncio.ensure_future(scheduled(i, p)) for i, p in enumerate(paths)]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    lat.sort()
    full = lat + [float("inf")] * dropped

    def q(p: float) -> float:
        return full[min(len(full) - 1, int(p * len(full)))] * 1000 if full else float("nan")

    return {
        "requests": len(lat),
        "throughput": len(lat) / elapsed,
        "p50": q(0.50),
        "p90": q(0.90),
        "p99": q(0.99),
        "max": (lat[-1] * 1000) if lat else float("nan"),
        "errors": errors,
        "dropped": dropped,
    }


def _generator(
    base: str, key: str, paths: list[str], rate: float, mode: str, out: mp.Queue
) -> None:
    try:
        out.put(asyncio.run(_drive(base, key, paths, rate, mode)))
    except BaseException as exc:  # report, never leave the parent waiting
        out.put({"error": repr(exc)})


def load(base: str, key: str, paths: list[str], rate: float, mode: str = "open") -> dict:
    """Run the load generator in its own process; return its latency summary."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_generator, args=(base, key, paths, rate, mode, queue))
    proc.start()
    try:
        result = queue.get(timeout=len(paths) / rate + GRACE_S + 120)
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    if "error" in result:
        raise RuntimeError(f"load generator failed: {result['error']}")
    return result


def run_backend(name: str, url: str, args: argparse.Namespace, reuse: bool = False) -> list[dict]:
    if reuse:
        count = args.alerts
        print(f"[{name}] reusing {count:,} stored alerts", flush=True)
    else:
        seconds, count = fill(url, args.alerts)
        print(f"[{name}] stored {count:,} alerts in {seconds:.1f} s", flush=True)
    key = make_key(url)
    port = free_port()
    server = start_server(url, port, args.workers)
    rows = []
    try:
        for i, scenario in enumerate(SCENARIOS):
            paths = scenario_paths(scenario, count, int(args.rate * args.duration), seed=i)
            base = f"http://127.0.0.1:{port}"
            cap = load(base, key, paths, args.rate, mode="closed")
            res = load(base, key, paths, args.rate)
            rows.append({"db": name, "scenario": scenario, "capacity": cap["throughput"],
                         "capacity_p99": cap["p99"], **res})  # fmt: skip
            print(f"[{name}] {scenario}: {json.dumps({k: round(v, 1) for k, v in res.items()})}",
                  flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    return rows


def table(rows: list[dict], rate: float) -> str:
    head = (
        "| db | scenario | capacity req/s (32 clients) | offered req/s | served req/s "
        "| p50 ms | p90 ms | p99 ms | errors | dropped | p99 < 50 ms |\n|" + "---|" * 11
    )
    lines = [head]
    for r in rows:
        ok = "yes" if r["p99"] < 50 and r["errors"] == 0 and r["dropped"] == 0 else "no"
        lines.append(
            f"| {r['db']} | {r['scenario']} | {r['capacity']:.0f} | {rate:.0f} | "
            f"{r['throughput']:.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | "
            f"{r['errors']} | {r['dropped']} | {ok} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Fill both stores, load them, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500.0, help="offered requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--work", type=Path, default=Path("/tmp/hopwatch-bench"))
    parser.add_argument("--reuse", action="store_true", help="reuse a filled SQLite file")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for name in args.backends.split(","):
        if name == "sqlite":
            db = args.work / "api_load.db"
            reuse = args.reuse and db.exists()
            if not reuse:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
            rows += run_backend("SQLite (WAL)", f"sqlite:///{db}", args, reuse=reuse)
        elif name == "postgres":
            from sqlalchemy import text

            from detections.store import open_engine

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = open_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            try:
                rows += run_backend("PostgreSQL 15", url, args)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        else:
            raise SystemExit(f"unknown backend {name!r}")
    print()
    print(f"machine: {platform.node()} {os.cpu_count()} CPUs, {platform.python_version()}; "
          f"alerts: {args.alerts:,}; {args.duration:g} s per scenario; "
          f"uvicorn workers: {args.workers}")  # fmt: skip
    print(table(rows, args.rate))


if __name__ == "__main__":
    main()
