"""Benchmark: ``hopwatch ingest lanl`` (the default command) against pandas, one table.

Generates a LANL-format auth file with a fast numpy/polars generator (realistic
cardinalities: ~17k hosts, ~100k users, time-sorted, LogOn/TGS/TGT/LogOff/AuthMap
mix; 4M/10M/20M-line files are prefixes of the 40M one), then runs each contender as
its own process and measures it from spawn to exit (start-up included; CPU and peak
RSS from ``os.wait4``):

* ``default``    ``hopwatch ingest lanl --auth F --out D``: what a user types (events,
                 edges, node index, meta; the fast engine with install-time kernels)
* ``no-events``  the same with ``--no-events``
* ``first run``  the default command as the first run of a fresh clone: ``git clone`` of
                 this commit, its install-time step (the kernels compiled ahead of time,
                 timed on its own), then one run with no ``__pycache__``, no warm imports
* ``polars``     ``--engine polars``, the reference path (``--reference`` only: slow)
* ``pandas``     ``pd.read_csv(chunksize=2M)`` + ``groupby(window, src, dst)`` per chunk ->
                 edge parquet (per-chunk aggregation, not exact across chunks: favours
                 pandas), a Python process timed the same way

then the default command's peak RSS on 10M and 40M events, and the start-up of
``hopwatch ingest lanl|windows|splunk`` before the first byte of input is read (an
audit hook in the child stops it at the first open of the input, or the first
connect to Splunk). Prints one table.

    .venv/bin/python benchmarks/ingest_lanl.py --work /tmp/hopwatch-bench

Compare numbers within one run only; on a shared machine take them under
``flock /tmp/hopwatch-bench.lock`` and report the load average printed with them.
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


# -- the pandas baseline (run in a child process) -----------------------------------------
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


def pandas_child(path: str, out: str) -> None:
    """Entry point of the pandas process (imports included in its time, like the CLI's)."""
    res = run_pandas(Path(path), Path(out))
    print(json.dumps(res))


# -- measuring a process -----------------------------------------------------------------
def measure_child(cmd: list[str], *, cwd: Path = ROOT, env: dict | None = None) -> dict:
    """Run ``cmd`` to completion: wall seconds from spawn to exit, and the child's CPU
    seconds and peak RSS (``os.wait4``)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd[:5])} failed ({status}):\n{err[-3000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "stdout": out,
        "stderr": err,
    }


def events_written(out: Path) -> int:
    return json.loads((out / "meta.json").read_text())["events"]


def hopwatch(python: str, *args: str) -> list[str]:
    """The ``hopwatch`` command as ``python -m service.cli`` (what the console script runs)."""
    return [python, "-m", "service.cli", *args]


# -- start-up before the first byte of input -----------------------------------------------
STARTUP_HOOK = """
import os, sys, time
T0 = float(os.environ["HOPWATCH_BENCH_T0"])
WANT = os.environ["HOPWATCH_BENCH_INPUT"]
def hook(event, args):
    hit = (event == "open" and args and str(args[0]) == WANT) or (
        event == "socket.connect" and WANT == "socket")
    if hit:
        os.write(1, f"STARTUP {time.time() - T0:.4f} {time.process_time():.4f}\\n".encode())
        os._exit(0)
sys.addaudithook(hook)
sys.argv = ["hopwatch", *sys.argv[1:]]
from service.cli.main import main
main()
"""


def startup(
    python: str, args: list[str], first_input: str, *, cwd: Path = ROOT
) -> tuple[float, float]:
    """Seconds from spawning ``hopwatch ARGS`` to its first open of ``first_input`` (wall,
    and the CPU seconds the process had used by then), best of three."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(3):
        env = os.environ | {
            "HOPWATCH_BENCH_T0": repr(time.time()),
            "HOPWATCH_BENCH_INPUT": first_input,
        }
        out = subprocess.run(
            [python, "-c", STARTUP_HOOK, *args], cwd=cwd, env=env, capture_output=True, text=True
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("STARTUP ")), None)
        if line is None:
            raise RuntimeError(f"no input read by {args[:2]}: {out.stderr[-2000:]}")
        best = min(best, float(line.split()[1]))
        best_cpu = min(best_cpu, float(line.split()[2]))
    return best, best_cpu


