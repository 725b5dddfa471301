"""Benchmark: LANL auth text -> windowed edge tables, hopwatch vs two baselines.

Generates a LANL-format file with a fast numpy/polars generator (realistic
cardinalities: ~17k hosts, ~100k users, time-sorted, LogOn/TGS/TGT/LogOff/AuthMap
mix), then measures, each in its own subprocess (peak RSS from ``os.wait4``):

* hop-fast   ``ingest.lanl.ingest_lanl(write_events=False, engine="fast")``: the numba
             one-pass kernel (edges + node index + meta: pandas' output); the target row
* hopwatch   ``ingest_lanl(engine="polars")``: raw text -> events + edges parquet, node index
* hop-edges  the Polars path with ``write_events=False`` (edges + node index)
* pandas     ``pd.read_csv(chunksize=2M)`` + ``groupby`` per chunk -> edge parquet
             (per-chunk aggregation, so not exact across chunks: favours pandas)
* python     line-by-line ``split(",")`` parser with dict aggregation, in the
             style of research loaders (run on a prefix, reported as a rate)

hop-fast's peak RSS on 10M vs 40M-event prefixes, and numba's compile time with
a cold cache (the rows above use the warm on-disk cache). Prints one table.

    .venv/bin/python benchmarks/ingest_lanl.py --events 20000000 --work /tmp/A/bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LANL_EVENTS = 1_051_430_459
WINDOW = 1800

AUTH = ["Kerberos", "NTLM", "Negotiate", "?", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"]
AUTH_P = [0.45, 0.10, 0.25, 0.15, 0.05]
LOGON = ["Network", "Service", "Interactive", "Batch", "RemoteInteractive", "Unlock", "?"]
LOGON_P = [0.55, 0.10, 0.05, 0.05, 0.01, 0.01, 0.23]
ORIENT = ["LogOn", "TGS", "TGT", "LogOff", "AuthMap"]
ORIENT_P = [0.60, 0.25, 0.09, 0.05, 0.01]


# -- generator ---------------------------------------------------------------------------
def _zipf_p(n: int, s: float = 1.1, shift: float = 10.0) -> np.ndarray:
    w = 1.0 / (np.arange(n) + shift) ** s
    return w / w.sum()


def generate(path: Path, n: int, *, hosts: int = 17_000, users: int = 100_000, seed: int = 0):
    """Write ``n`` time-sorted LANL auth lines (about 210 events per second)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    host_names = pl.Series([f"C{i}" for i in range(hosts)])
    user_names = pl.Series([f"U{i}@DOM1" for i in range(users)])
    machine_acct = pl.Series([f"C{i}$@DOM1" for i in range(hosts)])
    host_p, user_p = _zipf_p(hosts), _zipf_p(users, 1.05, 50.0)
    # Each host talks mostly to a few usual servers and has a usual user.
    servers = rng.choice(hosts, size=(hosts, 6), p=_zipf_p(hosts, 1.6, 2.0))
    owner = rng.choice(users, size=hosts, p=user_p)
    block = 2_000_000
    t = 1
    with path.open("wb") as f:
        for lo in range(0, n, block):
            m = min(block, n - lo)
            gaps = rng.exponential(1 / 210.0, size=m)
            times = t + np.floor(np.cumsum(gaps)).astype(np.int64)
            t = int(times[-1])
            src = rng.choice(hosts, size=m, p=host_p)
            route = rng.random(m)
            dst = np.where(
                route < 0.70,
                servers[src, rng.integers(0, 6, size=m)],
                np.where(route < 0.93, src, rng.choice(hosts, size=m, p=host_p)),
            )
            kind = rng.random(m)
            u = np.where(rng.random(m) < 0.8, owner[src], rng.choice(users, size=m, p=user_p))
            frame = pl.DataFrame({"time": times, "kind": kind})
            src_s, dst_s = host_names.gather(src), host_names.gather(dst)
            user = (
                pl.when(pl.col("kind") < 0.40)
                .then(machine_acct.gather(src))
                .when(pl.col("kind") < 0.42)
                .then(pl.lit("ANONYMOUS LOGON@") + dst_s)
                .otherwise(user_names.gather(u))
            )
            frame = frame.select(
                "time",
                user.alias("su"),
                user.alias("du"),
                src_s.alias("sh"),
                dst_s.alias("dh"),
                pl.Series(AUTH).gather(rng.choice(len(AUTH), size=m, p=AUTH_P)).alias("a"),
                pl.Series(LOGON).gather(rng.choice(len(LOGON), size=m, p=LOGON_P)).alias("l"),
                pl.Series(ORIENT).gather(rng.choice(len(ORIENT), size=m, p=ORIENT_P)).alias("o"),
                pl.Series(np.where(rng.random(m) < 0.985, "Success", "Fail")).alias("s"),
            )
            frame.write_csv(f, include_header=False, quote_style="never")


