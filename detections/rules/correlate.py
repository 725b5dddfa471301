"""Sigma correlation rules (``event_count``, ``value_count``, ``temporal``) with Polars.

A correlation counts the events its base rules matched, grouped by its ``group-by``
fields (Sigma field names or aliases, renamed by the processing pipeline to hopwatch
fields), over a sliding window of ``timespan`` seconds ending at each matched event:

* ``event_count``: the number of events;
* ``value_count``: the number of distinct values of ``condition.field``;
* ``temporal``: the number of distinct base rules that matched (it fires when all did).

It fires once per burst: on the event where the condition first holds in its group,
again only after it has stopped holding. ``temporal_ordered`` and the ``value_sum`` /
``value_avg`` / ``value_percentile`` / ``value_median`` types are refused at load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from detections.rules.compiler import RuleRefused
from detections.rules.fields import FIELDS, SIGMA_FIELDS

TYPES = ("event_count", "value_count", "temporal")
_OPS = ("gt", "gte", "lt", "lte", "eq", "neq")
#: Columns of the view a correlation hit reports (the event that made it fire).
_KEEP = ("time", "host", "user", "src_host", "dst_host", "source", "record", "event_code")


@dataclass(frozen=True)
class Correlation:
    """A parsed correlation.

    Attributes:
        type: one of :data:`TYPES`.
        rules: ids of the base rules (hopwatch rule ids).
        group_by: group names (the Sigma names or aliases).
        fields: per base rule, the hopwatch field of each group name.
        timespan: seconds.
        op: ``gt``, ``gte``, ``lt``, ``lte``, ``eq`` or ``neq``.
        count: the threshold.
        value_field: the hopwatch field counted by ``value_count``.
    """

    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    fields: tuple[tuple[str, ...], ...]
    timespan: int
    op: str
    count: float
    value_field: str | None = None

    @classmethod
    def from_sigma(cls, rule: Any, path: str, ids: dict[int, str]) -> Correlation:
        """Build from a pySigma correlation whose fields the pipeline has renamed.

        Args:
            rule: the ``SigmaCorrelationRule``.
            path: its file, for refusals.
            ids: ``id(SigmaRule)`` -> hopwatch rule id of every loaded base rule.

        Raises:
            RuleRefused: an unsupported type or condition, a base rule that is not
                loaded, or a field without a hopwatch column.
        """
        ctype = str(rule.type.name).lower()
        if ctype not in TYPES:
            raise RuleRefused(
                path, rule.title, None, f"correlation type '{ctype}' is not supported"
            )
        base = []
        for ref in rule.rules or []:
            target = getattr(ref, "rule", None)
            if target is None or id(target) not in ids:
                raise RuleRefused(
                    path, rule.title, None, f"base rule '{ref.reference}' is not loaded"
                )
            base.append(target)
        cond = rule.condition
        op = getattr(getattr(cond, "op", None), "name", "").lower()
        if ctype != "temporal" and op not in _OPS:
            raise RuleRefused(path, rule.title, None, "extended correlation conditions")
        aliases = {a.alias: a for a in rule.aliases}
        group_by = tuple(rule.group_by or ())
        fields = []
        for target in base:
            per = []
            for g in group_by:
                name = g
                if g in aliases:
                    keys = {str(target.name), str(target.id)}
                    named = [f for r, f in aliases[g].mapping.items() if r.reference in keys]
                    if not named:
                        raise RuleRefused(path, rule.title, g, "alias without this base rule")
                    name = named[0]
                per.append(_field(name, rule, path))
            fields.append(tuple(per))
        value_field = None
        if ctype == "value_count":
            ref = cond.fieldref
            if not isinstance(ref, str):
                raise RuleRefused(path, rule.title, None, "value_count needs one condition field")
            value_field = _field(ref, rule, path)
        return cls(
            type=ctype,
            rules=tuple(ids[id(t)] for t in base),
            group_by=group_by,
            fields=tuple(fields),
            timespan=int(rule.timespan.seconds),
            op=op or "gte",
            count=float(cond.count) if ctype != "temporal" else float(len(base)),
            value_field=value_field,
        )


def _field(name: str, rule: Any, path: str) -> str:
    name = SIGMA_FIELDS.get(name, name)
    if name not in FIELDS:
        raise RuleRefused(path, rule.title, name, "hopwatch has no column for this field")
    return name


def _holds(op: str, count: float) -> pl.Expr:
    n = pl.col("_n")
    return {
        "gt": n > count,
        "gte": n >= count,
        "lt": n < count,
        "lte": n <= count,
        "eq": n == count,
        "neq": n != count,
    }[op]


def evaluate_correlation(corr: Correlation, matched: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Rows (of the view) where a correlation fires, with an ``evidence`` column.

    Args:
        corr: the correlation.
        matched: base rule id -> the view rows that rule matched.
    """
    groups = [f"_g{i}" for i in range(len(corr.group_by))]
    parts = []
    for i, (rid, fields) in enumerate(zip(corr.rules, corr.fields, strict=True)):
        rows = matched.get(rid)
        if rows is None or rows.is_empty():
            continue
        exprs = [
            FIELDS[f].expr().cast(pl.String).alias(g) for f, g in zip(fields, groups, strict=True)
        ]
        value = FIELDS[corr.value_field].expr() if corr.value_field else pl.lit(None)
        parts.append(
            rows.select(
                *_KEEP, *exprs, value.cast(pl.String).alias("_value"), pl.lit(i).alias("_rule")
            )
        )
    if not parts:
        return pl.DataFrame()
    rows = pl.concat(parts, how="vertical_relaxed").drop_nulls(groups)
    if rows.is_empty():
        return pl.DataFrame()

    def per_group(e: pl.Expr) -> pl.Expr:
        return e.over(groups) if groups else e

    if corr.type == "temporal":  # only groups where every base rule matched can fire
        rows = rows.filter(per_group(pl.col("_rule").n_unique()) == len(corr.rules))
    elif corr.op in ("gt", "gte", "eq"):  # a count never exceeds the group's size
        rows = rows.filter(per_group(pl.len()) >= corr.count)
    if rows.is_empty():
        return pl.DataFrame()
    rows = rows.sort([*groups, "time"]).with_row_index("_i")
    counted = {
        "event_count": pl.len(),
        "value_count": pl.col("_value").drop_nulls().n_unique(),
        "temporal": pl.col("_rule").n_unique(),
    }[corr.type]
    rolled = rows.rolling(
        index_column="time", period=f"{corr.timespan}i", group_by=groups or None
    ).agg(counted.cast(pl.Int64).alias("_n"), pl.col("_i").last())
    rows = rows.join(rolled.select("_i", "_n"), on="_i").sort("_i")
    holds = _holds(corr.op, corr.count)
    before = holds.shift(1).over(groups or None).fill_null(False)
    hot = rows.with_columns(before.alias("_prev")).filter(holds & ~pl.col("_prev"))
    what = {
        "event_count": "events",
        "value_count": f"distinct {corr.value_field}",
        "temporal": f"of {len(corr.rules)} rules",
    }[corr.type]
    by = [
        pl.concat_str([pl.lit(f"{name}="), pl.col(g)])
        for name, g in zip(corr.group_by, groups, strict=True)
    ]
    text = [pl.col("_n").cast(pl.String), pl.lit(f" {what} within {corr.timespan}s")]
    if by:
        text += [pl.lit(" by "), pl.concat_str(by, separator=", ")]
    return hot.with_columns(pl.concat_str(text).alias("evidence")).select(*_KEEP, "evidence")
