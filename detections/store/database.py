"""The alert store: engine set-up, migrations, idempotent alert and campaign writes.

SQLite (WAL) is the default; PostgreSQL is chosen by URL. The schema is owned
by Alembic (``detections/store/migrations``); :func:`migrate` brings a database to
the latest revision. Write functions take a ``Session`` and never commit: the
caller owns the transaction.

    engine = open_engine("sqlite:///hopwatch.db")
    migrate(engine)
    with Session(engine) as session, session.begin():
        ids = upsert_alerts(session, alerts)          # same window twice: same rows
        relink_campaigns(session, span_seconds=7200)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from detections.alerts import AlertRecord, RuleHitRecord
from detections.campaigns import link_campaigns
from detections.store.tables import Alert, AlertRuleHit, AlertScore, Campaign, utcnow
from ingest.errors import HopwatchError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
UPSERT_CHUNK = 400

#: Alert columns a re-score may overwrite; triage fields (status, verdict, note) are kept.
_DETECTION_FIELDS = (
    "time",
    "last_time",
    "window",
    "src_host",
    "dst_host",
    "user",
    "users",
    "score",
    "detector",
    "scores",
    "explanation",
    "techniques",
    "evidence",
    "src_ips",
    "severity",
    "suppressed",
    "suppressed_reason",
    "occurrences",
    "stage_score",
    "priority",
)


class StoreError(HopwatchError, RuntimeError):
    """The database cannot be opened or migrated (the message names the URL)."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def open_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> Engine:
    """An engine for ``url``: SQLite gets WAL, a busy timeout and foreign keys.

    Raises:
        StoreError: the URL is not a SQLite or PostgreSQL URL.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith(("postgresql", "postgres")):
        if url.startswith("postgres://") or url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **kwargs
        )
    raise StoreError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Any:
    """An Alembic ``Config`` pointing at the packaged migrations and ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (idempotent).

    Raises:
        StoreError: the migration failed (the message names the database).
    """
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), revision)
    except Exception as exc:
        raise StoreError(
            f"migrating {engine.url.render_as_string(hide_password=True)} failed: {exc}"
        ) from exc


def insert_for(session: Session) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_*``) for the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise StoreError(f"unsupported dialect {name}")


def _alert_row(a: AlertRecord) -> dict[str, Any]:
    return {
        "key": a.key,
        "time": int(a.time),
        "last_time": int(a.last_time),
        "window": int(a.window),
        "src_host": a.src_host,
        "dst_host": a.dst_host,
        "user": a.user,
        "users": list(a.users),
        "score": float(a.score),
        "detector": a.detector,
        "scores": {k: float(v) for k, v in a.scores.items()},
        "explanation": list(a.explanation),
        "techniques": list(a.techniques),
        "evidence": list(a.evidence),
        "src_ips": list(a.src_ips),
        "severity": a.severity,
        "suppressed": bool(a.suppressed),
        "suppressed_reason": a.suppressed_reason or None,
        "occurrences": sorted({int(w) for w in a.occurrences}) or [int(a.window)],
        "stage_score": float(a.stage_score),
        "priority": float(a.priority),
        "status": "new",
    }


def _merged(a: AlertRecord, old: Any) -> AlertRecord:
    """``a`` merged with the stored row of the same key (a later occurrence of an open
    alert's pair): earliest first time, latest last time, every occurrence, the highest
    score of each detector, every account; the stronger occurrence's facts. Merging the
    same record twice gives the same row (idempotent)."""
    from dataclasses import replace

    from detections.alerts import SEVERITIES, severity_rank

    scores = dict(old.scores or {})
    for k, v in a.scores.items():
        scores[k] = max(float(scores.get(k, 0.0)), float(v))
    stronger = a.stage_score >= float(old.stage_score or 0.0)
    rank = max(severity_rank(a.severity), severity_rank(old.severity))
    return replace(
        a,
        time=min(int(a.time), int(old.time)),
        last_time=max(int(a.last_time), int(old.last_time)),
        window=min(int(a.window), int(old.window)),
        users=list(dict.fromkeys([*(old.users or []), *a.users]))[:50],
        scores=scores,
        occurrences=sorted({*(old.occurrences or []), *a.occurrences, int(a.window)}),
        stage_score=max(float(a.stage_score), float(old.stage_score or 0.0)),
        explanation=a.explanation if stronger else list(old.explanation or []),
        techniques=sorted({*(old.techniques or []), *a.techniques}),
        evidence=list(dict.fromkeys([*(old.evidence or []), *a.evidence]))[:20],
        src_ips=list(dict.fromkeys([*(old.src_ips or []), *a.src_ips]))[:50],
        severity=SEVERITIES[rank],
        # The stage's latest decision wins: an open alert later found routine is suppressed.
        suppressed=bool(a.suppressed),
        suppressed_reason=a.suppressed_reason if a.suppressed else "",
    )


def upsert_alerts(session: Session, alerts: Sequence[AlertRecord]) -> dict[str, int]:
    """Insert or update alerts by key; return key -> id.

    Re-running on the same alerts creates no rows. A record whose key is stored already
    (a later occurrence of an open alert's pair) is merged with the row (:func:`_merged`:
    times widened, occurrences, accounts and rule hits added, the highest scores kept);
    triage fields and campaign links are kept.
    """
    if not alerts:
        return {}
    insert = insert_for(session)
    ids: dict[str, int] = {}
    by_key = {a.key: a for a in alerts}
    stored = {}
    keys = list(by_key)
    for start in range(0, len(keys), UPSERT_CHUNK):
        part = keys[start : start + UPSERT_CHUNK]
        for row in session.execute(select(Alert).where(Alert.key.in_(part))).scalars():
            stored[row.key] = row
    for key, old in stored.items():
        merged = _merged(by_key[key], old)
        old_hits = [RuleHitRecord(h.rule_id, h.title, h.severity, tuple(h.attack or ()), h.time,
                                  h.host, h.user, h.source) for h in old.rule_hits]  # fmt: skip
        hits = {(h.time, h.rule_id): h for h in [*old_hits, *merged.rule_hits]}
        merged.rule_hits = sorted(hits.values(), key=lambda h: (h.time, h.rule_id))
        by_key[key] = merged
    records = list(by_key.values())
    for start in range(0, len(records), UPSERT_CHUNK):
        chunk = records[start : start + UPSERT_CHUNK]
        stmt = insert(Alert).values([_alert_row(a) for a in chunk])
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={**{f: stmt.excluded[f] for f in _DETECTION_FIELDS}, "updated_at": utcnow()},
        ).returning(Alert.id, Alert.key)
        for alert_id, key in session.execute(stmt).all():
            ids[key] = int(alert_id)
    id_list = list(ids.values())
    for start in range(0, len(id_list), UPSERT_CHUNK):
        part = id_list[start : start + UPSERT_CHUNK]
        session.execute(delete(AlertScore).where(AlertScore.alert_id.in_(part)))
        session.execute(delete(AlertRuleHit).where(AlertRuleHit.alert_id.in_(part)))
    score_rows = [
        {"alert_id": ids[a.key], "detector": d, "score": float(s)}
        for a in records
        for d, s in a.scores.items()
    ]
    hit_rows = [
        {
            "alert_id": ids[a.key],
            "rule_id": h.rule_id,
            "title": h.title,
            "severity": h.severity,
            "attack": list(h.attack),
            "time": h.time,
            "host": h.host,
            "user": h.user,
            "source": h.source,
        }
        for a in records
        for h in a.rule_hits
    ]
    if score_rows:
        session.execute(AlertScore.__table__.insert(), score_rows)
    if hit_rows:
        session.execute(AlertRuleHit.__table__.insert(), hit_rows)
    session.expire_all()
    return ids


def relink_campaigns(
    session: Session, *, span_seconds: int, since: int | None = None
) -> dict[str, int]:
    """Recompute campaigns over alerts from ``since - span_seconds`` on (all when None).

    Campaigns are upserted by key, alerts point at their campaign, and campaigns
    left without alerts are deleted. Returns campaign key -> id.
    """
    query = select(
        Alert.id,
        Alert.key,
        Alert.time,
        Alert.last_time,
        Alert.src_host,
        Alert.dst_host,
        Alert.user,
        Alert.score,
        Alert.severity,
        Alert.techniques,
        Alert.users,
        Alert.explanation,
    ).where(Alert.suppressed.is_(False))
    if since is not None:
        query = query.where(Alert.last_time >= since - span_seconds)
    rows = [r._asdict() for r in session.execute(query)]
    id_by_key = {r["key"]: r["id"] for r in rows}
    campaigns = link_campaigns(rows, span_seconds=span_seconds)
    insert = insert_for(session)
    out: dict[str, int] = {}
    for c in campaigns:
        values = {
            "key": c.key,
            "first_time": c.first_time,
            "last_time": c.last_time,
            "users": c.users,
            "hosts": c.hosts,
            "hops": [{**h, "alert_id": id_by_key[h["alert_key"]]} for h in c.hops],
            "alert_count": len(c.alert_keys),
            "max_score": c.max_score,
            "severity": c.severity,
            "techniques": c.techniques,
            "priority": c.priority,
        }
        stmt = insert(Campaign).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={**{k: stmt.excluded[k] for k in values if k != "key"}, "updated_at": utcnow()},
        ).returning(Campaign.id)
        cid = int(session.execute(stmt).scalar_one())
        out[c.key] = cid
        member_ids = [id_by_key[k] for k in c.alert_keys]
        for start in range(0, len(member_ids), UPSERT_CHUNK):
            part = member_ids[start : start + UPSERT_CHUNK]
            session.execute(update(Alert).where(Alert.id.in_(part)).values(campaign_id=cid))
    linked = {id_by_key[k] for c in campaigns for k in c.alert_keys}
    loose = [r["id"] for r in rows if r["id"] not in linked]
    for start in range(0, len(loose), UPSERT_CHUNK):
        part = loose[start : start + UPSERT_CHUNK]
        session.execute(
            update(Alert)
            .where(Alert.id.in_(part), Alert.campaign_id.is_not(None))
            .values(campaign_id=None)
        )
    used = select(Alert.campaign_id).where(Alert.campaign_id.is_not(None))
    session.execute(
        delete(Campaign).where(Campaign.id.not_in(used)),
        execution_options={"synchronize_session": False},
    )
    session.expire_all()
    return out
