"""Window batches of the temporal GNN: a data directory's edge tables (and accounts) as arrays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from models.gnn.history.users import EdgeUsers, session_rows, user_rows

if TYPE_CHECKING:
    import polars as pl

    from ingest.graphs import GraphStore


#: Edge-table columns a window batch is built from (see docs/data-format.md).
BATCH_COLUMNS: tuple[str, ...] = (
    "src",
    "dst",
    "count",
    "n_users",
    "failures",
    "n_kerberos",
    "n_ntlm",
    "n_network",
    "n_interactive",
    "n_remote_interactive",
    "n_service",
    "n_batch",
    "n_tgs",
    "n_tgt",
    "n_negotiate",
    "n_logon",
    "n_logoff",
    "n_authmap",
)


@dataclass
class WindowBatch:
    """The edges of one window as arrays.

    Attributes:
        window: window id.
        src, dst: node ids, shape [E] int64.
        cols: edge-table column -> values, shape [E] float64 (:data:`BATCH_COLUMNS`).
        label: red-team label per edge, shape [E] bool (all False when unknown).
        users: accounts per edge (:class:`models.gnn.history.users.EdgeUsers`), when known.
    """

    window: int
    src: np.ndarray
    dst: np.ndarray
    cols: dict[str, np.ndarray]
    label: np.ndarray
    users: Any = None

    @property
    def size(self) -> int:
        """Number of edges."""
        return int(self.src.shape[0])

    def without(self, drop: np.ndarray | None) -> WindowBatch:
        """The window without the edges marked in ``drop`` (and their accounts and the
        sessions they opened); ``self`` when nothing is dropped."""
        if drop is None or not drop.any():
            return self
        keep = ~drop
        users = None
        if self.users is not None:
            users = self.users.subset(keep, self.src, self.dst)
        return WindowBatch(
            window=self.window,
            src=self.src[keep],
            dst=self.dst[keep],
            cols={k: v[keep] for k, v in self.cols.items()},
            label=self.label[keep],
            users=users,
        )


#: Which edges of a window to leave out of the history: batch -> mask (None: none).
Withhold = Callable[["WindowBatch"], "np.ndarray | None"]


def held_mask(batch: WindowBatch, held: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """Mask of ``batch``'s edges whose (src, dst) node-id pair is in ``held`` (None: none)."""
    hs, hd = held
    if not len(hs) or not batch.size:
        return None
    keys = (batch.src.astype(np.int64) << 32) | batch.dst.astype(np.int64)
    mask = np.isin(keys, (hs.astype(np.int64) << 32) | hd.astype(np.int64))
    return mask if mask.any() else None


def batch_from_frame(window: int, edges: pl.DataFrame) -> WindowBatch:
    """One window's edge-table rows as a :class:`WindowBatch`."""
    missing = [c for c in BATCH_COLUMNS if c not in edges.columns]
    if missing:
        raise ValueError(f"edge table of window {window} lacks column(s): {', '.join(missing)}")
    cols = {c: edges[c].to_numpy().astype(np.float64) for c in BATCH_COLUMNS[2:]}
    label = (
        edges["label"].fill_null(False).to_numpy().astype(bool)
        if "label" in edges.columns
        else np.zeros(edges.height, dtype=bool)
    )
    return WindowBatch(
        window=int(window),
        src=edges["src"].to_numpy().astype(np.int64),
        dst=edges["dst"].to_numpy().astype(np.int64),
        cols=cols,
        label=label,
    )


def iter_batches(
    store: GraphStore,
    last_window: int,
    chunk: int = 256,
    *,
    users: bool = True,
    first_window: int | None = None,
    user_ids: dict[str, int] | None = None,
) -> Iterator[WindowBatch]:
    """Batches of every stored window from ``first_window`` up to ``last_window``, in order.

    With ``users`` each batch also carries the accounts of its edges (from the
    data directory's events; none when it has no events); ``user_ids`` (account
    name -> id, grown in place) continues the ids of an earlier replay.
    """
    import polars as pl

    lo = -1 if first_window is None else first_window
    windows = [w for w in store.windows if lo <= w <= last_window]
    user_ids = {} if user_ids is None else user_ids
    nodes = store.nodes
    for i in range(0, len(windows), chunk):
        part = windows[i : i + chunk]
        edges = store.edges(windows=part).sort("window")
        bounds = np.searchsorted(edges["window"].to_numpy(), np.asarray(part), side="left")
        ends = [*bounds[1:], edges.height]
        rows = sessions = None
        if users:
            ev = store.events(windows=part).select(
                "window", "src_user", "src_host", "dst_host", "logon_type", "orientation", "success"
            )
            ev = ev.collect()
            rw, rs, rd, ru = user_rows(ev, nodes, user_ids)
            order = np.argsort(rw, kind="stable")
            rw, rs, rd, ru = rw[order], rs[order], rd[order], ru[order]
            rows = (rw, rs, rd, ru)
            sw, sh, su = session_rows(ev, nodes, user_ids)
            order = np.argsort(sw, kind="stable")
            sessions = (sw[order], sh[order], su[order])
        for w, lo, hi in zip(part, bounds, ends, strict=True):
            frame = edges.slice(int(lo), int(hi - lo))
            batch = batch_from_frame(
                w, frame if frame.height else pl.DataFrame(schema=edges.schema)
            )
            if rows is not None:
                a, b = np.searchsorted(rows[0], [w, w + 1])
                c, d = np.searchsorted(sessions[0], [w, w + 1])
                batch.users = EdgeUsers.build(
                    batch.src,
                    batch.dst,
                    rows[1][a:b],
                    rows[2][a:b],
                    rows[3][a:b],
                    sessions=(sessions[2][c:d], sessions[1][c:d]),
                )
            yield batch
