"""Fast LANL ingest (raw auth text -> edge table, node index, meta) with a numba kernel.

Same output as :func:`ingest.lanl.ingest_lanl` with ``write_events=False``. The
kernels (:mod:`ingest.lanl_kernel`) run in two stages: a worker thread parses,
validates and interns chunk i+1 while the driver thread aggregates chunk i into
edge counters, labels its red-team candidates, and flushes finished windows
through the :class:`ingest.graphs.DatasetWriter` (node index, edge parts,
meta.json), keeping the open window in memory. This module owns every table
(numpy arrays) and grows them when a kernel asks.

Input that is not time-sorted (a window reappears after it was flushed) is
re-read from the start with flushing off: exact, but memory then grows with the
number of edges. Events parquet is not written here: ``ingest_lanl`` uses the
Polars path when events are requested.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ingest import lanl_kernel as K
from ingest.graph_edges import AUTH_MIX, EDGE_COLUMNS_NO_IDS, LOGON_MIX, ORIENTATION_MIX
from ingest.lanl import (
    DEFAULT_CHUNK_BYTES,
    MAX_EXAMPLES,
    REASONS,
    BadLines,
    Chunk,
    _line_texts,
    prefetch_chunks,
)

__all__ = ["FastResult", "UnsortedInput", "ingest_lanl_fast"]

_ACC_COLUMNS = (
    "count",
    "n_users",
    "failures",
    *AUTH_MIX,
    "n_other_auth",
    *LOGON_MIX,
    "n_other_logon",
    *ORIENTATION_MIX,
    "first_time",
    "last_time",
    "n_labeled",
)
_CATEGORIES = (*AUTH_MIX.values(), *LOGON_MIX.values(), *ORIENTATION_MIX.values())


class UnsortedInput(Exception):
    """A window reappeared after it was flushed (raised when ``on_unsorted="raise"``)."""


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


@dataclass
class _Strings:
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
        K.rehash_strings(tab, self.tab)
        self.tab = tab

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
class FastResult:
    """What :func:`ingest_lanl_fast` hands back to :func:`ingest.lanl.ingest_lanl`."""

    bad: BadLines
    matched: set[int]
    meta: dict
    restarted: bool


@dataclass
class _Parsed:
    """One parsed chunk: kept events and what the driver needs to know about it."""

    chunk: Chunk
    done: int  # raw bytes of earlier files (progress)
    n_kept: int
    ev: tuple[np.ndarray, ...]  # time, src_user, src_host, dst_host, mix
    n_hosts: int
    n_valid: int
    lo: int
    hi: int
    is_sorted: bool
    bad_counts: list[int]
    bad_rows: list[int]
    bad_reasons: list[int]


class _Engine:
    """Tables and counters of one pass over the input (parse and aggregate stages)."""

    def __init__(self, params: np.ndarray, rt_times: np.ndarray) -> None:
        self.params = params
        self.st1 = np.zeros(K.STATE_SIZE, np.int64)  # parse stage
        self.st2 = np.zeros(K.STATE_SIZE, np.int64)  # aggregate stage
        self.st2[K.S_WMAX] = -1
        self._spare: list[tuple[np.ndarray, ...]] = []  # event arrays free for reuse
        self.store = np.empty(1 << 20, np.uint8)
        self.users = _Strings()
        self.hosts = _Strings()
        self.e_tab = np.full(1 << 16, -1, np.int64)
        self.acc = np.zeros((1 << 15, K.N_ACC), np.int64)
        self.uset = np.full(1 << 16, -1, np.int64)
        self.rt_times = rt_times
        self.cand = np.zeros((1 << 10, 5), np.int64)
        self.bad_rows = np.zeros(MAX_EXAMPLES, np.int64)
        self.bad_reasons = np.zeros(MAX_EXAMPLES, np.int64)
        names = [*_CATEGORIES, "Success", "Fail"]
        self.words = np.frombuffer("".join(names).encode(), np.uint8)
        self.woff = np.cumsum([0, *(len(w) for w in names)]).astype(np.int64)

    # -- parse stage (may run on a worker thread) -----------------------------------------
    def _event_arrays(self, n: int) -> tuple[np.ndarray, ...]:
        """Per-event arrays for ``n`` lines, reusing a released set (fewer page faults)."""
        while self._spare:
            ev = self._spare.pop()
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

    def release(self, p: _Parsed) -> None:
        """Give a consumed chunk's event arrays back for reuse."""
        self._spare.append(p.ev)

    def _grow_parse(self, status: int) -> None:
        s = self.st1
        if status == K.GROW_USERS:
            self.users.grow()
        elif status == K.GROW_HOSTS:
            self.hosts.grow()
        elif status == K.GROW_STORE:
            new = np.empty(2 * len(self.store) + (1 << 20), np.uint8)
            new[: s[K.S_STORE]] = self.store[: s[K.S_STORE]]
            self.store = new
        else:  # pragma: no cover - the kernel returns only the codes above
            raise RuntimeError(f"unknown parse status {status}")

    def parse(self, chunk: Chunk, done: int) -> _Parsed:
        """Run the parse kernel over one chunk (resuming after each table growth)."""
        s = self.st1
        s[K.S_POS] = s[K.S_ROW] = s[K.S_NVALID] = s[K.S_NBADEX] = s[K.S_NKEPT] = 0
        s[K.S_SORTED] = 1
        s[K.S_BAD : K.S_BAD + len(REASONS)] = 0
        data = chunk.data
        buf = np.frombuffer(data, np.uint8)
        n = data.count(b"\n") + 1
        ev = self._event_arrays(n)
        while True:
            status = K.parse(
                buf,
                self.params,
                s,
                self.store,
                *self.users.args(),
                *self.hosts.args(),
                self.words,
                self.woff,
                *ev,
                self.bad_rows,
                self.bad_reasons,
            )
            if status == K.DONE:
                break
            self._grow_parse(status)
        nb = int(s[K.S_NBADEX])
        return _Parsed(
            chunk=chunk,
            done=done,
            n_kept=int(s[K.S_NKEPT]),
            ev=ev,
            n_hosts=int(s[K.S_NHOSTS]),
            n_valid=int(s[K.S_NVALID]),
            lo=int(s[K.S_LO]),
            hi=int(s[K.S_HI]),
            is_sorted=bool(s[K.S_SORTED]),
            bad_counts=s[K.S_BAD : K.S_BAD + len(REASONS)].tolist(),
            bad_rows=self.bad_rows[:nb].tolist(),
            bad_reasons=self.bad_reasons[:nb].tolist(),
        )

    # -- aggregate stage (driver thread) --------------------------------------------------
    def _grow_aggregate(self, status: int) -> None:
        if status == K.GROW_EDGES:
            n = int(self.st2[K.S_NEDGES])
            size = 4 * self.acc.shape[0]
            acc = np.empty((size, K.N_ACC), np.int64)
            acc[:n] = self.acc[:n]
            self.acc = acc
            self.e_tab = np.full(2 * size, -1, np.int64)
            K.rehash_edges(self.e_tab, self.acc, n)
        elif status == K.GROW_USET:
            new = np.full(4 * len(self.uset), -1, np.int64)
            K.rehash_keys(new, self.uset)
            self.uset = new
        elif status == K.GROW_CAND:
            self.cand = np.concatenate([self.cand, np.zeros_like(self.cand)])
        else:  # pragma: no cover - the kernel returns only the codes above
            raise RuntimeError(f"unknown aggregate status {status}")

    def aggregate(self, p: _Parsed) -> None:
        """Add a parsed chunk's kept events to the edge counters."""
        s = self.st2
        s[K.S_POS] = s[K.S_NCAND] = 0
        s[K.S_NKEPT] = p.n_kept
        while True:
            status = K.aggregate(
                self.params,
                s,
                *p.ev,
                self.e_tab,
                self.acc,
                self.uset,
                self.rt_times,
                self.cand,
            )
            if status == K.DONE:
                return
            if status == K.UNSORTED:
                raise UnsortedInput
            self._grow_aggregate(status)

    def take(self, keep_mask: np.ndarray, n_hosts: int) -> pl.DataFrame:
        """Edge rows of the slots not in ``keep_mask``; the kept slots are compacted."""
        n = int(self.st2[K.S_NEDGES])
        idx = np.flatnonzero(~keep_mask)
        hosts = self.hosts.series(self.store, n_hosts)
        acc = self.acc[idx]
        frame = pl.DataFrame(
            {
                "window": acc[:, K.A_WIN],
                "src_host": hosts.gather(acc[:, K.A_SRC]),
                "dst_host": hosts.gather(acc[:, K.A_DST]),
                **{c: acc[:, K.A_COUNT + j] for j, c in enumerate(_ACC_COLUMNS)},
            }
        )
        frame = frame.with_columns((pl.col("n_labeled") > 0).alias("label")).select(
            EDGE_COLUMNS_NO_IDS
        )
        if len(idx) == n:
            self.e_tab[:] = -1
            self.uset[:] = -1
            self.st2[K.S_NEDGES] = self.st2[K.S_NUSET] = 0
        else:
            m, nu = K.compact(keep_mask, self.e_tab, self.acc, self.uset)
            self.st2[K.S_NEDGES], self.st2[K.S_NUSET] = m, nu
        return frame.sort("window")


