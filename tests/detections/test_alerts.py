"""Alert building: thresholds, rule hits, users, severity, facts for the summarizer."""

from __future__ import annotations

import polars as pl
import pytest

from detections.alerts import (
    RuleHitRecord,
    alert_key,
    alert_severity,
    build_alerts,
    edge_users,
)
from models.llm.facts import facts_from_alert


def scores(*rows):
    return pl.DataFrame(rows, schema=["window", "src_host", "dst_host", "score"], orient="row")


def events(*rows):
    cols = ["time", "src_user", "src_host", "dst_host", "src_ip"]
    return pl.DataFrame(rows, schema=cols, orient="row")


def test_only_edges_at_or_above_threshold_become_alerts():
    out = build_alerts(
        scores={"xgb": scores((3, "a", "b", 0.9), (3, "a", "c", 0.89))},
        thresholds={"xgb": 0.9},
        window_seconds=60,
    )
    assert [a.key for a in out] == [alert_key(3, "a", "b")]
    assert out[0].detector == "xgb" and out[0].score == 0.9
    assert (out[0].time, out[0].last_time) == (180, 239)  # window bounds without an edge table


def test_both_detectors_scores_are_kept_and_agreement_raises_severity():
    out = build_alerts(
        scores={
            "xgb": scores((1, "a", "b", 0.95)),
            "gnn": scores((1, "a", "b", 0.92), (1, "x", "y", 0.1)),
        },
        thresholds={"xgb": 0.9, "gnn": 0.9},
        window_seconds=60,
    )
    (a,) = out
    assert a.scores == {"xgb": 0.95, "gnn": 0.92}
    assert a.severity == "high"  # medium (0.95) bumped because two models agree


def test_missing_threshold_is_named():
    with pytest.raises(KeyError, match="gnn"):
        build_alerts(scores={"gnn": scores()}, thresholds={}, window_seconds=60)


def test_edge_times_users_and_ips_come_from_edges_and_events():
    edges = pl.DataFrame(
        {
            "window": [0],
            "src_host": ["a"],
            "dst_host": ["b"],
            "first_time": [5],
            "last_time": [50],
        }
    )
    ev = events(
        (5, "A$@corp", "a", "b", None),
        (6, "bob@corp", "a", "b", "10.0.0.5"),
        (7, "A$@corp", "a", "b", None),
    )
    (a,) = build_alerts(
        scores={"xgb": scores((0, "a", "b", 0.99))},
        thresholds={"xgb": 0.5},
        window_seconds=60,
        edges=edges,
        users=edge_users(ev, 60),
        explanations={(0, "a", "b"): [{"feature": "pair_new", "value": 1, "contribution": 2.5}]},
    )
    assert (a.time, a.last_time) == (5, 50)
    assert a.user == "bob@corp"  # a person is preferred over the busier machine account
    assert a.users == ["A$@corp", "bob@corp"]
    assert a.src_ips == ["10.0.0.5"]
    assert a.explanation[0]["feature"] == "pair_new"


def test_rule_hit_without_model_score_is_its_own_alert():
    (a,) = build_alerts(
        scores={},
        thresholds={},
        window_seconds=100,
        rule_hits=[
            {
                "rule_id": "r",
                "title": "T",
                "severity": "critical",
                "attack": "T1021",
                "time": 250,
                "src_host": "h1",
                "dst_host": "h2",
                "user": "u@d",
                "evidence": "cmd.exe /c whoami",
            }
        ],
    )
    assert a.key == "2|h1|h2" and a.detector == "rules" and a.severity == "critical"
    assert a.techniques == ["T1021"] and a.evidence == ["cmd.exe /c whoami"]


def test_bad_rule_hit_names_the_field():
    with pytest.raises(ValueError, match="time"):
        RuleHitRecord.from_obj({"rule_id": "r", "time": "noon"})


def test_severity_ladder():
    assert alert_severity({"xgb": 0.91}, []) == "medium"
    assert alert_severity({"xgb": 0.995}, []) == "high"
    hit = RuleHitRecord.from_obj({"rule_id": "r", "time": 1, "severity": "high"})
    assert alert_severity({"xgb": 0.995, "rules": 1.0}, [hit]) == "critical"


def test_facts_are_valid_and_follow_the_campaign_path():
    (a,) = build_alerts(
        scores={"xgb": scores((0, "a", "b", 0.99))},
        thresholds={"xgb": 0.5},
        window_seconds=60,
        rule_hits=[{"rule_id": "r1", "title": "Remote service", "time": 3, "host": "b"}],
    )
    facts = facts_from_alert(a, alert_id=7, hop_path=["a", "b", "c"])
    assert facts.alert_id == "7"
    assert facts.dst_hosts == ["b", "c"]
    assert [r.id for r in facts.rules] == ["r1"]
    assert facts.first_seen.year == 1970 and 0 <= facts.score <= 1
