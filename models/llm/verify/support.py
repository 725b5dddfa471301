"""`Support`: what one alert's facts allow a summary to claim, computed once per alert.

The structured fields (user, hosts, IPs, times, score, techniques) license names,
times and numbers. Every other text field of :class:`AlertFacts` -- rule ids and titles,
explanation features and their analyst words, whatever fields hopwatch adds later --
is text hopwatch wrote itself and licenses the words and numbers it contains. The
``evidence`` field does not: it is copied from logs, so an attacker can write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from models.llm.facts import AlertFacts
from models.llm.verify.lexicon import (
    DEFAULT_NEXT_STEP,
    NEXT_STEPS,
    TECHNIQUE_NAMES,
)
from models.llm.verify.names import IPV4, host_forms, shape, user_forms

#: Fields copied from logs (attacker-controlled): they never license a claim.
UNTRUSTED_FIELDS = frozenset({"evidence"})
#: Structured fields handled on their own (names, times, score).
STRUCTURED_FIELDS = frozenset(
    {"user", "src_host", "dst_hosts", "src_ips", "first_seen", "last_seen", "score", "alert_id"}
)
#: Nouns a count can be about, by stem.
COUNT_NOUNS: dict[str, str] = {
    **dict.fromkeys(
        [
            "host",
            "machine",
            "system",
            "server",
            "computer",
            "endpoint",
            "device",
            "workstation",
            "destination",
            "target",
            "box",
            "node",
        ],
        "host",
    ),
    **dict.fromkeys(["hop", "step", "move", "jump", "pivot"], "hop"),
    **dict.fromkeys(
        ["logon", "login", "log-on", "sign-in", "signin", "authentication", "auth"], "logon"
    ),
    **dict.fromkeys(["event", "record", "entry", "alert"], "event"),
    **dict.fromkeys(["attempt", "try"], "attempt"),
    **dict.fromkeys(["connection", "session"], "connection"),
    **dict.fromkeys(["rule"], "rule"),
    **dict.fromkeys(["technique", "tactic"], "technique"),
    **dict.fromkeys(["user", "account"], "user"),
    **dict.fromkeys(["address", "ip"], "ip"),
    **dict.fromkeys(["file", "binary", "executable", "payload"], "file"),
    **dict.fromkeys(["gb", "mb", "kb", "tb", "byte", "bytes", "gigabyte", "megabyte"], "bytes"),
    **dict.fromkeys(["credential", "password", "hash", "ticket"], "credential"),
    **dict.fromkeys(["process", "command"], "process"),
}


def noun_stem(word: str) -> str | None:
    """The count-noun class of ``word`` (``logons`` -> ``logon``), or None."""
    w = word.lower().strip(".,;:()'\"")
    for cand in (w, w[:-1] if w.endswith("s") else w, w[:-2] if w.endswith("es") else w):
        if cand in COUNT_NOUNS:
            return COUNT_NOUNS[cand]
    return None


def utc_naive(value: datetime) -> datetime:
    """``value`` in UTC without tzinfo (naive values are taken as UTC)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def clock(value: datetime) -> str:
    """``HH:MM UTC``."""
    return utc_naive(value).strftime("%H:%M UTC")


def next_steps(facts: AlertFacts, limit: int = 2) -> list[str]:
    """What to check next, from the alert's techniques (hopwatch's own words)."""
    dst = facts.dst_hosts[0]
    fill = {
        "dst": dst,
        "src": facts.src_host,
        "user": facts.user,
        "time": clock(facts.first_seen),
    }
    ids = {t.strip().upper() for t in facts.techniques}
    ids |= {t.split(".")[0] for t in ids}
    steps: list[str] = []
    for key, template in NEXT_STEPS.items():  # the table's order is the priority
        if key in ids:
            step = template.format(**fill)
            if step not in steps:
                steps.append(step)
    if not steps:
        steps.append(DEFAULT_NEXT_STEP.format(**fill))
    return steps[:limit]