def _label(
    eng: _Engine, rt: pl.DataFrame, user_aware: bool, matched: set[int], n_hosts: int
) -> tuple[int, int]:
    """Match this chunk's candidates to red-team lines; bump ``n_labeled``.

    Returns (labelled events, their first time or -1).
    """
    nc = int(eng.st2[K.S_NCAND])
    if nc == 0:
        return 0, -1
    cand = eng.cand[:nc]
    store = eng.store
    users = [eng.users.text(store, int(k)) for k in cand[:, 1]]
    hosts = eng.hosts.series(store, n_hosts)
    frame = pl.DataFrame(
        {
            "_i": np.arange(nc),
            "time": cand[:, 0],
            "src_user": users,
            "src_host": hosts.gather(cand[:, 2]),
            "dst_host": hosts.gather(cand[:, 3]),
        }
    )
    keys = ["time", "src_host", "dst_host"]
    left = [*keys, "src_user"] if user_aware else keys
    right = [*keys, "user"] if user_aware else keys
    hits = frame.join(rt.select([*keys, "user", "rt_id"]), left_on=left, right_on=right)
    if hits.height == 0:
        return 0, -1
    matched.update(hits["rt_id"].to_list())
    rows = np.unique(hits["_i"].to_numpy())
    np.add.at(eng.acc[:, K.A_LABELED], cand[rows, 4], 1)
    return len(rows), int(cand[rows, 0].min())


