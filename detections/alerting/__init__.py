"""The alerting stage: detector scores and rule hits -> alerts and campaigns an analyst
can trust.

:mod:`~detections.alerting.context` keeps the logs' history the facts are read from,
:mod:`~detections.alerting.facts` says them in analyst words with their weights,
:mod:`~detections.alerting.suppress` recognises the known-benign classes,
:mod:`~detections.alerting.stage` turns one window into alerts (candidates, severity,
quarantine), :mod:`~detections.alerting.batch` runs it over many windows as the service
does, :mod:`~detections.alerting.quality` measures alerts where the SOC lives and
:mod:`~detections.alerting.evaluation` evaluates a labelled data directory that way;
:mod:`~detections.alerting.candidates` holds the signals and how they add up.
"""

from detections.alerting.batch import AlertingRun, iter_window_events, run_alerting, store_rule_hits
from detections.alerting.candidates import Signal, detector_evidence
from detections.alerting.context import LogContext
from detections.alerting.evaluation import AlertEvaluation, evaluate_alerts
from detections.alerting.facts import Fact, edge_facts
from detections.alerting.stage import AlertingStage, StageConfig
from detections.alerting.suppress import Suppression, VerdictBook, known_benign

__all__ = [
    "AlertEvaluation",
    "AlertingRun",
    "AlertingStage",
    "Fact",
    "LogContext",
    "Signal",
    "StageConfig",
    "Suppression",
    "VerdictBook",
    "detector_evidence",
    "edge_facts",
    "evaluate_alerts",
    "iter_window_events",
    "known_benign",
    "run_alerting",
    "store_rule_hits",
]
