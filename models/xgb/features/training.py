"""Training rows for the XGBoost detector: features, targets and window of each row.

* label-free: every observed edge of a training window is a positive; negatives
  are the same window's edges moved to other hosts
  (:func:`models.xgb.features.sampling.corrupt_window`), featurized against the same
  history;
* supervised: every observed edge, with its red-team/analyst label as target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.xgb.features.history import History
from models.xgb.features.sampling import corrupt_window
from models.xgb.features.table import edge_features, feature_matrix
from models.xgb.features.walk import FeatureWalker

if TYPE_CHECKING:
    from ingest.graphs import GraphStore


@dataclass
class TrainingRows:
    """Rows for the booster.

    Attributes:
        x: ``[n, F]`` float32 features (NaN = missing).
        y: ``[n]`` float32 targets (1 = observed edge / attack).
        window: ``[n]`` window id of each row (for the time-based split).
        history: feature history after the last training window.
    """

    x: np.ndarray
    y: np.ndarray
    window: np.ndarray
    history: History


def training_rows(
    store: GraphStore,
    windows: list[int],
    *,
    supervised: bool = False,
    neg_frac: float = 0.5,
    neg_passes: int = 1,
    seed: int = 0,
) -> TrainingRows:
    """Walk ``store`` up to the last of ``windows`` and build the rows of those windows.

    Raises:
        ValueError: the windows hold no edges.
    """
    rng = np.random.default_rng(seed)
    walker = FeatureWalker(store)
    xs, ys, ws = [], [], []

    def add(x: np.ndarray, y: np.ndarray, w: int) -> None:
        xs.append(x)
        ys.append(y.astype(np.float32))
        ws.append(np.full(len(x), w, dtype=np.int64))

    for step in walker.walk(windows):
        pos = feature_matrix(step.features)
        if supervised:
            add(pos, step.edges["label"].fill_null(False).to_numpy(), step.window)
            continue
        add(pos, np.ones(len(pos)), step.window)
        for _ in range(neg_passes):
            edges_c, events_c, fake = corrupt_window(
                step.events, step.history, store.window_seconds, rng, neg_frac
            )
            if fake.is_empty():
                continue
            feats, _ = edge_features(step.history, edges_c, events_c)
            neg = feature_matrix(feats.join(fake, on=["src_host", "dst_host"], how="semi"))
            add(neg, np.zeros(len(neg)), step.window)
    if not xs:
        raise ValueError(f"no edges in the training windows of {store.path}")
    return TrainingRows(np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), walker.history)


def subsample(rows: TrainingRows, max_rows: int, seed: int = 0) -> TrainingRows:
    """At most ``max_rows`` rows, drawn uniformly but keeping every positive of a rare class."""
    n = len(rows.y)
    if n <= max_rows:
        return rows
    rng = np.random.default_rng(seed)
    pos = rows.y > 0.5
    rare = pos if pos.sum() < (~pos).sum() else ~pos
    keep_rare = np.flatnonzero(rare) if rare.sum() < max_rows // 10 else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(n), keep_rare)
    take = rng.choice(rest, size=max_rows - len(keep_rare), replace=False)
    idx = np.sort(np.concatenate([keep_rare, take]))
    return TrainingRows(rows.x[idx], rows.y[idx], rows.window[idx], rows.history)