def _record_bad(p: _Parsed, bad: BadLines) -> None:
    for reason, n in zip(REASONS, p.bad_counts, strict=True):
        if n:
            bad.add(reason, n)
    room = MAX_EXAMPLES - len(bad.examples)
    if room > 0 and p.bad_rows:
        rows = p.bad_rows[:room]
        chunk = p.chunk
        for r, code, text in zip(rows, p.bad_reasons, _line_texts(chunk.data, rows), strict=False):
            bad.examples.append((chunk.source, chunk.first_line + r, REASONS[code], text))


@dataclass
class _Totals:
    events: int = 0
    first_time: int | None = None
    last_time: int | None = None
    labeled: int = 0
    first_label: int | None = None


def _consume(
    eng: _Engine,
    p: _Parsed,
    writer,
    tot: _Totals,
    rt: pl.DataFrame | None,
    user_aware: bool,
    matched: set[int],
    hold_all: bool,
) -> None:
    """Aggregate one parsed chunk, label its candidates, flush finished windows."""
    eng.aggregate(p)
    times = p.ev[0][: p.n_kept]
    tot.events += p.n_kept
    lo, hi = int(times.min()), int(times.max())
    tot.first_time = lo if tot.first_time is None else min(tot.first_time, lo)
    tot.last_time = hi if tot.last_time is None else max(tot.last_time, hi)
    if rt is not None:
        n, first = _label(eng, rt, user_aware, matched, p.n_hosts)
        if n:
            tot.labeled += n
            tot.first_label = first if tot.first_label is None else min(tot.first_label, first)
    eng.release(p)
    if hold_all:
        return
    n = int(eng.st2[K.S_NEDGES])
    top = int(eng.st2[K.S_WMAX])
    keep = eng.acc[:n, K.A_WIN] >= top
    if not keep.all():
        writer._emit_edges(eng.take(keep, p.n_hosts))
        eng.params[K.P_FLUSHED] = top - 1


