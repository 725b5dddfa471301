"""Campaigns: alerts linked into one lateral movement, with the hop path in order.

Two alerts are linked when, within ``span_seconds`` of each other (an alert spans its
first to last occurrence),

- they share a person's account (not a machine account ``HOST$``) and neither was made
  from a host where that person is logged on (its facts say ``logged_on_at_source``): a
  credential carried around, not its owner at work;
- one continues where the other ended: the later one's ``src_host`` is the earlier
  one's ``dst_host``, unless the later one is its own user's work at that host (logged
  on there) with none of the earlier one's accounts (a chain of hosts);
- they start from the same host with accounts that never authenticated from it before
  (``account_new_to_source``): one foothold, several stolen accounts.

These are the alerting stage's rules (:mod:`detections.alerting.stage`), applied to the
stored alerts. Linking is transitive (union-find), so a campaign is a connected
component with at least ``min_alerts`` alerts. Suppressed alerts are never linked.
Pure: alert-like objects in, campaign records out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detections.alerts import SEVERITIES, severity_rank


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _facts(alert: Any) -> set[str]:
    rows = _get(alert, "explanation") or []
    return {str(_get(r, "feature", "")) for r in rows}


def _people(alert: Any) -> set[str]:
    users = list(_get(alert, "users") or []) or [_get(alert, "user") or ""]
    return {u for u in users if _person(str(u))}


@dataclass
class CampaignRecord:
    """One campaign before it is stored.

    Attributes:
        key: stable id: the key of its earliest alert.
        alert_keys: member alerts, in hop order.
        hops: ``{"src_host", "dst_host", "time", "user", "alert_key"}`` per alert, in order.
        hosts: every host on the path, in order of first appearance.
    """

    key: str
    alert_keys: list[str]
    hops: list[dict[str, Any]]
    hosts: list[str]
    users: list[str]
    first_time: int
    last_time: int
    max_score: float
    severity: str
    techniques: list[str] = field(default_factory=list)

    @property
    def priority(self) -> float:
        """Sort key of the triage page: severity rank, then the highest score."""
        return severity_rank(self.severity) + 0.999 * min(max(self.max_score, 0.0), 1.0)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _person(user: str) -> bool:
    return bool(user) and not user.split("@")[0].endswith("$")


def link_campaigns(
    alerts: Sequence[Any], *, span_seconds: int, min_alerts: int = 2
) -> list[CampaignRecord]:
    """Group alerts into campaigns.

    Args:
        alerts: objects or dicts with ``key, time, last_time, src_host, dst_host,
            user, score, severity, techniques`` (and, when present, ``users``,
            ``explanation`` rows and ``suppressed``).
        span_seconds: the longest gap between two linked alerts.
        min_alerts: smallest campaign (2: a single alert is not a campaign).

    Returns:
        Campaigns sorted by first time, each with its alerts in (time, key) order.

    Raises:
        ValueError: ``span_seconds`` is negative.
    """
    if span_seconds < 0:
        raise ValueError(f"span_seconds must be >= 0, got {span_seconds}")
    items = sorted(
        (a for a in alerts if not _get(a, "suppressed", False)),
        key=lambda a: (int(_get(a, "time")), str(_get(a, "key"))),
    )
    n = len(items)
    uf = _UnionFind(n)
    times = [int(_get(a, "time")) for a in items]
    ends = [max(int(_get(a, "last_time")), t) for a, t in zip(items, times, strict=True)]
    facts = [_facts(a) for a in items]
    people = [_people(a) for a in items]
    present = ["logged_on_at_source" in f for f in facts]
    stolen = ["account_new_to_source" in f for f in facts]
    src = [str(_get(a, "src_host")) for a in items]
    dst = [str(_get(a, "dst_host")) for a in items]

    def near(i: int, j: int) -> bool:
        return times[i] - ends[j] <= span_seconds and times[j] - ends[i] <= span_seconds

    by_user: dict[str, list[int]] = defaultdict(list)
    by_src: dict[str, list[int]] = defaultdict(list)
    arrivals: dict[str, list[int]] = defaultdict(list)
    for i in range(n):
        if not present[i]:
            for user in people[i]:
                for j in by_user[user]:
                    if near(i, j):
                        uf.union(i, j)
                by_user[user].append(i)
        for j in arrivals.get(src[i], ()):
            carried = bool(people[i] & people[j])
            if times[i] >= times[j] and near(i, j) and (not present[i] or carried):
                uf.union(i, j)
        arrivals[dst[i]].append(i)
        if stolen[i]:
            for j in by_src[src[i]]:
                if near(i, j):
                    uf.union(i, j)
            by_src[src[i]].append(i)

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[uf.find(i)].append(i)
    out = [_campaign([items[i] for i in idx]) for idx in groups.values() if len(idx) >= min_alerts]
    return sorted(out, key=lambda c: (c.first_time, c.key))


def hop_order(members: Sequence[Any]) -> list[Any]:
    """Alerts in hop order: by time; at equal times a hop into a host comes before
    the hop out of it (then by key)."""
    by_time: dict[int, list[Any]] = defaultdict(list)
    for a in members:
        by_time[int(_get(a, "time"))].append(a)
    out: list[Any] = []
    for t in sorted(by_time):
        left = sorted(by_time[t], key=lambda a: str(_get(a, "key")))
        while left:
            targets = {str(_get(b, "dst_host")) for b in left}
            ready = [
                a
                for a in left
                if str(_get(a, "src_host")) not in targets
                or all(
                    str(_get(b, "dst_host")) != str(_get(a, "src_host")) for b in left if b is not a
                )
            ]
            pick = (ready or left)[0]
            out.append(pick)
            left.remove(pick)
    return out


def _campaign(members: list[Any]) -> CampaignRecord:
    members = hop_order(members)
    hops = [
        {
            "src_host": str(_get(a, "src_host")),
            "dst_host": str(_get(a, "dst_host")),
            "time": int(_get(a, "time")),
            "user": str(_get(a, "user") or ""),
            "alert_key": str(_get(a, "key")),
        }
        for a in members
    ]
    hosts = list(dict.fromkeys(h for hop in hops for h in (hop["src_host"], hop["dst_host"])))
    users = list(dict.fromkeys(hop["user"] for hop in hops if hop["user"]))
    rank = max(severity_rank(_get(a, "severity")) for a in members)
    return CampaignRecord(
        key=hops[0]["alert_key"],
        alert_keys=[hop["alert_key"] for hop in hops],
        hops=hops,
        hosts=hosts,
        users=users,
        first_time=hops[0]["time"],
        last_time=max(max(int(_get(a, "last_time")), int(_get(a, "time"))) for a in members),
        max_score=max(float(_get(a, "score")) for a in members),
        severity=SEVERITIES[min(rank, len(SEVERITIES) - 1)],
        techniques=sorted({t for a in members for t in (_get(a, "techniques") or [])}),
    )
