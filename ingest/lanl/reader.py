"""LANL "Comprehensive, Multi-Source Cyber-Security Events" auth and red-team readers.

``auth.txt`` lines are ``time,src_user,dst_user,src_host,dst_host,auth_type,
logon_type,orientation,success``; ``redteam.txt`` lines are
``time,user,src_host,dst_host``. An auth source is a file (plain or ``.gz``) or a
folder of split files (read in natural name order).

The reader streams large byte chunks split at newlines (bounded memory,
:mod:`ingest.lanl.files`), parses each with Polars, and yields canonical frames
(:mod:`ingest.schema`) with ``source`` = file name and ``record`` = 1-based line number. Malformed
lines are counted per reason, a few kept as examples, and skipped.
:func:`ingest_lanl` runs the whole pipeline into a data directory: with the fast
engine (:mod:`ingest.lanl.fast`) by default, with this reader as the reference.

Polars is imported inside the functions that use it, not with the module: the fast
engine starts reading the input before Polars is loaded (``hopwatch ingest lanl``'s
start-up).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.lanl.files import (
    DEFAULT_CHUNK_BYTES,
    MAX_EXAMPLE_CHARS,
    MAX_EXAMPLES,
    BadLines,
    _open,
    no_cyclic_gc,
    prefetch_chunks,
)
from ingest.lanl.parse import parse_chunk

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)
ENGINES = ("auto", "fast", "polars")


def read_auth(
    path: str | Path,
    *,
    start: int | None = None,
    end: int | None = None,
    bad: BadLines | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: Callable[[int], None] | None = None,
) -> Iterator[pl.DataFrame]:
    """Stream canonical auth events from a LANL auth file or folder.

    Args:
        path: ``auth.txt``, ``auth.txt.gz`` or a folder of split (possibly gz) files.
        start: keep events with ``time >= start``.
        end: keep events with ``time < end``; on time-sorted input reading stops at
            the first chunk that lies entirely at or past ``end``.
        bad: collects malformed-line counts and examples (a fresh one if ``None``).
        chunk_bytes: size of the byte chunks parsed at once (bounds memory).
        progress: called with the number of raw (on-disk) bytes consumed so far.

    Yields:
        Non-empty canonical frames (``AUTH_SCHEMA``), in file order.
    """
    import polars as pl

    if bad is None:
        bad = BadLines()
    sorted_so_far = True
    last_time: int | None = None
    chunks = prefetch_chunks(path, chunk_bytes)
    for chunk, done in chunks:
        frame = parse_chunk(chunk, bad)
        if progress is not None:
            progress(done + chunk.raw_bytes)
        if frame.height == 0:
            continue
        times = frame["time"]
        lo, hi = times.min(), times.max()
        if sorted_so_far and ((last_time is not None and lo < last_time) or not times.is_sorted()):
            sorted_so_far = False
        last_time = hi if last_time is None else max(last_time, hi)
        if end is not None and sorted_so_far and lo >= end:
            chunks.close()
            return
        if start is not None or end is not None:
            keep = pl.lit(True)
            if start is not None:
                keep = keep & (pl.col("time") >= start)
            if end is not None:
                keep = keep & (pl.col("time") < end)
            frame = frame.filter(keep)
        if frame.height:
            yield frame


def read_redteam(path: str | Path, bad: BadLines | None = None) -> pl.DataFrame:
    """Read ``redteam.txt`` (``time,user@domain,src,dst``), skipping malformed lines.

    Returns:
        ``time`` (Int64), ``user``, ``src_host``, ``dst_host`` (String), ``rt_id``
        (Int64, 0-based index among valid lines), in file order.
    """
    import polars as pl

    if bad is None:
        bad = BadLines()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"red-team file not found: {path}")
    reader, _ = _open(path)
    with reader:
        text = reader.read().decode("utf-8", "replace")
    rows: list[tuple[int, str, str, str]] = []
    for no, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().split(",")
        reason = None
        if not line.strip():
            reason = "empty line"
        elif len(parts) != 4:
            reason = "wrong column count"
        elif not all(parts[1:]):
            reason = "missing or empty field"
        elif not re.fullmatch(r"\d+", parts[0].strip()):
            reason = "non-integer time"
        if reason is not None:
            bad.add(reason, 1)
            if len(bad.examples) < MAX_EXAMPLES:
                bad.examples.append((path.name, no, reason, line[:MAX_EXAMPLE_CHARS]))
            continue
        rows.append((int(parts[0]), parts[1], parts[2], parts[3]))
    frame = pl.DataFrame(
        rows,
        schema={"time": pl.Int64, "user": pl.String, "src_host": pl.String, "dst_host": pl.String},
        orient="row",
    )
    return frame.with_row_index("rt_id").with_columns(pl.col("rt_id").cast(pl.Int64))


@dataclass
class IngestResult:
    """Outcome of :func:`ingest_lanl` (the CLI's ``--json`` fields plus details)."""

    events: int
    bad_lines: int
    windows: int
    edges: int
    labeled_events: int
    seconds: float
    bad: BadLines
    redteam_bad: BadLines
    unmatched_redteam: pl.DataFrame
    meta: dict
    engine: str = "polars"  # the engine that ran: "fast" or "polars"

    def summary(self) -> dict[str, int | float | str]:
        """The ``--json`` object."""
        return {
            "events": self.events,
            "bad_lines": self.bad_lines,
            "windows": self.windows,
            "edges": self.edges,
            "labeled_events": self.labeled_events,
            "seconds": round(self.seconds, 3),
            "engine": self.engine,
        }


def ingest_lanl(
    auth: str | Path,
    out: str | Path,
    *,
    redteam: str | Path | None = None,
    window_seconds: int = 1800,
    start: int | None = None,
    end: int | None = None,
    user_aware: bool = False,
    nodes_from: str | Path | None = None,
    write_events: bool = True,
    chunk_bytes: int | None = None,
    progress: Callable[[int], None] | None = None,
    engine: str = "auto",
) -> IngestResult:
    """Read a LANL auth source (and red-team file) into a data directory.

    ``engine``: ``"fast"`` is the one-pass engine of :mod:`ingest.lanl.fast` (kernels
    compiled at install time), ``"polars"`` this module's reader +
    :class:`~ingest.graphs.DatasetWriter`, the reference; ``"auto"`` (the default) the
    fast engine, or Polars when its kernels can neither be loaded nor compiled. Both
    write the same events, edges, nodes, counts, labels and bad-line report. Input
    that is not time-sorted: with events, both rebuild the edges from the written
    events at the end (exact); without events (``write_events=False``), ``"fast"``
    reads it again holding every window in memory, ``"auto"`` and ``"polars"`` raise
    ``ValueError`` (exact edges need the events).

    ``chunk_bytes``: bytes parsed at once (``None``: each engine's own size).
    ``events`` counts valid auth events inside ``[start, end)`` (those written);
    ``labeled_events`` counts red-team lines matched to at least one of them.
    Red-team lines inside the time range that match no event are returned in
    ``unmatched_redteam``.
    """
    from time import perf_counter

    t0 = perf_counter()
    if engine not in ENGINES:
        raise ValueError(f"engine must be auto, fast or polars, got {engine!r}")
    rt_bad = BadLines()
    rt_read: list[pl.DataFrame] = []

    def load_redteam() -> pl.DataFrame | None:
        """The red-team frame inside the time range (read once, when first needed)."""
        if redteam is None:
            return None
        if not rt_read:
            import polars as pl

            rt = read_redteam(redteam, rt_bad)
            if start is not None:
                rt = rt.filter(pl.col("time") >= start)
            if end is not None:
                rt = rt.filter(pl.col("time") < end)
            rt_read.append(rt)
        return rt_read[0]

    if engine != "polars" and _fast_ready(engine):
        from ingest.lanl.fast import UnsortedInput
        from ingest.lanl.fast.driver import CHUNK_BYTES

        try:
            return _ingest_fast(
                auth,
                out,
                rt=load_redteam,
                rt_bad=rt_bad,
                window_seconds=window_seconds,
                start=start,
                end=end,
                user_aware=user_aware,
                nodes_from=nodes_from,
                write_events=write_events,
                chunk_bytes=chunk_bytes or CHUNK_BYTES,
                progress=progress,
                t0=t0,
                on_unsorted="restart" if engine == "fast" else "raise",
            )
        except UnsortedInput:  # auto, no events: what the Polars path says
            raise ValueError(
                "input is not time-sorted: exact edges need write_events=True "
                "(or engine='fast', which holds every window in memory)"
            ) from None
    return _ingest_polars(
        auth,
        out,
        rt=load_redteam(),
        rt_bad=rt_bad,
        window_seconds=window_seconds,
        start=start,
        end=end,
        user_aware=user_aware,
        nodes_from=nodes_from,
        write_events=write_events,
        chunk_bytes=chunk_bytes or DEFAULT_CHUNK_BYTES,
        progress=progress,
        t0=t0,
    )


def _fast_ready(engine: str) -> bool:
    """Whether the fast engine's kernels load (``engine="fast"``: they must)."""
    from ingest.lanl.fast.native import load

    try:
        load()
    except ImportError:  # neither compiled at install time nor numba to compile them
        if engine == "fast":
            raise
        log.warning("the fast LANL engine is unavailable (no numba): using the Polars reader")
        return False
    return True


def _ingest_polars(
    auth: str | Path,
    out: str | Path,
    *,
    rt: pl.DataFrame | None,
    rt_bad: BadLines,
    window_seconds: int,
    start: int | None,
    end: int | None,
    user_aware: bool,
    nodes_from: str | Path | None,
    write_events: bool,
    chunk_bytes: int,
    progress: Callable[[int], None] | None,
    t0: float,
) -> IngestResult:
    from time import perf_counter

    from ingest.graphs import DatasetWriter, label_events

    bad = BadLines()
    matched: set[int] = set()
    with DatasetWriter(
        out, window_seconds, source="lanl", nodes_from=nodes_from, write_events=write_events
    ) as writer:
        for frame in read_auth(
            auth, start=start, end=end, bad=bad, chunk_bytes=chunk_bytes, progress=progress
        ):
            if rt is not None:
                frame, hit = label_events(frame, rt, user_aware=user_aware)
                matched.update(hit.to_list())
            writer.add(frame)
        if rt is not None:
            writer.write_redteam(rt.drop("rt_id"))
        writer.set_counts(
            bad_lines=bad.count,
            bad_line_reasons=bad.reasons,
            labeled_events=len(matched),
            redteam_lines=0 if rt is None else rt.height,
            user_aware=user_aware,
        )
    meta = writer.meta
    return IngestResult(
        events=meta["events"],
        bad_lines=bad.count,
        windows=meta["windows"],
        edges=meta["edges"],
        labeled_events=len(matched),
        seconds=perf_counter() - t0,
        bad=bad,
        redteam_bad=rt_bad,
        unmatched_redteam=_unmatched(rt, matched),
        meta=meta,
    )


def _unmatched(rt: pl.DataFrame | None, matched: set[int]) -> pl.DataFrame:
    import polars as pl

    if rt is None:
        return pl.DataFrame()
    return rt.filter(~pl.col("rt_id").is_in(sorted(matched))).drop("rt_id")


def _ingest_fast(
    auth: str | Path,
    out: str | Path,
    *,
    rt: Callable[[], pl.DataFrame | None],
    rt_bad: BadLines,
    user_aware: bool,
    t0: float,
    **kw: object,
) -> IngestResult:
    from time import perf_counter

    from ingest.lanl.fast import ingest_lanl_fast

    def counts(bad: BadLines, matched: set[int]) -> dict:
        frame = rt()
        return {
            "bad_lines": bad.count,
            "bad_line_reasons": bad.reasons,
            "labeled_events": len(matched),
            "redteam_lines": 0 if frame is None else frame.height,
            "user_aware": user_aware,
        }

    with no_cyclic_gc():
        res = ingest_lanl_fast(auth, out, rt=rt, user_aware=user_aware, extra_counts=counts, **kw)
    meta = res.meta
    return IngestResult(
        events=meta["events"],
        bad_lines=res.bad.count,
        windows=meta["windows"],
        edges=meta["edges"],
        labeled_events=len(res.matched),
        seconds=perf_counter() - t0,
        bad=res.bad,
        redteam_bad=rt_bad,
        unmatched_redteam=_unmatched(res.rt, res.matched),
        meta=meta,
        engine="fast",
    )
