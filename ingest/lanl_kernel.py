"""Numba kernels of the fast LANL ingest: one pass over raw auth bytes.

:func:`scan` walks the lines of a chunk, validates them exactly like the Polars
reader (:mod:`ingest.lanl`), interns strings in open-addressing hash tables held
in numpy arrays, and aggregates edges ``(window, src_host, dst_host)`` straight
into counter rows. It is resumable: when a table is about to pass half load it
returns a ``GROW_*`` status with its position saved in ``state``; the driver
(:mod:`ingest.lanl_fast`) grows that table and calls again.

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
DONE, GROW_USERS, GROW_HOSTS, GROW_CATS, GROW_STORE = 0, 1, 2, 3, 4
GROW_EDGES, GROW_USET, GROW_CAND, UNSORTED = 5, 6, 7, 8

# -- edge counter columns (acc[slot, col]) -------------------------------------------------
A_COUNT, A_USERS, A_FAIL = 0, 1, 2
A_AUTH = 3  # 3 named + other: 3..6
A_LOGON = 7  # 5 named + other: 7..12
A_ORIENT = 13  # 5 named: 13..17
A_FIRST, A_LAST, A_LABELED = 18, 19, 20
N_ACC = 21

#: Category strings seeded first so their ids are fixed: 0-2 auth, 3-7 logon, 8-12 orientation.
N_AUTH, N_LOGON, N_ORIENT = 3, 5, 5
MAX_EXAMPLES = 5

_FNV_OFFSET = -3750763034362895579  # 14695981039346656037 as int64
_FNV_PRIME = 1099511628211
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _mix(h: int) -> int:
    h ^= h >> 33
    h *= -49064778989728563  # 0xff51afd7ed558ccd
    h ^= h >> 33
    return h


@_jit
def hash_bytes(buf, a, b):
    """FNV-1a of ``buf[a:b]``, finalised (int64, wrapping)."""
    h = _FNV_OFFSET
    for i in range(a, b):
        h = (h ^ buf[i]) * _FNV_PRIME
    return _mix(h)


@_jit
def intern(buf, a, b, tab, offs, lens, hashes, store, state, count_slot):
    """Dense id of ``buf[a:b]`` in one string table, adding it when new."""
    h = hash_bytes(buf, a, b)
    mask = len(tab) - 1
    i = h & mask
    n = b - a
    while True:
        k = tab[i]
        if k < 0:
            k = state[count_slot]
            tab[i] = k
            hashes[k] = h
            o = state[S_STORE]
            offs[k] = o
            lens[k] = n
            store[o : o + n] = buf[a:b]
            state[S_STORE] = o + n
            state[count_slot] = k + 1
            return k
        if hashes[k] == h and lens[k] == n:
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
def rehash_strings(tab, hashes, n):
    """Refill an (empty, -1) string table from the hashes of ids ``0..n-1``."""
    mask = len(tab) - 1
    for k in range(n):
        i = hashes[k] & mask
        while tab[i] >= 0:
            i = (i + 1) & mask
        tab[i] = k


@_jit
def _edge_hash(w, s, d):
    return _mix(w * _GOLDEN + s * 1000003 + d * 998244353 + 12345)


@_jit
def rehash_edges(tab, e_win, e_src, e_dst, n):
    """Refill an (empty, -1) edge table from the keys of slots ``0..n-1``."""
    mask = len(tab) - 1
    for k in range(n):
        i = _edge_hash(e_win[k], e_src[k], e_dst[k]) & mask
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
def compact(keep, tab, e_win, e_src, e_dst, acc, uset):
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
                e_win[m] = e_win[k]
                e_src[m] = e_src[k]
                e_dst[m] = e_dst[k]
                acc[m, :] = acc[k, :]
            m += 1
    tab[:] = -1
    rehash_edges(tab, e_win, e_src, e_dst, m)
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


@_jit
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


@_jit
def _is_word(buf, a, b, word):
    if b - a != len(word):
        return False
    for j in range(len(word)):  # noqa: SIM110 - numba loop
        if buf[a + j] != word[j]:
            return False
    return True


@_jit
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


@_jit
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


@_jit
def scan(
    buf,
    params,
    state,
    store,
    u_tab,
    u_offs,
    u_lens,
    u_hash,
    h_tab,
    h_offs,
    h_lens,
    h_hash,
    c_tab,
    c_offs,
    c_lens,
    c_hash,
    e_tab,
    e_win,
    e_src,
    e_dst,
    acc,
    uset,
    rt_times,
    cand,
    bad_rows,
    bad_reasons,
    w_success,
    w_fail,
):
    """Scan lines of ``buf`` from ``state[S_POS]``; see the module docstring.

    ``cand`` rows are (time, src_user, src_host, dst_host, slot) of kept events
    whose time is a red-team time (label candidates).
    """
    n = len(buf)
    fs = np.empty(10, np.int64)
    fe = np.empty(10, np.int64)
    ws = params[P_WINDOW]
    has_start = params[P_HAS_START] != 0
    has_end = params[P_HAS_END] != 0
    start = params[P_START]
    end = params[P_END]
    check_rt = params[P_NRT] > 0
    flushed = params[P_FLUSHED]
    pos = state[S_POS]
    row = state[S_ROW]
    while pos < n:
        # room for one more line in every table (half load at most)
        if 2 * (state[S_NUSERS] + 1) > len(u_tab) or state[S_NUSERS] + 1 > len(u_offs):
            state[S_POS] = pos
            state[S_ROW] = row
            return GROW_USERS
        if 2 * (state[S_NHOSTS] + 2) > len(h_tab) or state[S_NHOSTS] + 2 > len(h_offs):
            state[S_POS] = pos
            state[S_ROW] = row
            return GROW_HOSTS
        if 2 * (state[S_NCATS] + 3) > len(c_tab) or state[S_NCATS] + 3 > len(c_offs):
            state[S_POS] = pos
            state[S_ROW] = row
            return GROW_CATS
        if 2 * (state[S_NEDGES] + 1) > len(e_tab) or state[S_NEDGES] + 1 > len(e_win):
            state[S_POS] = pos
            state[S_ROW] = row
            return GROW_EDGES
        if 2 * (state[S_NUSET] + 1) > len(uset):
            state[S_POS] = pos
            state[S_ROW] = row
            return GROW_USET
        if state[S_NCAND] + 1 > cand.shape[0]:
            state[S_POS] = pos
            state[S_ROW] = row
            return GROW_CAND
        e = pos
        while e < n and buf[e] != 10:
            e += 1
        if state[S_STORE] + (e - pos) > len(store):
            state[S_POS] = pos
            state[S_ROW] = row
            return GROW_STORE
        le = e
        if le > pos and buf[le - 1] == 13:
            le -= 1
        # split into at most 10 fields (commas past the 10th are ignored, like Polars)
        nf = 0
        a = pos
        for i in range(pos, le):
            if buf[i] == 44:
                fs[nf] = a
                fe[nf] = i
                nf += 1
                a = i + 1
                if nf == 10:
                    break
        if nf < 10:
            fs[nf] = a
            fe[nf] = le
            nf += 1
        line_row = row
        pos = e + 1
        row += 1
        # validation, in the Polars reader's reason order
        strings_empty = True
        for f in range(1, 8):
            if f < nf and fe[f] > fs[f]:
                strings_empty = False
                break
        time_empty = fe[0] == fs[0]
        reason = -1
        t = 0
        if time_empty and strings_empty:
            reason = 0
        elif nf >= 10 and fe[9] > fs[9]:
            reason = 1
        else:
            missing = time_empty or nf < 9
            if not missing:
                for f in range(1, 9):
                    if fe[f] == fs[f]:
                        missing = True
                        break
            if missing:
                reason = 2
            else:
                ok, t = _parse_time(buf, fs[0], fe[0])
                if not ok:
                    reason = 3
                elif t < 0:
                    reason = 4
                elif not (
                    _is_word(buf, fs[8], fe[8], w_success) or _is_word(buf, fs[8], fe[8], w_fail)
                ):
                    reason = 5
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
        w = t // ws
        if w <= flushed:
            state[S_POS] = pos
            state[S_ROW] = row
            return UNSORTED
        if state[S_NKEPT] == 0:
            state[S_KLO] = t
            state[S_KHI] = t
            state[S_WMAX] = w
        else:
            if t < state[S_KLO]:
                state[S_KLO] = t
            if t > state[S_KHI]:
                state[S_KHI] = t
            if w > state[S_WMAX]:
                state[S_WMAX] = w
        state[S_NKEPT] += 1
        su = intern(buf, fs[1], fe[1], u_tab, u_offs, u_lens, u_hash, store, state, S_NUSERS)
        sh = intern(buf, fs[3], fe[3], h_tab, h_offs, h_lens, h_hash, store, state, S_NHOSTS)
        dh = intern(buf, fs[4], fe[4], h_tab, h_offs, h_lens, h_hash, store, state, S_NHOSTS)
        at = intern(buf, fs[5], fe[5], c_tab, c_offs, c_lens, c_hash, store, state, S_NCATS)
        lt = intern(buf, fs[6], fe[6], c_tab, c_offs, c_lens, c_hash, store, state, S_NCATS)
        ot = intern(buf, fs[7], fe[7], c_tab, c_offs, c_lens, c_hash, store, state, S_NCATS)
        # edge slot
        mask = len(e_tab) - 1
        i = _edge_hash(w, sh, dh) & mask
        while True:
            s = e_tab[i]
            if s < 0:
                s = state[S_NEDGES]
                e_tab[i] = s
                e_win[s] = w
                e_src[s] = sh
                e_dst[s] = dh
                acc[s, :] = 0
                acc[s, A_FIRST] = t
                acc[s, A_LAST] = t
                state[S_NEDGES] = s + 1
                break
            if e_win[s] == w and e_src[s] == sh and e_dst[s] == dh:
                break
            i = (i + 1) & mask
        acc[s, A_COUNT] += 1
        if _set_add(uset, (s << 32) | su):
            acc[s, A_USERS] += 1
            state[S_NUSET] += 1
        if fe[8] - fs[8] == 4:  # "Fail"
            acc[s, A_FAIL] += 1
        if at < N_AUTH:
            acc[s, A_AUTH + at] += 1
        else:
            acc[s, A_AUTH + N_AUTH] += 1
        if N_AUTH <= lt < N_AUTH + N_LOGON:
            acc[s, A_LOGON + lt - N_AUTH] += 1
        else:
            acc[s, A_LOGON + N_LOGON] += 1
        if N_AUTH + N_LOGON <= ot < N_AUTH + N_LOGON + N_ORIENT:
            acc[s, A_ORIENT + ot - N_AUTH - N_LOGON] += 1
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
    state[S_POS] = pos
    state[S_ROW] = row
    return DONE
