"""Numba hash tables of the fast LANL ingest: string interning, edge slots, key sets.

Every table is an open-addressing array owned by the driver (:mod:`ingest.lanl_engine`);
nothing here is module state. Empty cells hold -1. The layout constants (state
slots, edge counter columns) are shared with the kernels of :mod:`ingest.lanl_kernel`.
"""

from __future__ import annotations

import numba
import numpy as np

# -- state slots (int64 array) -------------------------------------------------------------
S_POS, S_ROW = 0, 1
S_NUSERS, S_NHOSTS, S_NCATS, S_STORE = 2, 3, 4, 5
S_NEDGES, S_NUSET, S_NCAND = 6, 7, 8
S_NVALID, S_LO, S_HI, S_SORTED, S_PREV = 9, 10, 11, 12, 13
S_NKEPT, S_KLO, S_KHI, S_WMAX = 14, 15, 16, 17
S_BAD = 18  # 6 reason counters: 18..23
S_NBADEX = 24
S_END, S_FIRST = 25, 26  # parse: end of the byte range; first valid time
S_NLONG = 27  # parse: deferred long strings (see lanl_kernel.resolve_long)
STATE_SIZE = 32

# -- params (int64 array) ------------------------------------------------------------------
P_HAS_START, P_START, P_HAS_END, P_END, P_WINDOW, P_NRT, P_FLUSHED = range(7)
PARAMS_SIZE = 8

# -- statuses ------------------------------------------------------------------------------
DONE, GROW_USERS, GROW_HOSTS, GROW_STORE = 0, 1, 2, 4
GROW_EDGES, GROW_USET, GROW_CAND, UNSORTED = 5, 6, 7, 8
GROW_LONGS = 9

#: ``words`` of :func:`parse`: 0-2 auth, 3-7 logon, 8-12 orientation values, 13-14 success.
N_AUTH, N_LOGON, N_ORIENT = 3, 5, 5

# -- edge counter columns (acc[slot, col]) -------------------------------------------------
# The key sits in the same row as the counters: one cache line serves lookup and update.
A_WIN, A_SRC, A_DST = 0, 1, 2
A_COUNT, A_USERS, A_FAIL = 3, 4, 5
A_AUTH = 6  # 3 named + other: 6..9
A_LOGON = 10  # 5 named + other: 10..15
A_ORIENT = 16  # 5 named: 16..20
A_FIRST, A_LAST, A_LABELED = 21, 22, 23
A_USER1 = 24  # the slot's first user (skips the user set for repeats)
N_ACC = 25

_FNV_OFFSET = -3750763034362895579  # 14695981039346656037 as int64
_FNV_PRIME = 1099511628211
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64

jit = numba.njit(cache=True, nogil=True)
# Helpers called per field are inlined at the IR level: a plain call passes every
# array with reference counting, which cost more than the work itself.
inline = numba.njit(cache=True, nogil=True, inline="always")


@inline
def mix(h: int) -> int:
    h ^= h >> 33
    h *= -49064778989728563  # 0xff51afd7ed558ccd
    h ^= h >> 33
    return h


@inline
def hash_bytes(buf, a, b):
    """FNV-1a of ``buf[a:b]``, finalised (int64, wrapping)."""
    h = _FNV_OFFSET
    for i in range(a, b):
        h = (h ^ buf[i]) * _FNV_PRIME
    return mix(h)


@inline
def pack_bytes(buf, a, n):
    """The first 8 and next 8 bytes of ``buf[a:a+n]`` as little-endian int64 (zero-padded)."""
    # unsigned positions: no negative-index fix-up per byte (see lanl_kernel.parse)
    w0 = 0
    w1 = 0
    one = np.uint64(1)
    i = np.uint64(a)
    e0 = np.uint64(a + min(n, 8))
    sh = 0
    while i < e0:
        w0 |= np.int64(buf[i]) << sh
        sh += 8
        i += one
    e1 = np.uint64(a + min(n, 16))
    sh = 0
    while i < e1:
        w1 |= np.int64(buf[i]) << sh
        sh += 8
        i += one
    return w0, w1


@inline
def _insert(buf, a, b, tag, w0, w1, i, tab, offs, lens, store, state, count_slot):
    """Add ``buf[a:b]`` at free row ``i`` of ``tab`` with the next id."""
    n = b - a
    k = state[count_slot]
    tab[i, 0] = k
    tab[i, 1] = tag
    tab[i, 2] = w0
    tab[i, 3] = w1
    o = state[S_STORE]
    offs[k] = o
    lens[k] = n
    for j in range(n):  # a loop, not a slice: no array view in the caller's hot loop
        store[o + j] = buf[a + j]
    state[S_STORE] = o + n
    state[count_slot] = k + 1
    return k


@inline
def intern_short(buf, a, b, w0, w1, tab, offs, lens, store, state, count_slot):
    """Dense id of ``buf[a:b]`` (at most 16 bytes) in one string table, adding it when new.

    ``w0, w1`` are its bytes packed (:func:`pack_bytes`). ``tab`` rows are (id or
    -1, tag, w0, w1); the tag is the hash with the length in its low 6 bits, so a
    short string compares inside its row (one cache line). Kept free of loops
    over bytes and of calls: either, even untaken, made the caller's hot loop
    measurably slower (about 30-40 ns per lookup with numba 0.68).
    """
    n = b - a
    h = mix(w0 * _GOLDEN + w1 * 1000003 + n)
    tag = (h & -64) | n
    mask = tab.shape[0] - 1
    i = (h >> 6) & mask
    while True:
        k = tab[i, 0]
        if k < 0:
            return _insert(buf, a, b, tag, w0, w1, i, tab, offs, lens, store, state, count_slot)
        if tab[i, 1] == tag and tab[i, 2] == w0 and tab[i, 3] == w1:
            return k
        i = (i + 1) & mask


