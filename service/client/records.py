"""What the client returns: typed records for one object, Polars frames for lists.

Times are timezone-aware UTC datetimes (the API sends UTC seconds); the field names are
the API's (docs/service.md), so a record reads like the JSON it came from. The frame
schemas are fixed, so an empty result still has its columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import polars as pl

UTC_TIME = pl.Datetime("us", "UTC")

#: Columns of :func:`alerts_frame` (plus one ``score_<detector>`` column per detector seen).
ALERT_SCHEMA = pl.Schema(
    {
        "id": pl.Int64(),
        "time": UTC_TIME,
        "last_time": UTC_TIME,
        "window": pl.Int64(),
        "src_host": pl.String(),
        "dst_host": pl.String(),
        "user": pl.String(),
        "score": pl.Float64(),
        "detector": pl.String(),
        "severity": pl.String(),
        "status": pl.String(),
        "verdict": pl.String(),
        "campaign_id": pl.Int64(),
        "techniques": pl.List(pl.String()),
        "suppressed": pl.Boolean(),
        "suppressed_reason": pl.String(),
        "priority": pl.Float64(),
    }
)
#: Columns of :func:`campaigns_frame`.
CAMPAIGN_SCHEMA = pl.Schema(
    {
        "id": pl.Int64(),
        "first_time": UTC_TIME,
        "last_time": UTC_TIME,
        "severity": pl.String(),
        "max_score": pl.Float64(),
        "alert_count": pl.Int64(),
        "users": pl.List(pl.String()),
        "hosts": pl.List(pl.String()),
        "techniques": pl.List(pl.String()),
        "priority": pl.Float64(),
    }
)
#: Columns of a campaign's hop path, in hop order.
HOP_SCHEMA = pl.Schema(
    {
        "hop": pl.Int64(),
        "time": UTC_TIME,
        "src_host": pl.String(),
        "dst_host": pl.String(),
        "user": pl.String(),
        "alert_id": pl.Int64(),
    }
)
#: Columns of an alert's explanation (facts of the logs with their share of the score;
#: ``value`` as text, ``group``: what the fact is about).
EXPLANATION_SCHEMA = pl.Schema(
    {
        "feature": pl.String(),
        "value": pl.String(),
        "contribution": pl.Float64(),
        "text": pl.String(),
        "group": pl.String(),
    }
)
#: Columns of an alert's rule hits.
RULE_HIT_SCHEMA = pl.Schema(
    {
        "rule_id": pl.String(),
        "title": pl.String(),
        "severity": pl.String(),
        "attack": pl.List(pl.String()),
        "time": UTC_TIME,
        "host": pl.String(),
        "user": pl.String(),
        "source": pl.String(),
    }
)
#: Columns of an alert's triage history (``changes`` as JSON text).
HISTORY_SCHEMA = pl.Schema({"at": UTC_TIME, "actor": pl.String(), "changes": pl.String()})

_SECONDS = ("time", "last_time", "first_time")


def utc(seconds: int) -> datetime:
    """UTC seconds as an aware datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def _iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _frame(rows: list[dict[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    """Rows (API JSON, times in UTC seconds) as a frame of ``schema``."""
    raw = {
        name: (pl.Int64() if name in _SECONDS and dtype == UTC_TIME else dtype)
        for name, dtype in schema.items()
    }
    frame = pl.DataFrame(
        [{k: r.get(k) for k in raw} for r in rows], schema=pl.Schema(raw), orient="row"
    )
    return frame.with_columns(
        pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC").cast(UTC_TIME)
        for c in _SECONDS
        if schema.get(c) == UTC_TIME
    )


def alerts_frame(items: list[dict[str, Any]]) -> pl.DataFrame:
    """Listed alerts as a frame of :data:`ALERT_SCHEMA` plus ``score_<detector>`` columns
    (null where that detector did not score the edge), detectors in name order."""
    frame = _frame(items, ALERT_SCHEMA)
    detectors = sorted({d for item in items for d in item.get("scores", {})})
    return frame.with_columns(
        pl.Series(f"score_{d}", [item.get("scores", {}).get(d) for item in items], pl.Float64())
        for d in detectors
    )


def campaigns_frame(items: list[dict[str, Any]]) -> pl.DataFrame:
    """Listed campaigns as a frame of :data:`CAMPAIGN_SCHEMA`."""
    return _frame(items, CAMPAIGN_SCHEMA)


def hops_frame(hops: list[dict[str, Any]]) -> pl.DataFrame:
    """A campaign's hops (in the API's order, numbered from 1) as :data:`HOP_SCHEMA`."""
    return _frame([{**h, "hop": i} for i, h in enumerate(hops, 1)], HOP_SCHEMA)


@dataclass(frozen=True, eq=False)
class Alert:
    """An alert as listed (``GET /alerts``): one host-to-host pair, from its first window on
    while it is open (``suppressed``: a known-benign class, with the reason)."""

    id: int
    time: datetime
    last_time: datetime
    window: int
    src_host: str
    dst_host: str
    user: str
    score: float
    detector: str
    scores: dict[str, float]
    techniques: list[str]
    severity: str
    status: str
    verdict: str | None
    campaign_id: int | None
    suppressed: bool = False
    suppressed_reason: str | None = None
    priority: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """From the API's JSON object."""
        return cls(**_alert_fields(data))


def _alert_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(data["id"]),
        "time": utc(data["time"]),
        "last_time": utc(data["last_time"]),
        "window": int(data["window"]),
        "src_host": data["src_host"],
        "dst_host": data["dst_host"],
        "user": data["user"],
        "score": float(data["score"]),
        "detector": data["detector"],
        "scores": {k: float(v) for k, v in data["scores"].items()},
        "techniques": list(data["techniques"]),
        "severity": data["severity"],
        "status": data["status"],
        "verdict": data.get("verdict"),
        "campaign_id": data.get("campaign_id"),
        "suppressed": bool(data.get("suppressed", False)),
        "suppressed_reason": data.get("suppressed_reason"),
        "priority": float(data.get("priority", 0.0)),
    }


@dataclass(frozen=True)
class CampaignRef:
    """The campaign an alert belongs to."""

    id: int
    hosts: list[str]
    alert_count: int
    severity: str


@dataclass(frozen=True, eq=False)
class AlertDetail(Alert):
    """One alert with everything about it (``GET /alerts/{id}``).

    Attributes:
        users: every account seen on the edge in the window.
        explanation: top contributions behind the score (:data:`EXPLANATION_SCHEMA`).
        evidence: log-derived strings (command lines, share paths); attacker-controlled.
        src_ips: source addresses seen.
        note: the analyst's note.
        rule_hits: rules that fired (:data:`RULE_HIT_SCHEMA`).
        history: triage changes, oldest first (:data:`HISTORY_SCHEMA`).
        campaign: the campaign it belongs to, if any.
    """

    users: list[str] = field(default_factory=list)
    explanation: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=EXPLANATION_SCHEMA)
    )
    evidence: list[str] = field(default_factory=list)
    src_ips: list[str] = field(default_factory=list)
    note: str | None = None
    rule_hits: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RULE_HIT_SCHEMA))
    history: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=HISTORY_SCHEMA))
    campaign: CampaignRef | None = None
    occurrences: list[int] | None = None
    stage_score: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertDetail:
        """From the API's JSON object."""
        explanation = pl.DataFrame(
            [
                {
                    "feature": str(e.get("feature", "")),
                    "value": None if e.get("value") is None else str(e["value"]),
                    "contribution": float(e.get("contribution", 0.0)),
                    "text": str(e.get("text", "")),
                    "group": None if e.get("group") is None else str(e["group"]),
                }
                for e in data.get("explanation", [])
            ],
            schema=EXPLANATION_SCHEMA,
            orient="row",
        )
        history = pl.DataFrame(
            [
                {"at": _iso(h["at"]), "actor": h["actor"], "changes": json.dumps(h["changes"])}
                for h in data.get("history", [])
            ],
            schema=HISTORY_SCHEMA,
            orient="row",
        )
        ref = data.get("campaign")
        return cls(
            **_alert_fields(data),
            users=list(data.get("users", [])),
            explanation=explanation,
            evidence=list(data.get("evidence", [])),
            src_ips=list(data.get("src_ips", [])),
            note=data.get("note"),
            rule_hits=_frame(data.get("rule_hits", []), RULE_HIT_SCHEMA),
            history=history,
            campaign=CampaignRef(**ref) if ref else None,
            occurrences=data.get("occurrences"),
            stage_score=float(data.get("stage_score", 0.0)),
        )


