"""Load folders of Sigma rules (pySigma), refuse what hopwatch cannot evaluate, run them.

```python
from detections.rules import load_rules, run_rules, view_from_data_dir
rules = load_rules()                       # detections/rules/library/**/*.yml
hits = run_rules(rules, view_from_data_dir("data/"))   # frame, one row per hit
found = load_rule_set("sigma/rules/windows")           # SigmaHQ: .rules and .refused
```

Files may hold several YAML documents (a correlation beside its base rules);
correlations may reference rules in other files of the folder. A rule hopwatch
cannot evaluate (see ``detections/rules/compiler.py``) is *refused*: it is not run,
and :class:`Refusal` says which file, which rule, which field and why. ``hopwatch
rules check`` prints them; :func:`load_rules` logs them (or raises with ``strict``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from detections.rules.compiler import (
    RuleError,
    RuleRefused,
    compile_detection,
    fields_used,
    required_codes,
)
from detections.rules.correlate import Correlation
from detections.rules.engine import Rule, rule_view

log = logging.getLogger(__name__)
_ATTACK = re.compile(r"^t\d{4}(?:\.\d{3})?$")
LEVELS = {"informational": "low", "low": "low", "medium": "medium", "high": "high"}
LEVELS["critical"] = "critical"


@dataclass(frozen=True)
class Refusal:
    """A rule that was not loaded, and why (file, rule title, Sigma field, reason)."""

    path: str
    title: str
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"field '{self.field}': " if self.field else ""
        return f"{self.path}: rule '{self.title}': {where}{self.reason}"


@dataclass
class RuleSet:
    """The rules of a folder that hopwatch runs, and those it refused."""

    rules: list[Rule] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def default_rules_dir() -> Path:
    """The rules shipped with the package (``detections/rules/library``)."""
    return Path(__file__).resolve().parent / "library"


def rule_files(folder: Path) -> list[Path]:
    """``*.yml`` / ``*.yaml`` files under ``folder`` (recursive, hidden ones skipped, sorted)."""
    out = [
        f
        for f in folder.rglob("*")
        if f.suffix in (".yml", ".yaml")
        and f.is_file()
        and not any(p.startswith(".") for p in f.relative_to(folder).parts)
    ]
    return sorted(out)


def _attack(rule: Any) -> tuple[str, ...]:
    out = []
    for tag in rule.tags or []:
        if str(tag.namespace).lower() == "attack" and _ATTACK.match(str(tag.name).lower()):
            out.append(str(tag.name).upper())
    return tuple(dict.fromkeys(out))


def _samples(rule: Any, path: str, kind: str) -> tuple[tuple[dict[str, Any], ...], ...]:
    samples = (rule.custom_attributes or {}).get("samples") or {}
    if not isinstance(samples, dict):
        raise RuleError(f"{path}: field 'samples': expected {{positive: [...], negative: [...]}}")
    items = samples.get(kind) or []
    if not isinstance(items, list):
        raise RuleError(f"{path}: field 'samples.{kind}': expected a list")
    out = []
    for i, item in enumerate(items):
        events = item if isinstance(item, list) else [item]
        for j, ev in enumerate(events):
            if not isinstance(ev, dict) or "EventID" not in ev:
                raise RuleError(
                    f"{path}: field 'samples.{kind}[{i}][{j}]': an event needs EventID: {ev!r}"
                )
        out.append(tuple(dict(e) for e in events))
    return tuple(out)


def _meta(rule: Any, path: str) -> dict[str, Any]:
    rid = rule.name or (str(rule.id) if rule.id else Path(path).stem)
    level = getattr(rule.level, "name", None)
    return {
        "id": str(rid),
        "title": str(rule.title),
        "description": (rule.description or "").strip(),
        "attack": _attack(rule),
        "severity": LEVELS.get(str(level).lower(), "medium") if level else "medium",
        "path": path,
        "falsepositives": tuple(str(f) for f in rule.falsepositives or ()),
        "positive": _samples(rule, path, "positive"),
        "negative": _samples(rule, path, "negative"),
        "sigma_id": str(rule.id) if rule.id else None,
    }


def _parse(path: Path, found: RuleSet) -> list[tuple[Any, str]]:
    """pySigma rules of one file; an invalid file or rule is refused."""
    import yaml
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    try:
        text = path.read_text(encoding="utf-8")
        collection = SigmaCollection.from_yaml(text, collect_errors=True)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, SigmaError) as exc:
        found.refused.append(Refusal(str(path), path.stem, None, f"not valid Sigma: {exc}"))
        return []
    out = []
    for rule in collection.rules:
        errors = list(getattr(rule, "errors", []) or [])
        if errors:
            title = str(getattr(rule, "title", "") or path.stem)
            found.refused.append(Refusal(str(path), title, None, f"not valid Sigma: {errors[0]}"))
            continue
        out.append((rule, str(path)))
    return out


def load_rule_set(rules_dir: str | Path | None = None) -> RuleSet:
    """Every Sigma rule under ``rules_dir`` (default: the shipped library), loaded or refused.

    Raises:
        RuleError: the folder does not exist or holds no ``*.yml`` file; a rule's
            ``samples`` are malformed.
    """
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    from sigma.exceptions import SigmaError

    from detections.rules.fields import sigma_pipeline

    folder = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    if not folder.is_dir():
        raise RuleError(f"{folder}: rules folder not found")
    files = rule_files(folder)
    if not files:
        raise RuleError(f"{folder}: no *.yml rule files")
    found = RuleSet()
    parsed = [item for f in files for item in _parse(f, found)]
    collection = SigmaCollection([r for r, _ in parsed])
    ids: dict[int, str] = {}
    seen: dict[str, str] = {}
    correlations = []
    for rule, path in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            correlations.append((rule, path))
            continue
        try:
            meta = _meta(rule, path)
            expr = compile_detection(rule, path)
        except RuleRefused as exc:
            found.refused.append(Refusal(exc.path, exc.title, exc.field, exc.reason))
            continue
        except SigmaError as exc:
            found.refused.append(Refusal(path, str(rule.title), None, f"not valid Sigma: {exc}"))
            continue
        if meta["id"] in seen:
            raise RuleError(
                f"{path}: field 'name': {meta['id']!r} already used by {seen[meta['id']]}"
            )
        seen[meta["id"]] = path
        ids[id(rule)] = meta["id"]
        found.rules.append(
            Rule(expr=expr, fields=tuple(fields_used(rule)), codes=required_codes(rule), **meta)
        )
    silent: set[str] = set()
    for rule, path in correlations:
        try:
            rule.resolve_rule_references(collection)
            sigma_pipeline().apply(rule)
            corr = Correlation.from_sigma(rule, path, ids)
            meta = _meta(rule, path)
        except RuleRefused as exc:
            found.refused.append(Refusal(exc.path, exc.title, exc.field, exc.reason))
            continue
        except SigmaError as exc:
            found.refused.append(Refusal(path, str(rule.title), None, f"not valid Sigma: {exc}"))
            continue
        if meta["id"] in seen:
            raise RuleError(
                f"{path}: field 'name': {meta['id']!r} already used by {seen[meta['id']]}"
            )
        seen[meta["id"]] = path
        found.rules.append(Rule(correlation=corr, **meta))
        if not rule.generate:
            silent.update(corr.rules)
    found.rules = [replace(r, reports=False) if r.id in silent else r for r in found.rules]
    return found


def load_rules(rules_dir: str | Path | None = None, *, strict: bool = False) -> list[Rule]:
    """The rules hopwatch runs from ``rules_dir`` (default: the shipped library).

    Refused rules are logged one line each (``hopwatch rules check`` lists them).

    Raises:
        RuleError: as :func:`load_rule_set`; with ``strict``, also the first refusal
            (it names the file and the field).
    """
    found = load_rule_set(rules_dir)
    if strict and found.refused:
        first = found.refused[0]
        raise RuleRefused(first.path, first.title, first.field, first.reason)
    if found.refused:
        log.warning(
            "%d of %d rules refused (`hopwatch rules check` lists them); first: %s",
            len(found.refused), len(found.refused) + len(found.rules), found.refused[0],
        )  # fmt: skip
    for refusal in found.refused:
        log.info("rule refused: %s", refusal)
    if not found.rules:
        raise RuleError(f"{rules_dir or default_rules_dir()}: no rule hopwatch can evaluate")
    return found.rules


def _scan(folder: Path) -> pl.DataFrame | None:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def view_from_data_dir(data_dir: str | Path) -> pl.DataFrame:
    """The rule view of a data directory (``events/`` and, for Windows, ``process/``).

    Raises:
        FileNotFoundError: the folder has neither events nor process events.
    """
    root = Path(data_dir)
    auth, process = _scan(root / "events"), _scan(root / "process")
    if auth is None and process is None:
        raise FileNotFoundError(f"{root}: no events/*.parquet or process/*.parquet")
    return rule_view(auth, process)
