"""The store side of the feedback loop: repeats merged into the open alert, verdicts and
closes read back as the quarantine and the verdict patterns the next windows respect."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detections.alerting import AlertingStage
from detections.alerts import AlertRecord
from detections.store import relink_campaigns, upsert_alerts
from detections.store.feedback import load_feedback
from detections.store.tables import Alert
from service.queries import alerts as alert_service
from tests.detections.store.test_store import make_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    yield from make_engine(request.param, tmp_path)


def record(window, src, dst, user, *, occ=None, score=0.99, stage=8.0, suppressed=False):
    return AlertRecord(
        key=f"{occ[0] if occ else window}|{src}|{dst}",
        window=window,
        time=window * 1800,
        last_time=window * 1800 + 60,
        src_host=src,
        dst_host=dst,
        user=user,
        users=[user],
        scores={"gnn": score},
        severity="high",
        occurrences=[window],
        stage_score=stage,
        suppressed=suppressed,
        suppressed_reason="local activity" if suppressed else "",
        explanation=[{"feature": "account_new_to_source", "contribution": 3.0, "text": "t"}],
    )


def test_a_repeat_merges_into_the_open_alert(engine):
    with Session(engine) as session, session.begin():
        ids = upsert_alerts(session, [record(10, "F", "S1", "eve@D")])
    later = record(14, "F", "S1", "bob@D", occ=[10], score=0.95, stage=6.0)
    with Session(engine) as session, session.begin():
        again = upsert_alerts(session, [later])
        upsert_alerts(session, [later])  # idempotent
    assert again == ids
    with Session(engine) as session:
        row = session.scalars(select(Alert)).one()
        assert sorted(row.occurrences) == [10, 14] and row.window == 10
        assert (row.time, row.last_time) == (10 * 1800, 14 * 1800 + 60)
        assert row.users == ["eve@D", "bob@D"] and row.scores == {"gnn": 0.99}
        assert row.stage_score == 8.0 and row.severity == "high"
        assert row.priority == pytest.approx(2 + 0.999 * 0.99)


def test_verdicts_and_closes_come_back_as_quarantine_and_patterns(engine):
    alerts = [
        record(10, "F", "S1", "eve@D"),  # stays open
        record(11, "W", "S2", "bob@D"),  # false positive
        record(12, "X", "S3", "amy@D"),  # true positive, then closed
        record(13, "Y", "S4", "cat@D"),  # closed, no verdict
        record(13, "Y", "Y", "cat@D", suppressed=True),
    ]
    with Session(engine) as session, session.begin():
        ids = upsert_alerts(session, alerts)
        relink_campaigns(session, span_seconds=8 * 3600)
        for key, change in (
            ("11|W|S2", {"verdict": "false_positive"}),
            ("12|X|S3", {"verdict": "true_positive", "status": "closed"}),
            ("13|Y|S4", {"status": "closed"}),
        ):
            alert_service.update_alert(session=session, alert_id=ids[key], actor="t", **change)
    with Session(engine) as session:
        fb = load_feedback(session)
    q = fb.quarantine
    assert q.is_held(("F", "S1"), 500)
    assert q.is_held(("W", "S2"), 11) and not q.is_held(("W", "S2"), 12)
    assert q.is_held(("X", "S3"), 500)  # confirmed: closed, still hot
    assert q.is_held(("Y", "S4"), 13) and not q.is_held(("Y", "S4"), 14)
    assert not q.is_held(("Y", "Y"), 13)  # suppressed: never held
    assert set(fb.open_pairs) == {("F", "S1")}  # not closed, not judged benign
    assert fb.verdicts.match("W", "S2", ["bob@D"]).reason == (
        f"analyst verdict false_positive on alert #{ids['11|W|S2']} (W -> S2)"
    )
    assert fb.verdicts.match("W", "S9", ["bob@D"]) is not None  # bob from W
    assert fb.verdicts.match("F", "S1", ["eve@D"]) is None
    # The stage takes the open alert back: a repeat of F -> S1 joins it.
    stage = AlertingStage(thresholds={"gnn": 0.5}, quarantine=q, verdicts=fb.verdicts)
    stage.remember(fb.recent)
    assert stage.open_pairs == {("F", "S1"): "10|F|S1"}
