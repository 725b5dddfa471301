"""A Sigma rule's detection as one Polars predicate over the rule view, or a refusal.

:func:`check_rule` refuses, before anything runs, what hopwatch cannot evaluate
faithfully: a log source it does not read, a field outside
:data:`~detections.rules.fields.SIGMA_FIELDS`, a keyword (field-less) search, the
``wide`` / ``utf16*`` / ``expand`` modifiers, a value its field cannot take. The
refusal (:class:`RuleRefused`) names the rule's file and the field.
:func:`detection_expr` turns the condition tree of a rule that passed (after the
processing pipeline renamed its fields) into a Polars expression.

Semantics follow Sigma: strings compare case-insensitively unless ``|cased``;
``*`` and ``?`` are wildcards; ``|re`` is case-sensitive unless ``|re|i``; a field an
event lacks (null) matches nothing, so ``not Field: x`` holds for it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from functools import reduce
from typing import Any

import polars as pl

from detections.rules.fields import (
    CATEGORY_EVENTS,
    CHANNEL_EVENTS,
    FIELDS,
    LOGSOURCES,
    SIGMA_FIELDS,
    Field,
    access_bit,
)
from ingest.errors import HopwatchError

#: Fields whose canonical value differs in case or shape from the raw Windows text.
_NORMALISED = frozenset(
    {"host", "src_host", "dst_host", "user", "target_user", "target_domain", "subject_user"}
    | {"subject_domain", "logon_type", "logon_id", "ticket_encryption", "share_name"}
)
#: pySigma modifiers whose values hopwatch cannot evaluate on decoded text.
REFUSED_MODIFIERS = frozenset({"wide", "utf16", "utf16le", "utf16be", "expand"})


class RuleError(HopwatchError, ValueError):
    """A rule file is invalid; the message names the file (and the field when there is one)."""


class RuleRefused(RuleError):
    """A valid Sigma rule hopwatch cannot evaluate (unknown field, modifier or log source).

    Attributes:
        path: the rule's file.
        title: the rule's title.
        field: the Sigma field at fault (None for a log source or a correlation).
        reason: why, in words.
    """

    def __init__(self, path: str, title: str, field: str | None, reason: str) -> None:
        where = f"field '{field}': " if field else ""
        super().__init__(f"{path}: rule '{title}': {where}{reason}")
        self.path, self.title, self.field, self.reason = path, title, field, reason


def _items(detection: Any) -> Iterator[Any]:
    from sigma.rule import SigmaDetection

    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _items(item)
        else:
            yield item


def check_logsource(rule: Any, path: str) -> None:
    """Refuse a log source hopwatch does not read (named in the message)."""
    ls = rule.logsource
    product, category, service = ls.product, ls.category, ls.service
    bad = None
    if product not in (None, "windows"):
        bad = f"product {product!r}"
    elif category is not None and category not in CATEGORY_EVENTS:
        bad = f"category {category!r}"
    elif service is not None and service not in CHANNEL_EVENTS:
        bad = f"service {service!r}"
    if bad:
        known = ", ".join(("product: windows", *LOGSOURCES))
        raise RuleRefused(path, rule.title, None, f"logsource {bad} is not read ({known})")


def check_rule(rule: Any, path: str) -> None:
    """Refuse a detection rule hopwatch cannot evaluate (before the pipeline renames fields).

    Raises:
        RuleRefused: names the file, the rule and the Sigma field.
    """
    from sigma.modifiers import reverse_modifier_mapping
    from sigma.types import SigmaFieldReference, SigmaQueryExpression

    check_logsource(rule, path)
    for name, detection in rule.detection.detections.items():
        for item in _items(detection):
            if item.field is None:
                raise RuleRefused(
                    path, rule.title, None, f"'{name}' is a keyword search; hopwatch keeps "
                    "no raw event text, only fields"
                )  # fmt: skip
            if item.field not in SIGMA_FIELDS:
                raise RuleRefused(
                    path, rule.title, item.field, "hopwatch has no column for this field "
                    "(docs/windows-and-rules.md lists the fields it maps)"
                )  # fmt: skip
            for mod in item.modifiers:
                ident = reverse_modifier_mapping.get(mod.__name__, mod.__name__)
                if ident in REFUSED_MODIFIERS:
                    raise RuleRefused(
                        path, rule.title, item.field, f"modifier '{ident}' is not supported "
                        "(hopwatch compares decoded text)"
                    )  # fmt: skip
            for value in item.value:
                if isinstance(value, SigmaQueryExpression):
                    raise RuleRefused(path, rule.title, item.field, "query expressions")
                if isinstance(value, SigmaFieldReference) and value.field not in SIGMA_FIELDS:
                    raise RuleRefused(path, rule.title, value.field, "unknown field in fieldref")


def compile_detection(rule: Any, path: str) -> pl.Expr:
    """Check a detection rule, rename its fields (in place) and build its predicate.

    Raises:
        RuleRefused: the rule uses what hopwatch cannot evaluate (file and field named).
    """
    from detections.rules.fields import sigma_pipeline

    check_rule(rule, path)
    sigma_pipeline().apply(rule)
    try:
        return detection_expr(rule)
    except _Unsupported as exc:
        raise RuleRefused(path, rule.title, exc.field, exc.reason) from None


class _Unsupported(HopwatchError):
    """A value or field a rule uses that hopwatch cannot evaluate (becomes a RuleRefused)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _sigma_name(field: str) -> str:
    names = [k for k, v in SIGMA_FIELDS.items() if v == field]
    return names[0] if len(names) == 1 else f"{field} ({'/'.join(names)})" if names else field


