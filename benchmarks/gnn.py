"""GNN training and per-window scoring time, CPU vs CUDA, on a large simulated enterprise.

Simulates an enterprise (default about 20M events over 14 days), ingests it,
then for each device trains the temporal GNN on the benign prefix and times the
per-window scoring step (history features + decode + state update) over the
test windows. Peak GPU memory is read from torch. Training time is the whole
``fit`` loop: one history pass that builds every window's inputs, then the
epochs over the cached inputs. Euler's published figure (129.5 s to train on the full LANL
data with 8 CPU workers) is printed beside it for reference, not measured here.

    python benchmarks/gnn.py --hosts 10000 --users 8000 --activity 1.1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EULER_TRAIN_SECONDS = 129.5  # King & Huang, NDSS 2022, full LANL, 8 CPU workers


def build_data(args: argparse.Namespace, work: Path) -> tuple[Path, dict]:
    """Simulate and ingest; return the data directory and timings."""
    from ingest.lanl import ingest_lanl
    from ingest.sim_config import SimConfig
    from ingest.simulate import simulate, write_lanl

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


def time_scoring(det, batches, test_windows: set[int], device, num_nodes: int) -> list[float]:
    """Milliseconds per test window of the predictive scoring step (replay + decode)."""
    import numpy as np
    import torch

    from models.gnn_train import Replay

    det.model.eval()
    run = Replay(
        det.model,
        num_nodes,
        det.window_seconds,
        device,
        use_edge=det.config.edge_features,
    )
    out = []
    with torch.no_grad():
        for b in batches:
            timed = b.window in test_windows and b.size > 0
            if timed:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            hist, tf = run.before(b)
            if timed:
                logits = run.decode(hist, tf, b, b.src, b.dst, np.arange(b.size))
                scores = (1 - torch.sigmoid(logits)).cpu().numpy()
            run.advance(b)
            if timed:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                out.append((time.perf_counter() - t0) * 1000)
                assert len(scores) == b.size
    return out


def bench_device(store, split, device_name: str, epochs: int, args) -> dict:
    """Train + score on one device."""
    import torch

    from models.evaluate import evaluate
    from models.gnn import GNNDetector
    from models.gnn_train import iter_batches

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
        "epochs": epochs,
        "fit_s": fit_s,
        "train_loop_s": report["seconds"],
        "prepare_s": report["prepare_seconds"],
        "per_epoch_s": (report["seconds"] - report["prepare_seconds"]) / max(epochs, 1),
        "load_s": report["load_seconds"],
        "loss": report["loss"],
    }
    batches = list(iter_batches(store, split.test_windows[-1]))
    from models.gnn import cpu_threads

    with cpu_threads(det.device, det.threads):
        ms = time_scoring(det, batches, set(split.test_windows), det.device, store.num_nodes)
    ms.sort()
    row.update(
        score_ms_median=statistics.median(ms),
        score_ms_p95=ms[int(0.95 * (len(ms) - 1))],
        score_ms_max=ms[-1],
        scored_windows=len(ms),
        edges_per_window=sum(b.size for b in batches) / max(len(batches), 1),
    )
    if det.device.type == "cuda":
        row["peak_gpu_mem_mib"] = torch.cuda.max_memory_allocated() / 2**20
    if args.quality and device_name == args.devices.split(",")[0]:
        res = evaluate(det, store)
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
        epochs = args.epochs if dev != "cpu" else args.cpu_epochs
        rows.append(bench_device(store, split, dev, epochs, args))
        print(json.dumps(rows[-1]), flush=True)
        if args.json:  # partial results survive a run cut short
            Path(args.json).write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"\nmachine: {platform.node()} cpus={os.cpu_count()} gpu={gpu} torch={torch.__version__}")
    print(
        f"data: {info.get('events')} events, {info['nodes']} hosts, {info.get('windows')} windows "
        f"(fit {info['fit_windows']}, test {info['test_windows']})"
    )
    head = (
        "| device | epochs | train s (total) | history pass s | s/epoch | "
        "score ms/window (median, p95, max) | peak GPU MiB |"
    )
    print(head)
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['device']} | {r['epochs']} | {r['train_loop_s']:.1f} | {r['prepare_s']:.1f} | "
            f"{r['per_epoch_s']:.2f} | {r['score_ms_median']:.1f}, {r['score_ms_p95']:.1f}, "
            f"{r['score_ms_max']:.1f} | "
            f"{r.get('peak_gpu_mem_mib', float('nan')):.0f} |"
        )
    print(
        f"| Euler (published, full LANL, 8 CPU workers) | - | {EULER_TRAIN_SECONDS} | - | - | - |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
