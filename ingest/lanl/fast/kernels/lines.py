"""Line splitting and field decoding of the fast LANL parse kernel (numba, inlined).

:func:`split_fast` splits a plain line with two 64-byte vector compares
(:mod:`ingest.lanl.fast.kernels.simd`); :func:`split_general` walks any line byte by byte and
validates it exactly like the Polars reader (:mod:`ingest.lanl.reader`), reason by
reason; :func:`field_words` packs a field's first 16 bytes into two words and
:func:`classify` finds a field in the mix vocabulary. Used by
:func:`ingest.lanl.fast.kernels.parse.parse`.
"""

from __future__ import annotations

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from ingest.lanl.fast.kernels.simd import eq_mask64, load_i64, low_bytes
from ingest.lanl.fast.kernels.tables import inline, pack_bytes
from ingest.lanl.fast.layout import SUCCESS_HI, SUCCESS_LO

__all__ = [
    "FAST_SPAN",
    "classify",
    "field_words",
    "parse_time",
    "split_fast",
    "split_general",
    "time_fast",
]


@inline
def parse_time(buf, a, b):
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
    # ``j``, not ``i``: a name reused with another type is unified across an inlined
    # helper's loops when numba does not rebuild its SSA form (uint64 | int64 = float64)
    for j in range(a, b):
        c = np.int64(buf[j]) - 48
        if c < 0 or c > 9:
            return False, 0
        if v > (9223372036854775807 - c) // 10:
            return False, 0
        v = v * 10 + c
    return True, -v if neg else v


@inline
def classify(buf, a, n, w0, w1, vocab, words, lo, hi):
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
def field_words(buf, a, b, fast):
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


#: Bytes that must be readable after a line's start for :func:`split_fast`: two
#: 64-byte blocks plus a 16-byte field load past a line of up to 127 bytes.
FAST_SPAN = 192


@inline
def split_fast(buf, pos, fs, fe):
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
def time_fast(buf, a, b):
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
def split_general(buf, pos, un, fs, fe, vocab, words):
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
        ok, t = parse_time(buf, fs[0], fe[0])
        if not ok:
            reason = 3
        elif t < 0:
            reason = 4
        else:
            m, w0, w1 = field_words(buf, fs[8], fe[8], False)
            sv = classify(buf, fs[8], m, w0, w1, vocab, words, SUCCESS_LO, SUCCESS_HI)
            if sv < 0:
                reason = 5
            fail = sv
    return e, reason, t, fail
