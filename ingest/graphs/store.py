"""Windows and graphs: the data-directory API (see docs/data-format.md).

``GraphStore`` reads a data directory; ``DatasetWriter`` writes one;
``window_edges`` and ``to_pyg`` are the pure transforms between canonical
events, edge tables and PyG snapshots; ``parse_window`` reads "30m"-style sizes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ingest.graphs.edges import EDGE_SCHEMA
from ingest.graphs.nodes import NodeIndex
from ingest.graphs.pyg import to_pyg
from ingest.graphs.writer import FORMAT_VERSION

if TYPE_CHECKING:
    from torch_geometric.data import Data


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WINDOW_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_window(text: str | int) -> int:
    """Window size in seconds from ``"90s"``, ``"30m"``, ``"1h"``, ``"1d"`` or ``"1800"``.

    Raises:
        ValueError: unparseable or not positive.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        m = _WINDOW_RE.match(str(text))
        if not m:
            raise ValueError(f"bad window size {text!r}: use e.g. 90s, 30m, 1h, 1d or seconds")
        seconds = int(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    if seconds <= 0:
        raise ValueError(f"window size must be positive, got {text!r}")
    return seconds


class GraphStore:
    """Read access to a data directory written by :class:`DatasetWriter`.

    Args:
        path: the data directory (with ``meta.json``, ``nodes.parquet``, ``edges/``).

    Raises:
        FileNotFoundError: the directory or its ``meta.json`` is missing.
        ValueError: unsupported ``format_version``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"not a hopwatch data directory (no meta.json): {self.path}")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        version = self.meta.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{meta_path}: unsupported format_version {version!r}")
        self.window_seconds: int = int(self.meta["window_seconds"])
        self._nodes: NodeIndex | None = None
        self._windows: list[int] | None = None

    def __repr__(self) -> str:
        return (
            f"GraphStore({str(self.path)!r}, windows={len(self.windows)}, nodes={self.num_nodes})"
        )

    # -- nodes -------------------------------------------------------------------------
    @property
    def node_index(self) -> NodeIndex:
        """The stable node index (loaded once)."""
        if self._nodes is None:
            self._nodes = NodeIndex.read(self.path / "nodes.parquet")
        return self._nodes

    @property
    def nodes(self) -> pl.DataFrame:
        """``host``, ``node_id``, ``first_window`` sorted by node id."""
        return self.node_index.frame

    @property
    def num_nodes(self) -> int:
        """Number of hosts in the node index."""
        return len(self.node_index)

    # -- edges -------------------------------------------------------------------------
    def _edge_files(self) -> list[Path]:
        return sorted((self.path / "edges").glob("part-*.parquet"))

    def _scan_edges(self) -> pl.LazyFrame:
        files = self._edge_files()
        if not files:
            return pl.LazyFrame(schema=EDGE_SCHEMA)
        return pl.scan_parquet(files)

    @property
    def windows(self) -> list[int]:
        """Sorted ids of the windows that have at least one edge."""
        if self._windows is None:
            w = self._scan_edges().select(pl.col("window").unique()).collect()["window"]
            self._windows = sorted(w.to_list())
        return self._windows

    def edges(
        self,
        windows: Iterable[int] | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> pl.DataFrame:
        """Edge-table rows, sorted by window.

        Args:
            windows: only these window ids.
            start: only windows ``>= start`` (a window id).
            end: only windows ``< end`` (a window id, exclusive).
        """
        lf = self._scan_edges()
        if windows is not None:
            lf = lf.filter(pl.col("window").is_in(sorted({int(w) for w in windows})))
        if start is not None:
            lf = lf.filter(pl.col("window") >= start)
        if end is not None:
            lf = lf.filter(pl.col("window") < end)
        return lf.collect().sort("window", "src_host", "dst_host", maintain_order=True)

    def iter_windows(
        self, windows: Iterable[int] | None = None
    ) -> Iterator[tuple[int, pl.DataFrame]]:
        """Yield ``(window, edge rows)`` in window order (windows without edges skipped)."""
        wanted = self.windows if windows is None else sorted({int(w) for w in windows})
        # Read in batches of windows to keep parquet scans few but memory bounded.
        batch = 64
        for i in range(0, len(wanted), batch):
            ids = wanted[i : i + batch]
            frame = self.edges(windows=ids)
            for key, rows in frame.group_by("window", maintain_order=True):
                yield int(key[0]), rows

    def snapshot(self, window: int) -> Data:
        """The window as a ``torch_geometric.data.Data`` (see :func:`to_pyg`)."""
        rows = self.edges(windows=[window])
        return to_pyg(
            rows,
            self.num_nodes,
            labels=bool(self.meta.get("has_labels", False)),
            window=int(window),
        )

    # -- events ------------------------------------------------------------------------
    def events(self, windows: Iterable[int] | None = None) -> pl.LazyFrame:
        """Canonical events (+ ``window``, ``label``) as a lazy scan."""
        files = sorted((self.path / "events").glob("part-*.parquet"))
        if not files:
            from ingest.graphs.writer import EVENT_COLUMNS
            from ingest.schema import AUTH_SCHEMA

            schema = {**AUTH_SCHEMA, "window": pl.Int64(), "label": pl.Boolean()}
            return pl.LazyFrame(schema={c: schema[c] for c in EVENT_COLUMNS})
        lf = pl.scan_parquet(files)
        if windows is not None:
            lf = lf.filter(pl.col("window").is_in(sorted({int(w) for w in windows})))
        return lf

    def redteam(self) -> pl.DataFrame | None:
        """The red-team events (time, user, src_host, dst_host), or ``None``."""
        path = self.path / "redteam.parquet"
        return pl.read_parquet(path) if path.is_file() else None
