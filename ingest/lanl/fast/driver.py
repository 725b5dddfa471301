"""Fast LANL ingest (raw auth text -> events, edge table, node index, meta) with numba kernels.

Same data directory as the Polars path of :func:`ingest.lanl.reader.ingest_lanl`. The
kernels (:mod:`ingest.lanl.fast.kernels`, compiled at install time:
:mod:`ingest.lanl.fast.native`) run in stages (:mod:`ingest.lanl.fast.engine`): the
parse threads parse, validate and intern the ranges of chunk i+1 while the driver
thread maps their ids to global ids, labels chunk i's red-team events, aggregates it
into edge counters and flushes finished windows through the
:class:`ingest.graphs.DatasetWriter` (node index, edge parts, meta.json) on a writer
thread, keeping the open window in memory; a third thread writes the events
(:mod:`ingest.lanl.fast.events`).

The first chunk is handed to the parsers before anything else is imported: Polars,
pyarrow and the data-directory writer load while it is parsed.

Input that is not time-sorted (a window reappears after it was flushed): with events,
the events are still written as they come and the edges are rebuilt from them at the
end (the Polars path's exact fallback); without events, the input is re-read from the
start with flushing off (exact, but memory then grows with the number of edges), or
:class:`UnsortedInput` is raised (``on_unsorted="raise"``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.lanl.fast import layout as L
from ingest.lanl.fast.engine import Engine, Labels, Parsed, UnsortedInput
from ingest.lanl.fast.events import EventsJob, EventsWriter, StringTable
from ingest.lanl.fast.native import load
from ingest.lanl.files import (
    MAX_EXAMPLES,
    REASONS,
    BadLines,
    _line_texts,
    prefetch_chunks,
)

if TYPE_CHECKING:
    import polars as pl

    from ingest.graphs import DatasetWriter
    from ingest.lanl.fast.stage import Part

__all__ = ["CHUNK_BYTES", "FastResult", "ingest_lanl_fast"]

#: Bytes read and parsed at once: smaller than the Polars path's chunks (the parse
#: threads' per-event arrays, in flight through the pipeline, stay small and are
#: reused sooner, and the pipeline fills and drains faster).
CHUNK_BYTES = 16 << 20


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


@dataclass
class FastResult:
    """What :func:`ingest_lanl_fast` hands back to :func:`ingest.lanl.reader.ingest_lanl`."""

    bad: BadLines
    matched: set[int]
    meta: dict
    restarted: bool
    rt: pl.DataFrame | None  # the red-team frame it labelled with
    kernels: str  # "aot" or "jit"


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
class _Run:
    """One pass: its options, outputs and totals."""

    rt: pl.DataFrame | None
    user_aware: bool
    hold_all: bool  # keep every window (no flushing): the no-events restart
    events: EventsWriter | None
    bad: BadLines = field(default_factory=BadLines)
    matched: set[int] = field(default_factory=set)
    events_seen: int = 0
    first_time: int | None = None
    last_time: int | None = None
    labeled: int = 0
    first_label: int | None = None
    unsorted: bool = False  # edges abandoned; rebuilt from the events at the end


def _snapshot(eng: Engine, table, slot: int) -> StringTable:
    return StringTable(eng.store, table.offs, table.lens, int(eng.gst[slot]))


def _consume(
    eng: Engine,
    p: Parsed,
    emit: Callable[[tuple[Callable[[], Any], Callable[[], None]]], None],
    run: _Run,
) -> None:
    """Label, aggregate and hand over one parsed chunk; flush finished windows."""
    first_line = p.chunk.first_line
    for part in p.parts:
        line, first_line = first_line, first_line + part.n_lines
        if part.n_kept == 0:
            part.parser.spare.append(part.ev)
            continue
        eng.map_ids(part)
        labels = None if run.rt is None else eng.label(part, run.rt, run.user_aware, run.matched)
        times = part.ev[0][: part.n_kept]
        lo, hi = int(times.min()), int(times.max())
        run.first_time = lo if run.first_time is None else min(run.first_time, lo)
        run.last_time = hi if run.last_time is None else max(run.last_time, hi)
        run.events_seen += part.n_kept
        if labels is not None and labels.count:
            run.labeled += labels.count
            f = labels.first
            run.first_label = f if run.first_label is None else min(run.first_label, f)
        if not run.unsorted:
            try:
                eng.aggregate(part, labels)
            except UnsortedInput:
                if run.events is None:
                    part.parser.spare.append(part.ev)
                    raise
                run.unsorted = True  # the edges come from the events at the end
        _hand_over(eng, part, labels, line, p.chunk.source, run)
    if run.hold_all or run.unsorted:
        return
    n = int(eng.st2[L.S_NEDGES])
    top = int(eng.st2[L.S_WMAX])
    keep = eng.acc[:n, L.A_WIN] >= top
    if not keep.all():
        emit(eng.take(keep))
        eng.params[L.P_FLUSHED] = top - 1


def _hand_over(
    eng: Engine, part: Part, labels: Labels | None, line: int, source: str, run: _Run
) -> None:
    """Give the part to the events writer (which hands its arrays back), or back now."""
    parser = part.parser
    if run.events is None:
        parser.spare.append(part.ev)
        return
    run.events.submit(
        EventsJob(
            ev=part.ev,
            n=part.n_kept,
            umap=parser.umap,
            hmap=parser.hmap,
            wmap=parser.wmap,
            users=_snapshot(eng, eng.users, L.S_NUSERS),
            hosts=_snapshot(eng, eng.hosts, L.S_NHOSTS),
            words=_snapshot(eng, eng.word_table, L.S_NWORDS),
            label=None if labels is None else labels.label,
            first_line=line,
            source=source,
            release=lambda: parser.spare.append(part.ev),
        )
    )


def _rt_times(rt: pl.DataFrame | None, kernels) -> np.ndarray:
    """The red-team times as an open-addressing set (-1 empty)."""
    if rt is None or rt.height == 0:
        return np.full(16, -1, np.int64)
    times = rt["time"].unique().to_numpy().astype(np.int64)
    table = np.full(_pow2(4 * len(times)), -1, np.int64)
    kernels.rehash_keys(table, times)
    return table


def _run(
    auth: str | Path,
    open_writer: Callable[[], DatasetWriter],
    load_rt: Callable[[], pl.DataFrame | None],
    *,
    window_seconds: int,
    start: int | None,
    end: int | None,
    user_aware: bool,
    chunk_bytes: int,
    progress: Callable[[int], None] | None,
    hold_all: bool,
    write_events: bool,
    threads: int,
) -> tuple[_Run, DatasetWriter]:
    kernels = load()
    params = np.zeros(L.PARAMS_SIZE, np.int64)
    params[L.P_HAS_START], params[L.P_START] = start is not None, start or 0
    params[L.P_HAS_END], params[L.P_END] = end is not None, end or 0
    params[L.P_WINDOW] = window_seconds
    params[L.P_FLUSHED] = -1
    eng = Engine(params, np.full(16, -1, np.int64), kernels, threads)
    pending: deque[Future] = deque()
    sorted_so_far, last_time = True, None
    next_line = 1  # line number of the next chunk's first line, within its file
    ready: Parsed | None = None  # parsed, waiting for aggregation
    # The parsers work on chunk i+1 (one range per thread) while chunk i is aggregated
    # here. The first chunk goes to the parsers before the writer (Polars) is loaded.
    with (
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lanl-parse") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="lanl-write") as wpool,
    ):
        writer: DatasetWriter | None = None
        run: _Run | None = None

        def emit(flush: tuple[Callable[[], Any], Callable[[], None]]) -> None:
            """Build and write finished windows on the writer thread (two at most in flight)."""
            build, release = flush

            def write() -> None:
                part = build()
                writer.write_edge_part(
                    part.write, rows=part.rows, windows=part.windows, last_window=part.last_window
                )
                release()

            pending.append(wpool.submit(write))
            while len(pending) > 2:
                pending.popleft().result()

        def setup() -> None:
            nonlocal writer, run
            writer = open_writer()
            eng.attach_nodes(writer._nodes)
            rt = load_rt()
            eng.rt_times = _rt_times(rt, kernels)
            events = None
            if write_events:
                events = EventsWriter(
                    writer._events_dir, kernels, window_seconds, labels=rt is not None
                )
            run = _Run(rt=rt, user_aware=user_aware, hold_all=hold_all, events=events)

        try:
            for chunk, done in prefetch_chunks(auth, chunk_bytes, mapped=True):
                futures = eng.submit(pool, chunk)
                if writer is None:
                    setup()
                if ready is not None:
                    _consume(eng, ready, emit, run)
                    ready = None
                p = eng.collect(chunk, done, futures)
                if chunk.first_line == 0:  # a memory-mapped chunk after its file's first
                    chunk.first_line = next_line
                next_line = chunk.first_line + sum(part.n_lines for part in p.parts)
                _record_bad(p, run.bad)
                if progress is not None:
                    progress(p.done + chunk.raw_bytes)
                if p.n_valid == 0:
                    for part in p.parts:
                        part.parser.spare.append(part.ev)
                    continue
                if sorted_so_far and (
                    (last_time is not None and p.lo < last_time) or not p.is_sorted
                ):
                    sorted_so_far = False
                last_time = p.hi if last_time is None else max(last_time, p.hi)
                if end is not None and sorted_so_far and p.lo >= end:
                    break
                if p.n_kept:
                    ready = p
                else:
                    for part in p.parts:
                        part.parser.spare.append(part.ev)
            if writer is None:  # no input bytes at all
                setup()
            if ready is not None:
                _consume(eng, ready, emit, run)
            n = int(eng.st2[L.S_NEDGES])
            if n and not run.unsorted:
                emit(eng.take(np.zeros(n, dtype=bool)))
            while pending:
                pending.popleft().result()
        finally:
            if run is not None and run.events is not None:
                events, run.events = run.events, None
                events.close()
                run.events = events
    return run, writer


def _reset_edges(writer: DatasetWriter) -> None:
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
    rt: pl.DataFrame | Callable[[], pl.DataFrame | None] | None,
    window_seconds: int = 1800,
    start: int | None = None,
    end: int | None = None,
    user_aware: bool = False,
    nodes_from: str | Path | None = None,
    write_events: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Callable[[int], None] | None = None,
    extra_counts: Callable[[BadLines, set[int]], dict] | None = None,
    on_unsorted: str = "restart",
    threads: int | None = None,
) -> FastResult:
    """Events (unless ``write_events=False``), edges, node index and meta of a LANL auth source.

    ``rt`` is the red-team frame of :func:`ingest.lanl.reader.read_redteam` (already
    filtered to the time range), ``None``, or a function giving one (called once the
    first chunk is being parsed). ``extra_counts(bad, matched)`` gives the extra
    meta.json entries. ``on_unsorted`` (no events only): ``"restart"`` re-reads
    unsorted input with flushing off (exact; memory grows with the edges), ``"raise"``
    raises :class:`UnsortedInput`. ``threads``: parse threads (each chunk is cut into
    that many ranges); default: the CPU count, at least 2 and at most 4.
    """
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    if on_unsorted not in ("restart", "raise"):
        raise ValueError(f"on_unsorted must be restart or raise, got {on_unsorted!r}")
    if threads is None:
        threads = max(2, min(4, os.cpu_count() or 2))
    rt_frame: list[pl.DataFrame | None] = []

    def load_rt() -> pl.DataFrame | None:
        if not rt_frame:
            rt_frame.append(rt() if callable(rt) else rt)
        return rt_frame[0]

    writers: list[DatasetWriter] = []

    def open_writer() -> DatasetWriter:
        if not writers:
            from ingest.graphs import DatasetWriter

            writer = DatasetWriter(
                out,
                window_seconds,
                source="lanl",
                nodes_from=nodes_from,
                write_events=write_events,
            )
            writers.append(writer)
        return writers[0]

    kw = dict(
        window_seconds=window_seconds,
        start=start,
        end=end,
        user_aware=user_aware,
        chunk_bytes=chunk_bytes,
        progress=progress,
        threads=threads,
        write_events=write_events,
    )
    restarted = False
    try:
        try:
            run, writer = _run(auth, open_writer, load_rt, hold_all=False, **kw)
        except UnsortedInput:
            if on_unsorted == "raise":
                raise
            restarted = True
            _reset_edges(open_writer())
            run, writer = _run(auth, open_writer, load_rt, hold_all=True, **kw)
        ws = writer._stats
        ws["events"] = run.events_seen
        ws["first_time"], ws["last_time"] = run.first_time, run.last_time
        rt_used = load_rt()
        ws["has_labels"] = rt_used is not None and run.events_seen > 0
        ws["labeled"] = run.labeled
        ws["first_label_time"] = run.first_label
        if run.events is not None:
            writer._n_event_parts = run.events.parts
            if run.unsorted:  # exact edges from the events written (the Polars fallback)
                writer._exact_merge = True
        if rt_used is not None:
            writer.write_redteam(rt_used.drop("rt_id"))
        if extra_counts is not None:
            writer.set_counts(**extra_counts(run.bad, run.matched))
        writer.close()
    except BaseException:
        if writers:
            writers[0].__exit__(Exception, None, None)
        raise
    return FastResult(
        bad=run.bad,
        matched=run.matched,
        meta=writer.meta,
        restarted=restarted,
        rt=rt_used,
        kernels=load().kind,
    )