@dataclass(frozen=True, eq=False)
class Campaign:
    """A campaign as listed (``GET /campaigns``): alerts linked into a hop path."""

    id: int
    first_time: datetime
    last_time: datetime
    users: list[str]
    hosts: list[str]
    alert_count: int
    max_score: float
    severity: str
    techniques: list[str]
    priority: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Campaign:
        """From the API's JSON object."""
        return cls(**_campaign_fields(data))


def _campaign_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(data["id"]),
        "first_time": utc(data["first_time"]),
        "last_time": utc(data["last_time"]),
        "users": list(data["users"]),
        "hosts": list(data["hosts"]),
        "alert_count": int(data["alert_count"]),
        "max_score": float(data["max_score"]),
        "severity": data["severity"],
        "techniques": list(data["techniques"]),
        "priority": float(data.get("priority", 0.0)),
    }


@dataclass(frozen=True, eq=False)
class CampaignDetail(Campaign):
    """One campaign (``GET /campaigns/{id}``): its hop path (:data:`HOP_SCHEMA`) and its
    alerts (as :func:`alerts_frame`)."""

    hops: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=HOP_SCHEMA))
    alerts: pl.DataFrame = field(default_factory=lambda: alerts_frame([]))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CampaignDetail:
        """From the API's JSON object."""
        return cls(
            **_campaign_fields(data),
            hops=hops_frame(data.get("hops", [])),
            alerts=alerts_frame(data.get("alerts", [])),
        )


@dataclass(frozen=True)
class Summary:
    """An alert's summary (``GET|POST /alerts/{id}/summary``).

    ``source`` is ``llm``, or ``template`` when the model's text was not grounded.
    """

    alert_id: int
    text: str
    source: str
    grounded: bool
    model: str
    quantization: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        """From the API's JSON object."""
        values = {f.name: data[f.name] for f in fields(cls)}
        return cls(**{**values, "created_at": _iso(data["created_at"])})


@dataclass(frozen=True)
class EventsAccepted:
    """The answer to ``POST /events``: counts, rejection reasons and the ingest job."""

    accepted: int
    rejected: int
    reasons: dict[str, int]
    job_id: int | None
