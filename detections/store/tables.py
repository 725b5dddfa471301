"""SQLAlchemy 2 tables of the alert store.

Tables:
    alerts          one row per alerted (src_host, dst_host) pair while its alert is open
                    (``key`` = its first window and the pair; repeats update the row:
                    ``occurrences``, ``last_time``), so scoring a window twice updates the
                    same rows; ``suppressed`` alerts (known-benign classes) keep their
                    reason and are shown by a filter
    alert_scores    one row per (alert, detector) score, indexed for the ``detector`` filter
    alert_rule_hits rules that fired on an alert, indexed for the ``rule`` filter
    alert_history   analyst changes (status, verdict, note), oldest first
    campaigns       linked alerts: the ordered hop path of one lateral movement
    summaries       the cached LLM summary of an alert
    api_keys        hashed API keys with one scope each
    jobs            work claimed by the ingest / score / summarize workers

Times of detections (``time``, ``last_time``, ``first_time``) are integer UTC
seconds, as in the canonical event schema; bookkeeping times are timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

#: An auto-incrementing 64-bit id that SQLite also accepts as its rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current UTC time (timezone-aware)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp; SQLite's naive values are read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Attach UTC to naive values."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of every hopwatch table."""


class Campaign(Base):
    """Alerts linked by a shared user or a chain of hosts within a time span."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(600), unique=True)
    first_time: Mapped[int] = mapped_column(BigInteger, index=True)
    last_time: Mapped[int] = mapped_column(BigInteger)
    users: Mapped[list[Any]] = mapped_column(JSON, default=list)
    hosts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    hops: Mapped[list[Any]] = mapped_column(JSON, default=list)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    severity: Mapped[str] = mapped_column(String(16), default="low")
    techniques: Mapped[list[Any]] = mapped_column(JSON, default=list)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_campaigns_priority", "priority", "id"),)


class Alert(Base):
    """One detection on a (window, src_host, dst_host) edge."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_time_id", "time", "id"),
        Index("ix_alerts_score_id", "score", "id"),
        Index("ix_alerts_status_time", "status", "time"),
        Index("ix_alerts_src_host_time", "src_host", "time", "id"),
        Index("ix_alerts_dst_host_time", "dst_host", "time", "id"),
        Index("ix_alerts_src_host_score", "src_host", "score", "id"),
        Index("ix_alerts_dst_host_score", "dst_host", "score", "id"),
        Index("ix_alerts_suppressed_priority", "suppressed", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(1100), unique=True)
    time: Mapped[int] = mapped_column(BigInteger)
    last_time: Mapped[int] = mapped_column(BigInteger)
    window: Mapped[int] = mapped_column(BigInteger, index=True)
    src_host: Mapped[str] = mapped_column(String(500))
    dst_host: Mapped[str] = mapped_column(String(500))
    user: Mapped[str] = mapped_column(String(500), index=True, default="")
    users: Mapped[list[Any]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(Float)
    detector: Mapped[str] = mapped_column(String(50))
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    explanation: Mapped[list[Any]] = mapped_column(JSON, default=list)
    techniques: Mapped[list[Any]] = mapped_column(JSON, default=list)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    src_ips: Mapped[list[Any]] = mapped_column(JSON, default=list)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    suppressed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    occurrences: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    stage_score: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="new")
    verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    rule_hits: Mapped[list[AlertRuleHit]] = relationship(
        back_populates="alert", cascade="all, delete-orphan", order_by="AlertRuleHit.id"
    )
    history: Mapped[list[AlertHistory]] = relationship(
        back_populates="alert", cascade="all, delete-orphan", order_by="AlertHistory.id"
    )
    campaign: Mapped[Campaign | None] = relationship()


class AlertScore(Base):
    """One detector's score of an alert's edge."""

    __tablename__ = "alert_scores"
    __table_args__ = (Index("ix_alert_scores_detector_alert", "detector", "alert_id"),)

    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    detector: Mapped[str] = mapped_column(String(50), primary_key=True)
    score: Mapped[float] = mapped_column(Float)


class AlertRuleHit(Base):
    """A rule that fired on one of the alert's events."""

    __tablename__ = "alert_rule_hits"
    __table_args__ = (Index("ix_alert_rule_hits_rule_alert", "rule_id", "alert_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(16))
    attack: Mapped[list[Any]] = mapped_column(JSON, default=list)
    time: Mapped[int] = mapped_column(BigInteger)
    host: Mapped[str] = mapped_column(String(500), default="")
    user: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(500), default="")

    alert: Mapped[Alert] = relationship(back_populates="rule_hits")


class AlertHistory(Base):
    """One analyst change of an alert: who, when, and old -> new per field."""

    __tablename__ = "alert_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    alert: Mapped[Alert] = relationship(back_populates="history")


class Summary(Base):
    """The cached summary of an alert (one per alert; regenerating replaces it)."""

    __tablename__ = "summaries"

    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(50))
    grounded: Mapped[bool] = mapped_column(Boolean)
    model: Mapped[str] = mapped_column(String(200), default="")
    quantization: Mapped[str] = mapped_column(String(50), default="")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """An API key, stored as its SHA-256 hash; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Job(Base):
    """A unit of work for a worker: ingest a batch, score a window, summarize an alert.

    ``key`` makes enqueueing idempotent. A claimed job holds a lease
    (``locked_until``); a worker that dies leaves the lease to expire and the job
    is claimed again.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "kind", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(600), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
