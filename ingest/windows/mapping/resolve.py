"""IP-to-host resolution and per-distinct-value lookups for the Windows mapping (pure, Polars).

Network logons name the source by WorkstationName or only by IpAddress;
:func:`host_map` learns ``ip -> host`` from the events that name both, and
:func:`resolve_src` fills the missing source hosts from it.
"""

from __future__ import annotations

import polars as pl

from ingest.windows.mapping.normalize import host_expr, ip_expr, is_ip_expr, loopback_expr


# -- IP -> host resolution --------------------------------------------------------------
def host_map(raw: pl.DataFrame) -> pl.DataFrame:
    """``ip -> host`` learned from events that name both (most frequent host per IP)."""
    pairs = [
        raw.filter(pl.col("event_id").is_in([4624, 4625])).select(
            ip=ip_expr(pl.col("IpAddress")), host=host_expr(pl.col("WorkstationName"))
        ),
        raw.filter(pl.col("event_id") == 3).select(
            ip=ip_expr(pl.col("SourceIp")), host=host_expr(pl.col("SourceHostname"))
        ),
        raw.filter(pl.col("event_id") == 3).select(
            ip=ip_expr(pl.col("DestinationIp")), host=host_expr(pl.col("DestinationHostname"))
        ),
    ]
    both = pl.concat(pairs).filter(
        pl.col("ip").is_not_null()
        & pl.col("host").is_not_null()
        & ~loopback_expr(pl.col("ip"))
        & ~is_ip_expr(pl.col("host"))
    )
    return (
        both.group_by("ip", "host")
        .len()
        .sort(["ip", "len", "host"], descending=[False, True, False])
        .unique("ip", keep="first", maintain_order=True)
        .select(pl.col("ip").alias("_ip"), pl.col("host").alias("_mapped"))
    )


def resolve_src(frame: pl.LazyFrame, hosts: pl.LazyFrame, host_col: str) -> pl.LazyFrame:
    """Fill null ``src_host`` from ``src_ip`` (mapped host, else the IP, else ``host_col``)."""
    out = frame.join(hosts, left_on="src_ip", right_on="_ip", how="left", maintain_order="left")
    src = pl.coalesce(pl.col("src_host"), pl.col("_mapped"), pl.col("src_ip"), pl.col(host_col))
    return out.with_columns(src.alias("src_host")).drop("_mapped")


def remote_src(ws: pl.Expr, ip: pl.Expr, local: pl.Expr) -> pl.Expr:
    """Workstation when named; null (resolve from IP) when remote; ``local`` otherwise."""
    remote = ip.is_not_null() & ~loopback_expr(ip)
    return pl.when(ws.is_not_null()).then(ws).when(remote).then(None).otherwise(local)


def lookup(frame: pl.LazyFrame, keys: list[str], name: str, expr: pl.Expr) -> pl.LazyFrame:
    """``frame`` plus ``name``: ``expr`` computed once per distinct ``keys`` and joined back.

    ``expr`` reads the keys as ``u0``, ``u1``, ... It must be a pure per-row
    function of them; nulls are keys like any other value.
    """
    renamed = [pl.col(k).alias(f"u{i}") for i, k in enumerate(keys)]
    table = frame.select(renamed).unique().with_columns(expr.alias(name))
    return frame.join(
        table,
        left_on=keys,
        right_on=[f"u{i}" for i in range(len(keys))],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