# -- values --------------------------------------------------------------------------------
def _parts(value: Any) -> list[Any]:
    return list(value.s)


def _literal(parts: list[Any]) -> str | None:
    return "".join(parts) if all(isinstance(p, str) for p in parts) else None


def _to_regex(parts: list[Any]) -> str:
    from sigma.types import SpecialChars

    out = []
    for p in parts:
        if p is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        elif isinstance(p, str):
            out.append(re.escape(p))
        else:
            raise ValueError("placeholder")
    return "(?s)^" + "".join(out) + "$"


def _str_match(f: Field, parts: list[Any], cased: bool) -> pl.Expr:
    """A (possibly wildcard) string value against a string field."""
    from sigma.types import SpecialChars

    col = f.expr()
    if not cased:
        col = col.str.to_lowercase()
        parts = [p.lower() if isinstance(p, str) else p for p in parts]
    lit = _literal(parts)
    if lit is not None:
        return col == lit
    wild = SpecialChars.WILDCARD_MULTI
    inner = parts[1:-1]
    if all(p is wild for p in parts):
        return f.expr().is_not_null()
    if len(parts) == 3 and parts[0] is wild and parts[-1] is wild and _literal(inner) is not None:
        return col.str.contains(_literal(inner), literal=True)
    if parts[-1] is wild and _literal(parts[:-1]) is not None:
        return col.str.starts_with(_literal(parts[:-1]))
    if parts[0] is wild and _literal(parts[1:]) is not None:
        return col.str.ends_with(_literal(parts[1:]))
    return col.str.contains(_to_regex(parts))


def _adapt_parts(f: Field, parts: list[Any]) -> list[Any]:
    if f.name == "share_name":  # '\\*\IPC$' -> 'IPC$': the share without its host prefix
        last = max((i for i, p in enumerate(parts) if isinstance(p, str) and "\\" in p), default=-1)
        if last >= 0:
            parts = [parts[last].rsplit("\\", 1)[1], *parts[last + 1 :]]
        return [p.upper() if isinstance(p, str) else p for p in parts]
    if f.pattern_adapt is False:
        raise _Unsupported(_sigma_name(f.name), "wildcards are not supported for this field")
    if callable(f.pattern_adapt):
        try:
            return [f.pattern_adapt(p) if isinstance(p, str) else p for p in parts]
        except ValueError as exc:
            raise _Unsupported(_sigma_name(f.name), str(exc)) from None
    return parts


