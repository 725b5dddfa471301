"""Numba aggregate kernel of the fast LANL ingest: parsed events -> edge counter rows.

:func:`aggregate` adds the events of one parsed part (:mod:`ingest.lanl.fast.kernels.parse`)
to rows keyed by ``(window, src_host, dst_host)`` in an open-addressing table
(:mod:`ingest.lanl.fast.kernels.tables`); distinct users go through a set of (slot, user)
keys.
"""

from __future__ import annotations

from ingest.lanl.fast.kernels.simd import prefetch
from ingest.lanl.fast.kernels.tables import edge_hash, edge_tag, inline, jit, set_add
from ingest.lanl.fast.layout import (
    A_COUNT,
    A_FIRST,
    A_LAST,
    A_SD,
    A_USER1,
    A_USER2,
    A_WIN,
    C_AUTH,
    C_FAIL,
    C_LABELED,
    C_LOGON,
    C_ORIENT,
    C_USERS,
    DONE,
    GROW_EDGES,
    GROW_USET,
    HOST_BITS,
    N_ACC,
    N_ORIENT,
    P_FLUSHED,
    P_LABELS,
    P_WINDOW,
    RING,
    S_NEDGES,
    S_NKEPT,
    S_NUSET,
    S_POS,
    S_WMAX,
    SLOT_MASK,
    UNSORTED,
)

#: Look-ahead of :func:`aggregate`'s software pipeline, in events: the edge-table
#: entry of event ``k + AHEAD_TAB`` and the counter row of event ``k + AHEAD_ROW``
#: are prefetched while event ``k`` is added (a power of two: ``ring`` is indexed
#: modulo ``RING``).
AHEAD_TAB = 16
AHEAD_ROW = 8


@inline
def _locate(k, ring, ev_t, ev_src, ev_dst, hmap, ws, mask):
    """Fill ``ring`` for event ``k``: (key hash, window, src id << 32 | dst id)."""
    r = k & (RING - 1)
    w = ev_t[k] // ws
    sh = hmap[ev_src[k]]
    dh = hmap[ev_dst[k]]
    ring[r, 0] = edge_hash(w, sh, dh)
    ring[r, 1] = w
    ring[r, 2] = (sh << HOST_BITS) | dh
    ring[r, 3] = 0


@jit
def aggregate(
    params,
    state,
    ev_t,
    ev_u,
    ev_src,
    ev_dst,
    ev_mix,
    label,
    e_tab,
    acc,
    acc32,
    uset,
    umap,
    hmap,
    ring,
):
    """Add kept events ``state[S_POS] .. state[S_NKEPT]-1`` to the edge counters.

    The events carry a parse thread's local ids: ``umap`` and ``hmap`` give the
    global user and host ids. ``label[k]`` (0 or 1) is added to the slot's
    labelled events when ``params[P_LABELS]`` is set. ``acc32`` is the int32 view of
    ``acc`` (see :mod:`ingest.lanl.fast.layout`).
    The counter rows are far apart in memory, so the loop is a software pipeline:
    while event ``k`` is added, the table entry of event ``k + AHEAD_TAB`` and the
    counter row that entry names for event ``k + AHEAD_ROW`` are prefetched
    (only prefetched: event ``k`` alone changes anything). ``ring`` is a
    ``(RING, 4)`` int64 scratch array.
    """
    ws = params[P_WINDOW]
    labels = params[P_LABELS] != 0
    flushed = params[P_FLUSHED]
    n = state[S_NKEPT]
    k = state[S_POS]
    mask = len(e_tab) - 1
    width = acc.shape[1]  # int64 words per row; two cache lines
    for q in range(k, min(k + AHEAD_TAB, n)):
        _locate(q, ring, ev_t, ev_src, ev_dst, hmap, ws, mask)
    while k < n:
        if 2 * (state[S_NEDGES] + 1) > len(e_tab) or state[S_NEDGES] + 1 > acc.shape[0]:
            state[S_POS] = k
            return GROW_EDGES
        if 2 * (state[S_NUSET] + 1) > len(uset):
            state[S_POS] = k
            return GROW_USET
        q = k + AHEAD_TAB
        if q < n:
            _locate(q, ring, ev_t, ev_src, ev_dst, hmap, ws, mask)
            prefetch(e_tab, ring[q & (RING - 1), 0] & mask)
        q = k + AHEAD_ROW
        if q < n:
            h = ring[q & (RING - 1), 0]
            x = e_tab[h & mask]
            if x >= 0 and (x & ~SLOT_MASK) == edge_tag(h):  # most likely the event's row
                base = (x & SLOT_MASK) * width
                prefetch(acc, base)
                prefetch(acc, base + width // 2)
        r = k & (RING - 1)
        h = ring[r, 0]
        tag = edge_tag(h)
        i = h & mask
        w = ring[r, 1]
        sd = ring[r, 2]
        t = ev_t[k]
        if w <= flushed:
            state[S_POS] = k
            return UNSORTED
        if w > state[S_WMAX]:
            state[S_WMAX] = w
        su = umap[ev_u[k]]
        new = False
        while True:
            x = e_tab[i]
            if x < 0:
                new = True
                s = state[S_NEDGES]
                e_tab[i] = tag | s
                for j in range(N_ACC):
                    acc[s, j] = 0
                acc[s, A_WIN] = w
                acc[s, A_SD] = sd
                acc[s, A_FIRST] = t
                acc[s, A_LAST] = t
                acc[s, A_USER1] = su
                acc[s, A_USER2] = -1
                state[S_NEDGES] = s + 1
                break
            if (x & ~SLOT_MASK) == tag:
                s = x & SLOT_MASK
                if acc[s, A_WIN] == w and acc[s, A_SD] == sd:
                    break
            i = (i + 1) & mask
        acc[s, A_COUNT] += 1
        # distinct users: the first two are in the row, later ones in the set
        if new:
            acc32[s, C_USERS] = 1
        elif su != acc[s, A_USER1] and su != acc[s, A_USER2]:
            if acc[s, A_USER2] < 0:
                acc[s, A_USER2] = su
                acc32[s, C_USERS] += 1
            elif set_add(uset, (s << 32) | su):
                acc32[s, C_USERS] += 1
                state[S_NUSET] += 1
        m = ev_mix[k]
        acc32[s, C_FAIL] += m & 1
        acc32[s, C_AUTH + ((m >> 1) & 3)] += 1
        acc32[s, C_LOGON + ((m >> 3) & 7)] += 1
        o = (m >> 6) & 7
        if o < N_ORIENT:
            acc32[s, C_ORIENT + o] += 1
        if t < acc[s, A_FIRST]:
            acc[s, A_FIRST] = t
        if t > acc[s, A_LAST]:
            acc[s, A_LAST] = t
        if labels:
            acc32[s, C_LABELED] += label[k]
        k += 1
    state[S_POS] = k
    return DONE
