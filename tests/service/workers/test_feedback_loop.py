"""The verdict feedback loop through the score worker's path: a false-positive verdict
suppresses the pair's next alert with the verdict as the reason; a true-positive one
keeps the pair hot and its repeat joins the alert."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detections.store import open_engine, session_factory
from detections.store.tables import Alert
from ingest.graphs import GraphStore
from models.xgb import XGBDetector
from service.queries import alerts as alert_service
from service.workers.tasks import JobContext, score_window, store_alerts
from tests.models.gnn.builders import office_dataset

WS = 1800
PAIR = ("W3", "S2")
VISITS = (130, 134)
ON_PAIR = (Alert.src_host == PAIR[0], Alert.dst_host == PAIR[1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    store = GraphStore(office_dataset(root / "data", plant=[(w * WS + 100, *PAIR) for w in VISITS]))
    model = XGBDetector(device="cpu", n_estimators=40, seed=1, nthread=2)
    model.fit(store, [w for w in store.windows if w < 120])
    model.save(root / "xgb.model")
    return store.path, root / "xgb.model"


@pytest.mark.parametrize("verdict", ["false_positive", "true_positive"])
def test_a_verdict_changes_the_next_alert_on_the_pair(trained, tmp_path, verdict):
    from detections.store import migrate

    data, model = trained
    engine = open_engine(f"sqlite:///{tmp_path / 'loop.db'}")
    migrate(engine)
    ctx = JobContext(
        sessions=session_factory(engine),
        data_dir=data,
        thresholds={"xgb": 0.5},
        model_paths={"xgb": model},
        rules_dir="",
    )

    def run(window: int) -> None:
        alerts = score_window(ctx, data, window)
        with ctx.sessions() as session, session.begin():
            store_alerts(session, ctx, alerts, since=None)

    run(VISITS[0])
    with Session(engine) as session, session.begin():
        (first,) = session.scalars(select(Alert).where(*ON_PAIR)).all()
        assert not first.suppressed
        first_id = first.id
        alert_service.update_alert(session=session, alert_id=first_id, actor="t", verdict=verdict)
    run(VISITS[1])
    with Session(engine) as session:
        rows = session.scalars(select(Alert).where(*ON_PAIR)).all()
    if verdict == "false_positive":
        later = next(r for r in rows if r.id != first_id)
        assert later.suppressed and later.suppressed_reason == (
            f"analyst verdict false_positive on alert #{first_id} (W3 -> S2)"
        )
    else:
        (only,) = rows
        assert sorted(only.occurrences) == list(VISITS) and not only.suppressed
        assert only.verdict == "true_positive"
    engine.dispose()
