"""Parse stage of the fast LANL ingest: one :class:`Parser` per thread.

Each parser owns private string tables (:class:`Strings`: local user and host
ids), a byte store, its kernel state and reusable per-event arrays, so the two
halves of a chunk are parsed at once without locks. :mod:`ingest.lanl.fast.engine`
maps the local ids to global ones and aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ingest.lanl.fast import kernel as K
from ingest.lanl.fast import tables as T
from ingest.lanl.files import MAX_EXAMPLES, REASONS


@dataclass
class Strings:
    """One interning table: open-addressing ``tab`` rows plus per-id offset and length."""

    tab: np.ndarray = field(default_factory=lambda: np.full((1 << 12, 4), -1, np.int64))
    offs: np.ndarray = field(default_factory=lambda: np.zeros(1 << 11, np.int64))
    lens: np.ndarray = field(default_factory=lambda: np.zeros(1 << 11, np.int64))
    names: list[str] = field(default_factory=list)  # decoded, ids 0..len-1
    _series: pl.Series | None = None

    def grow(self) -> None:
        """Double the id capacity and rebuild the hash table at twice that size."""
        size = 2 * len(self.offs)
        for name in ("offs", "lens"):
            old = getattr(self, name)
            new = np.zeros(size, np.int64)
            new[: len(old)] = old
            setattr(self, name, new)
        tab = np.full((2 * size, 4), -1, np.int64)
        T.rehash_strings(tab, self.tab)
        self.tab = tab

    def reserve(self, n_ids: int) -> None:
        """Grow until ``n_ids`` ids fit below half load."""
        while 2 * n_ids > len(self.tab) or n_ids > len(self.offs):
            self.grow()

    def args(self) -> tuple[np.ndarray, ...]:
        return self.tab, self.offs, self.lens

    def text(self, store: np.ndarray, k: int) -> str:
        o, n = int(self.offs[k]), int(self.lens[k])
        return store[o : o + n].tobytes().decode("utf-8", "replace")

    def series(self, store: np.ndarray, n: int) -> pl.Series:
        """Decoded strings of ids ``0..n-1`` as a Series (cached, extended on demand)."""
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
    ev: tuple[np.ndarray, ...]  # time, src_user, src_host, dst_host, mix (local ids)
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
    tables: tuple[np.ndarray, ...]  # store, user offs, user lens, host offs, host lens


class Parser:
    """One parse thread's private string tables, state and reusable event arrays."""

    def __init__(self, params: np.ndarray, vocab: np.ndarray, words: np.ndarray) -> None:
        self.params, self.vocab, self.words = params, vocab, words
        self.st = np.zeros(T.STATE_SIZE, np.int64)
        self.store = np.empty(1 << 20, np.uint8)
        self.users, self.hosts = Strings(), Strings()
        self.bad_rows = np.zeros(MAX_EXAMPLES, np.int64)
        self.bad_reasons = np.zeros(MAX_EXAMPLES, np.int64)
        self.longs = np.zeros((1 << 12, 4), np.int64)  # deferred long strings
        self.scratch = K.scratch_space()
        self.spare: list[tuple[np.ndarray, ...]] = []  # event arrays free for reuse
        # local id -> global id (filled by the driver, Engine.map_ids)
        self.umap = np.zeros(1 << 11, np.int64)
        self.hmap = np.zeros(1 << 11, np.int64)
        self.n_umapped = self.n_hmapped = 0

    def _event_arrays(self, n: int) -> tuple[np.ndarray, ...]:
        """Per-event arrays for ``n`` lines, reusing a released set (fewer page faults)."""
        while self.spare:
            ev = self.spare.pop()
            if len(ev[0]) >= n:
                return ev
        m = n + n // 4
        return (
            np.empty(m, np.int64),
            np.empty(m, np.int32),
            np.empty(m, np.int32),
            np.empty(m, np.int32),
            np.empty(m, np.int16),
        )

    def _grow(self, status: int) -> None:
        if status == T.GROW_USERS:
            self.users.grow()
        elif status == T.GROW_HOSTS:
            self.hosts.grow()
        elif status == T.GROW_LONGS:
            self.longs = np.concatenate([self.longs, np.zeros_like(self.longs)])
        elif status == T.GROW_STORE:
            used = self.st[T.S_STORE]
            new = np.empty(2 * len(self.store) + (1 << 20), np.uint8)
            new[:used] = self.store[:used]
            self.store = new
        else:  # pragma: no cover - the kernel returns only the codes above
            raise RuntimeError(f"unknown parse status {status}")

    def parse(self, data: bytes | memoryview, lo: int, hi: int) -> Part:
        """Run the parse kernel over ``data[lo:hi]`` (whole lines), resuming after growth."""
        s = self.st
        s[T.S_ROW] = s[T.S_NVALID] = s[T.S_NBADEX] = s[T.S_NKEPT] = s[T.S_NLONG] = 0
        s[T.S_POS], s[T.S_END] = lo, hi
        s[T.S_SORTED] = 1
        s[T.S_BAD : T.S_BAD + len(REASONS)] = 0
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
            if status == T.DONE:
                break
            self._grow(status)
        s[T.S_POS] = 0
        while s[T.S_NLONG]:  # strings over 16 bytes, deferred by the kernel
            tables = (self.store, *self.users.args(), *self.hosts.args())
            status = K.resolve_long(buf, self.longs, s, *tables, *ev[1:4])
            if status == T.DONE:
                break
            self._grow(status)
        nb = int(s[T.S_NBADEX])
        return Part(
            parser=self,
            ev=ev,
            n_kept=int(s[T.S_NKEPT]),
            n_lines=int(s[T.S_ROW]),
            n_valid=int(s[T.S_NVALID]),
            lo=int(s[T.S_LO]),
            hi=int(s[T.S_HI]),
            first=int(s[T.S_FIRST]),
            last=int(s[T.S_PREV]),
            is_sorted=bool(s[T.S_SORTED]),
            bad_counts=s[T.S_BAD : T.S_BAD + len(REASONS)].tolist(),
            bad_rows=self.bad_rows[:nb].tolist(),
            bad_reasons=self.bad_reasons[:nb].tolist(),
            n_users=int(s[T.S_NUSERS]),
            n_hosts=int(s[T.S_NHOSTS]),
            tables=(self.store, self.users.offs, self.users.lens, self.hosts.offs, self.hosts.lens),
        )


def vocabulary(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``vocab`` rows (length, packed bytes 0-7, packed bytes 8-15, offset) and the bytes."""
    raw = [w.encode() for w in names]
    rows, off = [], 0
    for b in raw:
        head = b[:16].ljust(16, b"\0")
        w0, w1 = np.frombuffer(head, "<i8").tolist()
        rows.append((len(b), w0, w1, off))
        off += len(b)
    return np.array(rows, np.int64), np.frombuffer(b"".join(raw), np.uint8)