def _string(f: Field, value: Any) -> pl.Expr:
    from sigma.types import SigmaCasedString

    parts = _parts(value)
    lit = _literal(parts)
    if f.kind == "bits":
        code = _literal([p for p in parts if isinstance(p, str)])
        bit = access_bit(code) if code is not None else None
        if bit is None:
            raise _Unsupported(
                "AccessList", f"only access codes (%%4417) or names (WriteData), got {value}"
            )
        return (f.expr() & bit) != 0
    if f.kind == "int":
        if lit is None or not re.fullmatch(r"\s*(0x[0-9a-fA-F]+|\d+)\s*", lit):
            raise _Unsupported(_sigma_name(f.name), f"expects a number, got {value}")
        return f.expr() == int(lit, 0)
    if lit is not None:
        if lit.strip() in ("", "-"):
            return f.expr().is_null()  # the readers keep '-' and empty values as null
        if f.adapt is not None:
            try:
                lit = f.adapt(lit)
            except ValueError as exc:
                raise _Unsupported(_sigma_name(f.name), str(exc)) from None
        return _str_match(f, [lit], isinstance(value, SigmaCasedString))
    expr = _str_match(f, _adapt_parts(f, parts), isinstance(value, SigmaCasedString))
    if re.match(_to_regex(parts), "-"):  # the readers keep Windows' '-' as null
        expr = expr.fill_null(True)
    return expr


def value_expr(field: str, value: Any) -> pl.Expr:
    """The predicate ``field`` (a hopwatch field) matches ``value`` (a pySigma value)."""
    from sigma.types import (
        SigmaCIDRExpression,
        SigmaCompareExpression,
        SigmaExists,
        SigmaExpansion,
        SigmaFieldReference,
        SigmaNull,
        SigmaNumber,
        SigmaRegularExpression,
        SigmaRegularExpressionFlag,
        SigmaString,
    )

    f = FIELDS[field]
    col = f.expr()
    if isinstance(value, SigmaNull):
        return col.is_null()
    if isinstance(value, SigmaExists):
        return col.is_not_null() if value.exists else col.is_null()
    if isinstance(value, SigmaExpansion):
        return pl.any_horizontal([value_expr(field, v) for v in value.values])
    if isinstance(value, SigmaString):
        return _string(f, value).fill_null(False)
    if isinstance(value, SigmaNumber):
        if f.kind in ("int", "bits"):
            return (col == value.number).fill_null(False)
        text = hex(int(value.number)) if field in ("logon_id", "ticket_encryption") else None
        return _string(f, SigmaString(text or str(value.number))).fill_null(False)
    if isinstance(value, SigmaCompareExpression):
        if f.kind != "int":
            raise _Unsupported(_sigma_name(field), "numeric comparison on a text field")
        op = value.op.name.lower()
        cmp = {"lt": col.__lt__, "lte": col.__le__, "gt": col.__gt__, "gte": col.__ge__}
        cmp["neq"] = col.__ne__
        return cmp[op](value.number.number).fill_null(False)
    if isinstance(value, SigmaRegularExpression):
        flags = {
            SigmaRegularExpressionFlag.IGNORECASE: "i",
            SigmaRegularExpressionFlag.MULTILINE: "m",
            SigmaRegularExpressionFlag.DOTALL: "s",
        }
        prefix = "".join(flags[fl] for fl in value.flags)
        if field in _NORMALISED and "i" not in prefix:
            raise _Unsupported(
                _sigma_name(field), "case-sensitive regex on a field hopwatch normalises "
                "(names change case); use |re|i"
            )  # fmt: skip
        text = col.cast(pl.String) if f.kind != "str" else col
        if field == "share_name":  # the regex sees the share as Windows writes it
            text = pl.concat_str([pl.lit("\\\\*\\"), col])
        pattern = f"(?{prefix}){value.regexp}" if prefix else str(value.regexp)
        try:
            pl.Series([""]).str.contains(pattern)
        except pl.exceptions.ComputeError as exc:
            reason = f"regular expression not supported (Rust regex syntax): {exc}"
            raise _Unsupported(_sigma_name(field), reason.splitlines()[0]) from None
        expr = text.str.contains(pattern)
        try:
            if re.search(pattern, "-"):  # the readers keep Windows' '-' as null
                expr = expr.fill_null(True)
        except re.error:
            pass
        return expr.fill_null(False)
    if isinstance(value, SigmaCIDRExpression):
        patterns = [SigmaString(p) for p in value.expand("*")]
        return pl.any_horizontal([_string(f, p) for p in patterns]).fill_null(False)
    if isinstance(value, SigmaFieldReference):
        if value.starts_with or value.ends_with:
            raise _Unsupported(_sigma_name(field), "fieldref with startswith/endswith")
        other = FIELDS[SIGMA_FIELDS.get(value.field, value.field)]
        if f.kind == "str":
            return (col.str.to_lowercase() == other.expr().str.to_lowercase()).fill_null(False)
        return (col == other.expr()).fill_null(False)
    raise _Unsupported(_sigma_name(field), f"value type {type(value).__name__} is not supported")


