"""Declarative lateral-movement rules: load the YAML files, run them, report hits.

```python
from detections.rules.loader import load_rules, run_rules, view_from_data_dir
rules = load_rules()                       # detections/rules/library/*.yml
hits = run_rules(rules, view_from_data_dir("data/"))   # frame, one row per hit
```

The file format is described in ``detections/rules/spec.py`` and
``docs/windows-and-rules.md``; evaluation in ``detections/rules/engine.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from detections.rules.engine import (
    COLUMNS,
    HIT_COLUMNS,
    evaluate,
    rule_view,
    sample_view,
)
from detections.rules.spec import Rule, RuleError, load_rule

__all__ = [
    "check_samples",
    "default_rules_dir",
    "hits_to_dicts",
    "load_rules",
    "run_rules",
    "view_from_data_dir",
]


def default_rules_dir() -> Path:
    """The rules shipped with the package (``detections/rules``)."""
    return Path(__file__).resolve().parent / "library"


def load_rules(rules_dir: str | Path | None = None) -> list[Rule]:
    """Every ``*.yml`` / ``*.yaml`` rule under ``rules_dir`` (sorted by file name).

    Raises:
        RuleError: a file is invalid, ids repeat, or the folder holds no rule.
    """
    folder = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    if not folder.is_dir():
        raise RuleError(f"{folder}: rules folder not found")
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    if not files:
        raise RuleError(f"{folder}: no *.yml rule files")
    rules = [load_rule(f, COLUMNS) for f in files]
    seen: dict[str, str] = {}
    for r in rules:
        if r.id in seen:
            raise RuleError(f"{r.path}: field 'id': {r.id!r} already used by {seen[r.id]}")
        seen[r.id] = r.path
    return rules


def run_rules(rules: Sequence[Rule], view: pl.DataFrame) -> pl.DataFrame:
    """Hits of all rules on a rule view, sorted by time then rule id."""
    frames = [evaluate(r, view) for r in rules]
    if not frames:
        return pl.DataFrame(schema={c: pl.String for c in HIT_COLUMNS})
    return pl.concat(frames).sort(["time", "rule_id", "source"], nulls_last=True)


def hits_to_dicts(hits: pl.DataFrame) -> list[dict[str, Any]]:
    """Hits as JSON-ready dicts."""
    return hits.select(HIT_COLUMNS).to_dicts()


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


def check_samples(rule: Rule) -> list[str]:
    """Problems with a rule's own samples (a positive that does not fire, a negative that does)."""
    problems = []
    for kind, samples, want in (
        ("positive", rule.positive, True),
        ("negative", rule.negative, False),
    ):
        for i, events in enumerate(samples):
            fired = evaluate(rule, sample_view(events)).height > 0
            if fired != want:
                verb = "does not fire" if want else "fires"
                problems.append(f"{rule.path}: samples.{kind}[{i}] {verb}")
    return problems
