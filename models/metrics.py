"""Detection metrics over scored edges: AUC, AP, rates at a threshold, FP per day.

Scores are "higher is more anomalous"; an edge is flagged when ``score >= threshold``.
AUC and AP come from scikit-learn; the rates and FP-per-day are computed here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Metrics:
    """Quality of one scorer on one test set.

    Attributes:
        auc, ap: ROC AUC and average precision (NaN when only one class is present).
        tpr, fpr, precision: at ``threshold`` (precision NaN when nothing is flagged).
        threshold: the operating point.
        fp_per_day_at_recall_0_5, fp_per_day_at_recall_0_8: negatives scoring at or
            above the lowest threshold that reaches that recall, per test day.
        edges, positives: test set size.
        days: test span in days.
    """

    auc: float
    ap: float
    tpr: float
    fpr: float
    precision: float
    threshold: float
    fp_per_day_at_recall_0_5: float
    fp_per_day_at_recall_0_8: float
    edges: int
    positives: int
    days: float

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready dict (NaN becomes ``None``)."""
        return {k: _json_number(v) for k, v in asdict(self).items()}


def _json_number(v: float | int) -> float | int | None:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _check(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {s.shape} must be 1-d and aligned")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y, s


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC (NaN when y has a single class)."""
    from sklearn.metrics import roc_auc_score

    y, s = _check(y, s)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, s))


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision (NaN when there is no positive)."""
    from sklearn.metrics import average_precision_score

    y, s = _check(y, s)
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, s))


def rates_at(y: np.ndarray, s: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(TPR, FPR, precision) when edges with ``score >= threshold`` are flagged."""
    y, s = _check(y, s)
    flagged = s >= threshold
    tp = int((flagged & y).sum())
    fp = int((flagged & ~y).sum())
    p, n = int(y.sum()), int((~y).sum())
    tpr = tp / p if p else float("nan")
    fpr = fp / n if n else float("nan")
    precision = tp / (tp + fp) if tp + fp else float("nan")
    return tpr, fpr, precision


def threshold_at_recall(y: np.ndarray, s: np.ndarray, recall: float) -> float:
    """The highest threshold whose flagged set holds at least ``recall`` of the positives."""
    y, s = _check(y, s)
    pos = np.sort(s[y])[::-1]
    if not len(pos):
        return float("nan")
    k = max(1, math.ceil(recall * len(pos) - 1e-9))
    return float(pos[k - 1])


def fp_per_day_at_recall(y: np.ndarray, s: np.ndarray, recall: float, days: float) -> float:
    """False positives per day at the highest threshold reaching ``recall``."""
    y, s = _check(y, s)
    t = threshold_at_recall(y, s, recall)
    if math.isnan(t) or days <= 0:
        return float("nan")
    return float(((s >= t) & ~y).sum()) / days


def threshold_for_fpr(benign: np.ndarray, fpr: float) -> float:
    """The lowest threshold that flags at most ``fpr`` of the ``benign`` scores.

    Raises:
        ValueError: no benign scores, or ``fpr`` outside [0, 1].
    """
    if not 0 <= fpr <= 1:
        raise ValueError(f"target FPR must be in [0, 1], got {fpr}")
    v = np.sort(np.asarray(benign, dtype=np.float64))[::-1]
    if not len(v):
        raise ValueError("no benign scores to choose a threshold from")
    k = math.floor(fpr * len(v) + 1e-9)
    if k >= len(v):
        return float(v[-1])
    return float(np.nextafter(v[k], np.inf))


def compute(y: np.ndarray, s: np.ndarray, threshold: float, days: float) -> Metrics:
    """All :class:`Metrics` of scores ``s`` against labels ``y``."""
    y, s = _check(y, s)
    tpr, fpr, precision = rates_at(y, s, threshold)
    return Metrics(
        auc=roc_auc(y, s),
        ap=average_precision(y, s),
        tpr=tpr,
        fpr=fpr,
        precision=precision,
        threshold=float(threshold),
        fp_per_day_at_recall_0_5=fp_per_day_at_recall(y, s, 0.5, days),
        fp_per_day_at_recall_0_8=fp_per_day_at_recall(y, s, 0.8, days),
        edges=len(y),
        positives=int(y.sum()),
        days=float(days),
    )
