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
from numba.cpython.unsafe.numbers import trailing_zeros

from ingest.lanl_aggregate import aggregate
from ingest.lanl_simd import eq_mask64, load_i64, low_bytes, prefetch
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
    intern_hashed,
    intern_long,
    jit,
    pack_bytes,
    short_hash,
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
def _field(buf, a, b, fast):
    """(length, first 8 bytes, next 8 bytes) of the field ``buf[a:b]``.

    ``fast``: 16 bytes from ``a`` may be read (two word loads instead of a byte loop).
    """
    n = b - a
    if fast:
        w0 = low_bytes(load_i64(buf, a), n)
        w1 = low_bytes(load_i64(buf, a + 8), n - 8) if n > 8 else 0
        return n, w0, w1
    w0, w1 = pack_bytes(buf, a, n)
    return n, w0, w1


#: Bytes that must be readable after a line's start for :func:`_split_fast`: two
#: 64-byte blocks plus a 16-byte field load past a line of up to 127 bytes.
FAST_SPAN = 192


@inline
def _split_fast(buf, pos, fs, fe):
    """Split the plain line at ``pos`` by bit masks: its newline's index, or -1.

    Plain: a newline within 128 bytes, exactly eight commas before it and nine
    non-empty fields (``fs``/``fe`` filled; a CR before the newline is dropped).
    Anything else returns -1 and the caller takes the general byte loop, which
    handles every case. Needs ``pos + FAST_SPAN <= len(buf)``.
    """
    one = np.uint64(1)
    nm = eq_mask64(buf, pos, 10)
    cm = eq_mask64(buf, pos, 44)
    cm2 = np.uint64(0)
    if nm != 0:
        ln = np.int64(trailing_zeros(nm))
        cm &= (one << np.uint64(ln)) - one
    else:
        nm2 = eq_mask64(buf, pos + 64, 10)
        if nm2 == 0:
            return -1
        l2 = np.int64(trailing_zeros(nm2))
        ln = 64 + l2
        cm2 = eq_mask64(buf, pos + 64, 44) & ((one << np.uint64(l2)) - one)
    nf = 0
    a = pos
    while cm != 0:
        if nf == 8:
            return -1
        c = pos + np.int64(trailing_zeros(cm))
        fs[nf] = a
        fe[nf] = c
        nf += 1
        a = c + 1
        cm &= cm - one
    while cm2 != 0:
        if nf == 8:
            return -1
        c = pos + 64 + np.int64(trailing_zeros(cm2))
        fs[nf] = a
        fe[nf] = c
        nf += 1
        a = c + 1
        cm2 &= cm2 - one
    if nf != 8:
        return -1
    e = pos + ln
    fs[8] = a
    fe[8] = e - 1 if buf[e - 1] == 13 else e
    for f in range(9):
        if fe[f] == fs[f]:
            return -1
    return e


@inline
def _time_fast(buf, a, b):
    """(ok, value) of a field of 1-18 ASCII digits; anything else is not ok."""
    if b - a > 18:
        return False, 0
    v = 0
    i = np.uint64(a)
    ub = np.uint64(b)
    while i < ub:
        c = np.int64(buf[i]) - 48
        if c < 0 or c > 9:
            return False, 0
        v = v * 10 + c
        i += np.uint64(1)
    return True, v


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


@inline
def _split_general(buf, pos, un, fs, fe, vocab, words):
    """Split and validate the line at ``pos`` byte by byte: (newline index, reason, time, fail).

    ``reason`` is -1 for a valid line, else the index of its :data:`REASONS`
    entry, decided in the Polars reader's order. Handles every case (any field
    count, whitespace and signs around the time, a last line without newline).
    """
    one = np.uint64(1)
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
    le = e
    if le > pos and buf[le - 1] == 13:
        le -= 1
    if nf < 10:
        fs[nf] = a
        fe[nf] = le
        nf += 1
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
            m, w0, w1 = _field(buf, fs[8], fe[8], False)
            sv = _classify(buf, fs[8], m, w0, w1, vocab, words, 13, 15)
            if sv < 0:
                reason = 5
            fail = sv
    return e, reason, t, fail


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
def _intern_batch(
    buf, k0, k1, b_h, b_w0, b_w1, b_a, b_n, f, ids, tab, offs, lens, store, state, slot
):
    """``ids[k0 + j]`` = the id of name field ``f`` of batch event ``j`` (see :func:`parse`)."""
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
            ids[k0 + j] = intern_hashed(
                buf,
                a,
                a + m,
                b_h[f, j],
                b_w0[f, j],
                b_w1[f, j],
                tab,
                offs,
                lens,
                store,
                state,
                slot,
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
    (see :func:`_classify`). Lines are split by bit masks (:func:`_split_fast`)
    and, when unusual, byte by byte (:func:`_split_general`). Names are interned
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
                e = _split_fast(buf, pos, fs, fe)
                if 0 <= e < n:
                    ok, t = _time_fast(buf, fs[0], fe[0])
                    m, w0, w1 = _field(buf, fs[8], fe[8], True)
                    fail = _classify(buf, fs[8], m, w0, w1, vocab, words, 13, 15)
                    if not ok or fail < 0:
                        e = -1
                else:
                    e = -1
            reason = -1
            if e < 0:  # anything unusual: the general byte loop decides
                fast = False
                e, reason, t, fail = _split_general(buf, pos, un, fs, fe, vocab, words)
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
                m, w0, w1 = _field(buf, fa, fb, fast)
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
            m, w0, w1 = _field(buf, fs[5], fe[5], fast)
            au = _classify(buf, fs[5], m, w0, w1, vocab, words, 0, N_AUTH)
            m, w0, w1 = _field(buf, fs[6], fe[6], fast)
            lg = _classify(buf, fs[6], m, w0, w1, vocab, words, N_AUTH, N_AUTH + N_LOGON)
            m, w0, w1 = _field(buf, fs[7], fe[7], fast)
            orn = _classify(buf, fs[7], m, w0, w1, vocab, words, N_AUTH + N_LOGON, 13)
            if au < 0:
                au = N_AUTH
            if lg < 0:
                lg = N_LOGON
            if orn < 0:
                orn = N_ORIENT
            ev_mix[k] = fail | (au << 1) | (lg << 3) | (orn << 6)
            k += 1
        _intern_batch(
            buf,
            k0,
            k,
            b_h,
            b_w0,
            b_w1,
            b_a,
            b_n,
            0,
            ev_u,
            u_tab,
            u_offs,
            u_lens,
            store,
            state,
            S_NUSERS,
        )
        _intern_batch(
            buf,
            k0,
            k,
            b_h,
            b_w0,
            b_w1,
            b_a,
            b_n,
            1,
            ev_src,
            h_tab,
            h_offs,
            h_lens,
            store,
            state,
            S_NHOSTS,
        )
        _intern_batch(
            buf,
            k0,
            k,
            b_h,
            b_w0,
            b_w1,
            b_a,
            b_n,
            2,
            ev_dst,
            h_tab,
            h_offs,
            h_lens,
            store,
            state,
            S_NHOSTS,
        )
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
