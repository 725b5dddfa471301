"""`AlertFacts`: everything a summary may say about an alert, and nothing more.

This module is the summarizer's contract: :class:`AlertFacts` in,
:class:`SummaryResult` out. The summarizer builds its prompt and its grammar from these
facts only, and the verifier (:mod:`models.llm.verify`) accepts a summary only when
every claim it makes is supported here. :func:`facts_from_alert` is the adapter that
fills it from an alert (a stored row or a built record of :mod:`detections.alerts`, read
by field name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

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


class SummaryResult(BaseModel):
    """One alert summary.

    Attributes:
        text: the summary (3 to 6 sentences: what happened, why it was flagged, what
            to check next, how sure hopwatch is).
        source: ``"llm"`` when the model's text passed the verifier, ``"template"``
            when the deterministic fallback was used (after two rejected answers).
        grounded: the verifier found no unsupported claim in ``text``.
        violations: the verifier's findings on ``text`` (empty when grounded).
        model: model name (or ``"template"``).
        quantization: weight quantization in use (``none``, ``int8``, ``int4``, or the
            remote server's name for the OpenAI engine).
        latency_ms: wall time from submission to result, queueing included.
        prompt_tokens, completion_tokens: summed over all LLM attempts.
        attempts: LLM generations tried (0, 1 or 2).
        rejected: why earlier attempts were rejected (format problems and violations;
            may quote model text: for logs).
    """

    model_config = ConfigDict(extra="forbid")

    text: str
    source: Literal["llm", "template"]
    grounded: bool
    violations: list[dict[str, str]] = Field(default_factory=list)
    model: str
    quantization: str
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    rejected: list[str] = Field(default_factory=list)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def facts_from_alert(
    alert: Any, *, alert_id: str | int, hop_path: Sequence[str] = ()
) -> AlertFacts:
    """The :class:`AlertFacts` of a stored or built alert (any object with alert fields).

    ``rule_hits`` items need ``rule_id`` and ``title``; ``hop_path`` (hosts in
    order, from the alert's campaign) extends ``dst_hosts`` beyond the alert's own
    destination.
    """
    dst_hosts = [_get(alert, "dst_host")]
    for host in hop_path:
        if host not in dst_hosts and host != _get(alert, "src_host"):
            dst_hosts.append(host)
    rules: dict[str, RuleRef] = {}
    for h in _get(alert, "rule_hits", []) or []:
        rid = str(_get(h, "rule_id"))
        rules.setdefault(rid, RuleRef(id=rid[:200], title=str(_get(h, "title", rid))[:500]))
    score = float(_get(alert, "score"))
    return AlertFacts(
        alert_id=str(alert_id),
        user=str(_get(alert, "user") or "")[:500],
        src_host=str(_get(alert, "src_host"))[:500],
        dst_hosts=[str(h)[:500] for h in dst_hosts[:100]],
        first_seen=_utc(_get(alert, "time")),
        last_seen=_utc(_get(alert, "last_time")),
        score=min(max(score, 0.0), 1.0),
        detector=str(_get(alert, "detector"))[:50],
        explanation=[
            FeatureContribution(
                feature=str(c["feature"])[:200],
                value=c.get("value"),
                contribution=float(c["contribution"]),
                text=str(c.get("text", ""))[:500],
            )
            for c in (_get(alert, "explanation", []) or [])[:50]
        ],
        rules=list(rules.values())[:50],
        techniques=[str(t) for t in (_get(alert, "techniques", []) or [])][:50],
        evidence=[str(e) for e in (_get(alert, "evidence", []) or [])][:50],
        src_ips=[str(ip) for ip in (_get(alert, "src_ips", []) or [])][:50],
    )
