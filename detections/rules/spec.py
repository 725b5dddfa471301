r"""Rule files: Sigma-like YAML parsed into frozen dataclasses.

A rule file holds one rule:

```yaml
id: hw-lm-admin-share-exe
title: Executable written to an administrative share
description: ...
attack: [T1021.002, T1570]
severity: high                     # low | medium | high | critical
logsource: {product: windows, service: security, event_codes: [5145]}
detection:
  match:                           # every field condition holds (AND)
    event_code: 5145               # a list means any of (OR)
    share_name|re: '^[A-Z]\$$|^ADMIN\$$'
    relative_target|endswith: [.exe, .dll]
    access_mask|any_bits: 0x6
  any_of:                          # optional: at least one block holds
    - {image|endswith: \cmd.exe}
  none_of:                         # optional: no block holds
    - {user|re: '\$@'}
aggregate:                         # optional: fire on a count over a sliding window
  count_distinct: dst_host
  by: [src_user]
  within: 5m
  gt: 4
report: {host: dst_host, user: src_user}   # optional: which columns a hit reports
samples:
  positive: [ {event_code: 5145, ...} ]     # each sample: one event or a list of events
  negative: [ ... ]
```

Field conditions are ``field|op: value``; string comparisons ignore case.
Operators: ``eq`` (default), ``contains``, ``startswith``, ``endswith``, ``re``,
``gt``, ``gte``, ``lt``, ``lte``, ``any_bits``, ``exists``, ``same_as`` (equal to
another column), ``not`` (negates ``eq``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.durations import DurationError, parse_duration
from ingest.errors import HopwatchError

SEVERITIES = ("low", "medium", "high", "critical")
OPERATORS = (
    "eq",
    "not",
    "contains",
    "startswith",
    "endswith",
    "re",
    "gt",
    "gte",
    "lt",
    "lte",
    "any_bits",
    "exists",
    "same_as",
)
_ATTACK = re.compile(r"^T\d{4}(?:\.\d{3})?$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,80}$")


class RuleError(HopwatchError, ValueError):
    """A rule file is invalid; the message names the file and the field."""


def _fail(where: str, fieldname: str, msg: str) -> RuleError:
    return RuleError(f"{where}: field '{fieldname}': {msg}")


def _duration(value: Any, where: str, fieldname: str) -> int:
    """Seconds (> 0) of a rule's time span, as a :class:`RuleError` naming file and field."""
    try:
        return parse_duration(value, name=fieldname)
    except DurationError as exc:
        raise _fail(where, fieldname, str(exc).removeprefix(f"{fieldname}: ")) from None


@dataclass(frozen=True)
class Condition:
    """One ``field|op: values`` test; several values mean any of them."""

    field: str
    op: str
    values: tuple[Any, ...]

    @classmethod
    def from_item(cls, key: str, value: Any, where: str, columns: frozenset[str]) -> Condition:
        """Parse ``key`` (``field`` or ``field|op``) and its value."""
        name, _, op = str(key).partition("|")
        op = op or "eq"
        fname = f"{where.split(': ')[-1]}.{key}" if ": " in where else str(key)
        path = where.split(": ")[0]
        if name not in columns:
            raise _fail(
                path, fname, f"unknown column {name!r}; known: {', '.join(sorted(columns))}"
            )
        if op not in OPERATORS:
            raise _fail(path, fname, f"unknown operator {op!r}; known: {', '.join(OPERATORS)}")
        values = tuple(value) if isinstance(value, list) else (value,)
        if not values:
            raise _fail(path, fname, "empty list of values")
        for v in values:
            if isinstance(v, dict | list) or v is None:
                raise _fail(path, fname, f"values must be scalars, got {v!r}")
        if op == "re":
            for v in values:
                try:
                    re.compile(str(v))
                except re.error as exc:
                    raise _fail(path, fname, f"bad regular expression {v!r}: {exc}") from None
        if op in ("gt", "gte", "lt", "lte", "any_bits") and not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            raise _fail(path, fname, f"operator {op!r} needs numbers, got {value!r}")
        if op == "exists" and not all(isinstance(v, bool) for v in values):
            raise _fail(path, fname, "operator 'exists' needs true or false")
        if op == "same_as" and not all(str(v) in columns for v in values):
            raise _fail(path, fname, f"'same_as' needs a column name, got {value!r}")
        return cls(field=name, op=op, values=values)


