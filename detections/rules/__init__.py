"""Declarative lateral-movement rules: YAML files in ``library/``, one Polars engine.

:mod:`~detections.rules.spec` parses rule files into frozen dataclasses,
:mod:`~detections.rules.engine` evaluates them over the rule view of auth and process
events, and :mod:`~detections.rules.loader` loads a folder, runs it and checks samples.
"""

from detections.rules.engine import rule_view, sample_view
from detections.rules.loader import (
    check_samples,
    default_rules_dir,
    hits_to_dicts,
    load_rules,
    run_rules,
    view_from_data_dir,
)
from detections.rules.spec import Rule, RuleError, load_rule

__all__ = [
    "Rule",
    "RuleError",
    "check_samples",
    "default_rules_dir",
    "hits_to_dicts",
    "load_rule",
    "load_rules",
    "rule_view",
    "run_rules",
    "sample_view",
    "view_from_data_dir",
]
