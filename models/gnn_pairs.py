"""Per (src, dst) pair history of the temporal GNN: sorted tables of pair keys."""

from __future__ import annotations

import numpy as np

#: The small table is merged into the main one when it outgrows this many keys.
MERGE_AT = 32_768


def _find(keys: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = np.searchsorted(keys, k)
    if not len(keys):
        return pos, pos, np.zeros(k.shape, dtype=bool)
    pos_c = np.minimum(pos, len(keys) - 1)
    return pos, pos_c, keys[pos_c] == k


class PairHistory:
    """Per (src, dst) pair: number of windows it appeared in and the last one.

    Keys are ``src * 2**32 + dst``. They live in two sorted tables: a large main one
    (``keys``/``windows``/``last``) and a small one for recently added pairs
    (``dkeys``/``dwindows``/``dlast``); a key is in exactly one of them. New pairs are
    inserted into the small table, which is merged into the main one when it grows
    past :data:`MERGE_AT`, so a window's inserts copy the small table, not every pair
    ever seen (three such copies per window grew with the history).
    Lookups are binary searches in both.
    """

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.windows = np.zeros(0, dtype=np.int64)
        self.last = np.zeros(0, dtype=np.int64)
        self.dkeys = np.zeros(0, dtype=np.int64)
        self.dwindows = np.zeros(0, dtype=np.int64)
        self.dlast = np.zeros(0, dtype=np.int64)

    @staticmethod
    def key(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Pair keys of aligned src/dst id arrays."""
        return (src.astype(np.int64) << 32) | dst.astype(np.int64)

    def lookup(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(windows seen, last window or -1) for each pair."""
        k = self.key(src, dst)
        n = np.zeros(k.shape, dtype=np.int64)
        last = np.full(k.shape, -1, dtype=np.int64)
        for keys, wins, lasts in (
            (self.keys, self.windows, self.last),
            (self.dkeys, self.dwindows, self.dlast),
        ):
            if len(keys):
                _, pos_c, found = _find(keys, k)
                n = np.where(found, wins[pos_c], n)
                last = np.where(found, lasts[pos_c], last)
        return n, last

    def add(self, src: np.ndarray, dst: np.ndarray, window: int) -> np.ndarray:
        """Record the (unique) pairs of one window; return a mask of pairs that were new."""
        k = self.key(src, dst)
        _, pos_c, in_main = _find(self.keys, k)
        self.windows[pos_c[in_main]] += 1
        self.last[pos_c[in_main]] = window
        pos, pos_c, in_small = _find(self.dkeys, k)
        in_small &= ~in_main
        self.dwindows[pos_c[in_small]] += 1
        self.dlast[pos_c[in_small]] = window
        new = ~(in_main | in_small)
        if new.any():
            order = np.argsort(k[new], kind="stable")
            nk = k[new][order]
            at = pos[new][order]
            self.dkeys = np.insert(self.dkeys, at, nk)
            self.dwindows = np.insert(self.dwindows, at, np.ones_like(nk))
            self.dlast = np.insert(self.dlast, at, np.full_like(nk, window))
            if len(self.dkeys) > MERGE_AT:
                self._merge()
        return new

    def _merge(self) -> None:
        at = np.searchsorted(self.keys, self.dkeys)  # both sorted, no key in both
        self.keys = np.insert(self.keys, at, self.dkeys)
        self.windows = np.insert(self.windows, at, self.dwindows)
        self.last = np.insert(self.last, at, self.dlast)
        self.dkeys = self.dkeys[:0]
        self.dwindows = self.dwindows[:0]
        self.dlast = self.dlast[:0]

    def __len__(self) -> int:
        return len(self.keys) + len(self.dkeys)
