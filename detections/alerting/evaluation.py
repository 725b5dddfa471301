"""``hopwatch evaluate --detector all``: the alerts of a labelled data directory, built
exactly as the service builds them, against the red team.

Split as :func:`models.evaluate.store_split` (training windows before the first label,
the last 5% of them held out); every registered detector is loaded (a saved model) or
trained on the fit windows; each detector's signal threshold flags ``threshold_fpr`` of
the held-out benign edges; then the test windows run through
:func:`~detections.alerting.batch.run_alerting` (every detector in lockstep with the
quarantine, the rules, the alerting stage) and the alerts are measured
(:mod:`~detections.alerting.quality`) beside each detector's edge metrics (from the same
quarantined run) and the unknown-authentication baseline.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from detections.alerting.batch import AlertingRun, run_alerting
from detections.alerting.quality import (
    alert_quality,
    campaigns_from_labels,
    campaigns_from_truth,
    edge_alert_scores,
)
from detections.alerting.stage import StageConfig
from models.evaluate import EvaluationError, Split, store_split, unknown_auth_scores
from models.metrics import Metrics, compute, threshold_for_fpr

if TYPE_CHECKING:
    from ingest.graphs import GraphStore

KEYS = ["window", "src_host", "dst_host"]
#: The queue's ranking flags an edge when an alert (not suppressed) covers it.
QUEUE_THRESHOLD = 10.0


@dataclass
class AlertEvaluation:
    """Everything one ``--detector all`` evaluation measured."""

    queue: Metrics
    quality: dict[str, Any]
    detectors: dict[str, Metrics]
    baseline: dict[str, Metrics]
    thresholds: dict[str, float]
    split: Split
    run: AlertingRun
    timings: dict[str, float] = field(default_factory=dict)
    fitted: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The ``hopwatch evaluate --detector all --json`` object: the queue's edge
        metrics (the keys of a single detector's evaluation) and the alert-level keys
        (:data:`detections.alerting.quality.SOC_KEYS`) at the top, per-detector edge
        metrics under ``detectors``."""
        out: dict[str, Any] = {"detector": "all", **self.queue.as_dict()}
        out.update(self.quality)
        for key in ("fp_per_day_at_recall_0_5", "fp_per_day_at_recall_0_8"):
            out[key] = self.queue.as_dict()[key]
        out["detectors"] = {n: m.as_dict() for n, m in self.detectors.items()}
        out["thresholds"] = {n: float(t) for n, t in self.thresholds.items()}
        out["baseline"] = {k: m.as_dict() for k, m in self.baseline.items()}
        out["split"] = self.split.describe()
        out["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return out


def _ready(
    detectors: Mapping[str, Any], store: GraphStore, split: Split, timings: dict[str, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Trained detectors (factories are trained here on the fit windows)."""
    out, fitted = {}, {}
    for name, det in detectors.items():
        if inspect.isclass(det) or not hasattr(det, "score"):
            t0 = time.perf_counter()
            det = det()
            det.fit(store, split.fit_windows)
            timings[f"fit_{name}_seconds"] = time.perf_counter() - t0
            fitted[name] = det
        else:
            trained = getattr(det, "trained_windows", None)
            if trained and trained[1] >= split.threshold_windows[0]:
                raise EvaluationError(
                    f"{name} model was trained on windows up to {trained[1]}, which reaches the "
                    f"threshold/test windows (from {split.threshold_windows[0]}): retrain it with "
                    "the same --protocol/--train-until"
                )
        out[name] = det
    return out, fitted


def evaluate_alerts(
    detectors: Mapping[str, Any | Callable[[], Any]],
    store: GraphStore,
    *,
    protocol: str = "euler",
    train_until: int | None = None,
    threshold_fpr: float = 0.005,
    rules: Sequence[Any] = (),
    truth: Mapping[str, Any] | None = None,
    config: StageConfig | None = None,
) -> AlertEvaluation:
    """Evaluate the alerts of ``store``'s test windows (see the module docstring).

    Args:
        detectors: name -> trained detector, or a zero-argument factory trained here.
        store: the labelled data directory.
        protocol, train_until: the split (as :func:`models.evaluate.evaluate`).
        threshold_fpr: each detector's signal threshold flags this share of the held-out
            benign edges.
        rules: loaded rules.
        truth: the simulator's ``campaigns.json`` (true campaigns); None: campaigns from
            the labels.
        config: the alerting stage's knobs.

    Raises:
        EvaluationError: no labels, no test windows or positives, or a model that saw them.
    """
    if train_until is None and store.meta.get("first_label_time") is None:
        raise EvaluationError(
            f"{store.path} has no red-team labels: ingest with --redteam or pass --train-until"
        )
    if not detectors:
        raise EvaluationError("no detector to evaluate")
    split = store_split(store, protocol=protocol, train_until=train_until)
    if not split.test_windows:
        raise EvaluationError(f"{store.path}: no test windows at or after window {split.cut}")
    timings: dict[str, float] = {}
    dets, fitted = _ready(detectors, store, split, timings)
    t0 = time.perf_counter()
    thresholds = {}
    for name, det in dets.items():
        held = det.score(store, split.threshold_windows)
        benign = held.join(
            store.edges(windows=split.threshold_windows).select(*KEYS, "label"), on=KEYS
        ).filter(~pl.col("label").fill_null(False))
        thresholds[name] = threshold_for_fpr(benign["score"].to_numpy(), threshold_fpr)
    timings["threshold_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = run_alerting(
        dets, store, split.test_windows, thresholds=thresholds, rules=rules, config=config
    )
    timings["alerting_seconds"] = time.perf_counter() - t0
    timings.update({f"alerting_{k}": v for k, v in run.timings.items()})

    test = store.edges(windows=split.test_windows).select(*KEYS, pl.col("label").fill_null(False))
    y = test["label"].to_numpy().astype(bool)
    if not y.any():
        raise EvaluationError(f"{store.path}: no labelled edges in the test windows")
    span = split.test_windows[-1] - split.test_windows[0] + 1
    days = span * store.window_seconds / 86_400
    ranks = edge_alert_scores(test, run.scores, thresholds, run.alerts)
    queue = compute(y, ranks, QUEUE_THRESHOLD, days)
    per = {}
    for name, sc in run.scores.items():
        s = test.join(sc, on=KEYS, how="left", maintain_order="left")["score"].fill_null(0.0)
        per[name] = compute(y, s.to_numpy(), thresholds[name], days)
    base = compute(y, unknown_auth_scores(store, split, test), 0.5, days)
    positives = set(test.filter(pl.col("label")).select(KEYS).rows())
    if truth is not None:
        true_campaigns = campaigns_from_truth(truth, store.window_seconds)
    else:
        labelled = (
            store.events(windows=split.test_windows)
            .filter(pl.col("label").fill_null(False))
            .select(*KEYS, pl.col("src_user").alias("user"))
            .unique()
            .collect()
        )
        true_campaigns = campaigns_from_labels(labelled)
    true_campaigns = [c & positives for c in true_campaigns if c & positives]
    quality = alert_quality(
        run.alerts,
        run.campaigns,
        positives=positives,
        true_campaigns=true_campaigns,
        days=days,
        hosts=store.num_nodes,
    )
    quality["revisit_edges"] = _revisits(test, y)
    return AlertEvaluation(queue, quality, per, {"unknown_auth": base}, thresholds, split, run,
                           timings, fitted)  # fmt: skip


def _revisits(test: pl.DataFrame, y: np.ndarray) -> int:
    """Red-team edges of the test windows whose pair already had a red-team edge earlier."""
    pos = test.filter(pl.Series(y)).sort("window")
    seen: set[tuple[str, str]] = set()
    n = 0
    for _, s, d in pos.select(KEYS).iter_rows():
        n += (s, d) in seen
        seen.add((s, d))
    return n
