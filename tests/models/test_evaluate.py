"""Tests of the evaluation harness (models/evaluate.py) and metrics (models/metrics.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import average_precision_score, precision_score, roc_auc_score, roc_curve

from ingest.graphs import GraphStore
from models import metrics
from models.evaluate import (
    ARGUS_TEST_DAYS,
    EvaluationError,
    evaluate,
    format_table,
    split_windows,
    store_split,
)
from tests.models.gnn.builders import office_dataset

WS = 1800
# Two hops in windows 100 and 110: W3 -> W9 (new pair) and W1 -> S1 (a known pair).
PLANT = [(100 * WS + 60, "W3", "W9"), (110 * WS + 60, "W1", "S1")]

# Hand-built case: 10 edges, 4 positives.
Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 1, 0], dtype=bool)
S = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])


def test_auc_ap_match_sklearn() -> None:
    assert metrics.roc_auc(Y, S) == pytest.approx(roc_auc_score(Y, S))
    assert metrics.average_precision(Y, S) == pytest.approx(average_precision_score(Y, S))
    assert math.isnan(metrics.roc_auc(np.zeros(3, bool), np.arange(3.0)))


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.35, 0.7, 0.9, 0.95])
def test_rates_match_sklearn(threshold: float) -> None:
    tpr, fpr, precision = metrics.rates_at(Y, S, threshold)
    flagged = threshold <= S
    fprs, tprs, thresholds = roc_curve(Y, S, drop_intermediate=False)
    i = np.flatnonzero(thresholds >= threshold)[-1]  # roc_curve flags score >= threshold too
    assert tpr == pytest.approx(tprs[i])
    assert fpr == pytest.approx(fprs[i])
    if flagged.any():
        assert precision == pytest.approx(precision_score(Y, flagged))
    else:
        assert math.isnan(precision)


def test_fp_per_day_by_hand() -> None:
    # recall 0.5 needs the top 2 positives (0.9, 0.7): negatives >= 0.7 -> one (0.8).
    assert metrics.threshold_at_recall(Y, S, 0.5) == 0.7
    assert metrics.fp_per_day_at_recall(Y, S, 0.5, days=2.0) == 0.5
    # recall 0.8 needs 4 * 0.8 -> 4 positives (down to 0.1): negatives >= 0.1 -> 5.
    assert metrics.fp_per_day_at_recall(Y, S, 0.8, days=1.0) == 5.0
    m = metrics.compute(Y, S, 0.65, days=1.0)
    assert (m.tpr, m.fpr, m.precision) == (0.5, 1 / 6, 2 / 3)
    assert m.edges == 10 and m.positives == 4
    assert m.as_dict()["fp_per_day_at_recall_0_5"] == 1.0


def test_threshold_for_fpr() -> None:
    benign = np.linspace(0, 1, 1000)
    t = metrics.threshold_for_fpr(benign, 0.01)
    assert (benign >= t).sum() == 10
    assert (benign >= metrics.threshold_for_fpr(benign, 0.0)).sum() == 0
    with pytest.raises(ValueError):
        metrics.threshold_for_fpr(np.array([]), 0.1)
    with pytest.raises(ValueError):
        metrics.threshold_for_fpr(benign, 2.0)


def test_split_windows_protocols() -> None:
    windows = list(range(0, 2000, 2))
    euler = split_windows(windows, WS, cut=400, protocol="euler")
    assert euler.fit_windows[-1] < euler.threshold_windows[0]
    assert euler.threshold_windows[-1] < 400 <= euler.test_windows[0]
    assert len(euler.threshold_windows) == math.ceil(0.05 * 200)
    assert euler.train_windows == [w for w in windows if w < 400]
    assert euler.test_windows[-1] == 1998
    argus = split_windows(windows, WS, cut=400, protocol="argus")
    assert argus.train_windows == euler.train_windows
    assert argus.test_windows[-1] < 400 + ARGUS_TEST_DAYS * 48
    with pytest.raises(EvaluationError, match="unknown protocol"):
        split_windows(windows, WS, cut=400, protocol="darpa")
    with pytest.raises(EvaluationError, match="training window"):
        split_windows(windows, WS, cut=1)
    assert split_windows(windows, WS, cut=None).test_windows == []


class PairFrequency:
    """A small real detector: anomaly = 1 / (1 + windows the pair was seen in before).

    Records the windows it is given so the tests can check the split.
    """

    name = "pairfreq"

    def __init__(self) -> None:
        self.window_seconds = 0
        self.fit_windows: list[int] = []
        self.score_windows: list[int] = []
        self.trained_windows: tuple[int, int] | None = None

    def fit(self, store: GraphStore, windows: Sequence[int]) -> dict[str, Any]:
        self.fit_windows = list(windows)
        self.window_seconds = store.window_seconds
        self.trained_windows = (min(windows), max(windows))
        return {"windows": len(windows)}

    def score(self, store: GraphStore, windows: Sequence[int]) -> pl.DataFrame:
        self.score_windows = list(windows)
        edges = store.edges(end=max(windows) + 1).select("window", "src_host", "dst_host")
        seen = edges.with_columns(
            pl.int_range(pl.len()).over("src_host", "dst_host").alias("before")
        )
        out = seen.filter(pl.col("window").is_in(list(windows)))
        return out.select(
            "window", "src_host", "dst_host", (1.0 / (1.0 + pl.col("before"))).alias("score")
        )

    def explain(self, store, edges, top=5):  # pragma: no cover - not used by the harness
        return []

    def save(self, path) -> None:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def load(cls, path):  # pragma: no cover
        raise NotImplementedError


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return office_dataset(tmp_path_factory.mktemp("ev") / "d", days=3, plant=PLANT)


def test_evaluate_is_leak_free_and_reports_baseline(data: Path) -> None:
    store = GraphStore(data)
    made: list[PairFrequency] = []

    def factory() -> PairFrequency:
        made.append(PairFrequency())
        return made[-1]

    result = evaluate(factory, store)
    det = made[0]
    split = store_split(store)
    assert split.cut == 100  # first labelled event
    assert det.fit_windows == split.fit_windows
    assert max(det.fit_windows) < min(split.threshold_windows)
    assert max(split.threshold_windows) < split.cut <= min(split.test_windows)
    assert det.score_windows == split.threshold_windows + split.test_windows
    m = result.model
    assert m.positives == 2
    assert m.edges == store.edges(start=split.cut).height
    assert m.days == pytest.approx(len(range(split.cut, store.windows[-1] + 1)) / 48)
    # The unknown-auth baseline flags exactly the never-seen pair W3 -> W9.
    base = result.baseline["unknown_auth"]
    assert base.tpr == 0.5 and base.fpr == 0.0 and base.precision == 1.0
    out = result.as_dict()
    for key in ("auc", "ap", "tpr", "fpr", "precision", "threshold", "fp_per_day_at_recall_0_5"):
        assert key in out
    assert set(out["baseline"]["unknown_auth"]) >= {"auc", "ap", "tpr", "fpr"}
    assert "pairfreq" in format_table(result)
    # the test edges behind the metrics, for curves: same labels, the baseline beside
    scores = result.scores
    assert scores is not None and scores.height == m.edges
    assert int(scores["label"].sum()) == m.positives
    assert scores.filter(pl.col("unknown_auth") == 1.0).select(
        "src_host", "dst_host"
    ).unique().rows() == [("W3", "W9")]
    from models.metrics import compute

    again = compute(scores["label"].to_numpy(), scores["score"].to_numpy(), m.threshold, m.days)
    assert again == m


def test_threshold_ignores_test_windows(tmp_path: Path) -> None:
    """Changing only the test windows leaves the training and the threshold unchanged."""
    a = GraphStore(office_dataset(tmp_path / "a", days=3, plant=PLANT))
    extra = PLANT + [(w * WS + 7, "W2", "W5") for w in range(101, 140)]
    b = GraphStore(office_dataset(tmp_path / "b", days=3, plant=extra))
    ra, rb = evaluate(PairFrequency, a), evaluate(PairFrequency, b)
    assert ra.model.threshold == rb.model.threshold
    assert ra.split.fit_windows == rb.split.fit_windows
    assert ra.model.positives != rb.model.positives


def test_evaluate_refuses_leaky_or_unlabelled(tmp_path: Path, data: Path) -> None:
    store = GraphStore(data)
    det = PairFrequency()
    det.fit(store, store.windows)  # trained on the test span
    with pytest.raises(EvaluationError, match="reaches the threshold"):
        evaluate(det, store)
    plain = GraphStore(office_dataset(tmp_path / "plain", days=2))
    with pytest.raises(EvaluationError, match="no red-team labels"):
        evaluate(PairFrequency, plain)
    with pytest.raises(EvaluationError, match="no labelled edges"):
        evaluate(PairFrequency, plain, train_until=86_400)


def test_argus_protocol_limits_test_span(data: Path) -> None:
    store = GraphStore(data)
    result = evaluate(PairFrequency, store, protocol="argus", train_until=50 * WS)
    assert result.split.test_windows[0] == 50
    assert result.split.test_windows[-1] < 50 + ARGUS_TEST_DAYS * 48
