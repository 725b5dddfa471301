"""Per (src, dst) pair history of the temporal GNN: a sorted table of pair keys."""

from __future__ import annotations

import numpy as np


class PairHistory:
    """Per (src, dst) pair: number of windows it appeared in and the last one.

    Keys are ``src * 2**32 + dst`` in a sorted array; lookups are binary searches.
    """

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.windows = np.zeros(0, dtype=np.int64)
        self.last = np.zeros(0, dtype=np.int64)

    @staticmethod
    def key(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Pair keys of aligned src/dst id arrays."""
        return (src.astype(np.int64) << 32) | dst.astype(np.int64)

    def _find(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.searchsorted(self.keys, k)
        if not len(self.keys):
            return pos, pos, np.zeros(k.shape, dtype=bool)
        pos_c = np.minimum(pos, len(self.keys) - 1)
        return pos, pos_c, self.keys[pos_c] == k

    def lookup(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(windows seen, last window or -1) for each pair."""
        _, pos_c, found = self._find(self.key(src, dst))
        if not len(self.keys):
            return np.zeros(found.shape, dtype=np.int64), np.full(found.shape, -1, dtype=np.int64)
        return np.where(found, self.windows[pos_c], 0), np.where(found, self.last[pos_c], -1)

    def add(self, src: np.ndarray, dst: np.ndarray, window: int) -> np.ndarray:
        """Record the (unique) pairs of one window; return a mask of pairs that were new."""
        k = self.key(src, dst)
        pos, pos_c, found = self._find(k)
        self.windows[pos_c[found]] += 1
        self.last[pos_c[found]] = window
        new = ~found
        if new.any():
            order = np.argsort(k[new], kind="stable")
            nk = k[new][order]
            at = pos[new][order]
            self.keys = np.insert(self.keys, at, nk)
            self.windows = np.insert(self.windows, at, np.ones_like(nk))
            self.last = np.insert(self.last, at, np.full_like(nk, window))
        return new

    def __len__(self) -> int:
        return len(self.keys)
