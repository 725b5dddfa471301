"""Numba kernels of the fast LANL ingest: one pass over raw auth bytes, two stages.

:func:`parse` walks the lines of a byte range, validates them exactly like the
Polars reader (:mod:`ingest.lanl`), interns users and hosts in open-addressing
hash tables (:mod:`ingest.lanl_tables`) private to its thread, and classifies the
mix fields, writing compact per-event arrays with those local ids. The driver
parses the two halves of a chunk on two threads, each with its own tables, then
maps new local ids to global ones (:func:`ingest.lanl_tables.intern_ids`).
:func:`aggregate` adds the events to edge counter rows keyed by ``(window,
src_host, dst_host)`` (distinct users via a set of (slot, user)), translating ids
through those maps. Parsing chunk i+1 overlaps aggregating chunk i. Both kernels
are resumable: when a table is about to pass half load they return a ``GROW_*``
status with the position saved in ``state``; the driver
(:mod:`ingest.lanl_engine`) grows that table and calls again.

All state lives in arrays owned by the driver; nothing here is module state.
"""

from __future__ import annotations

import numpy as np

from ingest.lanl_aggregate import aggregate
from ingest.lanl_tables import (
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
    intern_long,
    intern_short,
    jit,
    pack_bytes,
)

__all__ = ["aggregate", "parse", "resolve_long"]


@inline
def _parse_time(buf, a, b):
    """(ok, value) of a decimal integer with optional sign and surrounding whitespace."""
    while a < b and (buf[a] == 32 or (9 <= buf[a] <= 13)):
        a += 1
    while b > a and (buf[b - 1] == 32 or (9 <= buf[b - 1] <= 13)):
        b -= 1
    neg = False
    if a < b and (buf[a] == 45 or buf[a] == 43):
        neg = buf[a] == 45
        a += 1
    if a >= b:
        return False, 0
    v = 0
    if b - a <= 18:  # cannot overflow int64: no per-digit check
        i = np.uint64(a)
        ub = np.uint64(b)
        while i < ub:  # unsigned positions (see parse)
            c = np.int64(buf[i]) - 48
            if c < 0 or c > 9:
                return False, 0
            v = v * 10 + c
            i += np.uint64(1)
        return True, -v if neg else v
    for i in range(a, b):
        c = np.int64(buf[i]) - 48
        if c < 0 or c > 9:
            return False, 0
        if v > (9223372036854775807 - c) // 10:
            return False, 0
        v = v * 10 + c
    return True, -v if neg else v


@inline
def _classify(buf, a, n, w0, w1, vocab, words, lo, hi):
    """Index ``k - lo`` of the first word ``lo <= k < hi`` equal to ``buf[a:a+n]``, else -1.

    ``vocab`` rows are (length, packed first 8 bytes, next 8, offset in ``words``);
    ``w0, w1`` are the field's packed bytes, so only words over 16 bytes compare bytes.
    """
    for k in range(lo, hi):
        if vocab[k, 0] == n and vocab[k, 1] == w0 and vocab[k, 2] == w1:
            if n <= 16:
                return k - lo
            o = vocab[k, 3]
            same = True
            for j in range(16, n):
                if buf[a + j] != words[o + j]:
                    same = False
                    break
            if same:
                return k - lo
    return -1


@inline
def _field(buf, a, b):
    """(length, first 8 bytes, next 8 bytes) of the field ``buf[a:b]``."""
    n = b - a
    w0, w1 = pack_bytes(buf, a, n)
    return n, w0, w1


