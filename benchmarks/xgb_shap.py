"""XGBoost training (CPU ``hist`` vs CUDA) and SHAP throughput (shap.TreeExplainer on CPU vs
XGBoost ``pred_contribs`` on CUDA), side by side in one run.

Two steps, because the GPU machine has neither polars nor the simulator's data:

1. Here (needs polars): turn a simulated data directory into a compact sample of
   real label-free training rows (the detector's own features and targets)::

       python benchmarks/xgb_shap.py make-sample --data DIR --out sample.npz

2. Anywhere (numpy + xgboost + shap only): bootstrap the sample to ``--rows``
   rows, train the same booster on CPU and on CUDA, then explain ``--shap-rows``
   rows with GPU TreeSHAP and (on a subsample, extrapolated) with
   ``shap.TreeExplainer`` on the CPU::

       python benchmarks/xgb_shap.py run --sample sample.npz --rows 10000000 \\
           --shap-rows 1000000 --rounds 100

Prints one table; ``--json FILE`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def make_sample(data: str, out: str, rows: int, seed: int) -> None:
    """Label-free training rows of a data directory's training windows, ``rows`` of them."""
    from ingest.graphs import GraphStore
    from models.evaluate import store_split
    from models.xgb.features.table import FEATURES
    from models.xgb.features.training import subsample, training_rows

    store = GraphStore(data)
    split = store_split(store)
    t0 = time.perf_counter()
    tr = training_rows(store, split.fit_windows, seed=seed)
    took = time.perf_counter() - t0
    small = subsample(tr, rows, seed)
    np.savez_compressed(
        out, x=small.x.astype(np.float32), y=small.y.astype(np.float32), features=list(FEATURES)
    )
    print(
        f"{len(tr.y)} rows from {len(split.fit_windows)} windows in {took:.1f}s; "
        f"wrote {len(small.y)} rows to {out} ({Path(out).stat().st_size / 2**20:.1f} MiB)"
    )


def _params(device: str, threads: int) -> dict:
    return {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "device": device,
        "max_depth": 6,
        "eta": 0.15,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 2,
        "max_bin": 128,
        "nthread": threads,
        "seed": 0,
    }


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict:
    """Every measurement of the benchmark; returns the numbers."""
    import xgboost as xgb

    threads = os.cpu_count() or 1
    sample = np.load(args.sample)
    xs, ys = sample["x"], sample["y"]
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(ys), size=args.rows)
    x, y = xs[idx], ys[idx]
    res: dict = {
        "rows": args.rows,
        "features": x.shape[1],
        "sample_rows": len(ys),
        "rounds": args.rounds,
        "cpu_threads": threads,
        "machine": platform.node(),
        "xgboost": xgb.__version__,
    }
    gpu = _has_cuda(xgb)
    res["gpu"] = gpu
    t0 = time.perf_counter()
    dtrain = xgb.QuantileDMatrix(x, label=y, max_bin=128)
    res["cpu_dmatrix_s"] = time.perf_counter() - t0
    cpu_rounds = min(args.rounds, args.cpu_rounds)
    t0 = time.perf_counter()
    cpu_model = xgb.train(_params("cpu", threads), dtrain, cpu_rounds)
    t = time.perf_counter() - t0
    res["cpu_train_rounds"] = cpu_rounds
    res["cpu_train_s"] = t * args.rounds / cpu_rounds
    res["cpu_train_extrapolated"] = cpu_rounds < args.rounds
    model = cpu_model
    if gpu:
        t0 = time.perf_counter()
        dgpu = xgb.QuantileDMatrix(x, label=y, max_bin=128)
        res["gpu_dmatrix_s"] = time.perf_counter() - t0
        xgb.train(_params("cuda", threads), dgpu, 2)  # warm-up: CUDA context and kernels
        t0 = time.perf_counter()
        model = xgb.train(_params("cuda", threads), dgpu, args.rounds)
        res["gpu_train_s"] = time.perf_counter() - t0
        del dgpu
    del dtrain
    n = min(args.shap_rows, args.rows)
    xe = x[:n]
    res["shap_rows"] = n
    if gpu:
        model.set_param({"device": "cuda"})
        dm = xgb.DMatrix(xe, missing=np.nan)
        model.predict(xgb.DMatrix(xe[:1000], missing=np.nan), pred_contribs=True)  # warm-up
        contribs, res["gpu_shap_s"] = _timed(lambda: model.predict(dm, pred_contribs=True))
        margin = model.predict(dm, output_margin=True)
        res["gpu_additivity_max_err"] = float(
            np.abs(contribs.astype(np.float64).sum(1) - margin).max()
        )
    model.set_param({"device": "cpu"})
    m = min(args.cpu_shap_rows, n)
    dsub = xgb.DMatrix(xe[:m], missing=np.nan)
    cpu_contribs, t = _timed(lambda: model.predict(dsub, pred_contribs=True))
    res["cpu_pred_contribs_rows"] = m
    res["cpu_pred_contribs_s"] = t * n / m
    import shap

    explainer = shap.TreeExplainer(model)
    lib, t = _timed(lambda: explainer.shap_values(xe[:m]))
    res["treeexplainer_rows"] = m
    res["treeexplainer_s"] = t * n / m
    res["treeexplainer_vs_pred_contribs_max_diff"] = float(np.abs(lib - cpu_contribs[:, :-1]).max())
    if gpu:
        res["gpu_vs_treeexplainer_max_diff"] = float(np.abs(lib - contribs[:m, :-1]).max())
    return res


