"""Rule evaluation: the Sigma engine against the previous YAML engine, side by side in one run.

Usage:
    python benchmarks/rules.py [--days 7] [--hosts 400] [--users 300] [--repeat 3]
        [--old-commit d0809be]

The corpus is the simulator's Windows form (``security.xml``, ``system.xml``,
``sysmon.xml`` with three campaigns), read once with ``ingest.windows.read_windows``.
Both engines get the same rule view and run single-threaded (``POLARS_MAX_THREADS=1``):

* ``old: YAML engine`` -- ``detections/rules/{spec,engine}.py`` and the eleven
  ``library/*.yml`` rules as they were at ``--old-commit`` (the last commit before the
  Sigma engine), read from git history into a temporary package (they are no longer
  in the source tree);
* ``new: Sigma engine`` -- today's ``detections.rules.run_rules`` with the shipped
  Sigma library (more rules, two correlations).

The table gives the best of ``--repeat`` runs (rule loading excluded) and the hits.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]


def old_engine(commit: str, where: Path):
    """The previous engine and its rules, from git history."""
    pkg = where / "oldrules"
    (pkg / "library").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True, capture_output=True,
            text=True,
        ).stdout  # fmt: skip

    for name in ("spec", "engine"):
        text = show(f"detections/rules/{name}.py").replace("detections.rules.", "oldrules.")
        (pkg / f"{name}.py").write_text(text)
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{commit}", "detections/rules/library/"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for path in listing:
        (pkg / "library" / Path(path).name).write_text(show(path))
    sys.path.insert(0, str(where))
    from oldrules import engine, spec

    rules = [spec.load_rule(f, engine.COLUMNS) for f in sorted((pkg / "library").glob("*.yml"))]

    def run(view):
        import polars as pl

        frames = [engine.evaluate(r, view) for r in rules]
        return pl.concat(frames)

    return run, engine.rule_view, len(rules)


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--hosts", type=int, default=400)
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--old-commit", default="d0809be")
    args = p.parse_args()

    from detections.rules import load_rules, rule_view, run_rules
    from ingest.simulate import SimConfig, simulate
    from ingest.simulate.windows.writer import FILES, write_windows
    from ingest.windows import read_windows

    with tempfile.TemporaryDirectory() as tmp:
        cfg = SimConfig(days=args.days, hosts=args.hosts, users=args.users, seed=7, campaigns=3)
        write_windows(simulate(cfg), Path(tmp) / "win")
        data = read_windows([Path(tmp) / "win" / f for f in FILES])
        old_run, old_view, n_old = old_engine(args.old_commit, Path(tmp) / "old")
        view_old = old_view(data.auth, data.process)
        view_new = rule_view(data.auth, data.process)
        rules = load_rules(strict=True)
        t_old, hits_old = best(lambda: old_run(view_old), args.repeat)
        t_new, hits_new = best(lambda: run_rules(rules, view_new), args.repeat)
    rows = view_new.height
    print(f"# rules benchmark: {rows:,} events (auth {data.auth.height:,}, process "
          f"{data.process.height:,}); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}, "
          f"load {Path('/proc/loadavg').read_text().split()[0]}")  # fmt: skip
    print(f"| engine | rules | best of {args.repeat} (ms) | events/s | hits |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, n, t, hits in (
        (f"old: YAML engine ({args.old_commit})", n_old, t_old, hits_old),
        ("new: Sigma engine", len(rules), t_new, hits_new),
    ):
        print(f"| {name} | {n} | {t * 1000:.1f} | {rows / t:,.0f} | {hits.height} |")
    print(f"speed-up (old / new time): {t_old / t_new:.2f}x")


if __name__ == "__main__":
    main()
