"""Campaign candidates of the alerting stage: signals, the detectors' evidence, and how
linked signals add up.

A :class:`Signal` is one flagged edge with its facts and score; linked signals (a shared
account away from its owner's desk, a chain of hosts, one foothold with several stolen
accounts) form a candidate whose score is :func:`candidate_score`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detections.alerting.context import is_anonymous, is_machine
from detections.alerting.facts import Fact
from detections.alerts import RuleHitRecord


@dataclass
class Signal:
    """One edge that some detector or rule flagged, as the stage sees it."""

    id: int
    window: int
    time: int
    last_time: int
    src: str
    dst: str
    accounts: list[str]
    scores: dict[str, float]
    hits: list[RuleHitRecord]
    facts: list[Fact]
    evidence: float
    score: float
    stolen: bool
    present: bool = False
    key: str = ""
    candidate_score: float = 0.0
    emitted: bool = False

    @property
    def people(self) -> list[str]:
        return [a for a in self.accounts if not is_machine(a) and not is_anonymous(a)]


def detector_evidence(scores: Mapping[str, float], thresholds: Mapping[str, float]) -> float:
    """Points from the detectors: per detector at or above its threshold, 1 plus the
    decades its anomaly odds exceed the threshold's (at most 2 more); the strongest
    counts whole, a second detector agreeing half."""
    per = []
    for name, s in scores.items():
        t = thresholds.get(name)
        if t is None or s < t:
            continue
        odds = (1.0 - t) / max(1.0 - s, 1e-9)
        per.append(1.0 + min(max(math.log10(odds), 0.0), 2.0))
    per.sort(reverse=True)
    return per[0] + 0.5 * sum(per[1:]) if per else 0.0


class Links:
    """Union-find over signal ids."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        self.parent.setdefault(i, i)
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def candidate_score(members: Sequence[Signal]) -> float:
    """The strongest member whole, the next four at half (each capped at 6), and one point
    per host on the path beyond two (at most three)."""
    scores = sorted((m.score for m in members), reverse=True)
    hosts = {h for m in members for h in (m.src, m.dst)}
    rest = sum(min(max(s, 0.0), 6.0) for s in scores[1:5])
    return scores[0] + 0.5 * rest + min(max(len(hosts) - 2, 0), 3)