def prefix(src: Path, dst: Path, lines: int) -> None:
    """Copy the first ``lines`` lines of ``src`` to ``dst``."""
    with src.open("rb") as fi, dst.open("wb") as fo:
        left = lines
        while left > 0:
            buf = fi.read(64 << 20)
            if not buf:
                break
            k = buf.count(b"\n")
            if k <= left:
                fo.write(buf)
                left -= k
                continue
            pos = -1
            for _ in range(left):
                pos = buf.index(b"\n", pos + 1)
            fo.write(buf[: pos + 1])
            left = 0


# -- the three contenders (run inside a child process) -------------------------------------
def run_hopwatch(path: Path, out: Path) -> dict:
    from ingest.lanl import ingest_lanl

    res = ingest_lanl(path, out, window_seconds=WINDOW, engine="polars")
    return {"events": res.events, "edges": res.edges}


def run_hopwatch_edges(path: Path, out: Path) -> dict:
    from ingest.lanl import ingest_lanl

    res = ingest_lanl(path, out, window_seconds=WINDOW, write_events=False, engine="polars")
    return {"events": res.events, "edges": res.edges}


def run_hopwatch_fast(path: Path, out: Path) -> dict:
    from ingest.lanl import ingest_lanl

    res = ingest_lanl(path, out, window_seconds=WINDOW, write_events=False, engine="fast")
    return {"events": res.events, "edges": res.edges}


def run_compile(path: Path, out: Path) -> dict:
    """Import and compile the kernels with an empty numba cache (run on a tiny file)."""
    from ingest.lanl import ingest_lanl

    res = ingest_lanl(path, out, window_seconds=WINDOW, write_events=False, engine="fast")
    return {"events": res.events, "edges": res.edges}


def run_pandas(path: Path, out: Path) -> dict:
    import pandas as pd

    names = ["time", "su", "du", "sh", "dh", "a", "l", "o", "s"]
    out.mkdir(parents=True, exist_ok=True)
    events = edges = 0
    reader = pd.read_csv(path, header=None, names=names, chunksize=2_000_000, engine="c")
    for i, df in enumerate(reader):
        df["window"] = df["time"] // WINDOW
        df["fail"] = df["s"] != "Success"
        for col, vals in (("a", AUTH[:3]), ("l", LOGON[:5]), ("o", ORIENT)):
            for v in vals:
                df[f"n_{col}_{v}"] = df[col] == v
        mix = [c for c in df.columns if c.startswith("n_")]
        agg = {"time": ["count", "min", "max"], "su": "nunique", "fail": "sum"}
        agg.update({c: "sum" for c in mix})
        g = df.groupby(["window", "sh", "dh"], sort=True).agg(agg)
        g.columns = ["_".join(c) if isinstance(c, tuple) else c for c in g.columns]
        g.reset_index().to_parquet(out / f"part-{i:05d}.parquet")
        events += len(df)
        edges += len(g)
    return {"events": events, "edges": edges}


