"""Shared layout of the fast LANL kernels: state slots, statuses, the vocabulary, edge rows.

The numba kernels (:mod:`ingest.lanl.fast.kernels`) and the Python stages that call
them (:mod:`ingest.lanl.fast.stage`, :mod:`ingest.lanl.fast.engine`) agree on these
numbers. This module imports numpy only, so a run with the ahead-of-time compiled
kernels (:mod:`ingest.lanl.fast.native`) never imports numba.
"""

from __future__ import annotations

import numpy as np

# -- state slots (int64 array) -------------------------------------------------------------
S_POS, S_ROW = 0, 1
S_NUSERS, S_NHOSTS, S_NWORDS, S_STORE = 2, 3, 4, 5
S_NEDGES, S_NUSET = 6, 7
S_NVALID, S_LO, S_HI, S_SORTED, S_PREV = 9, 10, 11, 12, 13
S_NKEPT, S_WMAX = 14, 17
S_BAD = 18  # 6 reason counters: 18..23
S_NBADEX = 24
S_END, S_FIRST = 25, 26  # parse: end of the byte range; first valid time
S_NLONG = 27  # parse: deferred strings (see kernels.parse.resolve_long)
STATE_SIZE = 32

# -- params (int64 array) ------------------------------------------------------------------
P_HAS_START, P_START, P_HAS_END, P_END, P_WINDOW, P_LABELS, P_FLUSHED = range(7)
PARAMS_SIZE = 8

# -- statuses ------------------------------------------------------------------------------
# numpy integers, not Python ints: numba types each Python int global as its own
# literal type, and a kernel's ``status`` variable takes several of them (``pycc``,
# unlike the JIT, then fails to unify them).
DONE, GROW_USERS, GROW_HOSTS, GROW_WORDS, GROW_STORE = map(np.int64, (0, 1, 2, 3, 4))
GROW_EDGES, GROW_USET, UNSORTED, GROW_LONGS = map(np.int64, (5, 6, 8, 9))

# -- the vocabulary of the auth_type, logon_type, orientation and success fields -----------
#: Known values, each once. A field is looked up in its range of this tuple; the
#: ranges overlap where fields share a value ("?"). A word id below ``N_WORDS`` is
#: its index here; other values are interned as extra words (ids from ``N_WORDS``).
WORDS: tuple[str, ...] = (
    "Kerberos",  # 0: auth, counted columns first (ingest.graphs.edges.AUTH_MIX order)
    "NTLM",
    "Negotiate",
    "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0",
    "?",  # 4: auth and logon
    "Network",  # 5: logon, counted columns first (LOGON_MIX order)
    "Interactive",
    "RemoteInteractive",
    "Service",
    "Batch",
    "Unlock",
    "NewCredentials",
    "NetworkCleartext",
    "CachedInteractive",
    "LogOn",  # 14: orientation (ORIENTATION_MIX order)
    "LogOff",
    "TGS",
    "TGT",
    "AuthMap",
    "Success",  # 19
    "Fail",
)
N_WORDS = len(WORDS)
#: [first, end) of each field's values in WORDS, and the counted (named) columns.
AUTH_LO, AUTH_HI, N_AUTH = 0, 5, 3
LOGON_LO, LOGON_HI, LOGON_NAMED, N_LOGON = 4, 14, 5, 5
ORIENT_LO, ORIENT_HI, N_ORIENT = 14, 19, 5
SUCCESS_LO, SUCCESS_HI = 19, 21

#: Events per batch of the parse kernel: their lines are split first, then their names
#: are interned in tight loops, so the hash-table probes of many events are in flight
#: at once (a probe inside the long per-line loop waited for memory alone).
BATCH = 256
#: Shape of the parse kernel's int64 ``scratch``: field bounds, then per name field
#: (src_user, src_host, dst_host, dst_user) and batch event: hash, bytes, start, length.
SCRATCH_SHAPE = (6, 4, BATCH)

#: Rows of the aggregate kernel's ``ring`` (its software pipeline; a power of two).
RING = 32

#: Deferred-string fields (``longs`` rows of the parse kernel): names, then words.
F_USER, F_SRC, F_DST, F_DUSER, F_AUTH, F_LOGON, F_ORIENT = range(7)

# -- edge counter rows ----------------------------------------------------------------------
# One row per (window, src_host, dst_host) slot: 16 int64 words = 128 bytes, two cache
# lines on a 64-byte-aligned table (:func:`aligned_rows`), so adding an event touches
# at most two lines. Words 0-7 are int64 (``acc[slot, A_*]``); words 7-15 also hold
# int32 counters, addressed through the int32 view ``acc32 = acc.view(np.int32)``
# (``acc32[slot, C_*]``, two per word).
A_WIN, A_SD = 0, 1  # window; src host id << 32 | dst host id
A_COUNT = 2
# The slot's first two users (-1: none yet): repeats of them skip the user set, which
# then holds only third and later users (few), so it stays small and cheap to rebuild.
A_USER1, A_USER2 = 3, 4
A_FIRST, A_LAST = 5, 6
N_ACC = 16
C_USERS, C_LABELED = 14, 15  # in word 7
C_FAIL = 16  # line 2: failures, then the mix
C_AUTH = 17  # 3 named + other: 17..20
C_LOGON = 21  # 5 named + other: 21..26
C_ORIENT = 27  # 5 named: 27..31
#: Columns of ``gather_columns``: window, src id, dst id, then these counters.
OUT_COUNTERS = 21
HOST_BITS = 32
HOST_MASK = (1 << HOST_BITS) - 1
#: An edge-table entry is ``tag << 32 | slot`` (-1 when empty).
SLOT_MASK = 0xFFFFFFFF


def aligned_rows(n: int) -> np.ndarray:
    """A zeroed ``(n, N_ACC)`` int64 counter table whose rows start on 64-byte lines."""
    raw = np.zeros(n * N_ACC + 8, np.int64)
    skip = (-raw.ctypes.data % 64) // 8
    return raw[skip : skip + n * N_ACC].reshape(n, N_ACC)


def vocabulary(names: tuple[str, ...] = WORDS) -> tuple[np.ndarray, np.ndarray]:
    """``vocab`` rows (length, packed bytes 0-7, packed bytes 8-15, offset) and the bytes."""
    raw = [w.encode() for w in names]
    rows, off = [], 0
    for b in raw:
        head = b[:16].ljust(16, b"\0")
        w0, w1 = np.frombuffer(head, "<i8").tolist()
        rows.append((len(b), w0, w1, off))
        off += len(b)
    words = np.frombuffer(b"".join(raw), np.uint8).copy()  # writable: one kernel type
    return np.array(rows, np.int64), words
