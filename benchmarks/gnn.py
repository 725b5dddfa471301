"""GNN training and per-window scoring time, CPU vs CUDA, on a large simulated enterprise.

Simulates an enterprise (default about 20M events over 14 days), ingests it,
then for each device trains the temporal GNN on the benign prefix, saves it,
loads it back (``GNNDetector.load``, which warms up; timed apart) and times the
per-window scoring step (history features + decode + state update) of every
window after the training windows, resumed from the saved state: the first of
them is the first window the loaded model scores (reported apart), the busiest
is the one with the most edges. Reading the windows is timed apart. Peak GPU
memory is read from torch. Training time is the whole ``fit`` loop: one history
pass that builds every window's inputs, then the epochs over the cached inputs.
Euler's published figure (129.5 s to train on the full LANL data with 8 CPU
workers) is printed beside it for reference, not measured here.

    python benchmarks/gnn.py --hosts 10000 --users 8000 --activity 1.1 --json out.json
    # a cold start: a fresh process loads a model saved by the run above and scores
    python benchmarks/gnn.py --data /tmp/gnn-bench/data --devices cuda \
        --model /tmp/gnn-bench/gnn-cuda.pt
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EULER_TRAIN_SECONDS = 129.5  # King & Huang, NDSS 2022, full LANL, 8 CPU workers


def build_data(args: argparse.Namespace, work: Path) -> tuple[Path, dict]:
    """Simulate and ingest; return the data directory and timings."""
    from ingest.lanl import ingest_lanl
    from ingest.simulate import simulate, write_lanl
    from ingest.simulate.config import SimConfig

    t0 = time.perf_counter()
    cfg = SimConfig(
        days=args.days,
        hosts=args.hosts,
        users=args.users,
        seed=args.seed,
        activity=args.activity,
        stealth=args.stealth,
    )
    result = simulate(cfg)
    paths = write_lanl(result, work / "raw")
    sim_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = ingest_lanl(paths["auth"], work / "data", redteam=paths["redteam"])
    ingest_s = time.perf_counter() - t0
    info = {
        "events": res.events,
        "windows": res.windows,
        "edges": res.edges,
        "labeled_events": res.labeled_events,
        "simulate_s": sim_s,
        "ingest_s": ingest_s,
    }
    return work / "data", info


class _TimedBatches:
    """Wraps a batch iterator: seconds spent reading, and when each window was handed over."""

    def __init__(self, batches) -> None:
        self.batches = iter(batches)
        self.read_s: list[float] = []
        self.handed: dict[int, float] = {}

    def __iter__(self):
        return self

    def __next__(self):
        t0 = time.perf_counter()
        batch = next(self.batches)  # StopIteration ends the loop
        t1 = time.perf_counter()
        self.read_s.append(t1 - t0)
        self.handed[batch.window] = t1
        return batch


def time_scoring(det, store, windows: list[int]) -> dict:
    """Per-window time of the predictive scoring step of a loaded detector, resumed from its state.

    The step is what :func:`models.gnn.train.score` does between receiving a window's
    batch and returning its scores (history and pair features, decode, state update;
    ``.cpu()`` of the scores waits for the GPU). Reading the windows from Parquet is
    timed apart (read in chunks of 256 windows).
    """
    import numpy as np
    import torch

    from models.gnn.batches import iter_batches
    from models.gnn.runtime import cpu_threads

    run, user_ids = det.state.fork()
    timed = _TimedBatches(
        iter_batches(
            store,
            windows[-1],
            users=det.config.user_features,
            first_window=det.state.window + 1,
            user_ids=user_ids,
        )
    )
    cuda = det.device.type == "cuda"
    ms, sizes, order = [], [], []
    with torch.no_grad(), cpu_threads(det.device, det.threads):
        for batch, scores in det.iter_scores(store, timed, windows, run):
            if cuda:
                torch.cuda.synchronize()
            ms.append((time.perf_counter() - timed.handed[batch.window]) * 1000)
            sizes.append(batch.size)
            order.append(batch.window)
            assert len(scores) == batch.size
    arr = np.sort(np.asarray(ms))
    busiest = int(np.argmax(sizes))
    return {
        "score_ms_median": float(np.median(arr)),
        "score_ms_p95": float(arr[int(0.95 * (len(arr) - 1))]),
        "score_ms_p99": float(arr[int(0.99 * (len(arr) - 1))]),
        "score_ms_max": float(arr[-1]),
        "score_ms_first": ms[0],
        "score_ms_warm_max": max(ms[1:]) if len(ms) > 1 else float("nan"),
        "score_ms_busiest": ms[busiest],
        "busiest_edges": sizes[busiest],
        "busiest_window": order[busiest],
        "scored_windows": len(ms),
        "first_window": order[0],
        "edges_per_window": float(np.mean(sizes)),
        "read_s_total": float(sum(timed.read_s)),
        "read_ms_first_chunk": timed.read_s[0] * 1000,
    }


def bench_device(store, split, device_name: str, epochs: int, args, work: Path) -> dict:
    """Train, save, load and score on one device."""
    import torch

    from models.gnn import GNNDetector

    det = GNNDetector(
        device=device_name,
        epochs=epochs,
        hidden=args.hidden,
        seed=args.seed,
        threads=args.cpu_threads if device_name == "cpu" else None,
        **({"ensemble": args.ensemble} if args.ensemble else {}),
    )
    if det.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    report = det.fit(store, split.fit_windows)
    fit_s = time.perf_counter() - t0
    row = {
        "device": device_name,
        "ensemble": det.config.ensemble,
        "epochs": epochs,
        "fit_s": fit_s,
        "train_loop_s": report["seconds"],
        "prepare_s": report["prepare_seconds"],
        "per_epoch_s": (report["seconds"] - report["prepare_seconds"]) / max(epochs, 1),
        "load_s": report["load_seconds"],
        "loss": report["loss"],
    }
    path = work / f"gnn-{device_name}.pt"
    det.save(path)
    del det
    if device_name == "cuda":
        torch.cuda.empty_cache()
    row.update(load_and_score(path, store, split, device_name, args))
    return row


def load_and_score(path: Path, store, split, device_name: str, args) -> dict:
    """Load a saved model (timed, warm-up included) and time its scoring of later windows."""
    import torch

    from models.evaluate import evaluate
    from models.gnn import GNNDetector

    t0 = time.perf_counter()
    loaded = GNNDetector.load(path, device=device_name)  # includes warm_up()
    row = {"model_load_s": time.perf_counter() - t0, "ensemble": loaded.config.ensemble}
    if device_name == "cpu":
        loaded.threads = args.cpu_threads
    # Every window after the training windows (threshold and test windows), in order:
    # the first one is the first window the loaded model scores.
    windows = [*split.threshold_windows, *split.test_windows]
    row.update(time_scoring(loaded, store, windows))
    if loaded.device.type == "cuda":
        row["peak_gpu_mem_mib"] = torch.cuda.max_memory_allocated() / 2**20
    if args.quality and device_name == args.devices.split(",")[0]:
        res = evaluate(loaded, store)
        row["quality"] = {
            "gnn": res.model.as_dict(),
            "unknown_auth": res.baseline["unknown_auth"].as_dict(),
        }
    return row


def main() -> None:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=8_000)
    ap.add_argument("--activity", type=float, default=1.0)
    ap.add_argument("--stealth", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--cpu-epochs", type=int, default=8)
    ap.add_argument("--cpu-threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--ensemble", type=int, default=None, help="GNN ensemble members K")
    ap.add_argument("--devices", default="cuda,cpu")
    ap.add_argument("--quality", action="store_true", help="also evaluate (AUC/AP) per device")
    ap.add_argument("--work", default="/tmp/gnn-bench")
    ap.add_argument("--data", default=None, help="use an existing data directory")
    ap.add_argument("--json", default=None, help="write results here")
    ap.add_argument(
        "--model",
        default=None,
        help="no training: load this saved model in this fresh process and time its scoring",
    )
    args = ap.parse_args()

    import torch

    from ingest.graphs import GraphStore
    from models.evaluate import store_split

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.data:
        data, info = Path(args.data), {}
    else:
        data, info = build_data(args, work)
    store = GraphStore(data)
    info.setdefault("events", store.meta.get("events"))
    info.setdefault("windows", len(store.windows))
    info["nodes"] = store.num_nodes
    split = store_split(store)
    info["fit_windows"] = len(split.fit_windows)
    info["test_windows"] = len(split.test_windows)
    print(json.dumps(info), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "rows": []}, indent=1))
    rows = []
    for dev in args.devices.split(","):
        if dev == "cuda" and not torch.cuda.is_available():
            print("CUDA not available: skipping", flush=True)
            continue
        if args.model:
            row = {"device": dev, "epochs": 0, "fresh_process": True}
            row.update(load_and_score(Path(args.model), store, split, dev, args))
            rows.append(row)
        else:
            epochs = args.epochs if dev != "cpu" else args.cpu_epochs
            rows.append(bench_device(store, split, dev, epochs, args, work))
        print(json.dumps(rows[-1]), flush=True)
        if args.json:  # partial results survive a run cut short
            Path(args.json).write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"\nmachine: {platform.node()} cpus={os.cpu_count()} gpu={gpu} torch={torch.__version__}")
    print(
        f"data: {info.get('events')} events, {info['nodes']} hosts, {info.get('windows')} windows "
        f"(fit {info['fit_windows']}, test {info['test_windows']})"
    )
    print(
        "| device | K | epochs | train s (loop) | history pass s | s/epoch | model load s | "
        "score ms/window (median, p95, max) | first window ms | busiest window ms (edges) | "
        "warm max ms | peak GPU MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    nan = float("nan")
    for r in rows:
        print(
            f"| {r['device']} | {r['ensemble']} | {r['epochs']} | "
            f"{r.get('train_loop_s', nan):.1f} | {r.get('prepare_s', nan):.1f} | "
            f"{r.get('per_epoch_s', nan):.2f} | "
            f"{r['model_load_s']:.2f} | "
            f"{r['score_ms_median']:.1f}, {r['score_ms_p95']:.1f}, {r['score_ms_max']:.1f} | "
            f"{r['score_ms_first']:.1f} | {r['score_ms_busiest']:.1f} ({r['busiest_edges']}) | "
            f"{r['score_ms_warm_max']:.1f} | {r.get('peak_gpu_mem_mib', float('nan')):.0f} |"
        )
    print(f"Euler (published, full LANL, 8 CPU workers): train {EULER_TRAIN_SECONDS} s")
    for r in rows:
        print(
            f"{r['device']}: {r['scored_windows']} windows scored after load (from window "
            f"{r['first_window']}), {r['edges_per_window']:.0f} edges each on average; "
            f"reading them {r['read_s_total']:.1f} s (first chunk of 256 windows "
            f"{r['read_ms_first_chunk']:.0f} ms); fit with loading {r.get('fit_s', nan):.1f} s"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
