"""`Slots`: the only values a summary's entity slots may take, read from the facts.

Hosts (full and short names), the user (full and short), IP addresses, times
(``10:05``, the date, ``UTC``), the score, counts (hops, hosts, and the numbers
hopwatch's own texts state), ATT&CK ids and their names, tool names the techniques
support (``PsExec`` for ``T1569.002``) and rule ids. Log-derived evidence contributes
nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from models.llm.facts import AlertFacts
from models.llm.verify import Support
from models.llm.verify.lexicon import TECHNIQUE_NAMES, TOOL_NAMES, id_supported
from models.llm.verify.support import utc_naive

_MAX_SLOT = 120
#: Characters a slot value may hold (anything else is dropped from the slots; the
#: verifier still judges the text).
_SLOT_CHARS = re.compile(r"^[\w .,:;@$&/\\()'+-]{1,120}$")


def _clean(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        v = " ".join(str(v).split())
        if v and len(v) <= _MAX_SLOT and _SLOT_CHARS.match(v) and v not in out:
            out.append(v)
    return out


@dataclass
class Slots:
    """Slot values by kind (each list in a stable order, no duplicates)."""

    hosts: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, facts: AlertFacts, support: Support | None = None) -> Slots:
        """The slots of ``facts``."""
        s = support or Support.of(facts)
        hosts: list[str] = []
        for h in s.path:
            hosts.append(h)
            short = h.split(".", 1)[0]
            if short != h and not re.fullmatch(r"[\d.]+", h):
                hosts.append(short)
        users = [facts.user]
        for sep in ("@", "\\"):
            if sep in facts.user:
                users.append(facts.user.split(sep)[0] if sep == "@" else facts.user.split(sep)[-1])
        first, last = utc_naive(facts.first_seen), utc_naive(facts.last_seen)
        times = []
        for t in (first, last):
            times += [t.strftime("%H:%M"), t.strftime("%Y-%m-%d")]
        times += [f"{first:%B} {first.day}, {first.year}", "UTC"]
        numbers = [f"{facts.score:.2f}", f"{round(facts.score * 100)}%"]
        numbers += [str(int(n)) if n == int(n) else f"{n:g}" for n in sorted(s.numbers)]
        techniques = [t.strip().upper() for t in facts.techniques]
        names = [TECHNIQUE_NAMES[t] for t in techniques if t in TECHNIQUE_NAMES]
        names += [n for n, ids in TOOL_NAMES.items() if id_supported(ids, s.techniques)]
        names += [r.id for r in facts.rules]
        names.append(facts.detector.upper() if facts.detector in ("gnn", "xgb") else "")
        return cls(
            hosts=_clean(hosts),
            users=_clean(users),
            ips=[],  # the source host names the machine; a 135M model swaps IPs for hosts
            times=_clean(times),
            numbers=_clean(numbers),
            techniques=_clean(techniques),
            names=_clean(names),
        )

    def all(self) -> list[str]:
        """Every slot value, less those that continue another value after a space.

        The grammar's lexer is greedy: with both ``Scheduled Task`` and ``Scheduled
        Task/Job`` as values, ``Scheduled Task and`` could not be written (the longer
        value would swallow the space). The shorter value is kept.
        """
        seen: list[str] = []
        for group in (
            self.hosts,
            self.users,
            self.ips,
            self.times,
            self.numbers,
            self.techniques,
            self.names,
        ):
            seen += [v for v in group if v not in seen]
        return [v for v in seen if not any(v.startswith(o + " ") for o in seen if o != v)]
