"""Window context of the temporal GNN: the never-seen pairs of a window around each pair.

A new server that many users reach for the first time, or an admin opening many
sessions, makes many never-seen pairs in one window; an attacker makes one hop at
a time. :func:`window_novelty` finds a window's never-seen pairs (between distinct
hosts, with respect to the history before the window) with one pair-table lookup,
which the pair features and the training weights share;
:func:`window_context` describes any pair by them, leaving the pair itself out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from models.gnn.history.pairs import PairHistory

if TYPE_CHECKING:
    from models.gnn.batches import WindowBatch


@dataclass
class WindowNovelty:
    """The never-seen pairs of one window.

    Attributes:
        batch: the window (a :class:`models.gnn.history.graph.WindowBatch`).
        n, last: pair-table lookup of its edges (windows seen, last window or -1).
        new: edges whose pair was never seen, between distinct hosts, shape [E] bool.
        new_out, new_in: per node, number of such pairs it is the source/destination of.
        new_keys: their pair keys, sorted.
    """

    batch: Any
    n: np.ndarray
    last: np.ndarray
    new: np.ndarray
    new_out: np.ndarray
    new_in: np.ndarray
    new_keys: np.ndarray


def window_novelty(pairs: PairHistory, batch: WindowBatch, num_nodes: int) -> WindowNovelty:
    """The never-seen pairs of ``batch`` with respect to ``pairs`` (the history before it)."""
    src, dst = batch.src, batch.dst
    n, last = pairs.lookup(src, dst)
    new = (n == 0) & (src != dst)
    size = max(num_nodes, int(max(src.max(initial=0), dst.max(initial=0))) + 1)
    return WindowNovelty(
        batch=batch,
        n=n,
        last=last,
        new=new,
        new_out=np.bincount(src[new], minlength=size).astype(np.float64),
        new_in=np.bincount(dst[new], minlength=size).astype(np.float64),
        new_keys=np.sort(PairHistory.key(src[new], dst[new])),
    )


def window_context(
    nov: WindowNovelty, src: np.ndarray, dst: np.ndarray, *, own: bool = False
) -> np.ndarray:
    """Window-context features of pairs (src, dst), shape [B, W] float32.

    Per pair: the window's *other* never-seen pairs out of its source and into its
    destination, and the never-seen pairs into its source and out of its
    destination. ``own=True`` says the pairs are the window's own edges, in order:
    a pair is then among the new pairs exactly when its edge is new (no search).
    """
    n = max(len(nov.new_out), int(max(src.max(initial=0), dst.max(initial=0))) + 1)
    new_out, new_in = nov.new_out, nov.new_in
    if n > len(new_out):
        pad = np.zeros(n - len(new_out))
        new_out, new_in = np.concatenate([new_out, pad]), np.concatenate([new_in, pad])
    if own:
        mine = nov.new.astype(np.float64)
    else:
        mine = np.zeros(len(src))
        keys = nov.new_keys
        if len(keys):
            k = PairHistory.key(src, dst)
            pos = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
            mine = (keys[pos] == k).astype(np.float64)
    out = np.stack(
        [
            np.log1p(new_out[src] - mine),
            np.log1p(new_in[dst] - mine),
            np.log1p(new_in[src]),
            np.log1p(new_out[dst]),
        ],
        axis=1,
    )
    return out.astype(np.float32)
