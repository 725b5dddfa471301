"""A tiny structured enterprise for GNN and harness tests (fast, deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ingest.schema import conform


def office_events(
    days: int = 3,
    *,
    workstations: int = 16,
    servers: int = 4,
    per_window: int = 2,
    window_seconds: int = 1800,
    seed: int = 0,
    plant: list[tuple[int, str, str]] | None = None,
) -> pl.DataFrame:
    """Workstations ``W*`` log on to their two usual servers ``S*`` and the DC every window.

    Args:
        plant: extra (time, src_host, dst_host) events, labelled red team (an NTLM
            network logon by user ``EVIL@DOM1``).

    Returns:
        Canonical auth events with a ``label`` column, time-sorted.
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("time", "src_user", "src_host", "dst_host")}
    windows = days * 86_400 // window_seconds
    for w in range(windows):
        for i in range(workstations):
            usual = (f"S{i % servers}", f"S{(i + 1) % servers}", "DC0")
            for _ in range(per_window):
                rows["time"].append(int(w * window_seconds + rng.integers(0, window_seconds)))
                rows["src_user"].append(f"U{i}@DOM1")
                rows["src_host"].append(f"W{i}")
                rows["dst_host"].append(usual[int(rng.integers(0, 3))])
    n = len(rows["time"])
    label = [False] * n
    for t, s, d in plant or []:
        rows["time"].append(int(t))
        rows["src_user"].append("EVIL@DOM1")
        rows["src_host"].append(s)
        rows["dst_host"].append(d)
        label.append(True)
    m = len(rows["time"])
    frame = pl.DataFrame(
        {
            **rows,
            "dst_user": rows["src_user"],
            "auth_type": ["Kerberos"] * n + ["NTLM"] * (m - n),
            "logon_type": ["Network"] * m,
            "orientation": ["LogOn"] * m,
            "success": [True] * m,
            "source": ["test"] * m,
        }
    )
    out = conform(frame).collect().with_columns(pl.Series("label", label))
    return out.sort("time", maintain_order=True)


def office_dataset(out_dir: str | Path, **kwargs: object) -> Path:
    """Write :func:`office_events` as a data directory through the real writer."""
    from ingest.graphs import DatasetWriter

    events = office_events(**kwargs)  # type: ignore[arg-type]
    ws = int(kwargs.get("window_seconds", 1800))  # type: ignore[call-overload]
    with DatasetWriter(out_dir, window_seconds=ws, source="test") as writer:
        writer.add(events)
    return Path(out_dir)
