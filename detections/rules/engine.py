"""Evaluate rules with Polars over one "rule view" of auth and process events.

The rule view (:data:`RULE_VIEW_SCHEMA`) unifies canonical auth events and
Windows process / share / service events: ``host`` and ``user`` are where and
who (an auth event's destination host and user), columns an event does not
carry are null, and ``kind`` is ``auth`` or the process-event kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from detections.rules.spec import Block, Condition, Rule

RULE_VIEW_SCHEMA: pl.Schema = pl.Schema(
    {
        "time": pl.Int64(),
        "event_code": pl.Int32(),
        "kind": pl.String(),
        "host": pl.String(),
        "user": pl.String(),
        "src_host": pl.String(),
        "dst_host": pl.String(),
        "src_user": pl.String(),
        "dst_user": pl.String(),
        "auth_type": pl.String(),
        "logon_type": pl.String(),
        "logon_process": pl.String(),
        "orientation": pl.String(),
        "success": pl.Boolean(),
        "logon_id": pl.String(),
        "src_ip": pl.String(),
        "dst_ip": pl.String(),
        "dst_port": pl.Int32(),
        "image": pl.String(),
        "command_line": pl.String(),
        "parent_image": pl.String(),
        "parent_command_line": pl.String(),
        "share_name": pl.String(),
        "relative_target": pl.String(),
        "access_mask": pl.Int64(),
        "service_name": pl.String(),
        "service_image": pl.String(),
        "source": pl.String(),
        "record": pl.Int64(),
    }
)
COLUMNS = frozenset(RULE_VIEW_SCHEMA.names())
HIT_COLUMNS = (
    "rule_id",
    "title",
    "attack",
    "severity",
    "time",
    "host",
    "user",
    "source",
    "src_host",
    "dst_host",
    "evidence",
)
MAX_EVIDENCE = 240


def conform_view(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast to :data:`RULE_VIEW_SCHEMA`, adding absent columns as nulls."""
    return frame.select(
        [
            pl.col(c).cast(t, strict=False)
            if c in frame.columns
            else pl.lit(None, dtype=t).alias(c)
            for c, t in RULE_VIEW_SCHEMA.items()
        ]
    )


