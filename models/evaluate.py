"""The evaluation harness shared by every detector (GNN, XGBoost, ...).

Protocols (an edge ``(window, src_host, dst_host)`` is positive when a red-team
event matches it):

- ``euler`` (default): windows before the first labelled event (or before
  ``train_until``) are training windows; the last 5% of them are held out to
  pick the threshold (the detector never trains on them); every later window
  is a test window.
- ``argus``: the same, with the test span limited to 14 days.

The unknown-authentication baseline (flag a pair never seen in any training
window) is always computed on the same split and reported beside the model.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ingest.errors import HopwatchError
from models.metrics import Metrics, compute, threshold_for_fpr

if TYPE_CHECKING:
    from ingest.graphs import GraphStore
    from models.base import Detector

PROTOCOLS = ("euler", "argus")
ARGUS_TEST_DAYS = 14
#: Fraction of the training windows held out to choose the threshold.
HOLDOUT = 0.05
#: Default target false-positive rate of the threshold on held-out benign windows.
THRESHOLD_FPR = 0.005

KEYS = ("window", "src_host", "dst_host")


class EvaluationError(HopwatchError, ValueError):
    """The data directory cannot be evaluated as asked (no labels, empty split, leak)."""


@dataclass
class Split:
    """Window ids of one evaluation split (each sorted; disjoint; fit < threshold < test).

    Attributes:
        fit_windows: windows a detector trains on.
        threshold_windows: held-out training windows that set the threshold.
        test_windows: windows the metrics are computed on.
        cut: first window that is not a training window.
        protocol: ``euler`` or ``argus``.
    """

    fit_windows: list[int]
    threshold_windows: list[int]
    test_windows: list[int]
    cut: int
    protocol: str

    @property
    def train_windows(self) -> list[int]:
        """Fit and threshold windows together (everything before ``cut``)."""
        return self.fit_windows + self.threshold_windows

    def describe(self) -> dict[str, Any]:
        """Small JSON-ready summary."""

        def span(ws: list[int]) -> list[int] | None:
            return [ws[0], ws[-1]] if ws else None

        return {
            "protocol": self.protocol,
            "cut_window": self.cut,
            "fit_windows": span(self.fit_windows),
            "threshold_windows": span(self.threshold_windows),
            "test_windows": span(self.test_windows),
        }


def cut_window(meta: dict[str, Any], window_seconds: int, train_until: int | None) -> int | None:
    """First non-training window: ``train_until // window_seconds`` or the first label's window."""
    if train_until is not None:
        if train_until < 0:
            raise EvaluationError(f"--train-until must be a non-negative time, got {train_until}")
        return int(train_until) // window_seconds
    first = meta.get("first_label_time")
    return None if first is None else int(first) // window_seconds


def split_windows(
    windows: Sequence[int],
    window_seconds: int,
    cut: int | None,
    *,
    protocol: str = "euler",
    holdout: float = HOLDOUT,
) -> Split:
    """Split stored window ids for ``protocol``; with no ``cut`` every window is training.

    Raises:
        EvaluationError: unknown protocol, or no training windows before the cut.
    """
    if protocol not in PROTOCOLS:
        raise EvaluationError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    ws = sorted(int(w) for w in windows)
    if cut is None:
        cut = ws[-1] + 1 if ws else 0
    train = [w for w in ws if w < cut]
    test = [w for w in ws if w >= cut]
    if protocol == "argus":
        end = cut + math.ceil(ARGUS_TEST_DAYS * 86_400 / window_seconds)
        test = [w for w in test if w < end]
    if len(train) < 2:
        raise EvaluationError(
            f"only {len(train)} training window(s) before window {cut}: need at least 2 "
            "(move --train-until later or ingest more history)"
        )
    n_hold = max(1, math.ceil(holdout * len(train)))
    return Split(train[:-n_hold], train[-n_hold:], test, cut, protocol)


def store_split(
    store: GraphStore, *, protocol: str = "euler", train_until: int | None = None
) -> Split:
    """:func:`split_windows` of a data directory (cut from its labels or ``train_until``)."""
    cut = cut_window(store.meta, store.window_seconds, train_until)
    return split_windows(store.windows, store.window_seconds, cut, protocol=protocol)


def unknown_auth_scores(store: GraphStore, split: Split, test: pl.DataFrame) -> np.ndarray:
    """1.0 for test edges whose (src_host, dst_host) never occurs in a training window."""
    seen = (
        store.edges(windows=split.train_windows)
        .select("src_host", "dst_host")
        .unique()
        .with_columns(pl.lit(True).alias("_seen"))
    )
    flags = test.select("src_host", "dst_host").join(
        seen, on=["src_host", "dst_host"], how="left", maintain_order="left"
    )
    return np.where(flags["_seen"].fill_null(False).to_numpy(), 0.0, 1.0)


