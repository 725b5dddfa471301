"""Evaluate compiled Sigma rules with Polars over one "rule view" of auth and process events.

The rule view (:data:`RULE_VIEW_SCHEMA`) unifies canonical auth events and Windows
process / share / service / task / pipe events: ``host`` and ``user`` are where and
who (an auth event's destination host and user), columns an event does not carry are
null, and ``kind`` is ``auth`` or the process-event kind.

:func:`run_rules` computes every detection's predicate in one lazy query (Polars
shares the sub-expressions rules have in common, such as a lower-cased column), then
the correlations over the rows their base rules matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from detections.rules.correlate import Correlation, evaluate_correlation
from detections.rules.fields import FIELDS

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
        "key_length": pl.Int32(),
        "process_name": pl.String(),
        "ticket_encryption": pl.String(),
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
        "service_account": pl.String(),
        "task_name": pl.String(),
        "task_content": pl.String(),
        "pipe_name": pl.String(),
        "original_file_name": pl.String(),
        "integrity_level": pl.String(),
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
HIT_SCHEMA = pl.Schema(
    {c: (pl.List(pl.String) if c == "attack" else pl.String) for c in HIT_COLUMNS}
    | {"time": pl.Int64}
)
MAX_EVIDENCE = 240


@dataclass(frozen=True)
class Rule:
    """One loaded Sigma rule (detection or correlation), ready to evaluate.

    Attributes:
        id: the rule's ``name`` if it has one, else its ``id`` (hits carry it as ``rule_id``).
        title, description: from the rule.
        attack: ATT&CK technique ids from the ``attack.tNNNN`` tags.
        severity: the Sigma ``level`` (``informational`` counts as ``low``).
        falsepositives: the rule's false-positive notes.
        path: the file it came from.
        expr: the detection's predicate over the rule view (None for a correlation).
        fields: hopwatch fields the detection tests (shown as evidence).
        codes: the event ids every match has (the rule runs on those rows only).
        correlation: the correlation (None for a detection).
        reports: False for a base rule that only feeds correlations (Sigma's default).
        positive, negative: sample events (hopwatch's ``samples`` extension).
        sigma_id: the Sigma ``id`` (UUID).
    """

    id: str
    title: str
    description: str
    attack: tuple[str, ...]
    severity: str
    path: str
    falsepositives: tuple[str, ...] = ()
    expr: pl.Expr | None = field(default=None, compare=False, repr=False)
    fields: tuple[str, ...] = ()
    codes: tuple[int, ...] | None = None
    correlation: Correlation | None = None
    reports: bool = True
    positive: tuple[tuple[dict[str, Any], ...], ...] = ()
    negative: tuple[tuple[dict[str, Any], ...], ...] = ()
    sigma_id: str | None = None


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


def _evidence(rule: Rule) -> pl.Expr:
    columns: list[str] = []
    for f in rule.fields:
        for c in FIELDS[f].columns:
            if c not in columns and c != "event_code":
                columns.append(c)
    parts = [pl.concat_str([pl.lit("event "), pl.col("event_code").cast(pl.String)])]
    for c in columns:
        parts.append(
            pl.when(pl.col(c).is_not_null()).then(
                pl.concat_str([pl.lit(f"{c}="), pl.col(c).cast(pl.String)])
            )
        )
    return pl.concat_str(parts, separator="; ", ignore_nulls=True).str.slice(0, MAX_EVIDENCE)


def _hits(rule: Rule, rows: pl.DataFrame) -> pl.DataFrame:
    if rows.is_empty():
        return pl.DataFrame(schema=HIT_SCHEMA)
    source = pl.concat_str(
        [pl.col("source").fill_null("?"), pl.lit("#"), pl.col("record").cast(pl.String)],
        ignore_nulls=True,
    )
    return rows.select(
        pl.lit(rule.id).alias("rule_id"),
        pl.lit(rule.title).alias("title"),
        pl.lit(list(rule.attack), dtype=pl.List(pl.String)).alias("attack"),
        pl.lit(rule.severity).alias("severity"),
        pl.col("time").cast(pl.Int64),
        pl.col("host"),
        pl.col("user"),
        source.alias("source"),
        pl.col("src_host"),
        pl.col("dst_host"),
        pl.col("evidence").cast(pl.String),
    )


def matches(rules: Sequence[Rule], view: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Rule id -> the view rows each detection matched.

    Each rule runs on the rows of the event ids it requires (all rows when its condition
    does not bound them), and the rules that share those rows run in one lazy query
    (Polars shares their common sub-expressions).
    """
    detections = [r for r in rules if r.expr is not None]
    if not detections or view.is_empty():
        return {r.id: view.clear() for r in detections}
    by_codes: dict[tuple[int, ...] | None, list[Rule]] = {}
    for r in detections:
        by_codes.setdefault(r.codes, []).append(r)
    out: dict[str, pl.DataFrame] = {}
    for codes, group in by_codes.items():
        rows = view if codes is None else view.filter(pl.col("event_code").is_in(list(codes)))
        if rows.is_empty():
            out.update({r.id: rows for r in group})
            continue
        masks = (
            rows.lazy()
            .select(
                [r.expr.alias(f"_m{i}") for i, r in enumerate(group)]  # type: ignore[union-attr]
            )
            .collect()
        )
        out.update({r.id: rows.filter(masks[f"_m{i}"]) for i, r in enumerate(group)})
    return out


def run_rules(rules: Sequence[Rule], view: pl.DataFrame) -> pl.DataFrame:
    """Hits of all rules on a rule view, sorted by time then rule id (:data:`HIT_COLUMNS`)."""
    matched = matches(rules, view)
    frames = []
    for r in rules:
        if r.expr is not None and r.reports:
            frames.append(_hits(r, matched[r.id].with_columns(_evidence(r).alias("evidence"))))
        elif r.correlation is not None:
            frames.append(_hits(r, evaluate_correlation(r.correlation, matched)))
    if not frames:
        return pl.DataFrame(schema=HIT_SCHEMA)
    return pl.concat(frames).sort(["time", "rule_id", "source"], nulls_last=True)


def hits_to_dicts(hits: pl.DataFrame) -> list[dict[str, Any]]:
    """Hits as JSON-ready dicts."""
    return hits.select(HIT_COLUMNS).to_dicts()
