"""Alert quality where the SOC lives, on fresh simulator seeds: the alerting stage with the
quarantine beside the per-edge alerts of the code before it, in the same run.

For every scenario and seed: simulate the enterprise (simulator defaults, plus the
scenario's knobs), write it in LANL form with real dates and ingest it with the real
pipeline into ``WORK/<scenario>_s<seed>/`` (reused by later runs), train the GNN and
XGBoost with their defaults on the split's fit windows (models kept, and shared between
scenarios whose benign history and split are the same), then:

* **after**: ``detections.alerting.evaluate_alerts`` (what ``hopwatch evaluate
  --detector all`` runs: both detectors in lockstep with the quarantine, the built-in
  rules, the alerting stage; thresholds at 0.5% FPR of the held-out benign edges);
* **before** (the baseline, same models, same thresholds): every window scored
  without the quarantine, one alert per edge over a threshold (``build_alerts``, its
  per-score severities), campaigns linked within 2 hours by a shared account or a host
  chain: the alert path of the code before the alerting stage.

Prints one table per scenario (rows: seeds, before / after) and appends JSON lines.

    python benchmarks/detection_quality.py --seeds 41,42,43
    python benchmarks/detection_quality.py --seeds 31 --scenarios revisit --hosts 300
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The scenarios of the issue: simulator knobs beyond the defaults.
SCENARIOS = {
    "default": {},
    "stealth": {"stealth": 0.5},
    "revisit": {"revisits": 12.0, "quiet_days": 0.5},
}
THRESHOLD_FPR = 0.005
#: Campaign span of the code before the alerting stage (its settings' default).
BEFORE_SPAN = 7200


def prepare(work: Path, scenario: str, seed: int, sim: dict) -> tuple[Path, Path]:
    """Simulate + ingest once; return (data directory, campaigns.json)."""
    from ingest.lanl import ingest_lanl
    from ingest.simulate import SimConfig, simulate, write_lanl

    base = work / f"{scenario}_s{seed}"
    data, truth = base / "data", base / "campaigns.json"
    if (base / "ok").is_file():
        return data, truth
    result = simulate(SimConfig(seed=seed, **SCENARIOS[scenario], **sim))
    paths = write_lanl(result, base / "raw", absolute_time=True)
    ingest_lanl(paths["auth"], data, redteam=paths["redteam"])
    truth.write_text(Path(paths["campaigns"]).read_text())
    for p in paths.values():
        Path(p).unlink(missing_ok=True)
    (base / "ok").write_text("")
    return data, truth


def models_for(work: Path, seed: int, store, split, sim: dict) -> dict:
    """Trained GNN and XGBoost for this seed's fit windows (trained once, then loaded)."""
    from models.gnn import GNNDetector
    from models.xgb import XGBDetector

    tag = f"s{seed}_w{split.fit_windows[0]}-{split.fit_windows[-1]}"
    if sim:
        tag += "_" + "_".join(f"{k}{v}" for k, v in sorted(sim.items()))
    folder = work / "models" / tag
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, cls, kw in (
        ("gnn", GNNDetector, {"device": "cpu", "threads": 1}),
        ("xgb", XGBDetector, {"device": "cpu", "nthread": 2}),
    ):
        path = folder / f"{name}.model"
        if path.is_file():
            out[name] = cls.load(path, device="cpu")
            continue
        t0 = time.perf_counter()
        det = cls(**kw)
        det.fit(store, split.fit_windows)
        det.save(path)
        print(f"  trained {name} in {time.perf_counter() - t0:.0f} s", flush=True)
        out[name] = cls.load(path, device="cpu")
    return out


def before(store, split, detectors: dict, thresholds: dict, truth: dict) -> dict:
    """The per-edge alert path of the code before the alerting stage, on the same models."""
    import polars as pl

    from detections.alerting.quality import alert_quality, campaigns_from_truth
    from detections.alerts import build_alerts, edge_users
    from detections.campaigns import link_campaigns
    from models.metrics import compute

    windows = split.test_windows
    scores = {n: d.score(store, windows) for n, d in detectors.items()}
    alerts = build_alerts(
        scores=scores,
        thresholds=thresholds,
        window_seconds=store.window_seconds,
        edges=store.edges(windows=windows),
        users=edge_users(store.events(windows), store.window_seconds),
    )
    plain = [{**a.__dict__, "score": a.score, "explanation": []} for a in alerts]
    campaigns = link_campaigns(plain, span_seconds=BEFORE_SPAN)
    keys = ["window", "src_host", "dst_host"]
    test = store.edges(windows=windows).select(*keys, pl.col("label").fill_null(False))
    positives = set(test.filter(pl.col("label")).select(keys).rows())
    days = (windows[-1] - windows[0] + 1) * store.window_seconds / 86_400
    q = alert_quality(
        alerts,
        campaigns,
        positives=positives,
        true_campaigns=[c & positives for c in campaigns_from_truth(truth, store.window_seconds)],
        days=days,
        hosts=store.num_nodes,
    )
    y = test["label"].to_numpy()
    q["detectors"] = {}
    for n, sc in scores.items():
        s = test.join(sc, on=keys, how="left", maintain_order="left")["score"].fill_null(0.0)
        q["detectors"][n] = compute(y, s.to_numpy(), thresholds[n], days).as_dict()
    return q