def rule_view(auth: pl.DataFrame | None, process: pl.DataFrame | None) -> pl.DataFrame:
    """The unified frame rules run on (pure)."""
    parts = []
    if auth is not None and auth.height:
        view = conform_view(auth)
        parts.append(
            view.with_columns(
                pl.lit("auth").alias("kind"),
                pl.col("dst_host").alias("host"),
                pl.col("dst_user").alias("user"),
            )
        )
    if process is not None and process.height:
        view = conform_view(process)
        parts.append(
            view.with_columns(
                pl.col("host").alias("dst_host"),
                pl.col("user").alias("src_user"),
                pl.col("user").alias("dst_user"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=RULE_VIEW_SCHEMA)
    return pl.concat(parts).sort("time", maintain_order=True)


def _lower(values: Sequence[Any]) -> list[str]:
    return [str(v).lower() for v in values]


def condition_expr(cond: Condition) -> pl.Expr:
    """Polars predicate of one condition (null never matches, except under ``not``)."""
    col = pl.col(cond.field)
    dtype = RULE_VIEW_SCHEMA[cond.field]
    is_str = dtype == pl.String()
    low = col.str.to_lowercase() if is_str else col
    op, vals = cond.op, cond.values
    if op in ("eq", "not"):
        expr = low.is_in(_lower(vals)) if is_str else col.is_in(list(vals))
        return ~expr.fill_null(False) if op == "not" else expr.fill_null(False)
    if op in ("contains", "startswith", "endswith"):
        method = {"contains": "contains", "startswith": "starts_with", "endswith": "ends_with"}
        exprs = []
        for v in _lower(vals):
            if op == "contains":
                exprs.append(low.str.contains(v, literal=True))
            else:
                exprs.append(getattr(low.str, method[op])(v))
        return pl.any_horizontal(exprs).fill_null(False)
    if op == "re":
        return pl.any_horizontal([col.str.contains(f"(?i){v}") for v in vals]).fill_null(False)
    if op in ("gt", "gte", "lt", "lte"):
        cmp = {"gt": col.__gt__, "gte": col.__ge__, "lt": col.__lt__, "lte": col.__le__}[op]
        return pl.any_horizontal([cmp(v) for v in vals]).fill_null(False)
    if op == "any_bits":
        return pl.any_horizontal([(col & int(v)) != 0 for v in vals]).fill_null(False)
    if op == "exists":
        present = col.is_not_null() & (col.str.strip_chars() != "" if is_str else pl.lit(True))
        return present.fill_null(False) if vals[0] else ~present.fill_null(False)
    if op == "same_as":
        exprs = []
        for other in vals:
            o = pl.col(str(other))
            same = low == o.str.to_lowercase() if is_str else col == o
            exprs.append(same)
        return pl.any_horizontal(exprs).fill_null(False)
    raise ValueError(f"unknown operator {op!r}")


def block_expr(block: Block) -> pl.Expr:
    """All conditions of a block."""
    return pl.all_horizontal([condition_expr(c) for c in block.conditions])


def rule_expr(rule: Rule) -> pl.Expr:
    """The row predicate of a rule's ``detection``."""
    d = rule.detection
    expr = block_expr(d.match)
    if d.any_of:
        expr = expr & pl.any_horizontal([block_expr(b) for b in d.any_of])
    if d.none_of:
        expr = expr & ~pl.any_horizontal([block_expr(b) for b in d.none_of])
    return expr


def _evidence(rule: Rule) -> pl.Expr:
    fields: list[str] = []
    for block in (rule.detection.match, *rule.detection.any_of):
        for c in block.conditions:
            if c.field not in fields and c.field != "event_code":
                fields.append(c.field)
    parts = [pl.concat_str([pl.lit("event "), pl.col("event_code").cast(pl.String)])]
    for f in fields:
        parts.append(
            pl.when(pl.col(f).is_not_null()).then(
                pl.concat_str([pl.lit(f"{f}="), pl.col(f).cast(pl.String)])
            )
        )
    return pl.concat_str(parts, separator="; ", ignore_nulls=True).str.slice(0, MAX_EVIDENCE)


def _aggregate(rule: Rule, matched: pl.DataFrame) -> pl.DataFrame:
    agg = rule.aggregate
    assert agg is not None
    by = list(agg.by)
    rows = matched.drop_nulls(by) if by else matched
    if rows.is_empty():
        return rows.with_columns(pl.lit(None, dtype=pl.String).alias("evidence"))
    rows = rows.sort([*by, "time"]).with_row_index("_i")
    counted = pl.col(agg.count_distinct).drop_nulls().n_unique() if agg.count_distinct else pl.len()
    rolled = rows.rolling(index_column="time", period=f"{agg.within}i", group_by=by or None).agg(
        counted.alias("_n"), pl.col("_i").last()
    )
    # One hit per burst: the first row whose count goes above the threshold
    # after a row that was at or below it (rising edge) in the same group.
    counted_rows = rows.join(rolled.select("_i", "_n"), on="_i").sort("_i")
    above = pl.col("_n") > agg.gt
    before = above.shift(1).over(by or None).fill_null(False)
    hot = counted_rows.with_columns(before.alias("_prev")).filter(above & ~pl.col("_prev"))
    what = f"distinct {agg.count_distinct}" if agg.count_distinct else "events"
    by_txt = f" by {', '.join(by)}" if by else ""
    return hot.with_columns(
        pl.concat_str(
            [pl.col("_n").cast(pl.String), pl.lit(f" {what} within {agg.within}s{by_txt}")]
        ).alias("evidence")
    ).drop("_i", "_n", "_prev")


def evaluate(rule: Rule, view: pl.DataFrame) -> pl.DataFrame:
    """Hits of one rule on a rule view, as a frame with :data:`HIT_COLUMNS`."""
    matched = view.filter(rule_expr(rule))
    if rule.aggregate is not None:
        matched = _aggregate(rule, matched)
    else:
        matched = matched.with_columns(_evidence(rule).alias("evidence"))
    host = rule.report.get("host", "host")
    user = rule.report.get("user", "user")
    source = pl.concat_str(
        [pl.col("source").fill_null("?"), pl.lit("#"), pl.col("record").cast(pl.String)],
        ignore_nulls=True,
    )
    return matched.select(
        pl.lit(rule.id).alias("rule_id"),
        pl.lit(rule.title).alias("title"),
        pl.lit(list(rule.attack), dtype=pl.List(pl.String)).alias("attack"),
        pl.lit(rule.severity).alias("severity"),
        pl.col("time"),
        pl.col(host).alias("host"),
        pl.col(user).alias("user"),
        source.alias("source"),
        pl.col("src_host"),
        pl.col("dst_host"),
        pl.col("evidence"),
    )


def sample_view(events: Sequence[dict[str, Any]], start: int = 1_700_000_000) -> pl.DataFrame:
    """A rule view from sample events; ``time`` is an offset in seconds (default: index)."""
    rows = []
    for i, ev in enumerate(events):
        row = {"source": "sample", "record": i, **ev}
        row["time"] = start + int(ev.get("time", i))
        rows.append(row)
    frame = pl.DataFrame(rows, infer_schema_length=None, strict=False)
    return conform_view(frame)
