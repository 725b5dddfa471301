"""Streaming writer of a data directory (events, edges, node index, meta.json).

Memory stays bounded: events are written as they come (buffered up to
``part_rows``), and edges are aggregated per complete window. When input is
time-sorted, the rows of the last (possibly incomplete) window are held back
and merged with the next chunk, so windows that straddle chunk boundaries are
exact (distinct users too). When a chunk reaches back to an already written
window, the writer falls back to an exact recomputation of all edges from the
written events at :meth:`DatasetWriter.close`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl

from ingest.graphs.edges import EDGE_COLUMNS, window_edges_lazy
from ingest.graphs.nodes import NodeIndex
from ingest.schema import AUTH_SCHEMA, WINDOWS_OPTIONAL, conform

FORMAT_VERSION = 1
EVENT_COLUMNS: tuple[str, ...] = (*AUTH_SCHEMA.names(), "window", "label")
REDTEAM_SCHEMA: pl.Schema = pl.Schema(
    {"time": pl.Int64(), "user": pl.String(), "src_host": pl.String(), "dst_host": pl.String()}
)


def _to_events(chunk: pl.DataFrame, window_seconds: int) -> pl.DataFrame:
    """Canonical columns + ``window`` + ``label`` (null when the chunk has none)."""
    names = chunk.columns
    if tuple(names[: len(AUTH_SCHEMA)]) == tuple(AUTH_SCHEMA.names()) and all(
        chunk.schema[c] == t for c, t in AUTH_SCHEMA.items()
    ):
        extra = [c for c in WINDOWS_OPTIONAL if c in names]  # Windows-only, kept when present
        base = chunk.select([*AUTH_SCHEMA.names(), *extra])
    else:
        base = conform(chunk).collect()
    label = (
        pl.lit(chunk["label"]).cast(pl.Boolean)
        if "label" in names
        else pl.lit(None, dtype=pl.Boolean)
    )
    return base.with_columns(
        (pl.col("time") // window_seconds).alias("window"), label.alias("label")
    )


class DatasetWriter:
    """Write a data directory (see docs/data-format.md) from chunks of canonical events.

    Args:
        out_dir: the data directory; its ``events/`` and ``edges/`` are replaced.
            An existing ``nodes.parquet`` there is kept and extended (ids stay stable).
        window_seconds: window size in seconds.
        source: provenance recorded in ``meta.json`` (``"lanl"``, ``"windows"``, ...).
        nodes_from: a ``nodes.parquet`` (or data directory) whose index seeds this one,
            so the new directory's ids are a superset of it.
        part_rows: events are buffered until this many rows, then written as one part.
        compression: parquet codec for the event parts (edges always use zstd).
        write_events: ``False`` skips ``events/`` (edges, nodes and meta only; faster,
            but ``GraphStore.events`` is then empty and the unsorted-input fallback
            is unavailable: such input raises ``ValueError``).

    Use as a context manager; ``meta`` holds the written meta.json after close.
    """

    def __init__(
        self,
        out_dir: str | Path,
        window_seconds: int = 1800,
        source: str = "lanl",
        *,
        nodes_from: str | Path | None = None,
        part_rows: int = 2_000_000,
        compression: str = "lz4",
        write_events: bool = True,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds}")
        self.out_dir = Path(out_dir)
        self.window_seconds = int(window_seconds)
        self.source = source
        self.part_rows = part_rows
        self.compression = compression
        self.write_events = write_events
        self.meta: dict[str, Any] = {}
        self._extra: dict[str, Any] = {}
        self._events_dir = self.out_dir / "events"
        self._edges_dir = self.out_dir / "edges"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for d in (self._events_dir, self._edges_dir):
            if d.exists():
                shutil.rmtree(d)
            d.mkdir()
        self._nodes = self._initial_nodes(nodes_from)
        self._base_nodes = self._nodes.frame
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0
        self._pending: pl.DataFrame | None = None  # rows of the last, open window
        self._flushed_window: int | None = None  # highest window whose edges are written
        self._exact_merge = False
        self._n_event_parts = 0
        self._n_edge_parts = 0
        self._stats: dict[str, Any] = {
            "events": 0,
            "edges": 0,
            "windows": 0,
            "labeled": 0,
            "has_labels": False,
            "first_time": None,
            "last_time": None,
            "first_label_time": None,
        }
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataset-writer")
        self._future: Future[None] | None = None

    def _initial_nodes(self, nodes_from: str | Path | None) -> NodeIndex:
        own = self.out_dir / "nodes.parquet"
        seed = NodeIndex.read(own) if own.is_file() else NodeIndex()
        if nodes_from is not None:
            path = Path(nodes_from)
            if path.is_dir():
                path = path / "nodes.parquet"
            other = NodeIndex.read(path)
            if len(seed) == 0:
                seed = other
            else:
                head = seed.frame.head(len(other))["host"].to_list()
                if len(seed) < len(other) or head != other.frame["host"].to_list():
                    raise ValueError(
                        f"{own} is not a superset of {path}: refusing to renumber nodes"
                    )
        return seed

    # -- context manager ---------------------------------------------------------------
    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # -- public ------------------------------------------------------------------------
    @property
    def nodes(self) -> NodeIndex:
        """The node index as built so far."""
        return self._nodes

    def add(self, events: pl.DataFrame) -> None:
        """Add a chunk of canonical events (optionally with a Boolean ``label`` column).

        Aggregation and writing run on one background thread (in order), so the
        caller can parse the next chunk meanwhile; at most one chunk waits.
        Errors surface on the next ``add`` or on ``close``.
        """
        if self._closed:
            raise RuntimeError("DatasetWriter is closed")
        if events.height == 0:
            return
        chunk = _to_events(events, self.window_seconds)
        if self._future is not None:
            self._future.result()
        self._future = self._pool.submit(self._process, chunk)

    def _process(self, chunk: pl.DataFrame) -> None:
        self._update_stats(chunk)
        self._buffer.append(chunk)
        self._buffered += chunk.height
        if self._buffered >= self.part_rows:
            self._write_events()
        if self._exact_merge:
            return
        lo = chunk["window"].min()
        if self._flushed_window is not None and lo <= self._flushed_window:
            if not self.write_events:
                raise ValueError(
                    f"input is not time-sorted (window {lo} after {self._flushed_window}): "
                    "exact edges need write_events=True"
                )
            self._exact_merge = True
            self._pending = None
            return
        combined = chunk if self._pending is None else pl.concat([self._pending, chunk])
        windows = combined["window"]
        top = windows.max()
        if windows.is_sorted():  # the usual case: the open window is a tail slice (no copy)
            cut = int(windows.search_sorted(top, side="left"))
            ready, self._pending = combined.slice(0, cut), combined.slice(cut)
        else:
            ready = combined.filter(pl.col("window") < top)
            self._pending = combined.filter(pl.col("window") == top)
        if ready.height:
            self._write_edges(ready)

    def set_counts(self, **counts: Any) -> None:
        """Extra meta.json entries (``bad_lines=``, ``labeled_events=`` ...)."""
        self._extra.update(counts)

    def write_redteam(self, redteam: pl.DataFrame) -> None:
        """Write ``redteam.parquet`` (time, user, src_host, dst_host)."""
        redteam.select([pl.col(c).cast(t) for c, t in REDTEAM_SCHEMA.items()]).write_parquet(
            self.out_dir / "redteam.parquet"
        )

    def close(self) -> dict[str, Any]:
        """Flush everything, write nodes.parquet and meta.json; return the meta."""
        if self._closed:
            return self.meta
        try:
            if self._future is not None:
                self._future.result()
        finally:
            self._pool.shutdown(wait=True)
        self._future = None
        self._write_events()
        if self._exact_merge:
            self._rebuild_edges()
        elif self._pending is not None and self._pending.height:
            self._write_edges(self._pending)
        self._pending = None
        self._nodes.write(self.out_dir / "nodes.parquet")
        self.meta = self._build_meta()
        (self.out_dir / "meta.json").write_text(json.dumps(self.meta, indent=1) + "\n")
        self._closed = True
        return self.meta

    # -- internals ---------------------------------------------------------------------
    def _update_stats(self, chunk: pl.DataFrame) -> None:
        s = self._stats
        s["events"] += chunk.height
        lo, hi = chunk["time"].min(), chunk["time"].max()
        s["first_time"] = lo if s["first_time"] is None else min(s["first_time"], lo)
        s["last_time"] = hi if s["last_time"] is None else max(s["last_time"], hi)
        label = chunk["label"]
        if label.null_count() < chunk.height:
            s["has_labels"] = True
            n = int(label.fill_null(False).sum())
            s["labeled"] += n
            if n:
                t = chunk.filter(pl.col("label").fill_null(False))["time"].min()
                old = s["first_label_time"]
                s["first_label_time"] = t if old is None else min(old, t)

    def _write_events(self) -> None:
        if not self._buffer:
            return
        if not self.write_events:
            self._buffer = []
            self._buffered = 0
            return
        frame = pl.concat(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        path = self._events_dir / f"part-{self._n_event_parts:05d}.parquet"
        frame.write_parquet(path, compression=self.compression, statistics=False)
        self._n_event_parts += 1
        self._buffer = []
        self._buffered = 0

    def _write_edges(self, events: pl.DataFrame) -> None:
        edges = (
            window_edges_lazy(events.lazy(), self.window_seconds, has_label=True)
            .sort("window")
            .collect()
        )
        self._emit_edges(edges)

    def _emit_edges(self, edges: pl.DataFrame) -> None:
        """Write finished windows' edges; node ids are attached unless ``src``/``dst``
        are there already (the fast LANL path maps them from its host ids itself)."""
        if edges.height == 0:
            return
        if "src" not in edges.columns:
            self._nodes.update(edges)
            edges = self._nodes.attach(edges)
        edges = edges.select(EDGE_COLUMNS)
        path = self._edges_dir / f"part-{self._n_edge_parts:05d}.parquet"
        edges.write_parquet(path, compression="zstd", compression_level=1)
        self._n_edge_parts += 1
        self._stats["edges"] += edges.height
        self._stats["windows"] += edges["window"].n_unique()
        self._flushed_window = int(edges["window"].max())

    def write_edge_part(
        self, write: Callable[[Path], None], *, rows: int, windows: int, last_window: int
    ) -> None:
        """Add an edge part that ``write(path)`` writes: finished windows' edges with node
        ids from this writer's :attr:`nodes`, in ``EDGE_COLUMNS`` (the fast LANL path
        builds its parts itself). Call from one thread at a time, in window order."""
        if rows == 0:
            return
        write(self._edges_dir / f"part-{self._n_edge_parts:05d}.parquet")
        self._n_edge_parts += 1
        self._stats["edges"] += rows
        self._stats["windows"] += windows
        self._flushed_window = last_window

    def _rebuild_edges(self) -> None:
        """Exact fallback for unsorted input: recompute every edge from written events."""
        shutil.rmtree(self._edges_dir)
        self._edges_dir.mkdir()
        self._n_edge_parts = 0
        self._stats["edges"] = 0
        self._stats["windows"] = 0
        self._nodes = NodeIndex(self._base_nodes)
        if self._n_event_parts == 0:
            return
        scan = pl.scan_parquet(self._events_dir / "*.parquet")
        windows = (
            scan.select(pl.col("window").unique()).collect(engine="streaming")["window"].sort()
        )
        # Bounded memory: a slice of windows at a time, each slice exact.
        step = max(1, -(-len(windows) // 64))
        for i in range(0, len(windows), step):
            lo, hi = windows[i], windows[min(i + step, len(windows)) - 1]
            part = scan.filter(pl.col("window").is_between(lo, hi))
            edges = (
                window_edges_lazy(part, self.window_seconds, has_label=True)
                .sort("window", "src_host", "dst_host")
                .collect(engine="streaming")
            )
            self._emit_edges(edges)

    def _build_meta(self) -> dict[str, Any]:
        s = self._stats
        ws = self.window_seconds
        meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "window_seconds": ws,
            "source": self.source,
            "first_time": s["first_time"],
            "last_time": s["last_time"],
            "first_window": None if s["first_time"] is None else s["first_time"] // ws,
            "last_window": None if s["last_time"] is None else s["last_time"] // ws,
            "events": s["events"],
            "windows": s["windows"],
            "edges": s["edges"],
            "nodes": len(self._nodes),
            "events_written": self.write_events,
            "has_labels": s["has_labels"],
            "labeled": s["labeled"],
            "first_label_time": s["first_label_time"],
        }
        meta.update(self._extra)
        return meta