def startup_rows(python: str, work: Path, tiny: Path) -> list[tuple[str, tuple[float, float]]]:
    """Start-up of the three ingest commands (best of three)."""
    sys.path.insert(0, str(ROOT))
    from ingest.simulate import SimConfig, simulate
    from ingest.simulate.windows.writer import write_windows

    xml_dir = work / "windows"
    if not (xml_dir / "security.xml").exists():
        write_windows(simulate(SimConfig(days=1, hosts=20, users=10, seed=5, campaigns=1)), xml_dir)
    toml = work / "splunk.toml"
    toml.write_text(
        '[splunk]\nhost = "127.0.0.1"\nport = 9\nscheme = "http"\ntoken = "bench"\n'
        "max_retries = 0\n"
    )
    out = work / "out-startup"
    return [
        (
            "hopwatch ingest lanl",
            startup(python, ["ingest", "lanl", "--auth", str(tiny), "--out", str(out)], str(tiny)),
        ),
        (
            "hopwatch ingest windows",
            startup(
                python,
                ["ingest", "windows", str(xml_dir / "security.xml"), "--out", str(out)],
                str(xml_dir / "security.xml"),
            ),
        ),
        (
            "hopwatch ingest splunk",
            startup(
                python, ["ingest", "splunk", "--config", str(toml), "--out", str(out)], "socket"
            ),
        ),
    ]


# -- a fresh clone -------------------------------------------------------------------------
def fresh_clones(work: Path, names: list[str]) -> tuple[list[Path], float]:
    """Clones of this commit after their install-time step, and that step's seconds.

    The install-time step is the kernels' ahead-of-time compilation (what ``pip
    install`` runs through ``setup.py``), here with this venv's numba, in place.
    Each clone is a copy made before any run: no ``__pycache__`` of the modules a
    run imports, no numba cache.
    """
    base = work / "clone"
    shutil.rmtree(base, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(base)], check=True)
    subprocess.run(["git", "-C", str(base), "checkout", "--quiet", _head()], check=True)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ingest.lanl.fast.kernels.aot"],
        cwd=base,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - t0
    clones = []
    for name in names:
        dst = work / f"clone-{name}"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(base, dst, symlinks=True)
        for cache in dst.rglob("__pycache__"):
            shutil.rmtree(cache)
        clones.append(dst)
    return clones, seconds


def _head() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


