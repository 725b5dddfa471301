"""Numba kernels of the fast LANL ingest: one pass over raw auth bytes, two stages.

:func:`parse` walks the lines of a byte range, validates them exactly like the
Polars reader (:mod:`ingest.lanl.reader`), interns users and hosts in open-addressing
hash tables (:mod:`ingest.lanl.fast.tables`) private to its thread, and classifies the
mix fields (line splitting and field decoding: :mod:`ingest.lanl.fast.lines`), writing
compact per-event arrays with those local ids. The driver parses the two halves
of a chunk on two threads, each with its own tables, then maps new local ids to
global ones (:func:`ingest.lanl.fast.tables.intern_ids`). The aggregate kernel
(:func:`ingest.lanl.fast.aggregate.aggregate`) adds the
events to edge counter rows keyed by ``(window, src_host, dst_host)``,
translating ids through those maps. Parsing chunk i+1 overlaps aggregating chunk
i. Both kernels are resumable: when a table is about to pass half load they
return a ``GROW_*`` status with the position saved in ``state``; the driver
(:mod:`ingest.lanl.fast.engine`) grows that table and calls again.

All state lives in arrays owned by the driver; nothing here is module state.
"""

from __future__ import annotations

import numpy as np

from ingest.lanl.fast.lines import (
    FAST_SPAN,
    classify,
    field_words,
    split_fast,
    split_general,
    time_fast,
)
from ingest.lanl.fast.simd import prefetch
from ingest.lanl.fast.tables import (
    DONE,
    GROW_HOSTS,
    GROW_LONGS,
    GROW_STORE,
    GROW_USERS,
    N_AUTH,
    N_LOGON,
    N_ORIENT,
    P_END,
    P_HAS_END,
    P_HAS_START,
    P_START,
    S_BAD,
    S_END,
    S_FIRST,
    S_HI,
    S_LO,
    S_NBADEX,
    S_NHOSTS,
    S_NKEPT,
    S_NLONG,
    S_NUSERS,
    S_NVALID,
    S_POS,
    S_PREV,
    S_ROW,
    S_SORTED,
    S_STORE,
    inline,
    intern_hashed,
    intern_long,
    jit,
    short_hash,
)

__all__ = ["parse", "resolve_long"]


@inline
def _defer(longs, state, k, f, a, b):
    """Record field ``f`` (0 user, 1 src, 2 dst) of kept event ``k`` for :func:`resolve_long`."""
    r = state[S_NLONG]
    longs[r, 0] = k
    longs[r, 1] = f
    longs[r, 2] = a
    longs[r, 3] = b
    state[S_NLONG] = r + 1
    return -1


#: Events per batch of :func:`parse`: their lines are split first, then their names
#: are interned in three tight loops, so the hash-table probes of many events are
#: in flight at once (a probe inside the long per-line loop waited for memory alone).
BATCH = 256
#: Field index of the user, source host and destination host.
_NAME_FIELDS = (1, 3, 4)


def scratch_space() -> np.ndarray:
    """The ``scratch`` array :func:`parse` works in (field bounds and a batch of names)."""
    return np.zeros((6, 3, BATCH), np.int64)


#: Rows of a string table prefetched ahead in :func:`_intern_batch`.
_AHEAD = 8


@inline
def _intern_batch(buf, k0, k1, scratch, f, ids, tab, offs, lens, store, state, slot):
    """``ids[k0 + j]`` = the id of name field ``f`` of batch event ``j`` (see :func:`parse`)."""
    b_h, b_w0, b_w1, b_a, b_n = scratch[1], scratch[2], scratch[3], scratch[4], scratch[5]
    mask = tab.shape[0] - 1
    width = tab.shape[1]
    nb = k1 - k0
    for j in range(nb):
        ja = j + _AHEAD
        if ja < nb and b_n[f, ja] > 0:
            prefetch(tab, ((b_h[f, ja] >> 6) & mask) * width)
        m = b_n[f, j]
        if m == -1:
            ids[k0 + j] = -1
        elif m >= 0:
            a = b_a[f, j]
            h, w0, w1 = b_h[f, j], b_w0[f, j], b_w1[f, j]
            ids[k0 + j] = intern_hashed(
                buf, a, a + m, h, w0, w1, tab, offs, lens, store, state, slot
            )