@jit
def intern_long(buf, a, b, tab, offs, lens, store, state, count_slot):
    """:func:`intern_short` for strings over 16 bytes (hashed whole, compared to ``store``)."""
    n = b - a
    w0, w1 = pack_bytes(buf, a, n)
    h = hash_bytes(buf, a, b)
    tag = (h & -64) | min(n, 63)
    mask = tab.shape[0] - 1
    i = (h >> 6) & mask
    while True:
        k = tab[i, 0]
        if k < 0:
            return _insert(buf, a, b, tag, w0, w1, i, tab, offs, lens, store, state, count_slot)
        if tab[i, 1] == tag and lens[k] == n and tab[i, 2] == w0 and tab[i, 3] == w1:
            o = offs[k]
            same = True
            for j in range(16, n):
                if store[o + j] != buf[a + j]:
                    same = False
                    break
            if same:
                return k
        i = (i + 1) & mask


@inline
def intern(buf, a, b, tab, offs, lens, store, state, count_slot):
    """Dense id of ``buf[a:b]`` (any length) in one string table, adding it when new."""
    if b - a > 16:
        return intern_long(buf, a, b, tab, offs, lens, store, state, count_slot)
    w0, w1 = pack_bytes(buf, a, b - a)
    return intern_short(buf, a, b, w0, w1, tab, offs, lens, store, state, count_slot)


@jit
def intern_ids(src, src_offs, src_lens, lo, hi, tab, offs, lens, store, state, count_slot, out):
    """``out[k]`` = id in table ``tab`` of string ``k`` of another table, for ``lo <= k < hi``.

    Maps a parse thread's local ids to the global ids; the caller has made room
    (``hi - lo`` more ids, their bytes in ``store``).
    """
    for k in range(lo, hi):
        o = src_offs[k]
        out[k] = intern(src, o, o + src_lens[k], tab, offs, lens, store, state, count_slot)


@jit
def rehash_strings(new, old):
    """Move the rows of string table ``old`` into the (empty, id -1) table ``new``."""
    mask = new.shape[0] - 1
    for r in range(old.shape[0]):
        if old[r, 0] >= 0:
            i = (old[r, 1] >> 6) & mask
            while new[i, 0] >= 0:
                i = (i + 1) & mask
            new[i, :] = old[r, :]


@inline
def edge_hash(w, s, d):
    return mix(w * _GOLDEN + s * 1000003 + d * 998244353 + 12345)


@jit
def rehash_edges(tab, acc, n):
    """Refill an (empty, -1) edge table from the keys of slots ``0..n-1``."""
    mask = len(tab) - 1
    for k in range(n):
        i = edge_hash(acc[k, A_WIN], acc[k, A_SRC], acc[k, A_DST]) & mask
        while tab[i] >= 0:
            i = (i + 1) & mask
        tab[i] = k


@jit
def rehash_keys(new, old):
    """Insert the keys (>= 0) of the set ``old`` into the (empty, -1) set ``new``."""
    mask = len(new) - 1
    n = 0
    for key in old:
        if key >= 0:
            i = mix(key) & mask
            while new[i] >= 0:
                i = (i + 1) & mask
            new[i] = key
            n += 1
    return n


@jit
def compact(keep, tab, acc, uset):
    """Keep the slots where ``keep`` is true, renumbered densely; rebuild both tables.

    Returns the new slot count and the new user-set size.
    """
    n = len(keep)
    remap = np.full(n, -1, np.int64)
    m = 0
    for k in range(n):
        if keep[k]:
            remap[k] = m
            if m != k:
                acc[m, :] = acc[k, :]
            m += 1
    tab[:] = -1
    rehash_edges(tab, acc, m)
    old = uset.copy()
    uset[:] = -1
    mask = len(uset) - 1
    nu = 0
    for key in old:
        if key >= 0:
            r = remap[key >> 32]
            if r >= 0:
                nk = (r << 32) | (key & 0xFFFFFFFF)
                i = mix(nk) & mask
                while uset[i] >= 0:
                    i = (i + 1) & mask
                uset[i] = nk
                nu += 1
    return m, nu


@inline
def set_add(uset, key):
    """Add ``key`` to the set; True when it was new."""
    mask = len(uset) - 1
    i = mix(key) & mask
    while True:
        k = uset[i]
        if k < 0:
            uset[i] = key
            return True
        if k == key:
            return False
        i = (i + 1) & mask


@inline
def in_set(keys, t):
    """Whether ``t`` is in the key set."""
    mask = len(keys) - 1
    i = mix(t) & mask
    while True:
        k = keys[i]
        if k < 0:
            return False
        if k == t:
            return True
        i = (i + 1) & mask


@jit
def count_byte(buf, c):
    """How many bytes of ``buf`` equal ``c``."""
    n = 0
    for x in buf:
        n += x == c
    return n
