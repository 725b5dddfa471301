"""The alert store on SQLite and PostgreSQL: migrations, idempotent upserts, campaigns."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import polars as pl
import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session

from detections.alerts import build_alerts
from detections.store import StoreError, migrate, open_engine, relink_campaigns, upsert_alerts
from detections.store.tables import Alert, AlertHistory, AlertRuleHit, AlertScore, Campaign

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def make_engine(kind: str, tmp_path) -> Iterator[Engine]:
    """A migrated engine on a fresh SQLite file or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    schema = f"hw_test_{uuid.uuid4().hex[:12]}"
    admin = open_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = open_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[Engine]:
    """The same tests on both databases."""
    yield from make_engine(request.param, tmp_path)


def sample_alerts(shift: float = 0.0):
    """Four scored edges in two windows (one below threshold) and one rule hit."""
    scores = pl.DataFrame(
        {
            "window": [1, 1, 2, 2],
            "src_host": ["ws1", "ws2", "ws2", "srv3"],
            "dst_host": ["ws2", "srv3", "srv3", "dc1"],
            "score": [0.95 + shift, 0.2, 0.99, 0.97],
        }
    )
    hits = [
        {
            "rule_id": "psexec_service",
            "title": "PsExec service installed",
            "severity": "high",
            "attack": ["T1021.002", "T1569.002"],
            "time": 1850,
            "host": "srv3",
            "user": "alice@corp",
        }
    ]
    return build_alerts(
        scores={"xgb": scores}, thresholds={"xgb": 0.9}, window_seconds=1800, rule_hits=hits
    )


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_migrate_is_idempotent_and_creates_tables(engine):
    migrate(engine)
    names = set(inspect(engine).get_table_names())
    assert {"alerts", "campaigns", "api_keys", "jobs", "summaries", "alembic_version"} <= names


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_upsert_twice_creates_no_duplicates(engine):
    with Session(engine) as session, session.begin():
        first = upsert_alerts(session, sample_alerts())
    with Session(engine) as session, session.begin():
        second = upsert_alerts(session, sample_alerts(shift=0.01))
    assert first == second
    assert len(first) == 4  # 3 hot edges + the rule-only edge into srv3 in window 1
    with Session(engine) as session:
        assert count(session, Alert) == 4
        assert count(session, AlertScore) == 5  # 4 xgb scores + 1 rules score
        assert count(session, AlertRuleHit) == 1
        a = session.get(Alert, first["1|ws1|ws2"])
        assert a.score == pytest.approx(0.96)  # re-score updated the detection fields


def test_rescore_keeps_triage_fields(engine):
    with Session(engine) as session, session.begin():
        ids = upsert_alerts(session, sample_alerts())
        a = session.get(Alert, ids["2|ws2|srv3"])
        a.status, a.verdict, a.note = "closed", "false_positive", "backup job"
        a.history.append(AlertHistory(actor="t", changes={"status": {"old": "new"}}))
    with Session(engine) as session, session.begin():
        upsert_alerts(session, sample_alerts(shift=0.02))
    with Session(engine) as session:
        a = session.get(Alert, ids["2|ws2|srv3"])
        assert (a.status, a.verdict, a.note) == ("closed", "false_positive", "backup job")
        assert len(a.history) == 1


def test_rule_hit_lands_on_the_scored_edge(engine):
    with Session(engine) as session, session.begin():
        ids = upsert_alerts(session, sample_alerts())
    with Session(engine) as session:
        a = session.get(Alert, ids["1|ws2|srv3"])
        assert a.user == "alice@corp"
        assert a.scores == {"xgb": 0.2, "rules": 1.0}
        assert a.techniques == ["T1021.002", "T1569.002"]
        assert [h.rule_id for h in a.rule_hits] == ["psexec_service"]
        assert a.severity == "high"  # the model score is below threshold: no bump


def test_campaigns_link_the_host_chain_in_order(engine):
    with Session(engine) as session, session.begin():
        ids = upsert_alerts(session, sample_alerts())
        keys = relink_campaigns(session, span_seconds=3600)
    with Session(engine) as session, session.begin():
        again = relink_campaigns(session, span_seconds=3600)
    assert keys == again and len(keys) == 1
    with Session(engine) as session:
        (campaign,) = session.scalars(select(Campaign)).all()
        assert campaign.hosts == ["ws1", "ws2", "srv3", "dc1"]
        assert [h["alert_id"] for h in campaign.hops] == [
            ids["1|ws1|ws2"],
            ids["1|ws2|srv3"],
            ids["2|ws2|srv3"],
            ids["2|srv3|dc1"],
        ]
        linked = session.scalars(select(Alert.campaign_id)).all()
        assert set(linked) == {campaign.id}


def test_relink_with_short_span_dissolves_campaign(engine):
    with Session(engine) as session, session.begin():
        upsert_alerts(session, sample_alerts())
        relink_campaigns(session, span_seconds=3600)
    with Session(engine) as session, session.begin():
        relink_campaigns(session, span_seconds=0)
    with Session(engine) as session:
        assert count(session, Campaign) <= 1
        assert session.scalar(select(func.count()).where(Alert.campaign_id.is_(None))) >= 2


def test_unknown_database_url_is_refused():
    with pytest.raises(StoreError, match="mysql"):
        open_engine("mysql://root@localhost/x")