def run_one(args: argparse.Namespace, scenario: str, seed: int) -> dict:
    """Evaluate one scenario and seed, after and before."""
    from detections.alerting import evaluate_alerts
    from detections.rules import load_rules
    from ingest.graphs import GraphStore
    from models.evaluate import store_split

    sim = {
        k: v for k, v in (("hosts", args.hosts), ("users", args.users), ("days", args.days)) if v
    }
    data, truth_path = prepare(Path(args.work), scenario, seed, sim)
    truth = json.loads(truth_path.read_text())
    store = GraphStore(data)
    split = store_split(store)
    t0 = time.perf_counter()
    dets = models_for(Path(args.work), seed, store, split, sim)
    res = evaluate_alerts(
        dets, store, threshold_fpr=THRESHOLD_FPR, rules=load_rules(None), truth=truth
    )
    after = res.as_dict()
    fresh = models_for(Path(args.work), seed, store, split, sim)  # from the saved files
    thresholds = dict(res.thresholds)
    for d in fresh.values():  # the XGBoost history continues through the held-out windows
        d.score(store, split.threshold_windows)
    old = before(store, split, fresh, thresholds, truth)
    return {
        "scenario": scenario,
        "seed": seed,
        "sim": sim,
        "after": after,
        "before": old,
        "seconds": time.perf_counter() - t0,
        "test_days": after["days"],
        "hosts": store.num_nodes,
    }


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def rows_of(r: dict) -> list[str]:
    """Two table rows (before, after) of one scenario and seed."""
    out = []
    for label in ("before", "after"):
        q = r[label]
        hc = q["precision_by_severity"]["high+critical"]
        sev = " / ".join(
            f"{q['precision_by_severity'][s]['true']}/{q['precision_by_severity'][s]['alerts']}"
            for s in ("low", "medium", "high", "critical")
        )
        det = q["detectors"]
        cells = [
            f"seed {r['seed']}",
            label,
            f"{q['alerts']} ({q['true_alerts']} true)",
            _f(q["alerts_per_day_per_1000_hosts"], ".1f"),
            f"{hc['true']}/{hc['alerts']} = {_f(hc['precision'])}",
            sev,
            f"{q['campaigns_found']}/{q['true_campaigns']}",
            f"{q['campaigns']}, {_f(q['campaign_precision'])}",
            _f(q["false_campaigns_per_day_per_1000_hosts"], ".2f"),
            *(
                f"{_f(det[n]['auc'], '.4f')} / {_f(det[n]['ap'], '.3f')} / "
                f"{_f(det[n]['fp_per_day_at_recall_0_5'], '.1f')}"
                for n in ("gnn", "xgb")
            ),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


HEADER = (
    "| seed | path | alerts | alerts/day/1k hosts | high+crit precision | "
    "true/alerts low / med / high / crit | campaigns found | predicted, precision | "
    "false campaigns/day/1k | GNN AUC / AP / FP/day@50% | XGB AUC / AP / FP/day@50% |"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="41,42,43", help="comma-separated simulator seeds")
    ap.add_argument("--scenarios", default="default,stealth,revisit")
    ap.add_argument("--work", default="/tmp/hopwatch-quality")
    ap.add_argument("--hosts", type=int, default=0, help="override the simulator's hosts")
    ap.add_argument("--users", type=int, default=0, help="override the simulator's users")
    ap.add_argument("--days", type=int, default=0, help="override the simulator's days")
    ap.add_argument("--json", default=None, help="append the results (JSON lines) here")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for scenario in scenarios:
        print(f"\n### {scenario} ({SCENARIOS[scenario] or 'simulator defaults'})", flush=True)
        lines = [HEADER, "|---" * 11 + "|"]
        for seed in seeds:
            r = run_one(args, scenario, seed)
            lines += rows_of(r)
            print("\n".join(lines[-2:]), flush=True)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(r, default=str) + "\n")
        print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