# -- conditions ----------------------------------------------------------------------------
def _plain_eq(node: Any) -> tuple[str, str] | None:
    """``(field, lower-case literal)`` of a case-insensitive string equality, else None."""
    from sigma.conditions import ConditionFieldEqualsValueExpression
    from sigma.types import SigmaCasedString, SigmaString

    if not isinstance(node, ConditionFieldEqualsValueExpression):
        return None
    value = node.value
    f = FIELDS.get(node.field)
    if (
        f is None
        or f.kind != "str"
        or not isinstance(value, SigmaString)
        or isinstance(value, SigmaCasedString)
    ):
        return None
    lit = _literal(_parts(value))
    if lit is None or lit.strip() in ("", "-"):
        return None
    try:
        lit = f.adapt(lit) if f.adapt is not None else lit
    except ValueError:
        return None
    return node.field, lit.lower()


def condition_expr(node: Any) -> pl.Expr:
    """Polars predicate of a pySigma condition tree (fields already renamed)."""
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
        ConditionValueExpression,
    )

    if isinstance(node, ConditionAND):
        return reduce(lambda a, b: a & b, [condition_expr(a) for a in node.args])
    if isinstance(node, ConditionOR):
        # equalities on one field become one is_in (SigmaHQ lists run to dozens of values)
        groups: dict[str, list[str]] = defaultdict(list)
        rest = []
        for arg in node.args:
            eq = _plain_eq(arg)
            if eq is None:
                rest.append(condition_expr(arg))
            else:
                groups[eq[0]].append(eq[1])
        for name, values in groups.items():
            col = FIELDS[name].expr().str.to_lowercase()
            rest.append(col.is_in(values).fill_null(False))
        return reduce(lambda a, b: a | b, rest)
    if isinstance(node, ConditionNOT):
        return ~condition_expr(node.args[0])
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if node.field not in FIELDS:
            raise _Unsupported(node.field, "hopwatch has no column for this field")
        return value_expr(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        raise _Unsupported("(keyword)", "keyword searches are not supported")
    raise _Unsupported("(condition)", f"condition element {type(node).__name__}")


def detection_expr(rule: Any) -> pl.Expr:
    """The row predicate of a detection rule whose fields the pipeline has renamed."""
    exprs = [condition_expr(c.parsed) for c in rule.detection.parsed_condition]
    return reduce(lambda a, b: a | b, exprs)


def _codes(node: Any) -> set[int] | None:
    """Event ids a condition requires (None: any)."""
    from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
    from sigma.types import SigmaNumber

    if isinstance(node, ConditionFieldEqualsValueExpression):
        if node.field == "event_code" and isinstance(node.value, SigmaNumber):
            return {int(node.value.number)}
        return None
    if isinstance(node, ConditionOR):
        out: set[int] = set()
        for arg in node.args:
            codes = _codes(arg)
            if codes is None:
                return None
            out |= codes
        return out
    if isinstance(node, ConditionAND):
        found = [c for c in (_codes(a) for a in node.args) if c is not None]
        return set.intersection(*found) if found else None
    return None


def required_codes(rule: Any) -> tuple[int, ...] | None:
    """Event ids every match of a renamed detection rule has (None: not bounded).

    The engine evaluates a rule only on the rows of these event ids.
    """
    out: set[int] = set()
    for cond in rule.detection.parsed_condition:
        codes = _codes(cond.parsed)
        if codes is None:
            return None
        out |= codes
    return tuple(sorted(out))


def fields_used(rule: Any) -> list[str]:
    """hopwatch fields a renamed rule tests, in order of first use."""
    seen: dict[str, None] = {}
    for detection in rule.detection.detections.values():
        for item in _items(detection):
            if item.field in FIELDS:
                seen[item.field] = None
    return list(seen)
