"""Walk a data directory window by window, keeping the feature history current.

This is the I/O side of the features: it reads edge rows and events from a
:class:`ingest.graphs.GraphStore` in chunks of windows, hands each window to the
pure functions of :mod:`models.xgb.features.table`, and folds it into the history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from models.xgb.features.history import History, advance
from models.xgb.features.table import EVENT_INPUT_COLUMNS, edge_features, window_summary

if TYPE_CHECKING:
    from ingest.graphs import GraphStore

#: Event columns read from the store: what the features and the negative sampler need.
EVENT_COLUMNS: tuple[str, ...] = (
    "window",
    "time",
    *EVENT_INPUT_COLUMNS,
    "dst_user",
    "auth_type",
    "logon_type",
    "orientation",
    "success",
)


@dataclass
class WindowStep:
    """One window on the walk: the history *before* it, its rows, and its features."""

    window: int
    history: History
    edges: pl.DataFrame
    events: pl.DataFrame
    features: pl.DataFrame


def store_fingerprint(store: GraphStore) -> str:
    """A short id of a data directory's identity (source, window size, start, first hosts).

    Appending windows or hosts to the same directory keeps the fingerprint, so a
    saved history can be continued; another directory gets another one.
    """
    meta = store.meta
    head = store.nodes.sort("node_id").head(1000)["host"].to_list()
    ident = {
        "source": meta.get("source"),
        "window_seconds": store.window_seconds,
        "first_time": meta.get("first_time"),
        "first_window": meta.get("first_window"),
        "hosts": head,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def iter_window_frames(
    store: GraphStore, windows: Iterable[int], chunk: int = 32
) -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame]]:
    """Yield ``(window, edges, events)`` for each window, reading ``chunk`` windows at a time."""
    ws = sorted(set(windows))
    for i in range(0, len(ws), chunk):
        part = ws[i : i + chunk]
        edges = store.edges(windows=part).partition_by("window", as_dict=True)
        cols = [c for c in EVENT_COLUMNS if c in store.events(windows=part).collect_schema()]
        events = (
            store.events(windows=part).select(cols).collect().partition_by("window", as_dict=True)
        )
        for w in part:
            e = edges.get((w,))
            if e is None or e.is_empty():
                continue
            yield w, e, events.get((w,), pl.DataFrame(schema={c: pl.String for c in cols}))


class FeatureWalker:
    """Advances a :class:`History` through a store and yields features of chosen windows.

    Args:
        store: the data directory.
        history: where to start (windows after ``history.last_window`` are consumed).
    """

    def __init__(self, store: GraphStore, history: History | None = None) -> None:
        self.store = store
        self.history = history if history is not None else History.empty()

    def walk(
        self,
        wanted: Iterable[int],
        chunk: int = 32,
        withhold: Callable[[int, pl.DataFrame], pl.DataFrame | None] | None = None,
    ) -> Iterator[WindowStep]:
        """Consume every store window up to ``max(wanted)``; yield a step for each wanted one.

        A window is folded into the history after its step was yielded (when the next one
        is asked for). ``withhold(window, edges)`` gives the (src_host, dst_host) pairs of
        the window to leave out of the history (the quarantine, :mod:`models.quarantine`),
        or None.

        Raises:
            ValueError: a wanted window is at or before the history's last window.
        """
        wanted = set(wanted)
        if not wanted:
            return
        last = self.history.last_window
        if last is not None and min(wanted) <= last:
            raise ValueError(
                f"window {min(wanted)} is not after the feature history (at window {last})"
            )
        stop = max(wanted)
        todo = [w for w in self.store.windows if (last is None or w > last) and w <= stop]
        for w, edges, events in iter_window_frames(self.store, todo, chunk):
            feats, summary = edge_features(self.history, edges, events)
            before = self.history
            if w in wanted:
                yield WindowStep(w, before, edges, events, feats)
            held = withhold(w, edges) if withhold is not None else None
            if held is not None and held.height:
                keys = ["src_host", "dst_host"]
                summary = window_summary(
                    before,
                    w,
                    edges.join(held, on=keys, how="anti"),
                    events.join(held, on=keys, how="anti"),
                )
            self.history = advance(before, summary)
