"""`Verifier`: every claim of a summary checked against one alert's facts.

``Verifier(facts).verify(text)`` returns a :class:`Verification`: ``grounded`` is true
only when no claim is unsupported. Claim kinds, in the order they are read (each
read claim is blanked, so a date's year is not read again as a count):

1. format -- markup, chat tokens, links;
2. the alert's own hosts and user (kept aside for the structure checks);
3. ids -- ATT&CK technique ids, IPv4 addresses; ``user@domain``/``DOMAIN\\user``;
4. times -- dates, clock times, durations, IPv6, relative words (``yesterday``), day
   parts and weekdays;
5. words -- verdict (``benign``, ``no action is needed``), tool and technique names
   mapped to ATT&CK ids (``Mimikatz`` needs ``T1003*``), actions (``exfiltrated``),
   what a host or account is (``domain controller``, ``administrator``);
6. scores -- decimals, percentages and confidence words against the score;
7. names -- anything else that looks like a name in this enterprise's naming;
8. counts -- integers and spelled numbers with the noun they count;
9. structure -- roles, direction and hop order of the alert's own names.

Unsupported means rejected: the verifier is the summarizer's second line behind
constrained generation, and ``hopwatch summarize --verify`` runs it on any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from models.llm.facts import AlertFacts
from models.llm.verify.claims import (
    check_accounts,
    check_counts,
    check_ids,
    check_names,
    check_scores,
    check_times,
    check_words,
)
from models.llm.verify.names import find_mentions
from models.llm.verify.scan import Scan, Violation
from models.llm.verify.structure import check_structure
from models.llm.verify.support import Support

FORMAT = re.compile(r"<\|?/?[A-Za-z_-]+\|?>|```|\[/?INST\]|https?://\S*|www\.\S+", re.I)


@dataclass
class Verification:
    """The verifier's answer.

    Attributes:
        grounded: no unsupported claim.
        violations: the unsupported claims, in text order.
    """

    grounded: bool
    violations: list[Violation] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """``{"grounded": bool, "violations": [{"span", "kind", "reason"}]}``."""
        return {"grounded": self.grounded, "violations": [v.to_dict() for v in self.violations]}

    @property
    def kinds(self) -> list[str]:
        """The violated claim kinds, sorted, each once (fixed words: safe to show a model)."""
        return sorted({v.kind for v in self.violations})


class Verifier:
    """Check texts against one alert's facts (build one per alert).

    Args:
        facts: the alert's facts.
    """

    def __init__(self, facts: AlertFacts) -> None:
        self.facts = facts
        self.support = Support.of(facts)

    def verify(self, text: str) -> Verification:
        """Every claim in ``text`` that the facts do not support."""
        scan = Scan(text)
        for m in scan.take(FORMAT):
            scan.report(m.start(), m.end(), "format", "markup, chat tokens or links")
        mentions = find_mentions(text, self.support.path, self.facts.user, self.facts.src_ips)
        for m in mentions:
            scan.blank(m.start, m.end)
        s = self.support
        check_ids(scan, s)
        check_accounts(scan, s)
        check_times(scan, s)
        check_words(scan, s)
        check_scores(scan, s)
        check_names(scan, s)
        check_counts(scan, s)
        check_structure(scan, mentions, s)
        violations = sorted(scan.violations, key=lambda v: v.start)
        return Verification(grounded=not violations, violations=violations)


def verify(facts: AlertFacts, text: str) -> Verification:
    """``Verifier(facts).verify(text)``."""
    return Verifier(facts).verify(text)
