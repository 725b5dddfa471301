"""Alerts: rule hits and model scores above threshold, one alert per edge.

Pure transforms only (frames and records in, records out); writing them is
``detections.store``'s job. An alert is keyed by ``window|src_host|dst_host``
so building the same window twice yields the same keys and the store upserts
instead of duplicating.

    users = edge_users(events)                       # who authenticated on each edge
    alerts = build_alerts(scores={"xgb": xgb_scores}, thresholds={"xgb": 0.9},
                          window_seconds=1800, edges=edge_table, users=users,
                          explanations=expl, rule_hits=hits)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

SEVERITIES = ("low", "medium", "high", "critical")
RULES_DETECTOR = "rules"
UNKNOWN_HOST = "unknown"
MAX_EVIDENCE = 20


def severity_rank(severity: str) -> int:
    """0 for ``low`` ... 3 for ``critical``; unknown spellings count as ``low``."""
    try:
        return SEVERITIES.index(str(severity).lower())
    except ValueError:
        return 0


def alert_key(window: int, src_host: str, dst_host: str) -> str:
    """The idempotency key of the alert on one edge of one window."""
    return f"{int(window)}|{src_host}|{dst_host}"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


@dataclass(frozen=True)
class RuleHitRecord:
    """A rule hit, as the rule engine reports it, normalised.

    ``host`` is the host the rule fired on (the destination of a logon, the
    machine a service was installed on); ``src_host`` / ``dst_host`` are filled
    when the hit's event names both ends.
    """

    rule_id: str
    title: str
    severity: str
    attack: tuple[str, ...]
    time: int
    host: str = ""
    user: str = ""
    source: str = ""
    src_host: str = ""
    dst_host: str = ""
    evidence: str = ""

    @classmethod
    def from_obj(cls, obj: Any) -> RuleHitRecord:
        """Build from a dict or an object with the same attribute names.

        Raises:
            ValueError: a required field (rule_id, time) is missing or not an integer time.
        """
        rule_id = _get(obj, "rule_id")
        if not rule_id:
            raise ValueError(f"rule hit without rule_id: {obj!r}")
        try:
            time = int(_get(obj, "time"))
        except (TypeError, ValueError):
            raise ValueError(f"rule hit {rule_id}: field 'time' must be integer seconds") from None
        attack = _get(obj, "attack", ()) or ()
        if isinstance(attack, str):
            attack = (attack,)
        return cls(
            rule_id=str(rule_id),
            title=str(_get(obj, "title", rule_id) or rule_id),
            severity=str(_get(obj, "severity", "medium") or "medium").lower(),
            attack=tuple(str(a) for a in attack),
            time=time,
            host=str(_get(obj, "host", "") or ""),
            user=str(_get(obj, "user", "") or ""),
            source=str(_get(obj, "source", "") or ""),
            src_host=str(_get(obj, "src_host", "") or ""),
            dst_host=str(_get(obj, "dst_host", "") or ""),
            evidence=str(_get(obj, "evidence", "") or ""),
        )


@dataclass
class AlertRecord:
    """An alert before it is stored (``detections.store.upsert_alerts`` writes it)."""

    key: str
    window: int
    time: int
    last_time: int
    src_host: str
    dst_host: str
    user: str
    users: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    explanation: list[dict[str, Any]] = field(default_factory=list)
    rule_hits: list[RuleHitRecord] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    src_ips: list[str] = field(default_factory=list)
    severity: str = "low"
    suppressed: bool = False
    suppressed_reason: str = ""
    occurrences: list[int] = field(default_factory=list)
    stage_score: float = 0.0

    @property
    def priority(self) -> float:
        """Sort key of the triage queue: severity rank, then score (``rank + 0.999 * score``)."""
        return severity_rank(self.severity) + 0.999 * min(max(self.score, 0.0), 1.0)

    @property
    def score(self) -> float:
        """The highest score over detectors (1.0 for a rule-only alert)."""
        return max(self.scores.values(), default=0.0)

    @property
    def detector(self) -> str:
        """The detector behind :attr:`score` (model detectors win ties over rules)."""
        if not self.scores:
            return RULES_DETECTOR
        best = max(self.scores.values())
        names = sorted(n for n, s in self.scores.items() if s == best)
        models = [n for n in names if n != RULES_DETECTOR]
        return (models or names)[0]


def edge_users(events: pl.DataFrame | pl.LazyFrame, window_seconds: int) -> pl.DataFrame:
    """Who authenticated on each edge: ``window, src_host, dst_host, user, n, src_ip``.

    Pure. ``user`` is ``src_user``; rows are sorted most frequent first per edge.
    """
    lf = events.lazy()
    names = lf.collect_schema().names()
    ip = pl.col("src_ip") if "src_ip" in names else pl.lit(None, dtype=pl.String)
    window = pl.col("window") if "window" in names else pl.col("time") // window_seconds
    return (
        lf.select(
            window.cast(pl.Int64).alias("window"),
            "src_host",
            "dst_host",
            pl.col("src_user").alias("user"),
            ip.alias("src_ip"),
        )
        .group_by("window", "src_host", "dst_host", "user")
        .agg(pl.len().alias("n"), pl.col("src_ip").drop_nulls().first())
        .sort(
            ["window", "src_host", "dst_host", "n", "user"],
            descending=[False, False, False, True, False],
        )
        .collect()
    )


def _pick_user(users: list[str]) -> str:
    """The most telling account: a person before a machine account (``HOST$``)."""
    people = [u for u in users if u and not u.split("@")[0].endswith("$")]
    return (people or users or [""])[0]


def model_severity(score: float) -> str:
    """Severity of a model score above its threshold."""
    if score >= 0.99:
        return "high"
    if score >= 0.9:
        return "medium"
    return "low"


def alert_severity(scores: Mapping[str, float], rule_hits: Sequence[RuleHitRecord]) -> str:
    """Combine: the worst of rule and model severity, one level up when evidence agrees.

    Evidence agrees when a rule and a model both fire, or two models do.
    """
    models = {n: s for n, s in scores.items() if n != RULES_DETECTOR}
    rank = max((severity_rank(h.severity) for h in rule_hits), default=0)
    if models:
        rank = max(rank, severity_rank(model_severity(max(models.values()))))
    if (rule_hits and models) or len(models) >= 2:
        rank += 1
    return SEVERITIES[min(rank, len(SEVERITIES) - 1)]


def _explanation_rows(items: Iterable[Any]) -> list[dict[str, Any]]:
    rows = []
    for c in items:
        value = _get(c, "value")
        rows.append(
            {
                "feature": str(_get(c, "feature", "")),
                "value": value
                if isinstance(value, int | float | str) or value is None
                else str(value),
                "contribution": float(_get(c, "contribution", 0.0)),
                "text": str(_get(c, "text", "") or ""),
            }
        )
    return rows


def build_alerts(
    *,
    scores: Mapping[str, pl.DataFrame],
    thresholds: Mapping[str, float],
    window_seconds: int,
    edges: pl.DataFrame | None = None,
    users: pl.DataFrame | None = None,
    explanations: Mapping[tuple[int, str, str], Sequence[Any]] | None = None,
    rule_hits: Iterable[Any] = (),
) -> list[AlertRecord]:
    """Turn detector scores and rule hits into alerts, one per (window, src, dst) edge.

    Args:
        scores: detector name -> frame with ``window, src_host, dst_host, score``.
        thresholds: detector name -> alert threshold; an edge becomes an alert when
            any detector's score is at or above its threshold, or a rule hit lands on it.
        window_seconds: window size, to place rule hits in windows.
        edges: the edge table (``first_time``/``last_time`` give the alert's times).
        users: :func:`edge_users` output, to name the account on each edge.
        explanations: (window, src_host, dst_host) -> contributions (``feature``,
            ``value``, ``contribution``, ``text``), e.g. SHAP of the XGBoost score.
        rule_hits: rule-engine hits (dicts or objects; see :class:`RuleHitRecord`).

    Returns:
        Alerts sorted by (time, key).

    Raises:
        KeyError: a detector in ``scores`` has no threshold (the message names it).
    """
    records: dict[tuple[int, str, str], AlertRecord] = {}
    all_scores: dict[tuple[int, str, str], dict[str, float]] = {}
    for name, frame in scores.items():
        if name not in thresholds:
            raise KeyError(f"no threshold for detector {name!r}")
        for w, s, d, sc in frame.select("window", "src_host", "dst_host", "score").iter_rows():
            all_scores.setdefault((int(w), s, d), {})[name] = float(sc)
    hot = {k for k, per in all_scores.items() if any(v >= thresholds[n] for n, v in per.items())}

    edge_times: dict[tuple[int, str, str], tuple[int, int]] = {}
    if edges is not None and edges.height:
        cols = ["window", "src_host", "dst_host", "first_time", "last_time"]
        for w, s, d, ft, lt in edges.select(cols).iter_rows():
            edge_times[(int(w), s, d)] = (int(ft), int(lt))

    hits = [RuleHitRecord.from_obj(h) for h in rule_hits]
    hit_keys: dict[tuple[int, str, str], list[RuleHitRecord]] = {}
    for h in hits:
        w = h.time // window_seconds
        dst = h.dst_host or h.host or UNKNOWN_HOST
        src = h.src_host or _edge_into(edge_times, all_scores, w, dst) or UNKNOWN_HOST
        hit_keys.setdefault((w, src, dst), []).append(h)

    edge_user_rows: dict[tuple[int, str, str], list[tuple[str, str | None]]] = {}
    if users is not None and users.height:
        for w, s, d, u, ip in users.select(
            "window", "src_host", "dst_host", "user", "src_ip"
        ).iter_rows():
            edge_user_rows.setdefault((int(w), s, d), []).append((u or "", ip))

    for k in sorted(hot | set(hit_keys)):
        w, s, d = k
        per = dict(all_scores.get(k, {}))
        khits = sorted(hit_keys.get(k, []), key=lambda h: (h.time, h.rule_id))
        if khits:
            per[RULES_DETECTOR] = 1.0
        default_times = (
            (min(h.time for h in khits), max(h.time for h in khits))
            if khits
            else (w * window_seconds, (w + 1) * window_seconds - 1)
        )
        t0, t1 = edge_times.get(k, default_times)
        user_rows = edge_user_rows.get(k, [])
        names = [u for u, _ in user_rows] or [h.user for h in khits if h.user]
        names = list(dict.fromkeys(names))
        ips = list(dict.fromkeys(ip for _, ip in user_rows if ip))
        techniques = sorted({t for h in khits for t in h.attack})
        evidence = list(dict.fromkeys(h.evidence for h in khits if h.evidence))[:MAX_EVIDENCE]
        expl = _explanation_rows((explanations or {}).get(k, ()))
        records[k] = AlertRecord(
            key=alert_key(w, s, d),
            window=w,
            time=t0,
            last_time=max(t1, t0),
            src_host=s,
            dst_host=d,
            user=_pick_user(names),
            users=names[:50],
            scores=per,
            explanation=expl,
            rule_hits=khits,
            techniques=techniques,
            evidence=evidence,
            src_ips=ips[:50],
            severity=alert_severity(
                {n: v for n, v in per.items() if n == RULES_DETECTOR or v >= thresholds[n]}, khits
            ),
        )
    return sorted(records.values(), key=lambda a: (a.time, a.key))


def _edge_into(
    edge_times: Mapping[tuple[int, str, str], tuple[int, int]],
    scores: Mapping[tuple[int, str, str], Any],
    window: int,
    dst: str,
) -> str | None:
    """The source of the (first, by name) edge into ``dst`` in ``window``, if any."""
    sources = sorted(
        {s for (w, s, d) in list(edge_times) + list(scores) if w == window and d == dst}
    )
    return sources[0] if sources else None