def _has_cuda(xgb) -> bool:
    """xgboost was built with CUDA and a CUDA device is visible (xgboost itself only warns)."""
    if not xgb.build_info().get("USE_CUDA"):
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def table(r: dict) -> str:
    """The side-by-side table."""

    def f(v):
        return "n/a" if v is None else f"{v:.2f}"

    g = r.get
    lines = [
        f"XGBoost {r['xgboost']}: {r['rows']:,} rows x {r['features']} features "
        f"(bootstrap of {r['sample_rows']:,} real rows), {r['rounds']} rounds depth 6, "
        f"{r['cpu_threads']} CPU threads",
        "",
        "| step | CPU | CUDA | speed-up |",
        "|---|---|---|---|",
    ]
    ext = (
        " (extrapolated from {} rounds)".format(r["cpu_train_rounds"]) * r["cpu_train_extrapolated"]
    )
    gt, ct = g("gpu_train_s"), r["cpu_train_s"]
    lines.append(
        f"| train {r['rounds']} rounds (s) | {f(ct)}{ext} | {f(gt)} | "
        f"{f(ct / gt) if gt else 'n/a'}x |"
    )
    n = r["shap_rows"]
    te, gs = r["treeexplainer_s"], g("gpu_shap_s")
    lines.append(
        f"| SHAP {n:,} rows: shap.TreeExplainer CPU vs pred_contribs CUDA (s) | "
        f"{f(te)} (measured on {r['treeexplainer_rows']:,} rows) | {f(gs)} | "
        f"{f(te / gs) if gs else 'n/a'}x |"
    )
    pc = r["cpu_pred_contribs_s"]
    lines.append(
        f"| SHAP {n:,} rows: pred_contribs CPU vs CUDA (s) | {f(pc)} (measured on "
        f"{r['cpu_pred_contribs_rows']:,} rows) | {f(gs)} | {f(pc / gs) if gs else 'n/a'}x |"
    )
    lines.append("")
    lines.append(
        f"GPU additivity max |sum+bias-margin| = {g('gpu_additivity_max_err')}; "
        f"max |TreeExplainer - CUDA pred_contribs| = {g('gpu_vs_treeexplainer_max_diff')}; "
        f"max |TreeExplainer - CPU pred_contribs| = {r['treeexplainer_vs_pred_contribs_max_diff']}"
    )
    return "\n".join(lines)


def main() -> None:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-sample", help="real training rows of a data directory -> npz")
    m.add_argument("--data", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--rows", type=int, default=60_000)
    m.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run", help="train and explain, CPU vs CUDA")
    r.add_argument("--sample", required=True)
    r.add_argument("--rows", type=int, default=10_000_000)
    r.add_argument("--shap-rows", type=int, default=1_000_000)
    r.add_argument("--rounds", type=int, default=100)
    r.add_argument("--cpu-rounds", type=int, default=100, help="CPU rounds (extrapolated)")
    r.add_argument("--cpu-shap-rows", type=int, default=20_000, help="CPU SHAP rows (extrap.)")
    r.add_argument("--json", help="also write the numbers to this file")
    a = p.parse_args()
    if a.cmd == "make-sample":
        make_sample(a.data, a.out, a.rows, a.seed)
        return
    res = run(a)
    print(table(res), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
