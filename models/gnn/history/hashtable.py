"""Numba kernels of the GNN's pair tables: an open-addressing hash table of int64 keys.

A table is one int64 array of shape ``[capacity, 3]``: a row holds the key (``-1``
when the cell is empty), the number of windows the key appeared in, and the last
of them. Keys are non-negative (``src << 32 | dst``), the capacity a power of two,
and the driver (:class:`models.gnn.history.pairs.PairHistory`) keeps the load under one
half by calling :func:`rehash` into a table twice the size before an insert could
pass it. Linear probing from a multiplicative hash; one row is one cache line's
worth of a lookup.

Nothing here is module state: every table is an array owned by the caller.
"""

from __future__ import annotations

import numba
import numpy as np

EMPTY = -1
K_KEY, K_WINDOWS, K_LAST = 0, 1, 2

jit = numba.njit(cache=True, nogil=True)
inline = numba.njit(cache=True, nogil=True, inline="always")


@inline
def _slot(key: int, mask: int) -> int:
    """Start cell of ``key``: a 64-bit mix (murmur3 finaliser), masked to the table size."""
    h = key
    h ^= h >> 33
    h *= -49064778989728563  # 0xff51afd7ed558ccd as int64 (wraps)
    h ^= (h >> 33) & 0x7FFFFFFF  # logical shift of the high bits, keeping int64 arithmetic
    return h & mask


@jit
def lookup(table: np.ndarray, keys: np.ndarray, n_out: np.ndarray, last_out: np.ndarray) -> None:
    """Per key: windows seen (0 if absent) into ``n_out``, last window (-1) into ``last_out``."""
    mask = table.shape[0] - 1
    for i in range(keys.shape[0]):
        k = keys[i]
        j = _slot(k, mask)
        n = 0
        last = -1
        while True:
            t = table[j, K_KEY]
            if t == k:
                n = table[j, K_WINDOWS]
                last = table[j, K_LAST]
                break
            if t == EMPTY:
                break
            j = (j + 1) & mask
        n_out[i] = n
        last_out[i] = last


@jit
def add(table: np.ndarray, keys: np.ndarray, window: int, new_out: np.ndarray) -> int:
    """Record ``keys`` as seen in ``window``; ``new_out[i]``: key ``i`` was not in the table.

    A key met again in the same window (a repeat in ``keys``, or an earlier call for
    the same window) counts once: its windows are not incremented again and it is
    not new. Returns the number of keys inserted. The caller keeps room for all of
    ``keys`` under half load.
    """
    mask = table.shape[0] - 1
    added = 0
    for i in range(keys.shape[0]):
        k = keys[i]
        j = _slot(k, mask)
        while True:
            t = table[j, K_KEY]
            if t == k:
                if table[j, K_LAST] != window:
                    table[j, K_WINDOWS] += 1
                    table[j, K_LAST] = window
                new_out[i] = False
                break
            if t == EMPTY:
                table[j, K_KEY] = k
                table[j, K_WINDOWS] = 1
                table[j, K_LAST] = window
                new_out[i] = True
                added += 1
                break
            j = (j + 1) & mask
    return added


@jit
def insert_rows(table: np.ndarray, rows: np.ndarray) -> None:
    """Insert ``rows`` ([M, 3]: key, windows, last; keys distinct and absent) as they are."""
    mask = table.shape[0] - 1
    for i in range(rows.shape[0]):
        k = rows[i, K_KEY]
        j = _slot(k, mask)
        while table[j, K_KEY] != EMPTY:
            j = (j + 1) & mask
        table[j, K_KEY] = k
        table[j, K_WINDOWS] = rows[i, K_WINDOWS]
        table[j, K_LAST] = rows[i, K_LAST]


@jit
def rehash(old: np.ndarray, new: np.ndarray) -> None:
    """Move every occupied row of ``old`` into the empty table ``new``."""
    mask = new.shape[0] - 1
    for i in range(old.shape[0]):
        k = old[i, K_KEY]
        if k == EMPTY:
            continue
        j = _slot(k, mask)
        while new[j, K_KEY] != EMPTY:
            j = (j + 1) & mask
        new[j, K_KEY] = k
        new[j, K_WINDOWS] = old[i, K_WINDOWS]
        new[j, K_LAST] = old[i, K_LAST]


def empty_table(capacity: int) -> np.ndarray:
    """A table of ``capacity`` (a power of two) empty rows."""
    table = np.zeros((capacity, 3), dtype=np.int64)
    table[:, K_KEY] = EMPTY
    return table


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel, on a tiny table."""
    table = empty_table(8)
    keys = np.array([1, 2], dtype=np.int64)
    add(table, keys, 0, np.zeros(2, dtype=np.bool_))
    lookup(table, keys, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64))
    bigger = empty_table(16)
    rehash(table, bigger)
    insert_rows(empty_table(8), table[table[:, K_KEY] != EMPTY])