def run_python(path: Path, out: Path) -> dict:
    edges: dict[tuple[int, str, str], list] = {}
    events = 0
    with path.open() as f:
        for line in f:
            parts = line.rstrip("\n").split(",")
            if len(parts) != 9:
                continue
            try:
                t = int(parts[0])
            except ValueError:
                continue
            key = (t // WINDOW, parts[3], parts[4])
            rec = edges.get(key)
            if rec is None:
                rec = edges[key] = [0, set(), 0, {}, {}, {}]
            rec[0] += 1
            rec[1].add(parts[1])
            rec[2] += parts[8] != "Success"
            for slot, v in ((3, parts[5]), (4, parts[6]), (5, parts[7])):
                rec[slot][v] = rec[slot].get(v, 0) + 1
            events += 1
    out.mkdir(parents=True, exist_ok=True)
    rows = [(k[0], k[1], k[2], r[0], len(r[1]), r[2]) for k, r in edges.items()]
    (out / "edges.json").write_text(json.dumps(rows[:10]))
    return {"events": events, "edges": len(rows)}


RUNNERS = {
    "hop-fast": run_hopwatch_fast,
    "compile": run_compile,
    "hopwatch": run_hopwatch,
    "hop-edges": run_hopwatch_edges,
    "pandas": run_pandas,
    "python": run_python,
}


def child(mode: str, path: str, out: str) -> None:
    """Entry point of a measured subprocess: prints its own timing as JSON."""
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    res = RUNNERS[mode](Path(path), Path(out))
    res["seconds"] = time.perf_counter() - t0
    print(json.dumps(res))


def measure(mode: str, path: Path, out: Path, env: dict | None = None) -> dict:
    """Run one contender in a subprocess; add its peak RSS (MiB)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, __file__, "--child", mode, str(path), str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, env=env)
    stdout = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{mode} failed with status {status}")
    res = json.loads(stdout.decode().strip().splitlines()[-1])
    res["rss_mib"] = usage.ru_maxrss / 1024
    res["rate"] = res["events"] / res["seconds"]
    res["cpu"] = usage.ru_utime + usage.ru_stime
    # What two idle cores would give if the work parallelised perfectly (upper bound).
    res["cpu_rate"] = 2 * res["events"] / res["cpu"]
    shutil.rmtree(out, ignore_errors=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=20_000_000)
    ap.add_argument("--python-events", type=int, default=2_000_000)
    ap.add_argument("--small", type=int, default=10_000_000, help="RSS check, small prefix")
    ap.add_argument("--large", type=int, default=40_000_000, help="RSS check, large file")
    ap.add_argument("--work", type=Path, default=Path("/tmp/hopwatch-bench"))
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated contenders to run (quick iteration: e.g. hop-fast,pandas); "
        "skips the RSS and compile checks",
    )
    ap.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    big = work / f"auth-{args.large}.txt"
    if not big.exists():
        t0 = time.perf_counter()
        generate(big, args.large)
        print(f"generated {big} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    files = {}
    for n in sorted({args.events, args.python_events, args.small}):
        files[n] = work / f"auth-{n}.txt"
        if n < args.large and not files[n].exists():
            prefix(big, files[n], n)
    files[args.large] = big
    rows = []
    only = set(filter(None, args.only.split(",")))
    for mode, n in (
        ("hop-fast", args.events),
        ("hopwatch", args.events),
        ("hop-edges", args.events),
        ("pandas", args.events),
        ("python", args.python_events),
    ):
        if only and mode not in only:
            continue
        print(f"running {mode} on {n:,} events ...", file=sys.stderr)
        rows.append((mode, n, measure(mode, files[n], work / f"out-{mode}")))
    if only:
        _print_table(rows, {})
        return
    rss = {}
    for n in (args.small, args.large):
        print(f"running hop-fast on {n:,} events (RSS) ...", file=sys.stderr)
        rss[n] = measure("hop-fast", files[n], work / "out-rss")
    tiny = work / "auth-1000.txt"
    prefix(big, tiny, 1000)
    cache = work / "numba-cold-cache"
    shutil.rmtree(cache, ignore_errors=True)
    cold = measure(
        "compile", tiny, work / "out-compile", env=os.environ | {"NUMBA_CACHE_DIR": str(cache)}
    )
    warm = measure(
        "compile", tiny, work / "out-compile", env=os.environ | {"NUMBA_CACHE_DIR": str(cache)}
    )
    hop = _print_table(rows, rss)
    print(
        f"numba: 1,000-line run with a cold cache {cold['seconds']:.1f} s (compile), "
        f"warm cache {warm['seconds']:.1f} s (load); the rows above ran with a warm cache"
    )
    small, large = rss[args.small]["rss_mib"], rss[args.large]["rss_mib"]
    by_mode = {m: r for m, _, r in rows}
    pandas_rate, pandas_cpu_rate = by_mode["pandas"]["rate"], by_mode["pandas"]["cpu_rate"]
    checks = {
        "rate >= 2.5M events/s (wall)": hop["rate"] >= 2.5e6,
        "rate >= 2.5M events/s (2 idle cores, CPU-time bound)": hop["cpu_rate"] >= 2.5e6,
        ">= 3x pandas (wall)": hop["rate"] >= 3 * pandas_rate,
        ">= 3x pandas (CPU time)": hop["cpu_rate"] >= 3 * pandas_cpu_rate,
        "peak RSS < 3 GB": max(hop["rss_mib"], large) < 3 * 1024,
        f"RSS flat {args.small // 10**6}M -> {args.large // 10**6}M (<= +15%)": large
        <= 1.15 * small,
    }
    for name, ok in checks.items():
        print(f"target {name}: {'PASS' if ok else 'FAIL'}")


def _print_table(rows: list, rss: dict) -> dict | None:
    """Print the contenders' table; return hop-fast's row (``None`` if not run)."""
    by_mode = {m: r for m, _, r in rows}
    pandas = by_mode.get("pandas")
    load = os.getloadavg()[0]
    print(
        f"\nmachine: {platform.node()} {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"load average at end {load:.1f}"
    )
    head = (
        "contender",
        "events",
        "wall s",
        "events/s",
        "CPU s",
        "2*ev/CPU-s",
        "RSS MiB",
        "vs pandas",
    )
    print("{:<10} {:>12} {:>8} {:>12} {:>8} {:>12} {:>8} {:>11}".format(*head))

    def vs(r: dict) -> str:
        if pandas is None:
            return "-"
        return f"{r['rate'] / pandas['rate']:.1f}x/{r['cpu_rate'] / pandas['cpu_rate']:.1f}x"

    table = [(m, r, vs(r)) for m, _, r in rows]
    table += [("hop-fast", r, "(RSS check)") for r in rss.values()]
    for mode, r, note in table:
        print(
            f"{mode:<10} {r['events']:>12,} {r['seconds']:>8.1f} {r['rate']:>12,.0f} "
            f"{r['cpu']:>8.1f} {r['cpu_rate']:>12,.0f} {r['rss_mib']:>8,.0f} {note:>11}"
        )
    hours = {m: LANL_EVENTS / r["rate"] / 3600 for m, _, r in rows}
    print(
        f"\nfull LANL ({LANL_EVENTS:,} events) at these rates: "
        + ", ".join(f"{m} {h:.2f} h" for m, h in hours.items())
    )
    return by_mode.get("hop-fast")


if __name__ == "__main__":
    main()
