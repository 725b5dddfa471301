"""Numba hash tables of the fast LANL ingest: string interning, edge slots, key sets.

Every table is an open-addressing array owned by the driver (:mod:`ingest.lanl.fast.engine`);
nothing here is module state. Empty cells hold -1. The layout constants (state
slots, edge counter columns) are in :mod:`ingest.lanl.fast.layout`.
"""

from __future__ import annotations

import numba
import numpy as np

from ingest.lanl.fast.layout import (
    A_COUNT,
    A_FIRST,
    A_LAST,
    A_SD,
    A_WIN,
    C_FAIL,
    C_LABELED,
    C_ORIENT,
    C_USERS,
    HOST_BITS,
    HOST_MASK,
    S_STORE,
)

_FNV_OFFSET = -3750763034362895579  # 14695981039346656037 as int64
_FNV_PRIME = 1099511628211
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64

# The kernels are compiled without numba's runtime (``_nrt=False``): with it, every
# array handed to a helper (even one inlined at the IR level) is reference-counted
# with atomic instructions, and in the per-line loops those counts took about 85%
# of the time (measured with perf on the parse loop; the two parse threads also
# fought over the shared buffer's counter). Without it a kernel cannot allocate:
# the driver passes every array in, scratch space included.
jit = numba.njit(cache=True, nogil=True, _nrt=False)
inline = numba.njit(cache=True, nogil=True, inline="always", _nrt=False)


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
    return intern_hashed(
        buf, a, b, short_hash(w0, w1, b - a), w0, w1, tab, offs, lens, store, state, count_slot
    )


@inline
def short_hash(w0, w1, n):
    """Hash of a string of at most 16 bytes from its packed bytes and length."""
    return mix(w0 * _GOLDEN + w1 * 1000003 + n)


@inline
def intern_hashed(buf, a, b, h, w0, w1, tab, offs, lens, store, state, count_slot):
    """:func:`intern_short` with the string's :func:`short_hash` ``h`` already computed."""
    n = b - a
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
            for c in range(old.shape[1]):  # element copy: a slice copy allocates
                new[i, c] = old[r, c]


@inline
def edge_hash(w, s, d):
    return mix(w * _GOLDEN + s * 1000003 + d * 998244353 + 12345)


# An edge-table entry is ``tag << 32 | slot`` (-1 when empty, ``layout.SLOT_MASK``):
# the tag (31 high bits of the key's hash) tells most non-matching entries apart
# without reading their counter row, which is far away in memory.


@inline
def edge_tag(h):
    """The tag bits of an entry of the key with hash ``h``."""
    return ((h >> 33) & 0x7FFFFFFF) << 32


@jit
def rehash_edges(tab, acc, n):
    """Refill an (empty, -1) edge table from the keys of slots ``0..n-1``."""
    mask = len(tab) - 1
    for k in range(n):
        sd = acc[k, A_SD]
        h = edge_hash(acc[k, A_WIN], sd >> HOST_BITS, sd & HOST_MASK)
        i = h & mask
        while tab[i] >= 0:
            i = (i + 1) & mask
        tab[i] = edge_tag(h) | k


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
def compact(keep, tab, acc, uset, spare, remap):
    """Keep the slots where ``keep`` is true, renumbered densely; rebuild both tables.

    The user set is rebuilt from ``uset`` into ``spare`` (same size; the caller
    swaps them); ``remap`` is scratch of at least ``len(keep)`` entries. Returns
    the new slot count and the new user-set size.
    """
    n = len(keep)
    m = 0
    for k in range(n):
        remap[k] = -1
        if keep[k]:
            remap[k] = m
            if m != k:
                for c in range(acc.shape[1]):  # element copy: a slice copy allocates
                    acc[m, c] = acc[k, c]
            m += 1
    tab[:] = -1
    rehash_edges(tab, acc, m)
    spare[:] = -1
    mask = len(spare) - 1
    nu = 0
    for key in uset:
        if key >= 0:
            r = remap[key >> 32]
            if r >= 0:
                nk = (r << 32) | (key & 0xFFFFFFFF)
                i = mix(nk) & mask
                while spare[i] >= 0:
                    i = (i + 1) & mask
                spare[i] = nk
                nu += 1
    return m, nu


@jit
def gather_columns(acc, acc32, idx, out):
    """The rows ``idx`` as columns: ``out[0:3, j]`` = window, src id, dst id and
    ``out[3 + c, j]`` = counter ``c`` of ``ACC_COLUMNS`` (count, users, failures,
    auth, logon and orientation mix, first and last time, labelled events)."""
    for j in range(len(idx)):
        r = idx[j]
        sd = acc[r, A_SD]
        out[0, j] = acc[r, A_WIN]
        out[1, j] = sd >> HOST_BITS
        out[2, j] = sd & HOST_MASK
        out[3, j] = acc[r, A_COUNT]
        out[4, j] = acc32[r, C_USERS]
        for c in range(C_FAIL, C_ORIENT + 5):  # failures, then the mix columns
            out[5 + c - C_FAIL, j] = acc32[r, c]
        out[21, j] = acc[r, A_FIRST]
        out[22, j] = acc[r, A_LAST]
        out[23, j] = acc32[r, C_LABELED]


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