@dataclass(frozen=True)
class Block:
    """Conditions that must all hold."""

    conditions: tuple[Condition, ...]

    @classmethod
    def from_dict(cls, data: Any, where: str, fieldname: str, columns: frozenset[str]) -> Block:
        """Parse a ``{field|op: value}`` mapping."""
        if not isinstance(data, dict) or not data:
            raise _fail(where, fieldname, "expected a non-empty mapping of field conditions")
        return cls(
            tuple(
                Condition.from_item(k, v, f"{where}: {fieldname}", columns) for k, v in data.items()
            )
        )


@dataclass(frozen=True)
class Detection:
    """``match`` AND (any of ``any_of``) AND NOT (any of ``none_of``)."""

    match: Block
    any_of: tuple[Block, ...] = ()
    none_of: tuple[Block, ...] = ()

    @classmethod
    def from_dict(cls, data: Any, where: str, columns: frozenset[str]) -> Detection:
        """Parse the ``detection`` section."""
        if not isinstance(data, dict):
            raise _fail(where, "detection", "expected a mapping with 'match'")
        unknown = set(data) - {"match", "any_of", "none_of"}
        if unknown:
            raise _fail(where, f"detection.{sorted(unknown)[0]}", "unknown key")
        if "match" not in data:
            raise _fail(where, "detection.match", "missing")
        blocks: dict[str, tuple[Block, ...]] = {}
        for key in ("any_of", "none_of"):
            items = data.get(key, [])
            if not isinstance(items, list):
                raise _fail(where, f"detection.{key}", "expected a list of mappings")
            blocks[key] = tuple(
                Block.from_dict(b, where, f"detection.{key}[{i}]", columns)
                for i, b in enumerate(items)
            )
        return cls(
            match=Block.from_dict(data["match"], where, "detection.match", columns),
            any_of=blocks["any_of"],
            none_of=blocks["none_of"],
        )


@dataclass(frozen=True)
class Aggregate:
    """Fire when ``count_distinct`` (or the event count) within ``within`` s by ``by`` > ``gt``."""

    by: tuple[str, ...]
    within: int
    gt: int
    count_distinct: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str, columns: frozenset[str]) -> Aggregate:
        """Parse the ``aggregate`` section."""
        if not isinstance(data, dict):
            raise _fail(where, "aggregate", "expected a mapping")
        unknown = set(data) - {"by", "within", "gt", "count_distinct"}
        if unknown:
            raise _fail(where, f"aggregate.{sorted(unknown)[0]}", "unknown key")
        by = data.get("by", [])
        by = [by] if isinstance(by, str) else by
        if not isinstance(by, list) or not all(isinstance(b, str) and b in columns for b in by):
            raise _fail(where, "aggregate.by", f"expected a list of columns, got {by!r}")
        gt = data.get("gt")
        if not isinstance(gt, int) or isinstance(gt, bool) or gt < 0:
            raise _fail(where, "aggregate.gt", f"expected a non-negative integer, got {gt!r}")
        distinct = data.get("count_distinct")
        if distinct is not None and distinct not in columns:
            raise _fail(where, "aggregate.count_distinct", f"unknown column {distinct!r}")
        if "within" not in data:
            raise _fail(where, "aggregate.within", "missing")
        return cls(
            by=tuple(by),
            within=_duration(data["within"], where, "aggregate.within"),
            gt=gt,
            count_distinct=distinct,
        )


