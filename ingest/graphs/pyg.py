"""Edge table of one window -> ``torch_geometric.data.Data`` snapshot.

torch and torch_geometric are imported inside the function so that reading
data directories does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from ingest.graphs.edges import AUTH_MIX, LOGON_MIX, ORIENTATION_MIX

if TYPE_CHECKING:
    from torch_geometric.data import Data

#: Names of the ``edge_attr`` columns of a snapshot, in order.
EDGE_ATTR_NAMES: tuple[str, ...] = (
    "log1p_count",
    "log1p_n_users",
    "users_per_event",
    "failure_rate",
    *(f"{k}_frac" for k in (*AUTH_MIX, "n_other_auth")),
    *(f"{k}_frac" for k in (*LOGON_MIX, "n_other_logon")),
    *(f"{k}_frac" for k in ORIENTATION_MIX),
)

_FRACTION_COLUMNS = (
    "failures",
    *AUTH_MIX,
    "n_other_auth",
    *LOGON_MIX,
    "n_other_logon",
    *ORIENTATION_MIX,
)


def edge_attr_frame(edges: pl.DataFrame) -> pl.DataFrame:
    """The float features of a snapshot (columns :data:`EDGE_ATTR_NAMES`), pure.

    ``log1p`` of count and distinct users, then every mix column divided by count.
    """
    count = pl.col("count").cast(pl.Float64).clip(lower_bound=1.0)
    exprs = [
        pl.col("count").cast(pl.Float64).log1p().alias("log1p_count"),
        pl.col("n_users").cast(pl.Float64).log1p().alias("log1p_n_users"),
        (pl.col("n_users") / count).alias("users_per_event"),
    ]
    exprs += [
        (pl.col(c).cast(pl.Float64) / count).alias(name)
        for c, name in zip(_FRACTION_COLUMNS, EDGE_ATTR_NAMES[3:], strict=True)
    ]
    return edges.select(exprs)


def to_pyg(
    edges: pl.DataFrame,
    num_nodes: int,
    *,
    labels: bool | None = None,
    window: int | None = None,
) -> Data:
    """Build a PyG snapshot from edge-table rows (normally one window).

    Args:
        edges: edge-table rows with ``src``/``dst`` node ids (see ``EDGE_COLUMNS``).
        num_nodes: size of the node index (ids must be below it).
        labels: attach ``y``; ``None`` attaches it when ``edges`` has a ``label`` column.
        window: window id stored on the snapshot; defaults to the rows' single window.

    Returns:
        ``Data`` with ``edge_index`` [2, E] long, ``edge_attr`` [E, F] float32 (F =
        ``len(EDGE_ATTR_NAMES)``), ``edge_weight`` [E] float32 (event count),
        ``y`` [E] float32 (1.0 = red-team edge) when labelled, ``window`` int,
        ``num_nodes``.

    Raises:
        ValueError: a node id is outside ``[0, num_nodes)`` or ids are missing.
    """
    import torch
    from torch_geometric.data import Data

    for col in ("src", "dst", "count"):
        if col not in edges.columns:
            raise ValueError(f"edge rows lack column {col!r}")
    src = edges["src"].to_numpy().astype(np.int64, copy=False)
    dst = edges["dst"].to_numpy().astype(np.int64, copy=False)
    if edges.height and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= num_nodes):
        raise ValueError(f"node ids outside [0, {num_nodes})")
    edge_index = torch.from_numpy(np.stack([src, dst])).long()
    attr = np.array(edge_attr_frame(edges).to_numpy(), dtype=np.float32)
    attr = np.ascontiguousarray(attr).reshape(edges.height, len(EDGE_ATTR_NAMES))
    data = Data(
        edge_index=edge_index,
        edge_attr=torch.from_numpy(attr),
        edge_weight=torch.from_numpy(np.array(edges["count"].to_numpy(), dtype=np.float32)),
        num_nodes=int(num_nodes),
    )
    if labels is None:
        labels = "label" in edges.columns
    if labels:
        y = edges["label"].fill_null(False).cast(pl.Float32).to_numpy()
        data.y = torch.from_numpy(np.array(y, dtype=np.float32))
    if window is None and "window" in edges.columns and edges.height:
        windows = edges["window"].unique()
        window = int(windows[0]) if windows.len() == 1 else None
    data.window = -1 if window is None else int(window)
    return data
