"""Alert-level metrics on hand-built alerts, campaigns and truth."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from detections.alerting.quality import (
    alert_quality,
    campaigns_from_labels,
    campaigns_from_truth,
    edge_alert_scores,
    recall_fp,
)
from detections.alerts import AlertRecord
from detections.campaigns import link_campaigns


def alert(w, src, dst, sev="low", score=0.9, occ=(), user="u@D", suppressed=False, facts=()):
    return AlertRecord(
        key=f"{w}|{src}|{dst}",
        window=w,
        time=w * 1800,
        last_time=max([w, *occ]) * 1800 + 60,
        src_host=src,
        dst_host=dst,
        user=user,
        users=[user],
        scores={"gnn": score},
        severity=sev,
        suppressed=suppressed,
        occurrences=[w, *occ],
        explanation=[{"feature": f} for f in facts],
    )


@pytest.fixture
def case():
    # Red team: campaign A hops F->S1 (w10), S1->S2 (w11) and revisits F->S1 (w40);
    # campaign B hops G->S5 (w20). Alerts: A's first hop (its alert also covers the revisit),
    # A's second, three false alerts (one high, two linked into a false campaign), and a
    # suppressed one on B's hop (not counted: B is missed).
    positives = {(10, "F", "S1"), (11, "S1", "S2"), (40, "F", "S1"), (20, "G", "S5")}
    truth_campaigns = [{(10, "F", "S1"), (11, "S1", "S2"), (40, "F", "S1")}, {(20, "G", "S5")}]
    alerts = [
        alert(10, "F", "S1", "critical", occ=(40,), user="x@D"),
        alert(11, "S1", "S2", "high", user="y@D"),
        alert(30, "W1", "S7", "high", user="bob@D"),
        alert(50, "W2", "S8", "low", user="eve@D", facts=("account_new_to_source",)),
        alert(51, "W2", "S9", "medium", user="eve2@D", facts=("account_new_to_source",)),
        alert(20, "G", "S5", "critical", suppressed=True),
    ]
    return alerts, positives, truth_campaigns


def test_precision_by_severity_campaigns_and_queue_size(case):
    alerts, positives, truth = case
    campaigns = link_campaigns(alerts, span_seconds=8 * 3600)
    assert [c.alert_keys for c in campaigns] == [
        ["10|F|S1", "11|S1|S2"],
        ["50|W2|S8", "51|W2|S9"],
    ]
    q = alert_quality(
        alerts, campaigns, positives=positives, true_campaigns=truth, days=2.0, hosts=500
    )
    assert q["alerts"] == 5 and q["true_alerts"] == 2
    assert q["alerts_per_day_per_1000_hosts"] == pytest.approx(5 / 2.0 / 0.5)
    sev = q["precision_by_severity"]
    assert sev["critical"] == {"alerts": 1, "true": 1, "precision": 1.0}
    assert sev["high"] == {"alerts": 2, "true": 1, "precision": 0.5}
    assert sev["high+critical"]["precision"] == pytest.approx(2 / 3)
    assert sev["low"]["precision"] == 0.0 and sev["medium"]["precision"] == 0.0
    assert q["campaign_recall"] == 0.5  # B's only hop is suppressed: not found
    assert q["campaign_precision"] == 0.5
    assert q["false_campaigns_per_day_per_1000_hosts"] == pytest.approx(1 / 2.0 / 0.5)
    assert (q["suppressed"], q["suppressed_true"]) == (1, 1)


def test_no_alert_of_a_severity_has_no_precision(case):
    alerts, positives, truth = case
    q = alert_quality(alerts[:1], [], positives=positives, true_campaigns=truth, days=1, hosts=1)
    assert q["precision_by_severity"]["low"] == {"alerts": 0, "true": 0, "precision": None}
    assert q["campaign_precision"] is None and q["campaign_recall"] == 0.5


def test_true_campaigns_from_truth_and_from_labels():
    truth = {
        "time_origin": {"offset_seconds": 3600},
        "campaigns": [
            {"hops": [{"time": 0, "src_host": "F", "dst_host": "S1"}]},
            {"hops": [{"time": 7200, "src_host": "G", "dst_host": "S5"}]},
        ],
    }
    assert campaigns_from_truth(truth, 1800) == [{(2, "F", "S1")}, {(6, "G", "S5")}]
    labelled = pl.DataFrame(
        {
            "window": [1, 2, 3, 9],
            "src_host": ["F", "S1", "F", "G"],
            "dst_host": ["S1", "S2", "S3", "S5"],
            "user": ["a", "b", "c", "d"],
        }
    )
    got = sorted(campaigns_from_labels(labelled), key=len)
    assert got == [{(9, "G", "S5")}, {(1, "F", "S1"), (2, "S1", "S2"), (3, "F", "S3")}]


def test_queue_ranking_puts_alerted_edges_first_by_severity_then_score():
    edges = pl.DataFrame(
        {
            "window": [1, 1, 2, 2],
            "src_host": ["a", "b", "c", "d"],
            "dst_host": ["x", "y", "z", "w"],
        }
    )
    scores = {"gnn": edges.with_columns(pl.Series("score", [0.2, 0.999, 0.95, 0.5]))}
    alerts = [alert(1, "a", "x", "high", score=0.6), alert(2, "c", "z", "low", score=0.95)]
    s = edge_alert_scores(edges, scores, {"gnn": 0.9}, alerts)
    assert list(np.argsort(-s)) == [0, 2, 1, 3]  # high alert, low alert, then by detector
    assert s[0] >= 10 and s[2] >= 10 and s[1] < 10
    y = np.array([True, False, True, False])
    assert recall_fp(y, s, days=2.0) == {
        "fp_per_day_at_recall_0_5": 0.0,
        "fp_per_day_at_recall_0_8": 0.0,
    }