@jit
def parse(
    buf,
    params,
    state,
    store,
    u_tab,
    u_offs,
    u_lens,
    h_tab,
    h_offs,
    h_lens,
    vocab,
    words,
    ev_t,
    ev_u,
    ev_src,
    ev_dst,
    ev_mix,
    bad_rows,
    bad_reasons,
    longs,
    scratch,
):
    """Parse, validate and intern the lines of ``buf[state[S_POS]:state[S_END]]``.

    Kept events
    (valid, inside the time range) go to the ``ev_*`` arrays at ``state[S_NKEPT]``:
    time, src_user id, src/dst host ids and ``ev_mix`` = failure bit | auth column
    << 1 | logon column << 3 | orientation column << 6 (orientation 5 = none).
    ``vocab`` rows 0-12 are the mix values, 13-14 ``Success`` and ``Fail``
    (see :func:`classify`). Lines are split by bit masks (:func:`split_fast`)
    and, when unusual, byte by byte (:func:`split_general`). Names are interned
    per batch of :data:`BATCH` events, after the batch's lines are split, in tight
    loops with prefetching (:func:`_intern_batch`). Strings over 16 bytes are not
    interned here: their (event, field, start, end) go to ``longs`` (id -1 for
    now) and :func:`resolve_long` interns them after the pass. ``scratch`` is a
    ``(6, 3, BATCH)`` int64 array (:func:`scratch_space`).
    """
    n = state[S_END]
    un = np.uint64(n)
    fs = scratch[0, 0]
    fe = scratch[0, 1]
    has_start = params[P_HAS_START] != 0
    has_end = params[P_HAS_END] != 0
    start = params[P_START]
    end = params[P_END]
    pos = state[S_POS]
    row = state[S_ROW]
    # counters live in locals inside the loop and go back to ``state`` on return
    n_valid = state[S_NVALID]
    lo_t, hi_t, first_t, prev_t = state[S_LO], state[S_HI], state[S_FIRST], state[S_PREV]
    is_sorted = state[S_SORTED]
    k = state[S_NKEPT]
    status = DONE
    nbuf = len(buf)
    # the batch's names, interned after its lines are split (see the docstring):
    # per field (0 user, 1 src, 2 dst) and event of the batch, hash, first 8 and
    # next 8 bytes, start and length (-1: deferred long string, -2: dst == src)
    b_h = scratch[1]
    b_w0 = scratch[2]
    b_w1 = scratch[3]
    b_a = scratch[4]
    b_n = scratch[5]
    stop = False
    while pos < n and not stop:
        # room for a whole batch: BATCH users, 2 * BATCH hosts, 3 * BATCH long strings
        if 2 * (state[S_NUSERS] + BATCH) > len(u_tab) or state[S_NUSERS] + BATCH > len(u_offs):
            status = GROW_USERS
            break
        nh = state[S_NHOSTS] + 2 * BATCH
        if 2 * nh > len(h_tab) or nh > len(h_offs):
            status = GROW_HOSTS
            break
        if state[S_NLONG] + 3 * BATCH > longs.shape[0]:
            status = GROW_LONGS
            break
        k0 = k
        line_bytes = 0  # upper bound of the store bytes the batch's new names take
        while pos < n and k - k0 < BATCH:
            fast = pos + FAST_SPAN <= nbuf
            e = -1
            if fast:
                e = split_fast(buf, pos, fs, fe)
                if 0 <= e < n:
                    ok, t = time_fast(buf, fs[0], fe[0])
                    m, w0, w1 = field_words(buf, fs[8], fe[8], True)
                    fail = classify(buf, fs[8], m, w0, w1, vocab, words, 13, 15)
                    if not ok or fail < 0:
                        e = -1
                else:
                    e = -1
            reason = -1
            if e < 0:  # anything unusual: the general byte loop decides
                fast = False
                e, reason, t, fail = split_general(buf, pos, un, fs, fe, vocab, words)
            if state[S_STORE] + line_bytes + (e - pos) > len(store):
                status = GROW_STORE
                stop = True
                break
            line_row = row
            line_bytes += e - pos
            pos = e + 1
            row += 1
            if reason >= 0:
                state[S_BAD + reason] += 1
                nb = state[S_NBADEX]
                if nb < len(bad_rows):
                    bad_rows[nb] = line_row
                    bad_reasons[nb] = reason
                    state[S_NBADEX] = nb + 1
                continue
            # valid event: order statistics before the time filter (as read_auth)
            if n_valid == 0:
                lo_t = hi_t = first_t = t
            else:
                if t < lo_t:
                    lo_t = t
                if t > hi_t:
                    hi_t = t
                if t < prev_t:
                    is_sorted = 0
            prev_t = t
            n_valid += 1
            if (has_start and t < start) or (has_end and t >= end):
                continue
            ev_t[k] = t
            j = k - k0
            for f in range(3):
                fa = fs[_NAME_FIELDS[f]]
                fb = fe[_NAME_FIELDS[f]]
                m, w0, w1 = field_words(buf, fa, fb, fast)
                if m > 16:
                    _defer(longs, state, k, f, fa, fb)
                    m = -1
                elif f == 2 and m == b_n[1, j] and w0 == b_w0[1, j] and w1 == b_w1[1, j]:
                    m = -2  # dst == src (local logons): the same id
                else:
                    b_h[f, j] = short_hash(w0, w1, m)
                b_w0[f, j] = w0
                b_w1[f, j] = w1
                b_a[f, j] = fa
                b_n[f, j] = m
            m, w0, w1 = field_words(buf, fs[5], fe[5], fast)
            au = classify(buf, fs[5], m, w0, w1, vocab, words, 0, N_AUTH)
            m, w0, w1 = field_words(buf, fs[6], fe[6], fast)
            lg = classify(buf, fs[6], m, w0, w1, vocab, words, N_AUTH, N_AUTH + N_LOGON)
            m, w0, w1 = field_words(buf, fs[7], fe[7], fast)
            orn = classify(buf, fs[7], m, w0, w1, vocab, words, N_AUTH + N_LOGON, 13)
            if au < 0:
                au = N_AUTH
            if lg < 0:
                lg = N_LOGON
            if orn < 0:
                orn = N_ORIENT
            ev_mix[k] = fail | (au << 1) | (lg << 3) | (orn << 6)
            k += 1
        _intern_batch(buf, k0, k, scratch, 0, ev_u, u_tab, u_offs, u_lens, store, state, S_NUSERS)
        _intern_batch(buf, k0, k, scratch, 1, ev_src, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        _intern_batch(buf, k0, k, scratch, 2, ev_dst, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        for j in range(k - k0):
            if b_n[2, j] == -2:
                ev_dst[k0 + j] = ev_src[k0 + j]
    state[S_POS] = pos
    state[S_ROW] = row
    state[S_NVALID] = n_valid
    state[S_LO], state[S_HI], state[S_FIRST], state[S_PREV] = lo_t, hi_t, first_t, prev_t
    state[S_SORTED] = is_sorted
    state[S_NKEPT] = k
    return status


@jit
def resolve_long(
    buf, longs, state, store, u_tab, u_offs, u_lens, h_tab, h_offs, h_lens, ev_u, ev_src, ev_dst
):
    """Intern the long strings :func:`parse` deferred, from row ``state[S_POS]`` of ``longs``.

    Returns ``DONE`` or a ``GROW_*`` status (position saved) like :func:`parse`.
    """
    r = state[S_POS]
    n = state[S_NLONG]
    while r < n:
        k, f, a, b = longs[r, 0], longs[r, 1], longs[r, 2], longs[r, 3]
        status = DONE
        if state[S_STORE] + (b - a) > len(store):
            status = GROW_STORE
        elif f == 0 and (
            2 * (state[S_NUSERS] + 1) > len(u_tab) or state[S_NUSERS] + 1 > len(u_offs)
        ):
            status = GROW_USERS
        elif f > 0 and (
            2 * (state[S_NHOSTS] + 1) > len(h_tab) or state[S_NHOSTS] + 1 > len(h_offs)
        ):
            status = GROW_HOSTS
        if status != DONE:
            state[S_POS] = r
            return status
        if f == 0:
            ev_u[k] = intern_long(buf, a, b, u_tab, u_offs, u_lens, store, state, S_NUSERS)
        elif f == 1:
            ev_src[k] = intern_long(buf, a, b, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        else:
            ev_dst[k] = intern_long(buf, a, b, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        r += 1
    state[S_POS] = r
    return DONE
