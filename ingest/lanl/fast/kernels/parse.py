"""Numba parse kernel of the fast LANL ingest: raw auth bytes to per-event arrays.

:func:`parse` walks the lines of a byte range, validates them exactly like the
Polars reader (:mod:`ingest.lanl.parse`), interns users and hosts in open-addressing
hash tables (:mod:`ingest.lanl.fast.kernels.tables`) private to its thread, and looks
the auth type, logon type, orientation and success fields up in the vocabulary
(:data:`ingest.lanl.fast.layout.WORDS`; line splitting and field decoding:
:mod:`ingest.lanl.fast.kernels.lines`), writing compact per-event arrays with
those local ids: what the edge aggregate (:mod:`ingest.lanl.fast.kernels.aggregate`)
and the events writer (:mod:`ingest.lanl.fast.events`) need. The driver parses
the halves of a chunk on two threads, each with its own tables, then maps new
local ids to global ones (:func:`ingest.lanl.fast.kernels.tables.intern_ids`).
Both kernels here are resumable: when a table is about to pass half load they
return a ``GROW_*`` status with the position saved in ``state``; the caller
(:mod:`ingest.lanl.fast.stage`) grows that table and calls again.

All state lives in arrays owned by the caller; nothing here is module state.
"""

from __future__ import annotations

import numpy as np

from ingest.lanl.fast.kernels.lines import (
    FAST_SPAN,
    classify,
    field_words,
    split_fast,
    split_general,
    time_fast,
)
from ingest.lanl.fast.kernels.simd import prefetch
from ingest.lanl.fast.kernels.tables import (
    inline,
    intern,
    intern_hashed,
    intern_long,
    jit,
    short_hash,
)
from ingest.lanl.fast.layout import (
    AUTH_HI,
    AUTH_LO,
    BATCH,
    DONE,
    F_AUTH,
    F_DUSER,
    F_LOGON,
    F_ORIENT,
    F_USER,
    GROW_HOSTS,
    GROW_LONGS,
    GROW_STORE,
    GROW_USERS,
    GROW_WORDS,
    LOGON_HI,
    LOGON_LO,
    LOGON_NAMED,
    N_AUTH,
    N_LOGON,
    N_ORIENT,
    N_WORDS,
    ORIENT_HI,
    ORIENT_LO,
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
    S_NWORDS,
    S_POS,
    S_PREV,
    S_ROW,
    S_SORTED,
    S_STORE,
    SCRATCH_SHAPE,
    SUCCESS_HI,
    SUCCESS_LO,
)

__all__ = ["parse", "resolve_long", "scratch_space"]


@inline
def _defer(longs, state, k, f, a, b):
    """Record field ``f`` (``layout.F_*``) of kept event ``k`` for :func:`resolve_long`."""
    r = state[S_NLONG]
    longs[r, 0] = k
    longs[r, 1] = f
    longs[r, 2] = a
    longs[r, 3] = b
    state[S_NLONG] = r + 1
    return -1


#: Line field of each batch name field: src_user, src_host, dst_host, dst_user
#: (batch field ``f`` is deferred as ``layout.F_*`` code ``f``).
_NAME_FIELDS = (1, 3, 4, 2)
#: Deferred strings a batch can add: four names and three words per event.
_DEFER_PER_EVENT = 7


def scratch_space() -> np.ndarray:
    """The ``scratch`` array :func:`parse` works in (field bounds and a batch of names)."""
    return np.zeros(SCRATCH_SHAPE, np.int64)


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