def _run(
    auth: str | Path,
    writer,
    *,
    rt: pl.DataFrame | None,
    window_seconds: int,
    start: int | None,
    end: int | None,
    user_aware: bool,
    chunk_bytes: int,
    progress: Callable[[int], None] | None,
    hold_all: bool,
) -> tuple[BadLines, set[int], _Totals]:
    params = np.zeros(K.PARAMS_SIZE, np.int64)
    params[K.P_HAS_START], params[K.P_START] = start is not None, start or 0
    params[K.P_HAS_END], params[K.P_END] = end is not None, end or 0
    params[K.P_WINDOW] = window_seconds
    params[K.P_FLUSHED] = -1
    rt_times = np.full(16, -1, np.int64)
    if rt is not None and rt.height:
        times = rt["time"].unique().to_numpy()
        rt_times = np.full(_pow2(4 * len(times)), -1, np.int64)
        K.rehash_keys(rt_times, times.astype(np.int64))
        params[K.P_NRT] = len(times)
    eng = _Engine(params, rt_times)
    bad, matched, tot = BadLines(), set(), _Totals()
    sorted_so_far, last_time = True, None
    ready: _Parsed | None = None  # parsed, waiting for aggregation
    n_hosts = 0
    # Two stages on two threads: parse chunk i+1 while chunk i is aggregated here.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lanl-parse") as pool:
        for chunk, done in prefetch_chunks(auth, chunk_bytes):
            future = pool.submit(eng.parse, chunk, done)
            if ready is not None:
                _consume(eng, ready, writer, tot, rt, user_aware, matched, hold_all)
                ready = None
            p = future.result()
            _record_bad(p, bad)
            if progress is not None:
                progress(p.done + chunk.raw_bytes)
            n_hosts = p.n_hosts
            if p.n_valid == 0:
                continue
            if sorted_so_far and ((last_time is not None and p.lo < last_time) or not p.is_sorted):
                sorted_so_far = False
            last_time = p.hi if last_time is None else max(last_time, p.hi)
            if end is not None and sorted_so_far and p.lo >= end:
                break
            if p.n_kept:
                ready = p
        if ready is not None:
            _consume(eng, ready, writer, tot, rt, user_aware, matched, hold_all)
    n = int(eng.st2[K.S_NEDGES])
    if n:
        writer._emit_edges(eng.take(np.zeros(n, dtype=bool), n_hosts))
    return bad, matched, tot


def _reset_edges(writer) -> None:
    """Forget emitted edges and nodes (restart after unsorted input)."""
    import shutil

    from ingest.nodes import NodeIndex

    shutil.rmtree(writer._edges_dir)
    writer._edges_dir.mkdir()
    writer._n_edge_parts = 0
    writer._stats["edges"] = 0
    writer._stats["windows"] = 0
    writer._flushed_window = None
    writer._nodes = NodeIndex(writer._base_nodes)


def ingest_lanl_fast(
    auth: str | Path,
    out: str | Path,
    *,
    rt: pl.DataFrame | None,
    window_seconds: int = 1800,
    start: int | None = None,
    end: int | None = None,
    user_aware: bool = False,
    nodes_from: str | Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: Callable[[int], None] | None = None,
    extra_counts: Callable[[BadLines, set[int]], dict] | None = None,
    on_unsorted: str = "restart",
) -> FastResult:
    """Edges, node index and meta of a LANL auth source (no events parquet).

    ``rt`` is the red-team frame of :func:`ingest.lanl.read_redteam` (already
    filtered to the time range), or ``None``. ``extra_counts(bad, matched)`` gives
    the extra meta.json entries. ``on_unsorted``: ``"restart"`` re-reads unsorted
    input with flushing off (exact; memory grows with the edges), ``"raise"``
    raises :class:`UnsortedInput`.
    """
    from ingest.graphs import DatasetWriter

    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    restarted = False
    with DatasetWriter(
        out, window_seconds, source="lanl", nodes_from=nodes_from, write_events=False
    ) as writer:
        kw = dict(
            rt=rt,
            window_seconds=window_seconds,
            start=start,
            end=end,
            user_aware=user_aware,
            chunk_bytes=chunk_bytes,
            progress=progress,
        )
        try:
            bad, matched, stats = _run(auth, writer, hold_all=False, **kw)
        except UnsortedInput:
            if on_unsorted == "raise":
                raise
            restarted = True
            _reset_edges(writer)
            bad, matched, stats = _run(auth, writer, hold_all=True, **kw)
        ws = writer._stats
        ws["events"] = stats.events
        ws["first_time"], ws["last_time"] = stats.first_time, stats.last_time
        ws["has_labels"] = rt is not None and stats.events > 0
        ws["labeled"] = stats.labeled
        ws["first_label_time"] = stats.first_label
        if rt is not None:
            writer.write_redteam(rt.drop("rt_id"))
        if extra_counts is not None:
            writer.set_counts(**extra_counts(bad, matched))
    return FastResult(bad=bad, matched=matched, meta=writer.meta, restarted=restarted)
