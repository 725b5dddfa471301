"""Parse stage of the fast LANL ingest: one :class:`Parser` per thread.

Each parser owns private string tables (:class:`Strings`: local user, host and
extra-word ids), a byte store, its kernel state and reusable per-event arrays, so
the halves of a chunk are parsed at once without locks. :mod:`ingest.lanl.fast.engine`
maps the local ids to global ones and aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ingest.lanl.fast import layout as L
from ingest.lanl.files import MAX_EXAMPLES, REASONS

if TYPE_CHECKING:
    import polars as pl

    from ingest.lanl.fast.native import Kernels

#: Per-event arrays of a part, in order: time, src_user, dst_user, src_host, dst_host,
#: mix, auth word, logon word, orientation word, line index in the part.
EVENT_DTYPES = (
    np.int64,
    np.int32,
    np.int32,
    np.int32,
    np.int32,
    np.int16,
    np.int32,
    np.int32,
    np.int32,
    np.int32,
)
EV_T, EV_U, EV_DU, EV_SRC, EV_DST, EV_MIX, EV_WA, EV_WL, EV_WO, EV_ROW = range(10)


@dataclass
class Strings:
    """One interning table: open-addressing ``tab`` rows plus per-id offset and length."""

    tab: np.ndarray = field(default_factory=lambda: np.full((1 << 12, 4), -1, np.int64))
    offs: np.ndarray = field(default_factory=lambda: np.zeros(1 << 11, np.int64))
    lens: np.ndarray = field(default_factory=lambda: np.zeros(1 << 11, np.int64))
    names: list[str] = field(default_factory=list)  # decoded, ids 0..len-1
    _series: pl.Series | None = None

    def grow(self, kernels: Kernels) -> None:
        """Double the id capacity and rebuild the hash table at twice that size."""
        size = 2 * len(self.offs)
        for name in ("offs", "lens"):
            old = getattr(self, name)
            new = np.zeros(size, np.int64)
            new[: len(old)] = old
            setattr(self, name, new)
        tab = np.full((2 * size, 4), -1, np.int64)
        kernels.rehash_strings(tab, self.tab)
        self.tab = tab

    def reserve(self, n_ids: int, kernels: Kernels) -> None:
        """Grow until ``n_ids`` ids fit below half load."""
        while 2 * n_ids > len(self.tab) or n_ids > len(self.offs):
            self.grow(kernels)

    def args(self) -> tuple[np.ndarray, ...]:
        return self.tab, self.offs, self.lens

    def text(self, store: np.ndarray, k: int) -> str:
        o, n = int(self.offs[k]), int(self.lens[k])
        return store[o : o + n].tobytes().decode("utf-8", "replace")

    def series(self, store: np.ndarray, n: int) -> pl.Series:
        """Decoded strings of ids ``0..n-1`` as a Series (cached, extended on demand)."""
        import polars as pl

        if len(self.names) < n or self._series is None:
            lo = len(self.names)
            offs, lens = self.offs[lo:n].copy(), self.lens[lo:n].copy()
            if len(offs):
                base = int(offs.min())
                raw = store[base : int((offs + lens).max())].tobytes()
                rel = (offs - base).tolist()
                self.names.extend(
                    raw[o : o + m].decode("utf-8", "replace")
                    for o, m in zip(rel, lens.tolist(), strict=True)
                )
            self._series = pl.Series(self.names, dtype=pl.String)
        return self._series


@dataclass
class Part:
    """What one parser made of one byte range of a chunk."""

    parser: Parser
    ev: tuple[np.ndarray, ...]  # EVENT_DTYPES, local ids
    n_kept: int
    n_lines: int
    n_valid: int
    lo: int
    hi: int
    first: int
    last: int
    is_sorted: bool
    bad_counts: list[int]
    bad_rows: list[int]
    bad_reasons: list[int]
    # the parser's tables as they were at the end of this range (ids below n_* are final)
    n_users: int
    n_hosts: int
    n_words: int
    tables: tuple[np.ndarray, ...]  # store, then offsets and lengths of users, hosts, words


class Parser:
    """One parse thread's private string tables, state and reusable event arrays."""

    def __init__(
        self, params: np.ndarray, vocab: np.ndarray, words: np.ndarray, kernels: Kernels
    ) -> None:
        self.params, self.vocab, self.words, self.kernels = params, vocab, words, kernels
        self.st = np.zeros(L.STATE_SIZE, np.int64)
        self.store = np.empty(1 << 20, np.uint8)
        self.users, self.hosts, self.extra = Strings(), Strings(), Strings()
        self.bad_rows = np.zeros(MAX_EXAMPLES, np.int64)
        self.bad_reasons = np.zeros(MAX_EXAMPLES, np.int64)
        self.longs = np.zeros((1 << 12, 4), np.int64)  # deferred strings
        self.scratch = np.zeros(L.SCRATCH_SHAPE, np.int64)
        self.spare: list[tuple[np.ndarray, ...]] = []  # event arrays free for reuse
        # local id -> global id (filled by the driver, Engine.map_ids)
        self.umap = np.zeros(1 << 11, np.int64)
        self.hmap = np.zeros(1 << 11, np.int64)
        self.wmap = np.zeros(1 << 4, np.int64)
        self.n_umapped = self.n_hmapped = self.n_wmapped = 0

    def _event_arrays(self, n: int) -> tuple[np.ndarray, ...]:
        """Per-event arrays for ``n`` lines, reusing a released set (fewer page faults)."""
        while self.spare:
            ev = self.spare.pop()
            if len(ev[0]) >= n:
                return ev
        m = n + n // 4
        return tuple(np.empty(m, dtype) for dtype in EVENT_DTYPES)

    def _grow(self, status: int) -> None:
        if status == L.GROW_USERS:
            self.users.grow(self.kernels)
        elif status == L.GROW_HOSTS:
            self.hosts.grow(self.kernels)
        elif status == L.GROW_WORDS:
            self.extra.grow(self.kernels)
        elif status == L.GROW_LONGS:
            self.longs = np.concatenate([self.longs, np.zeros_like(self.longs)])
        elif status == L.GROW_STORE:
            used = self.st[L.S_STORE]
            new = np.empty(2 * len(self.store) + (1 << 20), np.uint8)
            new[:used] = self.store[:used]
            self.store = new
        else:  # pragma: no cover - the kernel returns only the codes above
            raise RuntimeError(f"unknown parse status {status}")

    def parse(self, data: bytes | memoryview, lo: int, hi: int) -> Part:
        """Run the parse kernel over ``data[lo:hi]`` (whole lines), resuming after growth."""
        K = self.kernels
        s = self.st
        s[L.S_ROW] = s[L.S_NVALID] = s[L.S_NBADEX] = s[L.S_NKEPT] = s[L.S_NLONG] = 0
        s[L.S_POS], s[L.S_END] = lo, hi
        s[L.S_SORTED] = 1
        s[L.S_BAD : L.S_BAD + len(REASONS)] = 0
        buf = np.frombuffer(data, np.uint8)
        # a valid line has at least 20 bytes: "0,a,b,c,d,e,f,g,Fail"
        ev = self._event_arrays((hi - lo) // 20 + 1)
        while True:
            status = K.parse(
                buf,
                self.params,
                s,
                self.store,
                *self.users.args(),
                *self.hosts.args(),
                self.vocab,
                self.words,
                *ev,
                self.bad_rows,
                self.bad_reasons,
                self.longs,
                self.scratch,
            )
            if status == L.DONE:
                break
            self._grow(status)
        s[L.S_POS] = 0
        while s[L.S_NLONG]:  # long names and words outside the vocabulary, deferred
            status = K.resolve_long(
                buf,
                self.longs,
                s,
                self.store,
                *self.users.args(),
                *self.hosts.args(),
                *self.extra.args(),
                ev[EV_U],
                ev[EV_DU],
                ev[EV_SRC],
                ev[EV_DST],
                ev[EV_WA],
                ev[EV_WL],
                ev[EV_WO],
            )
            if status == L.DONE:
                break
            self._grow(status)
        nb = int(s[L.S_NBADEX])
        return Part(
            parser=self,
            ev=ev,
            n_kept=int(s[L.S_NKEPT]),
            n_lines=int(s[L.S_ROW]),
            n_valid=int(s[L.S_NVALID]),
            lo=int(s[L.S_LO]),
            hi=int(s[L.S_HI]),
            first=int(s[L.S_FIRST]),
            last=int(s[L.S_PREV]),
            is_sorted=bool(s[L.S_SORTED]),
            bad_counts=s[L.S_BAD : L.S_BAD + len(REASONS)].tolist(),
            bad_rows=self.bad_rows[:nb].tolist(),
            bad_reasons=self.bad_reasons[:nb].tolist(),
            n_users=int(s[L.S_NUSERS]),
            n_hosts=int(s[L.S_NHOSTS]),
            n_words=int(s[L.S_NWORDS]),
            tables=(
                self.store,
                self.users.offs,
                self.users.lens,
                self.hosts.offs,
                self.hosts.lens,
                self.extra.offs,
                self.extra.lens,
            ),
        )
