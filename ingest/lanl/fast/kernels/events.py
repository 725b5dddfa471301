"""Numba kernels behind the events (and edge parts) the fast LANL ingest writes.

The events of a parsed part carry a parse thread's local string ids. For each
string column :func:`dict_encode` turns them into indices into a dictionary of
only the strings that part uses, and :func:`gather_strings` lays those strings
out as an Arrow string array's buffers: the Parquet writer then writes the
dictionary once and the indices, never a string per row
(:mod:`ingest.lanl.fast.events`). :func:`label_candidates` finds the events
whose time is a red-team time.
"""

from __future__ import annotations

from ingest.lanl.fast.kernels.tables import in_set, jit

__all__ = [
    "dict_encode",
    "dict_encode_pair",
    "forget",
    "gather_strings",
    "label_candidates",
    "remap",
]


@jit
def dict_encode(ids, n, gmap, offset, seen, out, used, m):
    """``out[k]`` = dictionary index of string ``ids[k]``, for ``k < n``; returns the size.

    ``ids`` below ``offset`` are global ids already; the others are local and
    ``gmap[id - offset]`` is their global id. Dictionary entries are numbered in
    order of first use, after the ``m`` already there; ``used[j]`` is entry ``j``'s
    global id and ``seen[g]`` global id ``g``'s entry (-1: none yet). Several calls
    build one dictionary; :func:`forget` clears ``seen`` for the next.
    """
    for k in range(n):
        g = ids[k]
        if g >= offset:
            g = gmap[g - offset]
        j = seen[g]
        if j < 0:
            j = m
            seen[g] = j
            used[j] = g
            m += 1
        out[k] = j
    return m


@jit
def dict_encode_pair(ids, ids2, n, gmap, offset, seen, out, out2, used, m):
    """:func:`dict_encode` of two columns into one dictionary (``src_user`` and
    ``dst_user``, ``src_host`` and ``dst_host``): where the second id equals the first
    (LANL's usual user, a local logon) it takes the first's index without a lookup."""
    for k in range(n):
        g = ids[k]
        g2 = ids2[k]
        same = g2 == g
        if g >= offset:
            g = gmap[g - offset]
        j = seen[g]
        if j < 0:
            j = m
            seen[g] = j
            used[j] = g
            m += 1
        out[k] = j
        if same:
            out2[k] = j
            continue
        if g2 >= offset:
            g2 = gmap[g2 - offset]
        j = seen[g2]
        if j < 0:
            j = m
            seen[g2] = j
            used[j] = g2
            m += 1
        out2[k] = j
    return m


@jit
def remap(ids, n, gmap, offset, out):
    """``out[k]`` = the global id of ``ids[k]`` (as :func:`dict_encode` reads it), ``k < n``:
    the indices into a dictionary of a whole (small) string table."""
    for k in range(n):
        g = ids[k]
        out[k] = g if g < offset else gmap[g - offset]


@jit
def forget(seen, used, m):
    """Clear the ``m`` entries of :func:`dict_encode`'s ``seen`` (all -1 again)."""
    for j in range(m):
        seen[used[j]] = -1


@jit
def gather_strings(used, m, offs, lens, store, out_offs, out_data):
    """Arrow buffers of strings ``used[:m]`` of a table (``offs``, ``lens`` into ``store``).

    ``out_offs`` (int32, ``m + 1``) and ``out_data`` (at least the strings' total
    length) are filled. Returns 1 when a byte is not ASCII (the caller then checks
    the UTF-8), else 0.
    """
    pos = 0
    high = 0
    out_offs[0] = 0
    for j in range(m):
        g = used[j]
        o = offs[g]
        for i in range(lens[g]):
            c = store[o + i]
            high |= c
            out_data[pos + i] = c
        pos += lens[g]
        out_offs[j + 1] = pos
    return 1 if high >= 128 else 0


@jit
def label_candidates(ev_t, n, rt_times, out):
    """Indices ``k < n`` of events whose time is in the red-team time set, into ``out``."""
    c = 0
    for k in range(n):
        if in_set(rt_times, ev_t[k]):
            out[c] = k
            c += 1
    return c