@dataclass(frozen=True)
class Rule:
    """One declarative rule (see the module docstring for the file format)."""

    id: str
    title: str
    description: str
    attack: tuple[str, ...]
    severity: str
    logsource: dict[str, Any]
    detection: Detection
    aggregate: Aggregate | None = None
    report: dict[str, str] = field(default_factory=dict)
    positive: tuple[tuple[dict[str, Any], ...], ...] = ()
    negative: tuple[tuple[dict[str, Any], ...], ...] = ()
    path: str = ""

    @classmethod
    def from_dict(cls, data: Any, *, columns: frozenset[str], path: str = "<rule>") -> Rule:
        """Validate and build a rule; errors name ``path`` and the field."""
        if not isinstance(data, dict):
            raise RuleError(f"{path}: a rule file must hold one mapping")
        known = {
            "id", "title", "description", "attack", "severity", "logsource",
            "detection", "aggregate", "report", "samples", "references", "status",
        }  # fmt: skip
        unknown = set(data) - known
        if unknown:
            raise _fail(path, sorted(unknown)[0], "unknown key")
        for key in ("id", "title", "description", "attack", "severity", "detection", "samples"):
            if key not in data:
                raise _fail(path, key, "missing")
        rid = data["id"]
        if not isinstance(rid, str) or not _ID.match(rid):
            raise _fail(path, "id", f"expected lower-case letters, digits, '-', got {rid!r}")
        for key in ("title", "description"):
            if not isinstance(data[key], str) or not data[key].strip():
                raise _fail(path, key, "expected a non-empty string")
        attack = data["attack"]
        attack = [attack] if isinstance(attack, str) else attack
        if (
            not isinstance(attack, list)
            or not attack
            or not all(isinstance(a, str) and _ATTACK.match(a) for a in attack)
        ):
            raise _fail(path, "attack", f"expected ATT&CK ids like T1021.002, got {attack!r}")
        severity = str(data["severity"]).lower()
        if severity not in SEVERITIES:
            raise _fail(path, "severity", f"expected one of {', '.join(SEVERITIES)}")
        logsource = data.get("logsource", {}) or {}
        if not isinstance(logsource, dict):
            raise _fail(path, "logsource", "expected a mapping")
        report = data.get("report", {}) or {}
        if not isinstance(report, dict) or not all(
            k in ("host", "user") and v in columns for k, v in report.items()
        ):
            raise _fail(path, "report", "expected {host: column, user: column}")
        aggregate = data.get("aggregate")
        return cls(
            id=rid,
            title=data["title"].strip(),
            description=data["description"].strip(),
            attack=tuple(attack),
            severity=severity,
            logsource=dict(logsource),
            detection=Detection.from_dict(data["detection"], path, columns),
            aggregate=None if aggregate is None else Aggregate.from_dict(aggregate, path, columns),
            report=dict(report),
            positive=_samples(data["samples"], "positive", path, columns),
            negative=_samples(data["samples"], "negative", path, columns),
            path=path,
        )


def _samples(
    samples: Any, kind: str, path: str, columns: frozenset[str]
) -> tuple[tuple[dict[str, Any], ...], ...]:
    if not isinstance(samples, dict) or not samples.get(kind):
        raise _fail(path, f"samples.{kind}", "at least one sample is required")
    items = samples[kind]
    if not isinstance(items, list):
        raise _fail(path, f"samples.{kind}", "expected a list")
    out = []
    for i, item in enumerate(items):
        events = item if isinstance(item, list) else [item]
        for j, ev in enumerate(events):
            if not isinstance(ev, dict) or not ev:
                raise _fail(path, f"samples.{kind}[{i}]", "each event must be a mapping")
            bad = [k for k in ev if k not in columns]
            if bad:
                raise _fail(path, f"samples.{kind}[{i}][{j}].{bad[0]}", "unknown column")
        out.append(tuple(dict(e) for e in events))
    return tuple(out)


def load_rule(path: str | Path, columns: frozenset[str]) -> Rule:
    """Read one YAML rule file.

    Raises:
        RuleError: the file is not valid YAML or not a valid rule (names file and field).
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    return Rule.from_dict(data, columns=columns, path=str(path))