# -- main ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", default="4000000,20000000", help="comma-separated sizes")
    ap.add_argument("--small", type=int, default=10_000_000, help="RSS check, small prefix")
    ap.add_argument("--large", type=int, default=40_000_000, help="RSS check, large file")
    ap.add_argument("--work", type=Path, default=Path("/tmp/hopwatch-bench"))
    ap.add_argument("--reference", action="store_true", help="also time --engine polars")
    ap.add_argument(
        "--only", default="", help="comma-separated rows (default,no-events,first,pandas,polars)"
    )
    ap.add_argument("--pandas-child", nargs=2, metavar=("PATH", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pandas_child:
        pandas_child(*args.pandas_child)
        return
    python = sys.executable
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.events.split(",")]
    big = work / f"auth-{args.large}.txt"
    if not big.exists():
        t0 = time.perf_counter()
        generate(big, args.large)
        print(f"generated {big} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    files = {args.large: big}
    for n in sorted({*sizes, args.small, 1000}):
        if n != args.large:
            files[n] = work / f"auth-{n}.txt"
            if not files[n].exists():
                prefix(big, files[n], n)
    only = set(filter(None, args.only.split(",")))
    want = (lambda row: row in only) if only else (lambda row: row != "polars" or args.reference)
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    load_start = os.getloadavg()
    rows: list[tuple[str, int, dict]] = []
    clones: list[Path] = []
    install_s = None
    if want("first"):
        print("cloning and compiling the kernels ...", file=sys.stderr)
        clones, install_s = fresh_clones(work, [str(n) for n in sizes])
    for i, n in enumerate(sizes):
        f = files[n]
        out = work / "out"
        runs = [
            (
                "pandas",
                [python, str(Path(__file__).resolve()), "--pandas-child", str(f), str(out)],
                ROOT,
            ),
            (
                "default",
                hopwatch(python, "ingest", "lanl", "--auth", str(f), "--out", str(out)),
                ROOT,
            ),
            (
                "no-events",
                hopwatch(
                    python, "ingest", "lanl", "--auth", str(f), "--out", str(out), "--no-events"
                ),
                ROOT,
            ),
            (
                "polars",
                hopwatch(
                    python,
                    "ingest",
                    "lanl",
                    "--auth",
                    str(f),
                    "--out",
                    str(out),
                    "--engine",
                    "polars",
                ),
                ROOT,
            ),
        ]
        if clones:
            first = hopwatch(python, "ingest", "lanl", "--auth", str(f), "--out", str(out))
            runs.insert(2, ("first run", first, clones[i]))
        for name, cmd, cwd in runs:
            if not want("first" if name == "first run" else name):
                continue
            print(f"running {name} on {n:,} events ...", file=sys.stderr)
            shutil.rmtree(out, ignore_errors=True)
            res = measure_child(cmd, cwd=cwd)
            res["events"] = (
                json.loads(res["stdout"].strip().splitlines()[-1])["events"]
                if name == "pandas"
                else events_written(out)
            )
            rows.append((name, n, res))
            shutil.rmtree(out, ignore_errors=True)
    rss = {}
    if not only:
        for n in (args.small, args.large):
            print(f"running default on {n:,} events (RSS) ...", file=sys.stderr)
            out = work / "out-rss"
            shutil.rmtree(out, ignore_errors=True)
            rss[n] = measure_child(
                hopwatch(python, "ingest", "lanl", "--auth", str(files[n]), "--out", str(out))
            )
            rss[n]["events"] = events_written(out)
            shutil.rmtree(out, ignore_errors=True)
    starts = [] if only else startup_rows(python, work, files[1000])
    report(rows, rss, starts, install_s, load_start, dirty, args)


def report(rows, rss, starts, install_s, load_start, dirty, args) -> None:
    load_end = os.getloadavg()
    pandas = {n: r for name, n, r in rows if name == "pandas"}
    print(
        f"\nmachine: {platform.node()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
        f"load average at start {load_start[0]:.2f} {load_start[1]:.2f}, "
        f"at end {load_end[0]:.2f} {load_end[1]:.2f}"
    )
    print(f"commit {_head()[:10]}{' (+ uncommitted changes)' if dirty else ''}")
    head = ("row", "events", "wall s", "events/s", "CPU s", "RSS MiB", "vs pandas")
    print("{:<10} {:>12} {:>8} {:>12} {:>8} {:>8} {:>10}".format(*head))
    checks: dict[str, bool] = {}
    for name, n, r in rows:
        base = pandas.get(n)
        ratio = base["wall"] / r["wall"] if base else float("nan")
        print(
            f"{name:<10} {r['events']:>12,} {r['wall']:>8.2f} {r['events'] / r['wall']:>12,.0f} "
            f"{r['cpu']:>8.2f} {r['rss_mib']:>8,.0f} {ratio:>9.1f}x"
        )
        if name in ("default", "first run") and base:
            checks[f"{name} >= 3x pandas on {n // 10**6}M events (wall)"] = ratio >= 3
    for r in rss.values():
        rate = r["events"] / r["wall"]
        print(
            f"{'default':<10} {r['events']:>12,} {r['wall']:>8.2f} {rate:>12,.0f} "
            f"{r['cpu']:>8.2f} {r['rss_mib']:>8,.0f} {'(RSS)':>10}"
        )
    if install_s is not None:
        print(f"fresh clone: install-time kernel compilation {install_s:.1f} s (once, at install)")
    if starts:
        print("start-up before the first byte of input is read (best of 3):")
        for name, (seconds, cpu) in starts:
            print(f"  {name:<26} {seconds:.3f} s wall, {cpu:.3f} s CPU")
            checks[f"{name} start-up < 0.3 s"] = seconds < 0.3
    if rss:
        small, large = rss[args.small]["rss_mib"], rss[args.large]["rss_mib"]
        checks["peak RSS < 3 GB"] = max(small, large) < 3 * 1024
        checks[f"RSS flat {args.small // 10**6}M -> {args.large // 10**6}M (<= +15%)"] = (
            large <= 1.15 * small
        )
    for name, ok in checks.items():
        print(f"target {name}: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
