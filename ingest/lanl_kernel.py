"""Numba kernels of the fast LANL ingest: one pass over raw auth bytes, two stages.

:func:`parse` walks the lines of a chunk, validates them exactly like the Polars
reader (:mod:`ingest.lanl`), interns users and hosts in open-addressing hash
tables held in numpy arrays, and classifies the mix fields, writing compact
per-event arrays. :func:`aggregate` adds those events to edge counter rows keyed
by ``(window, src_host, dst_host)`` (distinct users via a set of (slot, user)).
The stages share no table, so the driver runs them on two threads (parse chunk
i+1 while aggregating chunk i). Both are resumable: when a table is about to pass
half load they return a ``GROW_*`` status with the position saved in ``state``;
the driver (:mod:`ingest.lanl_fast`) grows that table and calls again.

All state lives in arrays owned by the driver; nothing here is module state.
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
STATE_SIZE = 32

# -- params (int64 array) ------------------------------------------------------------------
P_HAS_START, P_START, P_HAS_END, P_END, P_WINDOW, P_NRT, P_FLUSHED = range(7)
PARAMS_SIZE = 8

# -- statuses ------------------------------------------------------------------------------
DONE, GROW_USERS, GROW_HOSTS, GROW_STORE = 0, 1, 2, 4
GROW_EDGES, GROW_USET, GROW_CAND, UNSORTED = 5, 6, 7, 8

# -- edge counter columns (acc[slot, col]) -------------------------------------------------
# The key sits in the same row as the counters: one cache line serves lookup and update.
A_WIN, A_SRC, A_DST = 0, 1, 2
A_COUNT, A_USERS, A_FAIL = 3, 4, 5
A_AUTH = 6  # 3 named + other: 6..9
A_LOGON = 10  # 5 named + other: 10..15
A_ORIENT = 16  # 5 named: 16..20
A_FIRST, A_LAST, A_LABELED = 21, 22, 23
N_ACC = 24

#: ``words`` of :func:`parse`: 0-2 auth, 3-7 logon, 8-12 orientation values, 13-14 success.
N_AUTH, N_LOGON, N_ORIENT = 3, 5, 5
MAX_EXAMPLES = 5

_FNV_OFFSET = -3750763034362895579  # 14695981039346656037 as int64
_FNV_PRIME = 1099511628211
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64

_jit = numba.njit(cache=True, nogil=True)
# Helpers called per field are inlined at the IR level: a plain call passes every
# array with reference counting, which cost more than the work itself.
_inline = numba.njit(cache=True, nogil=True, inline="always")


@_inline
def _mix(h: int) -> int:
    h ^= h >> 33
    h *= -49064778989728563  # 0xff51afd7ed558ccd
    h ^= h >> 33
    return h


@_inline
def hash_bytes(buf, a, b):
    """FNV-1a of ``buf[a:b]``, finalised (int64, wrapping)."""
    h = _FNV_OFFSET
    for i in range(a, b):
        h = (h ^ buf[i]) * _FNV_PRIME
    return _mix(h)


@_inline
def intern(buf, a, b, tab, offs, lens, store, state, count_slot):
    """Dense id of ``buf[a:b]`` in one string table, adding it when new.

    ``tab`` rows are (id or -1, tag, first 8 bytes, next 8 bytes); the tag is the
    hash with the length (capped at 63) in its low 6 bits. Strings of at most 16
    bytes compare inside the row (one cache line); longer ones against ``store``.
    """
    n = b - a
    w0 = 0
    w1 = 0
    if n <= 16:
        for j in range(min(n, 8)):
            w0 |= np.int64(buf[a + j]) << (8 * j)
        for j in range(8, n):
            w1 |= np.int64(buf[a + j]) << (8 * (j - 8))
        h = _mix(w0 * _GOLDEN + w1 * 1000003 + n)
    else:
        h = hash_bytes(buf, a, b)
    tag = (h & -64) | min(n, 63)
    mask = tab.shape[0] - 1
    i = (h >> 6) & mask
    while True:
        k = tab[i, 0]
        if k < 0:
            k = state[count_slot]
            tab[i, 0] = k
            tab[i, 1] = tag
            tab[i, 2] = w0
            tab[i, 3] = w1
            o = state[S_STORE]
            offs[k] = o
            lens[k] = n
            store[o : o + n] = buf[a:b]
            state[S_STORE] = o + n
            state[count_slot] = k + 1
            return k
        if tab[i, 1] == tag:
            if n <= 16:
                if tab[i, 2] == w0 and tab[i, 3] == w1:
                    return k
            elif lens[k] == n:
                o = offs[k]
                same = True
                for j in range(n):
                    if store[o + j] != buf[a + j]:
                        same = False
                        break
                if same:
                    return k
        i = (i + 1) & mask


@_jit
def rehash_strings(new, old):
    """Move the rows of string table ``old`` into the (empty, id -1) table ``new``."""
    mask = new.shape[0] - 1
    for r in range(old.shape[0]):
        if old[r, 0] >= 0:
            i = (old[r, 1] >> 6) & mask
            while new[i, 0] >= 0:
                i = (i + 1) & mask
            new[i, :] = old[r, :]


@_inline
def _edge_hash(w, s, d):
    return _mix(w * _GOLDEN + s * 1000003 + d * 998244353 + 12345)


@_jit
def rehash_edges(tab, acc, n):
    """Refill an (empty, -1) edge table from the keys of slots ``0..n-1``."""
    mask = len(tab) - 1
    for k in range(n):
        i = _edge_hash(acc[k, A_WIN], acc[k, A_SRC], acc[k, A_DST]) & mask
        while tab[i] >= 0:
            i = (i + 1) & mask
        tab[i] = k


@_jit
def rehash_keys(new, old):
    """Insert the keys (>= 0) of the set ``old`` into the (empty, -1) set ``new``."""
    mask = len(new) - 1
    n = 0
    for key in old:
        if key >= 0:
            i = _mix(key) & mask
            while new[i] >= 0:
                i = (i + 1) & mask
            new[i] = key
            n += 1
    return n


@_jit
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
                i = _mix(nk) & mask
                while uset[i] >= 0:
                    i = (i + 1) & mask
                uset[i] = nk
                nu += 1
    return m, nu


@_inline
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
    for i in range(a, b):
        c = buf[i] - 48
        if c < 0 or c > 9:
            return False, 0
        if v > (9223372036854775807 - c) // 10:
            return False, 0
        v = v * 10 + c
    return True, -v if neg else v


@_inline
def _set_add(uset, key):
    mask = len(uset) - 1
    i = _mix(key) & mask
    while True:
        k = uset[i]
        if k < 0:
            uset[i] = key
            return True
        if k == key:
            return False
        i = (i + 1) & mask


@_inline
def _in_times(rt, t):
    mask = len(rt) - 1
    i = _mix(t) & mask
    while True:
        k = rt[i]
        if k < 0:
            return False
        if k == t:
            return True
        i = (i + 1) & mask


@_inline
def _classify(buf, a, b, words, woff, lo, hi):
    """Index ``k - lo`` of the first word ``lo <= k < hi`` equal to ``buf[a:b]``, else -1."""
    n = b - a
    for k in range(lo, hi):
        o = woff[k]
        if woff[k + 1] - o != n:
            continue
        same = True
        for j in range(n):
            if buf[a + j] != words[o + j]:
                same = False
                break
        if same:
            return k - lo
    return -1


@_inline
def _stop(state, pos, row):
    state[S_POS] = pos
    state[S_ROW] = row


@_jit
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
    words,
    woff,
    ev_t,
    ev_u,
    ev_src,
    ev_dst,
    ev_mix,
    bad_rows,
    bad_reasons,
):
    """Parse, validate and intern the lines of ``buf`` from ``state[S_POS]``.

    Kept events (valid, inside the time range) go to the ``ev_*`` arrays at
    ``state[S_NKEPT]``: time, src_user id, src/dst host ids and ``ev_mix`` =
    failure bit | auth column << 1 | logon column << 3 | orientation column << 6
    (orientation 5 = none). ``words`` holds the 13 mix values then
    ``Success`` and ``Fail`` (offsets ``woff``).
    """
    n = len(buf)
    fs = np.empty(10, np.int64)
    fe = np.empty(10, np.int64)
    has_start = params[P_HAS_START] != 0
    has_end = params[P_HAS_END] != 0
    start = params[P_START]
    end = params[P_END]
    pos = state[S_POS]
    row = state[S_ROW]
    while pos < n:
        if 2 * (state[S_NUSERS] + 1) > len(u_tab) or state[S_NUSERS] + 1 > len(u_offs):
            _stop(state, pos, row)
            return GROW_USERS
        if 2 * (state[S_NHOSTS] + 2) > len(h_tab) or state[S_NHOSTS] + 2 > len(h_offs):
            _stop(state, pos, row)
            return GROW_HOSTS
        # one pass: find the line end and split into at most 10 fields (commas past
        # the 10th are ignored, like Polars)
        nf = 0
        a = pos
        e = pos
        while e < n:
            c = buf[e]
            if c == 10:
                break
            if c == 44 and nf < 10:
                fs[nf] = a
                fe[nf] = e
                nf += 1
                a = e + 1
            e += 1
        if state[S_STORE] + (e - pos) > len(store):
            _stop(state, pos, row)
            return GROW_STORE
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
                sv = _classify(buf, fs[8], fe[8], words, woff, 13, 15)
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
        if state[S_NVALID] == 0:
            state[S_LO] = t
            state[S_HI] = t
        else:
            if t < state[S_LO]:
                state[S_LO] = t
            if t > state[S_HI]:
                state[S_HI] = t
            if t < state[S_PREV]:
                state[S_SORTED] = 0
        state[S_PREV] = t
        state[S_NVALID] += 1
        if (has_start and t < start) or (has_end and t >= end):
            continue
        k = state[S_NKEPT]
        ev_t[k] = t
        ev_u[k] = intern(buf, fs[1], fe[1], u_tab, u_offs, u_lens, store, state, S_NUSERS)
        ev_src[k] = intern(buf, fs[3], fe[3], h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        ev_dst[k] = intern(buf, fs[4], fe[4], h_tab, h_offs, h_lens, store, state, S_NHOSTS)
        au = _classify(buf, fs[5], fe[5], words, woff, 0, N_AUTH)
        lg = _classify(buf, fs[6], fe[6], words, woff, N_AUTH, N_AUTH + N_LOGON)
        orn = _classify(
            buf, fs[7], fe[7], words, woff, N_AUTH + N_LOGON, N_AUTH + N_LOGON + N_ORIENT
        )
        if au < 0:
            au = N_AUTH
        if lg < 0:
            lg = N_LOGON
        if orn < 0:
            orn = N_ORIENT
        ev_mix[k] = fail | (au << 1) | (lg << 3) | (orn << 6)
        state[S_NKEPT] = k + 1
    _stop(state, pos, row)
    return DONE


@_jit
def aggregate(
    params,
    state,
    ev_t,
    ev_u,
    ev_src,
    ev_dst,
    ev_mix,
    e_tab,
    acc,
    uset,
    rt_times,
    cand,
):
    """Add kept events ``state[S_POS] .. state[S_NKEPT]-1`` to the edge counters.

    ``cand`` rows are (time, src_user, src_host, dst_host, slot) of events whose
    time is a red-team time (label candidates).
    """
    ws = params[P_WINDOW]
    check_rt = params[P_NRT] > 0
    flushed = params[P_FLUSHED]
    n = state[S_NKEPT]
    k = state[S_POS]
    while k < n:
        if 2 * (state[S_NEDGES] + 1) > len(e_tab) or state[S_NEDGES] + 1 > acc.shape[0]:
            state[S_POS] = k
            return GROW_EDGES
        if 2 * (state[S_NUSET] + 1) > len(uset):
            state[S_POS] = k
            return GROW_USET
        if state[S_NCAND] + 1 > cand.shape[0]:
            state[S_POS] = k
            return GROW_CAND
        t = ev_t[k]
        w = t // ws
        if w <= flushed:
            state[S_POS] = k
            return UNSORTED
        if w > state[S_WMAX]:
            state[S_WMAX] = w
        sh = ev_src[k]
        dh = ev_dst[k]
        mask = len(e_tab) - 1
        i = _edge_hash(w, sh, dh) & mask
        while True:
            s = e_tab[i]
            if s < 0:
                s = state[S_NEDGES]
                e_tab[i] = s
                for j in range(N_ACC):
                    acc[s, j] = 0
                acc[s, A_WIN] = w
                acc[s, A_SRC] = sh
                acc[s, A_DST] = dh
                acc[s, A_FIRST] = t
                acc[s, A_LAST] = t
                state[S_NEDGES] = s + 1
                break
            if acc[s, A_WIN] == w and acc[s, A_SRC] == sh and acc[s, A_DST] == dh:
                break
            i = (i + 1) & mask
        su = ev_u[k]
        acc[s, A_COUNT] += 1
        if _set_add(uset, (s << 32) | su):
            acc[s, A_USERS] += 1
            state[S_NUSET] += 1
        m = ev_mix[k]
        acc[s, A_FAIL] += m & 1
        acc[s, A_AUTH + ((m >> 1) & 3)] += 1
        acc[s, A_LOGON + ((m >> 3) & 7)] += 1
        o = (m >> 6) & 7
        if o < N_ORIENT:
            acc[s, A_ORIENT + o] += 1
        if t < acc[s, A_FIRST]:
            acc[s, A_FIRST] = t
        if t > acc[s, A_LAST]:
            acc[s, A_LAST] = t
        if check_rt and _in_times(rt_times, t):
            c = state[S_NCAND]
            cand[c, 0] = t
            cand[c, 1] = su
            cand[c, 2] = sh
            cand[c, 3] = dh
            cand[c, 4] = s
            state[S_NCAND] = c + 1
        k += 1
    state[S_POS] = k
    return DONE
