"""Negative edges for label-free training: observed edges with a corrupted end.

A negative is built from a real edge of the window by moving its events to
another host (half the time a uniformly drawn known host, half the time one
drawn by how often it was a destination before, so the model cannot get by on
host popularity alone): the destination for three negatives in four, the source for
the others, so the model also learns which accounts are used from which hosts (a
credential used from a host it never came from is what a stolen one looks like).
The corrupted window is then aggregated and featurized exactly like a real one, so
negatives and positives share one code path.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ingest.graphs.edges import window_edges
from models.xgb.features.history import History


def candidate_hosts(history: History, events: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Hosts known by this window and their sampling weight (past destination events + 1)."""
    seen = (
        pl.concat(
            [
                history.hosts.select("host", pl.col("d_events").cast(pl.Float64).alias("w")),
                events.select(pl.col("src_host").alias("host"), pl.lit(0.0).alias("w")),
                events.select(pl.col("dst_host").alias("host"), pl.lit(0.0).alias("w")),
            ]
        )
        .group_by("host")
        .agg(pl.col("w").sum())
        .sort("host")
    )
    weights = seen["w"].to_numpy() + 1.0
    return seen["host"].to_numpy(), weights / weights.sum()


def corrupt_window(
    events: pl.DataFrame,
    history: History,
    window_seconds: int,
    rng: np.random.Generator,
    frac: float = 0.3,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Move the events of a random ``frac`` of the window's edges to other destinations.

    Args:
        events: one window's canonical auth events (with ``window``).
        history: history before the window (for the host pool and weights).
        window_seconds: window size, for :func:`ingest.graphs.edges.window_edges`.
        rng: random generator (the caller owns the seed).
        frac: share of the window's edges to corrupt.

    Returns:
        ``(edges, events, fake)``: the corrupted window's edge table and events, and
        the (src_host, dst_host) pairs that exist only because of the corruption.
    """
    pairs = events.select("src_host", "dst_host").unique(maintain_order=True)
    n = pairs.height
    k = round(frac * n)
    empty = pl.DataFrame(schema={"src_host": pl.String(), "dst_host": pl.String()})
    if k == 0:
        return window_edges(events, window_seconds), events, empty
    hosts, weights = candidate_hosts(history, events)
    pick = pairs[np.sort(rng.choice(n, size=k, replace=False))]
    uniform = rng.integers(0, len(hosts), size=k)
    weighted = rng.choice(len(hosts), size=k, p=weights)
    which = np.where(rng.random(k) < 0.5, uniform, weighted)
    src_side = rng.random(k) < 0.25
    moves = pick.with_columns(
        pl.Series("new_host", hosts[which], dtype=pl.String), pl.Series("src_side", src_side)
    ).with_columns(
        pl.when("src_side").then("new_host").otherwise("src_host").alias("new_src"),
        pl.when("src_side").then("dst_host").otherwise("new_host").alias("new_dst"),
    )
    moves = moves.filter(pl.col("new_dst") != pl.col("new_src")).join(
        pairs.rename({"src_host": "new_src", "dst_host": "new_dst"}),
        on=["new_src", "new_dst"],
        how="anti",
    )
    moves = moves.unique(["new_src", "new_dst"], keep="first", maintain_order=True)
    if moves.is_empty():
        return window_edges(events, window_seconds), events, empty
    moved = moves.select("src_host", "dst_host", "new_src", "new_dst")
    corrupted = (
        events.join(moved, on=["src_host", "dst_host"], how="left")
        .with_columns(
            pl.coalesce("new_src", "src_host").alias("src_host"),
            pl.coalesce("new_dst", "dst_host").alias("dst_host"),
        )
        .drop("new_src", "new_dst")
    )
    fake = moves.select(pl.col("new_src").alias("src_host"), pl.col("new_dst").alias("dst_host"))
    return window_edges(corrupted, window_seconds), corrupted, fake.unique()