def _texts(value: Any) -> list[str]:
    """Every string (and number, as text) inside a dumped field value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [format(value, "g")]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _texts(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _texts(v)]
    return [str(value)]


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]*\d)")


@dataclass
class Support:
    """What the facts of one alert support.

    Attributes:
        path: hosts in hop order (source first).
        hosts: lower-case spellings of every path host.
        users: lower-case spellings of the user.
        ips: lower-case IP addresses (source IPs and hosts written as IPs).
        techniques: upper-case ATT&CK ids (sub-techniques' parents included).
        trusted: lower-case text hopwatch wrote (rules, explanation, next steps, ...).
        trusted_tokens: its words.
        numbers: numbers it states, and the alert's own counts.
        pairs: (number, noun class) pairs it states ("9 new hosts" -> (9, "host")).
        host_shapes, user_shapes: naming patterns learned from the alert's names.
    """

    facts: AlertFacts
    path: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    techniques: set[str] = field(default_factory=set)
    trusted: str = ""
    trusted_tokens: set[str] = field(default_factory=set)
    numbers: set[float] = field(default_factory=set)
    pairs: set[tuple[float, str]] = field(default_factory=set)
    host_shapes: list[re.Pattern[str]] = field(default_factory=list)
    user_shapes: list[re.Pattern[str]] = field(default_factory=list)
    first: datetime = datetime(1970, 1, 1)
    last: datetime = datetime(1970, 1, 1)

    @classmethod
    def of(cls, facts: AlertFacts) -> Support:
        """Compute the support of ``facts``."""
        s = cls(facts=facts)
        s.path = list(dict.fromkeys([facts.src_host, *facts.dst_hosts]))
        s.hosts = {f for h in s.path for f in host_forms(h)}
        s.users = user_forms(facts.user)
        s.ips = {ip.strip().lower() for ip in facts.src_ips}
        s.ips |= {h for h in s.hosts if IPV4.fullmatch(h)}
        s.techniques = {t.strip().upper() for t in facts.techniques}
        s.techniques |= {t.split(".")[0] for t in s.techniques}
        texts: list[str] = []
        for name, value in facts.model_dump().items():
            if name in UNTRUSTED_FIELDS or name in STRUCTURED_FIELDS:
                continue
            texts += _texts(value)
        texts += [TECHNIQUE_NAMES[t] for t in s.techniques if t in TECHNIQUE_NAMES]
        texts += next_steps(facts, limit=10)
        s.trusted = " \n ".join(texts).lower()
        s.trusted_tokens = set(re.findall(r"[\w.$&-]+", s.trusted))
        s.trusted_tokens |= {t.strip(".-") for t in s.trusted_tokens}
        for t in texts:
            for m in _NUMBER.finditer(t):
                s.numbers.add(float(m.group(0)))
                after = t[m.end() : m.end() + 40].split()
                for word in after[:3]:
                    stem = noun_stem(word)
                    if stem:
                        s.pairs.add((float(m.group(0)), stem))
                        break
        n_dst = len(s.path) - 1
        counts = {
            "host": {n_dst, len(s.path)},
            "hop": {n_dst},
            "rule": {len(facts.rules)},
            "technique": {len(facts.techniques)},
            "user": {1},
            "ip": {len(facts.src_ips)},
        }
        for stem, values in counts.items():
            s.pairs |= {(float(v), stem) for v in values if v}
        s.numbers |= {float(n_dst), float(len(s.path))}
        s.host_shapes = [p for h in s.path if (p := shape(h)) is not None]
        s.user_shapes = [p for p in [shape(facts.user)] if p is not None]
        first, last = utc_naive(facts.first_seen), utc_naive(facts.last_seen)
        s.first, s.last = min(first, last), max(first, last)
        return s

    def known_name(self, token: str) -> bool:
        """``token`` is one of the alert's names or a word of hopwatch's own text."""
        t = token.lower().strip(".,;:'\"`()[]").rstrip("$")
        if t.endswith("'s"):
            t = t[:-2]
        return (
            not t
            or t in self.hosts
            or t in self.users
            or t in self.ips
            or (t in self.trusted_tokens)
        )

    def in_trusted(self, phrase: str) -> bool:
        """``phrase`` (whole words) occurs in hopwatch's own text."""
        p = re.escape(phrase.lower().strip())
        return bool(re.search(rf"(?<![\w-]){p}(?![\w-])", self.trusted))