@inline
def _word(buf, fs, fe, fast, vocab, words, lo, hi, longs, state, k, code):
    """Vocabulary index of a word field, or -1 (deferred to :func:`resolve_long`)."""
    m, w0, w1 = field_words(buf, fs, fe, fast)
    c = classify(buf, fs, m, w0, w1, vocab, words, lo, hi)
    if c < 0:
        return _defer(longs, state, k, code, fs, fe)
    return lo + c


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
    ev_du,
    ev_src,
    ev_dst,
    ev_mix,
    ev_wa,
    ev_wl,
    ev_wo,
    ev_row,
    bad_rows,
    bad_reasons,
    longs,
    scratch,
):
    """Parse, validate and intern the lines of ``buf[state[S_POS]:state[S_END]]``.

    Kept events (valid, inside the time range) go to the ``ev_*`` arrays at
    ``state[S_NKEPT]``: time, src_user and dst_user ids, src/dst host ids,
    ``ev_mix`` = failure bit | auth column << 1 | logon column << 3 | orientation
    column << 6 (orientation 5 = none), the word ids of auth type, logon type
    and orientation (the index in ``layout.WORDS``, or ``N_WORDS`` + an extra
    word's local id) and the line's index in the range (``ev_row``). ``vocab``
    and ``words`` are :func:`ingest.lanl.fast.layout.vocabulary`. Lines are split
    by bit masks (:func:`split_fast`) and, when unusual, byte by byte
    (:func:`split_general`). Names are interned per batch of :data:`BATCH`
    events, after the batch's lines are split, in tight loops with prefetching
    (:func:`_intern_batch`). Names over 16 bytes and words not in the vocabulary
    are not interned here: their (event, field, start, end) go to ``longs`` (id -1
    for now) and :func:`resolve_long` interns them after the pass. ``scratch`` is
    :func:`scratch_space`.
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
    # per name field (0 src_user, 1 src, 2 dst, 3 dst_user) and event of the batch,
    # hash, first 8 and next 8 bytes, start and length (-1: deferred long string,
    # -2: the same as src_user / src_host)
    b_h = scratch[1]
    b_w0 = scratch[2]
    b_w1 = scratch[3]
    b_a = scratch[4]
    b_n = scratch[5]
    stop = False
    while pos < n and not stop:
        # room for a whole batch: 2 * BATCH users and hosts, 7 * BATCH deferred strings
        nu = state[S_NUSERS] + 2 * BATCH
        if 2 * nu > len(u_tab) or nu > len(u_offs):
            status = GROW_USERS
            break
        nh = state[S_NHOSTS] + 2 * BATCH
        if 2 * nh > len(h_tab) or nh > len(h_offs):
            status = GROW_HOSTS
            break
        if state[S_NLONG] + _DEFER_PER_EVENT * BATCH > longs.shape[0]:
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
                    fail = classify(buf, fs[8], m, w0, w1, vocab, words, SUCCESS_LO, SUCCESS_HI)
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
            ev_row[k] = line_row
            j = k - k0
            for f in range(4):
                fa = fs[_NAME_FIELDS[f]]
                fb = fe[_NAME_FIELDS[f]]
                m, w0, w1 = field_words(buf, fa, fb, fast)
                same = 1 if f == 2 else 0  # dst_host vs src_host, dst_user vs src_user
                if m > 16:
                    _defer(longs, state, k, f, fa, fb)
                    m = -1
                elif f >= 2 and m == b_n[same, j] and w0 == b_w0[same, j] and w1 == b_w1[same, j]:
                    m = -2  # the same name (local logons, LANL's usual user): the same id
                else:
                    b_h[f, j] = short_hash(w0, w1, m)
                b_w0[f, j] = w0
                b_w1[f, j] = w1
                b_a[f, j] = fa
                b_n[f, j] = m
            au = _word(
                buf, fs[5], fe[5], fast, vocab, words, AUTH_LO, AUTH_HI, longs, state, k, F_AUTH
            )
            lg = _word(
                buf, fs[6], fe[6], fast, vocab, words, LOGON_LO, LOGON_HI, longs, state, k, F_LOGON
            )
            orn = _word(
                buf,
                fs[7],
                fe[7],
                fast,
                vocab,
                words,
                ORIENT_LO,
                ORIENT_HI,
                longs,
                state,
                k,
                F_ORIENT,
            )
            ev_wa[k] = au
            ev_wl[k] = lg
            ev_wo[k] = orn
            # edge mix columns: the counted values, else other (none for orientation)
            ca = au - AUTH_LO if AUTH_LO <= au < AUTH_LO + N_AUTH else N_AUTH
            cl = lg - LOGON_NAMED if LOGON_NAMED <= lg < LOGON_NAMED + N_LOGON else N_LOGON
            co = orn - ORIENT_LO if ORIENT_LO <= orn < ORIENT_HI else N_ORIENT
            ev_mix[k] = fail | (ca << 1) | (cl << 3) | (co << 6)
            k += 1
        _intern_batch(buf, k0, k, scratch, 0, ev_u, u_tab, u_offs, u_lens, store, state, S_NUSERS)
        _intern_batch(buf, k0, k, scratch, 1, ev_src, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        _intern_batch(buf, k0, k, scratch, 2, ev_dst, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        _intern_batch(buf, k0, k, scratch, 3, ev_du, u_tab, u_offs, u_lens, store, state, S_NUSERS)
        for j in range(k - k0):
            if b_n[2, j] == -2:
                ev_dst[k0 + j] = ev_src[k0 + j]
            if b_n[3, j] == -2:
                ev_du[k0 + j] = ev_u[k0 + j]
    state[S_POS] = pos
    state[S_ROW] = row
    state[S_NVALID] = n_valid
    state[S_LO], state[S_HI], state[S_FIRST], state[S_PREV] = lo_t, hi_t, first_t, prev_t
    state[S_SORTED] = is_sorted
    state[S_NKEPT] = k
    return status


@jit
def resolve_long(
    buf,
    longs,
    state,
    store,
    u_tab,
    u_offs,
    u_lens,
    h_tab,
    h_offs,
    h_lens,
    w_tab,
    w_offs,
    w_lens,
    ev_u,
    ev_du,
    ev_src,
    ev_dst,
    ev_wa,
    ev_wl,
    ev_wo,
):
    """Intern the strings :func:`parse` deferred, from row ``state[S_POS]`` of ``longs``.

    Names (over 16 bytes) go to the user and host tables; words not in the
    vocabulary to the extra-word table (``w_*``), as id ``N_WORDS`` + local id.
    Returns ``DONE`` or a ``GROW_*`` status (position saved) like :func:`parse`.
    """
    r = state[S_POS]
    n = state[S_NLONG]
    while r < n:
        k, f, a, b = longs[r, 0], longs[r, 1], longs[r, 2], longs[r, 3]
        status = DONE
        users = (f == F_USER) | (f == F_DUSER)
        wordf = f >= F_AUTH
        if state[S_STORE] + (b - a) > len(store):
            status = GROW_STORE
        elif users and (
            2 * (state[S_NUSERS] + 1) > len(u_tab) or state[S_NUSERS] + 1 > len(u_offs)
        ):
            status = GROW_USERS
        elif wordf and (
            2 * (state[S_NWORDS] + 1) > len(w_tab) or state[S_NWORDS] + 1 > len(w_offs)
        ):
            status = GROW_WORDS
        elif (
            not users
            and not wordf
            and (2 * (state[S_NHOSTS] + 1) > len(h_tab) or state[S_NHOSTS] + 1 > len(h_offs))
        ):
            status = GROW_HOSTS
        if status != DONE:
            state[S_POS] = r
            return status
        if f == F_USER:
            ev_u[k] = intern_long(buf, a, b, u_tab, u_offs, u_lens, store, state, S_NUSERS)
        elif f == F_DUSER:
            ev_du[k] = intern_long(buf, a, b, u_tab, u_offs, u_lens, store, state, S_NUSERS)
        elif f == 1:
            ev_src[k] = intern_long(buf, a, b, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        elif f == 2:
            ev_dst[k] = intern_long(buf, a, b, h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        else:
            w = N_WORDS + intern(buf, a, b, w_tab, w_offs, w_lens, store, state, S_NWORDS)
            if f == F_AUTH:
                ev_wa[k] = w
            elif f == F_LOGON:
                ev_wl[k] = w
            else:
                ev_wo[k] = w
        r += 1
    state[S_POS] = r
    return DONE
