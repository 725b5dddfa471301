"""Per-window edge tables: canonical events in, one row per (window, src, dst) out.

Pure transforms only (frames in, frames out); the writer in
:mod:`ingest.graphs.writer` and the store in :mod:`ingest.graphs.store` do the I/O.
"""

from __future__ import annotations

import polars as pl

#: auth_type values counted in their own column; anything else is ``n_other_auth``.
AUTH_MIX: dict[str, str] = {
    "n_kerberos": "Kerberos",
    "n_ntlm": "NTLM",
    "n_negotiate": "Negotiate",
}
#: logon_type values counted in their own column; anything else is ``n_other_logon``.
LOGON_MIX: dict[str, str] = {
    "n_network": "Network",
    "n_interactive": "Interactive",
    "n_remote_interactive": "RemoteInteractive",
    "n_service": "Service",
    "n_batch": "Batch",
}
#: orientation values, one column each (other values are counted in none).
ORIENTATION_MIX: dict[str, str] = {
    "n_logon": "LogOn",
    "n_logoff": "LogOff",
    "n_tgs": "TGS",
    "n_tgt": "TGT",
    "n_authmap": "AuthMap",
}

#: Numeric columns of the edge table that feed ``edge_attr`` of a snapshot.
EDGE_FEATURES: tuple[str, ...] = (
    "count",
    "n_users",
    "failures",
    *AUTH_MIX,
    "n_other_auth",
    *LOGON_MIX,
    "n_other_logon",
    *ORIENTATION_MIX,
)

#: The edge table's columns, in order (see docs/data-format.md).
EDGE_COLUMNS: tuple[str, ...] = (
    "window",
    "src_host",
    "dst_host",
    "src",
    "dst",
    *EDGE_FEATURES,
    "first_time",
    "last_time",
    "n_labeled",
    "label",
)

#: Edge-table schema (every column is Int64 except hosts and label).
EDGE_SCHEMA: pl.Schema = pl.Schema(
    {
        c: (
            pl.String()
            if c in ("src_host", "dst_host")
            else pl.Boolean()
            if c == "label"
            else pl.Int64()
        )
        for c in EDGE_COLUMNS
    }
)

#: Edge columns produced by :func:`window_edges` (no node ids yet).
EDGE_COLUMNS_NO_IDS: tuple[str, ...] = tuple(c for c in EDGE_COLUMNS if c not in ("src", "dst"))


def _count_eq(col: str, value: str) -> pl.Expr:
    return (pl.col(col) == value).sum()


def edge_aggregations(has_label: bool) -> list[pl.Expr]:
    """The aggregation expressions of one (window, src_host, dst_host) group.

    Args:
        has_label: the events carry a ``label`` column (nulls count as unlabelled).
    """
    n = pl.len()
    aggs: list[pl.Expr] = [
        n.alias("count"),
        pl.col("src_user").n_unique().alias("n_users"),
        (~pl.col("success").fill_null(True)).sum().alias("failures"),
    ]
    aggs += [_count_eq("auth_type", v).alias(k) for k, v in AUTH_MIX.items()]
    aggs.append(
        (~pl.col("auth_type").is_in(list(AUTH_MIX.values())).fill_null(False))
        .sum()
        .alias("n_other_auth")
    )
    aggs += [_count_eq("logon_type", v).alias(k) for k, v in LOGON_MIX.items()]
    aggs.append(
        (~pl.col("logon_type").is_in(list(LOGON_MIX.values())).fill_null(False))
        .sum()
        .alias("n_other_logon")
    )
    aggs += [_count_eq("orientation", v).alias(k) for k, v in ORIENTATION_MIX.items()]
    aggs += [pl.col("time").min().alias("first_time"), pl.col("time").max().alias("last_time")]
    if has_label:
        aggs.append(pl.col("label").fill_null(False).sum().alias("n_labeled"))
    else:
        aggs.append(pl.lit(0).alias("n_labeled"))
    return aggs


def window_edges_lazy(
    events: pl.LazyFrame, window_seconds: int, *, has_label: bool | None = None
) -> pl.LazyFrame:
    """Lazy form of :func:`window_edges` (for streaming over many parquet parts).

    A ``window`` column already present on ``events`` is trusted; otherwise it is
    computed as ``time // window_seconds``.
    """
    names = events.collect_schema().names()
    if has_label is None:
        has_label = "label" in names
    if "window" not in names:
        events = events.with_columns((pl.col("time") // window_seconds).alias("window"))
    out = events.group_by("window", "src_host", "dst_host").agg(edge_aggregations(has_label))
    ints = [c for c in EDGE_COLUMNS_NO_IDS if c not in ("src_host", "dst_host", "label")]
    return (
        out.with_columns([pl.col(c).cast(pl.Int64) for c in ints])
        .with_columns((pl.col("n_labeled") > 0).alias("label"))
        .select(EDGE_COLUMNS_NO_IDS)
    )


def window_edges(events: pl.DataFrame, window_seconds: int) -> pl.DataFrame:
    """Aggregate canonical events into the per-window edge table (without node ids).

    Args:
        events: canonical auth events (see :mod:`ingest.schema`), optionally with a
            Boolean ``label`` column (red-team match) and a precomputed ``window``.
        window_seconds: window size; ``window = time // window_seconds``.

    Returns:
        One row per (window, src_host, dst_host), columns :data:`EDGE_COLUMNS_NO_IDS`,
        sorted by window, src_host, dst_host.

    Raises:
        ValueError: ``window_seconds`` is not positive.
    """
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    return (
        window_edges_lazy(events.lazy(), window_seconds)
        .sort("window", "src_host", "dst_host")
        .collect()
    )
