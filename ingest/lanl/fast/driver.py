"""Fast LANL ingest (raw auth text -> edge table, node index, meta) with a numba kernel.

Same output as :func:`ingest.lanl.reader.ingest_lanl` with ``write_events=False``. The
kernels (:mod:`ingest.lanl.fast.kernel`) run in two stages (:mod:`ingest.lanl.fast.engine`):
two worker threads parse, validate and intern the two halves of chunk i+1 while
the driver thread maps their ids to global ids, aggregates chunk i into edge
counters, labels its red-team candidates, and flushes finished windows through
the :class:`ingest.graphs.DatasetWriter` (node index, edge parts, meta.json),
keeping the open window in memory.

Input that is not time-sorted (a window reappears after it was flushed) is
re-read from the start with flushing off: exact, but memory then grows with the
number of edges. Events parquet is not written here: ``ingest_lanl`` uses the
Polars path when events are requested.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ingest.lanl.fast import tables as T
from ingest.lanl.fast.engine import Engine, Parsed, UnsortedInput
from ingest.lanl.files import (
    DEFAULT_CHUNK_BYTES,
    MAX_EXAMPLES,
    REASONS,
    BadLines,
    _line_texts,
    prefetch_chunks,
)

__all__ = ["FastResult", "ingest_lanl_fast"]


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


@dataclass
class FastResult:
    """What :func:`ingest_lanl_fast` hands back to :func:`ingest.lanl.reader.ingest_lanl`."""

    bad: BadLines
    matched: set[int]
    meta: dict
    restarted: bool


def _label(eng: Engine, rt: pl.DataFrame, user_aware: bool, matched: set[int]) -> tuple[int, int]:
    """Match this chunk's candidates to red-team lines; bump ``n_labeled``.

    Returns (labelled events, their first time or -1).
    """
    nc = int(eng.st2[T.S_NCAND])
    if nc == 0:
        return 0, -1
    cand = eng.cand[:nc]
    store = eng.store
    users = [eng.users.text(store, int(k)) for k in cand[:, 1]]
    hosts = eng.hosts.series(store, eng.n_hosts)
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
    np.add.at(eng.acc.view(np.int32)[:, T.C_LABELED], cand[rows, 4], 1)
    return len(rows), int(cand[rows, 0].min())


def _record_bad(p: Parsed, bad: BadLines) -> None:
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
    eng: Engine,
    p: Parsed,
    emit: Callable[[tuple[Callable[[], pl.DataFrame], Callable[[], None]]], None],
    tot: _Totals,
    rt: pl.DataFrame | None,
    user_aware: bool,
    matched: set[int],
    hold_all: bool,
) -> None:
    """Aggregate one parsed chunk, label its candidates, flush finished windows."""
    eng.st2[T.S_NCAND] = 0
    for part in p.parts:
        if part.n_kept == 0:
            continue
        eng.map_ids(part)
        eng.aggregate(part)
        times = part.ev[0][: part.n_kept]
        lo, hi = int(times.min()), int(times.max())
        tot.first_time = lo if tot.first_time is None else min(tot.first_time, lo)
        tot.last_time = hi if tot.last_time is None else max(tot.last_time, hi)
    tot.events += p.n_kept
    if rt is not None:
        n, first = _label(eng, rt, user_aware, matched)
        if n:
            tot.labeled += n
            tot.first_label = first if tot.first_label is None else min(tot.first_label, first)
    for part in p.parts:
        eng.release(part)
    if hold_all:
        return
    n = int(eng.st2[T.S_NEDGES])
    top = int(eng.st2[T.S_WMAX])
    keep = eng.acc[:n, T.A_WIN] >= top
    if not keep.all():
        emit(eng.take(keep))
        eng.params[T.P_FLUSHED] = top - 1


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
    threads: int,
) -> tuple[BadLines, set[int], _Totals]:
    params = np.zeros(T.PARAMS_SIZE, np.int64)
    params[T.P_HAS_START], params[T.P_START] = start is not None, start or 0
    params[T.P_HAS_END], params[T.P_END] = end is not None, end or 0
    params[T.P_WINDOW] = window_seconds
    params[T.P_FLUSHED] = -1
    rt_times = np.full(16, -1, np.int64)
    if rt is not None and rt.height:
        times = rt["time"].unique().to_numpy()
        rt_times = np.full(_pow2(4 * len(times)), -1, np.int64)
        T.rehash_keys(rt_times, times.astype(np.int64))
        params[T.P_NRT] = len(times)
    eng = Engine(params, rt_times, writer._nodes, threads)
    pending: deque[Future] = deque()

    def emit(flush: tuple[Callable[[], pl.DataFrame], Callable[[], None]]) -> None:
        """Build and write finished windows on the writer thread (two at most in flight)."""
        build, release = flush

        def write() -> None:
            writer._emit_edges(build())
            release()

        pending.append(wpool.submit(write))
        while len(pending) > 2:
            pending.popleft().result()

    bad, matched, tot = BadLines(), set(), _Totals()
    sorted_so_far, last_time = True, None
    ready: Parsed | None = None  # parsed, waiting for aggregation
    # The parsers work on chunk i+1 (two halves, two threads) while chunk i is
    # aggregated here.
    with (
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lanl-parse") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="lanl-write") as wpool,
    ):
        for chunk, done in prefetch_chunks(auth, chunk_bytes, mapped=True):
            futures = eng.submit(pool, chunk)
            if ready is not None:
                _consume(eng, ready, emit, tot, rt, user_aware, matched, hold_all)
                ready = None
            p = eng.collect(chunk, done, futures)
            _record_bad(p, bad)
            if progress is not None:
                progress(p.done + chunk.raw_bytes)
            if p.n_valid == 0:
                for part in p.parts:
                    eng.release(part)
                continue
            if sorted_so_far and ((last_time is not None and p.lo < last_time) or not p.is_sorted):
                sorted_so_far = False
            last_time = p.hi if last_time is None else max(last_time, p.hi)
            if end is not None and sorted_so_far and p.lo >= end:
                break
            if p.n_kept:
                ready = p
            else:
                for part in p.parts:
                    eng.release(part)
        if ready is not None:
            _consume(eng, ready, emit, tot, rt, user_aware, matched, hold_all)
        n = int(eng.st2[T.S_NEDGES])
        if n:
            emit(eng.take(np.zeros(n, dtype=bool)))
        while pending:
            pending.popleft().result()
    return bad, matched, tot


def _reset_edges(writer) -> None:
    """Forget emitted edges and nodes (restart after unsorted input)."""
    import shutil

    from ingest.graphs.nodes import NodeIndex

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
    threads: int | None = None,
) -> FastResult:
    """Edges, node index and meta of a LANL auth source (no events parquet).

    ``rt`` is the red-team frame of :func:`ingest.lanl.reader.read_redteam` (already
    filtered to the time range), or ``None``. ``extra_counts(bad, matched)`` gives
    the extra meta.json entries. ``on_unsorted``: ``"restart"`` re-reads unsorted
    input with flushing off (exact; memory grows with the edges), ``"raise"``
    raises :class:`UnsortedInput`. ``threads``: parse threads (each chunk is cut
    into that many parts); default: the CPU count, at least 2 and at most 4.
    """
    from ingest.graphs import DatasetWriter

    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    if threads is None:
        threads = max(2, min(4, os.cpu_count() or 2))
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
            threads=threads,
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