@inline
def _full(tab, offs, n):
    """Whether ``n`` ids would pass half load of ``tab`` or the capacity of ``offs``."""
    return 2 * n > tab.shape[0] or n > len(offs)


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
):
    """Parse, validate and intern the lines of ``buf[state[S_POS]:state[S_END]]``.

    Kept events
    (valid, inside the time range) go to the ``ev_*`` arrays at ``state[S_NKEPT]``:
    time, src_user id, src/dst host ids and ``ev_mix`` = failure bit | auth column
    << 1 | logon column << 3 | orientation column << 6 (orientation 5 = none).
    ``vocab`` rows 0-12 are the mix values, 13-14 ``Success`` and ``Fail``
    (see :func:`_classify`). Strings over 16 bytes are not interned here: their
    (event, field, start, end) go to ``longs`` (id -1 for now) and
    :func:`resolve_long` interns them after the pass, which keeps this loop
    tight.
    """
    n = state[S_END]
    un = np.uint64(n)
    one = np.uint64(1)
    fs = np.empty(10, np.int64)
    fe = np.empty(10, np.int64)
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
    while pos < n:
        if 2 * (state[S_NUSERS] + 1) > len(u_tab) or state[S_NUSERS] + 1 > len(u_offs):
            status = GROW_USERS
            break
        if 2 * (state[S_NHOSTS] + 2) > len(h_tab) or state[S_NHOSTS] + 2 > len(h_offs):
            status = GROW_HOSTS
            break
        if state[S_NLONG] + 3 > longs.shape[0]:
            status = GROW_LONGS
            break
        # one pass: find the line end and split into at most 10 fields (commas past
        # the 10th are ignored, like Polars)
        # unsigned positions: numba then skips the negative-index fix-up of every
        # buf[e] (measured: the split loop 25% faster)
        nf = 0
        ua = np.uint64(pos)
        ue = ua
        while ue < un:
            c = buf[ue]
            if c == 10:
                break
            if c == 44 and nf < 10:
                fs[nf] = np.int64(ua)
                fe[nf] = np.int64(ue)
                nf += 1
                ua = ue + one
            ue += one
        a = np.int64(ua)
        e = np.int64(ue)
        if state[S_STORE] + (e - pos) > len(store):
            status = GROW_STORE
            break
        le = e
        if le > pos and buf[le - 1] == 13:
            le -= 1
        if nf < 10:
            fs[nf] = a
            fe[nf] = le
            nf += 1
        line_row = row
        pos = e + 1
        row += 1
        # validation, in the Polars reader's reason order
        reason = -1
        t = 0
        fail = 0
        if nf == 9 and fe[0] > fs[0]:  # the common case: nine fields
            missing = False
            for f in range(1, 9):
                if fe[f] == fs[f]:
                    missing = True
                    break
        else:
            missing = True
        if missing:
            strings_empty = True
            for f in range(1, 8):
                if f < nf and fe[f] > fs[f]:
                    strings_empty = False
                    break
            if fe[0] == fs[0] and strings_empty:
                reason = 0
            elif nf >= 10 and fe[9] > fs[9]:
                reason = 1
            elif nf >= 10:  # an empty 10th field is dropped by Polars
                missing = fe[0] == fs[0]
                for f in range(1, 9):
                    if fe[f] == fs[f]:
                        missing = True
                        break
                if missing:
                    reason = 2
            else:
                reason = 2
        if reason < 0:
            ok, t = _parse_time(buf, fs[0], fe[0])
            if not ok:
                reason = 3
            elif t < 0:
                reason = 4
            else:
                m, w0, w1 = _field(buf, fs[8], fe[8])
                sv = _classify(buf, fs[8], m, w0, w1, vocab, words, 13, 15)
                if sv < 0:
                    reason = 5
                fail = sv
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
        m, w0, w1 = _field(buf, fs[1], fe[1])
        if m > 16:
            ev_u[k] = _defer(longs, state, k, 0, fs[1], fe[1])
        else:
            ev_u[k] = intern_short(
                buf, fs[1], fe[1], w0, w1, u_tab, u_offs, u_lens, store, state, S_NUSERS
            )
        m, w0, w1 = _field(buf, fs[3], fe[3])
        if m > 16:
            sh = _defer(longs, state, k, 1, fs[3], fe[3])
        else:
            sh = intern_short(
                buf, fs[3], fe[3], w0, w1, h_tab, h_offs, h_lens, store, state, S_NHOSTS
            )
        ev_src[k] = sh
        m2, x0, x1 = _field(buf, fs[4], fe[4])
        if m2 > 16:
            ev_dst[k] = _defer(longs, state, k, 2, fs[4], fe[4])
        elif m2 == m and x0 == w0 and x1 == w1:  # dst == src (local logons): same id
            ev_dst[k] = sh
        else:
            ev_dst[k] = intern_short(
                buf, fs[4], fe[4], x0, x1, h_tab, h_offs, h_lens, store, state, S_NHOSTS
            )
        m, w0, w1 = _field(buf, fs[5], fe[5])
        au = _classify(buf, fs[5], m, w0, w1, vocab, words, 0, N_AUTH)
        m, w0, w1 = _field(buf, fs[6], fe[6])
        lg = _classify(buf, fs[6], m, w0, w1, vocab, words, N_AUTH, N_AUTH + N_LOGON)
        m, w0, w1 = _field(buf, fs[7], fe[7])
        orn = _classify(buf, fs[7], m, w0, w1, vocab, words, N_AUTH + N_LOGON, 13)
        if au < 0:
            au = N_AUTH
        if lg < 0:
            lg = N_LOGON
        if orn < 0:
            orn = N_ORIENT
        ev_mix[k] = fail | (au << 1) | (lg << 3) | (orn << 6)
        k += 1
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