@dataclass
class EvalResult:
    """Model and baseline metrics of one evaluation."""

    detector: str
    model: Metrics
    baseline: dict[str, Metrics]
    split: Split
    timings: dict[str, float] = field(default_factory=dict)
    fit_report: dict[str, Any] | None = None
    fitted: Any = None  # the detector trained here (None when a trained one was passed in)
    #: The test edges: ``window, src_host, dst_host, label, score`` and the baseline's
    #: ``unknown_auth`` score, for curves (ROC, precision-recall, FP per day by recall).
    scores: pl.DataFrame | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``hopwatch evaluate --json`` object."""
        out: dict[str, Any] = {"detector": self.detector, **self.model.as_dict()}
        out["baseline"] = {k: m.as_dict() for k, m in self.baseline.items()}
        out["split"] = self.split.describe()
        out["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return out


def _labelled_scores(store: GraphStore, det: Detector, windows: list[int]) -> pl.DataFrame:
    """Scores of ``windows`` joined to the edge labels (every stored edge must be scored)."""
    edges = store.edges(windows=windows).select(*KEYS, pl.col("label").fill_null(False))
    scores = det.score(store, windows)
    joined = edges.join(scores, on=list(KEYS), how="left", maintain_order="left")
    missing = joined["score"].null_count()
    if missing:
        raise EvaluationError(
            f"detector {det.name!r} left {missing} edges of {store.path} unscored"
        )
    return joined


def evaluate(
    detector: Detector | Callable[[], Detector],
    store: GraphStore,
    *,
    protocol: str = "euler",
    train_until: int | None = None,
    threshold_fpr: float = THRESHOLD_FPR,
) -> EvalResult:
    """Evaluate a detector on a labelled data directory.

    Args:
        detector: a trained detector (used as is), or a zero-argument factory whose
            detector is trained here on the split's fit windows.
        store: the data directory.
        protocol: ``euler`` or ``argus``.
        train_until: time (seconds) splitting training from test; default the
            first labelled event.
        threshold_fpr: target false-positive rate on the held-out benign windows.

    Raises:
        EvaluationError: no labels, no positives in the test span, or a trained
            detector whose training windows reach into the threshold or test windows.
    """
    if train_until is None and store.meta.get("first_label_time") is None:
        raise EvaluationError(
            f"{store.path} has no red-team labels: ingest with --redteam or pass --train-until"
        )
    split = store_split(store, protocol=protocol, train_until=train_until)
    if not split.test_windows:
        raise EvaluationError(f"{store.path}: no test windows at or after window {split.cut}")
    timings: dict[str, float] = {}
    fit_report = None
    if inspect.isclass(detector) or not hasattr(detector, "score"):
        det = detector()
        t0 = time.perf_counter()
        fit_report = det.fit(store, split.fit_windows)
        timings["fit_seconds"] = time.perf_counter() - t0
    else:
        det = detector
        trained = getattr(det, "trained_windows", None)
        if trained and trained[1] >= split.threshold_windows[0]:
            raise EvaluationError(
                f"model was trained on windows up to {trained[1]}, which reaches the threshold/"
                f"test windows (from {split.threshold_windows[0]}): retrain with the same "
                "--protocol/--train-until"
            )
    t0 = time.perf_counter()
    scored = _labelled_scores(store, det, split.threshold_windows + split.test_windows)
    timings["score_seconds"] = time.perf_counter() - t0
    is_test = scored["window"] >= split.cut
    hold = scored.filter(~is_test)
    test = scored.filter(is_test)
    y = test["label"].to_numpy().astype(bool)
    if not y.any():
        raise EvaluationError(f"{store.path}: no labelled edges in the test windows")
    benign = hold.filter(~pl.col("label"))["score"].to_numpy()
    threshold = threshold_for_fpr(benign, threshold_fpr)
    span = split.test_windows[-1] - split.test_windows[0] + 1
    days = span * store.window_seconds / 86_400
    model = compute(y, test["score"].to_numpy(), threshold, days)
    unknown = unknown_auth_scores(store, split, test)
    base = compute(y, unknown, 0.5, days)
    return EvalResult(
        det.name,
        model,
        {"unknown_auth": base},
        split,
        timings,
        fit_report,
        det if fit_report is not None else None,
        test.select(*KEYS, "label", "score").with_columns(pl.Series("unknown_auth", unknown)),
    )


def format_table(result: EvalResult) -> str:
    """A plain-text table of the model beside its baselines."""
    cols = ("auc", "ap", "tpr", "fpr", "precision", "fp_per_day_at_recall_0_5")
    rows = [(result.detector, result.model), *list(result.baseline.items())]
    lines = ["| scorer | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, m in rows:
        vals = [getattr(m, c) for c in cols]
        lines.append(f"| {name} | " + " | ".join(f"{v:.4g}" for v in vals) + " |")
    m = result.model
    lines.append(f"edges {m.edges}, positives {m.positives}, test days {m.days:.2f}")
    return "\n".join(lines)
