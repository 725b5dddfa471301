"""Per (src, dst) pair history of the temporal GNN: a hash table of pair keys."""

from __future__ import annotations

import numpy as np

from models.gnn.history import hashtable as gnn_hash

#: Capacity of a fresh table (grown by doubling; load kept under one half).
INITIAL_CAPACITY = 1 << 12


class PairHistory:
    """Per (src, dst) pair: number of windows it appeared in and the last one.

    Keys are ``src * 2**32 + dst``. They live in an open-addressing hash table
    (:mod:`models.gnn.history.hashtable`, numba): a window's lookups and inserts cost one probe
    sequence per pair, whatever the number of pairs seen so far (the sorted tables
    this replaces paid a binary search per pair and a copy per insert).
    :meth:`export` / :meth:`from_export` give the same pairs as sorted arrays, the
    layout saved with a model.
    """

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        cap = 1 << max(int(capacity) - 1, 1).bit_length()
        self.table = gnn_hash.empty_table(cap)
        self.size = 0

    @staticmethod
    def key(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Pair keys of aligned src/dst id arrays."""
        return (src.astype(np.int64) << 32) | dst.astype(np.int64)

    def lookup(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(windows seen, last window or -1) for each pair."""
        return self.lookup_keys(self.key(src, dst))

    def lookup_keys(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`lookup` of pair keys."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        n = np.empty(keys.shape, dtype=np.int64)
        last = np.empty(keys.shape, dtype=np.int64)
        gnn_hash.lookup(self.table, keys, n, last)
        return n, last

    def add(self, src: np.ndarray, dst: np.ndarray, window: int) -> np.ndarray:
        """Record the pairs of one window; return a mask of pairs that were new.

        A pair repeated within the window counts once (only its first occurrence
        is new).
        """
        return self.add_keys(self.key(src, dst), window)

    def add_keys(self, keys: np.ndarray, window: int) -> np.ndarray:
        """:meth:`add` of pair keys."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        self.reserve(len(keys))
        new = np.empty(keys.shape, dtype=np.bool_)
        self.size += int(gnn_hash.add(self.table, keys, int(window), new))
        return new

    def reserve(self, extra: int) -> None:
        """Grow the table so that ``extra`` more keys keep it at most half full."""
        cap = len(self.table)
        if 2 * (self.size + extra) <= cap:
            return
        while 2 * (self.size + extra) > cap:
            cap *= 2
        bigger = gnn_hash.empty_table(cap)
        gnn_hash.rehash(self.table, bigger)
        self.table = bigger

    def export(self) -> dict[str, np.ndarray]:
        """The pairs as arrays sorted by key: ``keys``, ``windows``, ``last``."""
        rows = self.table[self.table[:, gnn_hash.K_KEY] != gnn_hash.EMPTY]
        rows = rows[np.argsort(rows[:, gnn_hash.K_KEY], kind="stable")]
        return {
            "keys": rows[:, gnn_hash.K_KEY].copy(),
            "windows": rows[:, gnn_hash.K_WINDOWS].copy(),
            "last": rows[:, gnn_hash.K_LAST].copy(),
        }

    @classmethod
    def from_export(cls, arrays: dict[str, np.ndarray]) -> PairHistory:
        """A table holding the pairs of :meth:`export`'s arrays.

        Also reads the two-table layout of earlier models (``dkeys``, ``dwindows``,
        ``dlast``: recently added pairs, none of them in ``keys``).
        """
        parts = [("keys", "windows", "last"), ("dkeys", "dwindows", "dlast")]
        rows = [
            np.stack([np.asarray(arrays[k], dtype=np.int64) for k in names], axis=1)
            for names in parts
            if names[0] in arrays
        ]
        rows_all = np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)
        out = cls(2 * len(rows_all) + 1)
        out.reserve(len(rows_all))
        gnn_hash.insert_rows(out.table, np.ascontiguousarray(rows_all))
        out.size = len(rows_all)
        return out

    def __len__(self) -> int:
        return self.size
