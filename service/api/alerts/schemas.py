"""Request and response schemas of the alert routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

Status = Literal["new", "triaged", "closed"]
Verdict = Literal["true_positive", "false_positive"]
Severity = Literal["low", "medium", "high", "critical"]
Sort = Literal["-time", "time", "-score", "score", "-id", "id", "-priority", "priority"]


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


Name = Annotated[str | None, Field(min_length=1, max_length=500)]


class AlertQuery(BaseModel):
    """Query parameters of ``GET /alerts`` (validated in one pass; a bad value is a 422
    naming the parameter). With ``detector``, ``min_score`` applies to that detector's
    score."""

    start: int | None = Field(None, ge=0, le=2**62, description="from (UTC s)")
    end: int | None = Field(None, ge=0, le=2**62, description="to (UTC s)")
    min_score: float | None = Field(None, ge=0.0, le=1.0)
    host: Name = Field(None, description="src_host or dst_host")
    src_host: Name = None
    dst_host: Name = None
    user: Name = None
    status: Status | None = None
    severity: Severity | None = None
    detector: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,49}$")
    rule: str | None = Field(None, min_length=1, max_length=200)
    campaign: int | None = Field(None, ge=1, le=2**62)
    suppressed: bool | None = Field(
        None, description="true: only suppressed (known-benign) alerts; false: only the others"
    )
    sort: Sort = Field("-time", description="-priority: severity, then score (the triage order)")
    limit: int = Field(50, ge=1)
    cursor: str | None = Field(None, max_length=500)


class AlertRead(BaseModel):
    """An alert as listed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    time: int = Field(description="first event, UTC seconds")
    last_time: int = Field(description="last event, UTC seconds")
    window: int
    src_host: str
    dst_host: str
    user: str
    score: float = Field(description="highest score over detectors")
    detector: str = Field(description="detector behind score: gnn, xgb or rules")
    scores: dict[str, float]
    techniques: list[str]
    severity: str
    status: str
    verdict: str | None
    campaign_id: int | None
    suppressed: bool = Field(False, description="a known-benign class (kept, not in the queue)")
    suppressed_reason: str | None = Field(None, description="why it was suppressed, in words")
    priority: float = Field(0.0, description="severity rank (0 low .. 3 critical) + 0.999 * score")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def first_seen(self) -> str:
        """``time`` as ISO 8601."""
        return _iso(self.time)


class AlertPage(BaseModel):
    """A page of alerts; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[AlertRead]
    next_cursor: str | None


class RuleHitRead(BaseModel):
    """A rule that fired on the alert."""

    model_config = ConfigDict(from_attributes=True)

    rule_id: str
    title: str
    severity: str
    attack: list[str]
    time: int
    host: str
    user: str
    source: str


class HistoryRead(BaseModel):
    """One analyst change."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    changes: dict[str, Any]


class CampaignRef(BaseModel):
    """The campaign an alert belongs to."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    hosts: list[str]
    alert_count: int
    severity: str


class AlertDetail(AlertRead):
    """Everything about one alert: facts, scores, explanation, rule hits, campaign, history."""

    users: list[str]
    explanation: list[dict[str, Any]] = Field(
        description="facts about the logs behind the alert, each with its contribution "
        "(feature, value, contribution, text, group)"
    )
    occurrences: list[int] | None = Field(None, description="windows the pair alerted in")
    stage_score: float = Field(0.0, description="the alerting stage's score (severity bands)")
    evidence: list[str]
    src_ips: list[str]
    note: str | None
    rule_hits: list[RuleHitRead]
    history: list[HistoryRead]
    campaign: CampaignRef | None


class AlertUpdate(BaseModel):
    """Triage an alert; fields left out are unchanged."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    verdict: Verdict | None = None
    note: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _something(self) -> AlertUpdate:
        if self.status is None and self.verdict is None and self.note is None:
            raise ValueError("give at least one of status, verdict, note")
        return self


class SummaryRead(BaseModel):
    """A (cached) alert summary."""

    model_config = ConfigDict(from_attributes=True)

    alert_id: int
    text: str
    source: str = Field(description="llm, or template when the model's text was not grounded")
    grounded: bool
    model: str
    quantization: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime
