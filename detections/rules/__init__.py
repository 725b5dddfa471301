"""Lateral-movement rules in Sigma: pySigma parses them, one Polars engine runs them.

:mod:`~detections.rules.fields` maps Sigma's Windows fields to hopwatch's canonical
columns (the processing pipeline), :mod:`~detections.rules.compiler` turns a detection
into a Polars predicate or refuses it naming the file and the field,
:mod:`~detections.rules.correlate` evaluates correlation rules,
:mod:`~detections.rules.engine` runs rules over the rule view,
:mod:`~detections.rules.loader` loads folders (the shipped ``library/``, SigmaHQ's),
:mod:`~detections.rules.samples` reads each rule's sample events as XmlWinEventLog, and
:mod:`~detections.rules.export` converts the rules to Splunk saved searches.
"""

from detections.rules.compiler import RuleError, RuleRefused
from detections.rules.engine import Rule, hits_to_dicts, rule_view, run_rules
from detections.rules.export import SavedSearch, savedsearches_conf, to_splunk
from detections.rules.loader import (
    Refusal,
    RuleSet,
    default_rules_dir,
    load_rule_set,
    load_rules,
    view_from_data_dir,
)
from detections.rules.samples import check_samples, sample_view

__all__ = [
    "Refusal",
    "Rule",
    "RuleError",
    "RuleRefused",
    "RuleSet",
    "SavedSearch",
    "check_samples",
    "default_rules_dir",
    "hits_to_dicts",
    "load_rule_set",
    "load_rules",
    "rule_view",
    "run_rules",
    "sample_view",
    "savedsearches_conf",
    "to_splunk",
    "view_from_data_dir",
]
