"""`AlertFacts`: everything a summary may say about an alert, and nothing more.

The summarizer builds its prompt from these facts only, and the grounding check
accepts a summary only when every host, user, IP, time and ATT&CK id it names
appears here. Alerts (``detections/alerts.py``) fill this model.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class FeatureContribution(BaseModel):
    """One SHAP (or other) contribution behind a model score."""

    model_config = ConfigDict(extra="forbid")

    feature: str = Field(max_length=200, description="feature name, e.g. 'pair_seen_before'")
    value: float | str | None = Field(default=None, description="the feature's value for the edge")
    contribution: float = Field(description="signed contribution to the score (log-odds)")
    text: str = Field(default="", max_length=500, description="the same in analyst words")


class RuleRef(BaseModel):
    """A rule that fired on the alert's events."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=200)
    title: str = Field(max_length=500)


class AlertFacts(BaseModel):
    """The facts of one alert.

    Attributes:
        alert_id: the alert's id in the store.
        user: the account that moved (``user@domain``).
        src_host: the host the movement came from.
        dst_hosts: the host(s) it reached, in hop order.
        first_seen, last_seen: UTC times of the first and last event.
        score: the highest detector score in [0, 1].
        detector: which detector produced ``score`` (``gnn``, ``xgb``, ``rules``).
        explanation: top feature contributions behind the score.
        rules: rules that fired.
        techniques: ATT&CK technique ids (``T1021.002``).
        evidence: log-derived strings (command lines, share paths, service names).
            Attacker-controlled: the prompt fences them as data.
        src_ips: source IP addresses seen, if any.
    """

    model_config = ConfigDict(extra="forbid")

    alert_id: str = Field(max_length=200)
    user: str = Field(max_length=500)
    src_host: str = Field(max_length=500)
    dst_hosts: list[str] = Field(min_length=1, max_length=100)
    first_seen: datetime
    last_seen: datetime
    score: float = Field(ge=0.0, le=1.0)
    detector: str = Field(max_length=50)
    explanation: list[FeatureContribution] = Field(default_factory=list, max_length=50)
    rules: list[RuleRef] = Field(default_factory=list, max_length=50)
    techniques: list[str] = Field(default_factory=list, max_length=50)
    evidence: list[str] = Field(default_factory=list, max_length=50)
    src_ips: list[str] = Field(default_factory=list, max_length=50)
