"""`GroundingCheck`: accept a summary only if everything it names is in the facts.

The check extracts users, hosts, IP addresses, dates, clock times and ATT&CK ids
from the text and requires each to appear in the alert's facts; it also requires
the user, the source host and the destination hosts to be named. Host and user
names may be written in full or short form (``ws01`` for ``WS01.corp.local``,
``alice`` for ``CORP\\alice`` or ``alice@corp``). Log-derived evidence strings do
*not* license new names: only the structured fields do, plus the trusted text
that hopwatch itself wrote (rule ids and titles, feature names and texts).

Names must also sit in the right role: a host introduced as the source (``from X``,
``source host was X``) must be the alert's source host, one introduced as a destination
(``to X``, ``destination host X``) one of its destination hosts, and the token after
``user``/``account`` must be the user, not a host -- so ``moved from SRV02 to WS01``
with the two hosts swapped fails although both names are in the alert.

The extraction is deliberately suspicious: a token that merely looks like a host
(letters and digits, ``WS01``, ``C1234``, ``db-02.corp``) and is not in the facts
fails the check. A false rejection costs a template summary; a false acceptance
would put an invented machine in front of an analyst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from models.llm.facts import AlertFacts

#: Technical words with digits that are not host names.


def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in text.split())


TECH_WORDS = _words(
    "NTLMv1 NTLMv2 NTLM2 SMBv1 SMBv2 SMBv3 SMB1 SMB2 SMB3 Kerberos5 Krb5 TLS1 TLSv1 "
    "x64 x86 Win32 Win64 SHA1 SHA256 MD5 MD4 RC4 AES128 AES256 IPv4 IPv6 "
    "Windows10 Windows11 Server2016 Server2019 Server2022 UTF8 UTF-8 Base64 "
    "1st 2nd 3rd 4th 5th 24h 24x7"
)

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])")
_TECHNIQUE = re.compile(r"\bT\d{4}(?:\.\d{3})?\b")
_EMAIL_USER = re.compile(r"(?<![\w.+-])[\w.+$-]+@[\w-]+(?:\.[\w-]+)*")
_DOMAIN_USER = re.compile(r"(?<![\w\\])[\w.-]+\\{1,2}[\w.$-]+")
_ISO_DATE = re.compile(r"\b(\d{4})[-/](\d{1,2})[-/](\d{1,2})\b")
_MONTHS = sorted(
    _words("january february march april may june july august september october november december"),
    key=lambda m: "jan feb mar apr may jun jul aug sep oct nov dec".index(m[:3]),
)
_MONTH_DATE = re.compile(
    r"\b(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\.?\s+"
    r"(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([ap])\.?m\.?\b)?", re.IGNORECASE)
_MIXED = re.compile(r"(?<![\w$-])(?=[\w-]*[A-Za-z])(?=[\w-]*\d)[A-Za-z0-9][\w-]*(?:\.[\w-]+)*\$?")
_FQDN = re.compile(r"(?<![\w.-])[A-Za-z][\w-]*(?:\.[A-Za-z][\w-]*){2,}")
_UNIT = re.compile(r"^\d+(?:st|nd|rd|th|s|m|h|d|ms|min|mins|am|pm|x|k|kb|mb|gb|%)$", re.I)
_NOUN_HOST = re.compile(
    r"\b(?:host|hosts|server|servers|machine|machines|computer|computers|workstation|"
    r"workstations|endpoint|endpoints|system)\s+(?:named\s+|called\s+)?[\"'`(]?([A-Za-z0-9][\w.$-]*)",
    re.IGNORECASE,
)
_NOUN_USER = re.compile(
    r"\b(?:user|users|account|accounts|username)\s+(?:named\s+|called\s+)?[\"'`(]?([\w.@\\$-]+)",
    re.IGNORECASE,
)
_ROLE_TOKEN = r"\s+[\"'`(]?([A-Za-z0-9][\w.$-]*)"
_FROM_HOST = re.compile(
    r"\b(?:from|source(?:\s+hosts?)?(?:\s*:|\s+(?:was|is))?|originat(?:ed|ing|es)\s+(?:from|at|on))"
    + _ROLE_TOKEN,
    re.IGNORECASE,
)
_TO_HOST = re.compile(
    r"\b(?:to|into|onto|(?:destination|target)s?(?:\s+hosts?)?(?:\s*:|\s+(?:was|were|is|are))?)"
    + _ROLE_TOKEN,
    re.IGNORECASE,
)
_STOPWORDS = _words(
    "a an the and or at to from that which who was were is are with via using in on of for "
    "by as it its this these those has had have logged authenticated moved connected "
    "accessed account accounts host hosts named called not no"
)
_FILE_EXT = re.compile(
    r"\.(?:exe|dll|ps1|bat|cmd|vbs|js|sys|txt|log|msi|zip|dat|tmp|xml|json)$", re.IGNORECASE
)


@dataclass
class GroundingReport:
    """The outcome of a check.

    Attributes:
        ok: every named entity is in the facts and the required names are present.
        problems: human-readable problems, naming the offending text (for logs).
        codes: the same problems as fixed codes (safe to feed back to the model).
        entities: what was extracted, by kind.
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def host_forms(host: str) -> set[str]:
    """Lower-case spellings that count as naming ``host``."""
    h = host.strip().lower().rstrip("$")
    forms = {h}
    if "." in h and not _IPV4.fullmatch(h):
        forms.add(h.split(".", 1)[0])
    return {f for f in forms if len(f) >= 2}


def user_forms(user: str) -> set[str]:
    """Lower-case spellings that count as naming ``user``."""
    u = user.strip().lower()
    forms = {u}
    if "\\" in u:
        domain, _, name = u.rpartition("\\")
        forms |= {name, f"{name}@{domain.strip(chr(92))}"}
    if "@" in u:
        name, _, domain = u.partition("@")
        forms |= {name, f"{domain}\\{name}"}
    return {f.rstrip("$") for f in forms if len(f) >= 2}


def _mentions(text_lower: str, forms: set[str]) -> bool:
    for f in sorted(forms, key=len, reverse=True):
        if re.search(r"(?<![\w.-])" + re.escape(f) + r"(?![\w-]|\.\w)", text_lower):
            return True
    return False


def _trusted_tokens(facts: AlertFacts) -> set[str]:
    """Tokens in text hopwatch wrote itself (rule and feature texts, ids)."""
    parts = [facts.alert_id, facts.detector, *facts.techniques]
    for r in facts.rules:
        parts += [r.id, r.title]
    for c in facts.explanation:
        parts += [c.feature, c.text]
    tokens: set[str] = set()
    for p in parts:
        tokens |= {t.lower() for t in re.findall(r"[\w.$-]+", p)}
    return tokens


def _required_dst(facts: AlertFacts) -> list[str]:
    dst = list(dict.fromkeys(facts.dst_hosts))
    return dst if len(dst) <= 3 else [dst[0], dst[-1]]


class GroundingCheck:
    """Check summaries against one alert's facts (stateless; build per alert)."""

    def __init__(self, facts: AlertFacts) -> None:
        self.facts = facts
        self.hosts = {f for h in [facts.src_host, *facts.dst_hosts] for f in host_forms(h)}
        self.users = user_forms(facts.user)
        self.ips = {ip.strip().lower() for ip in facts.src_ips}
        # An IP used as a host name is a host.
        self.ips |= {h for h in self.hosts if _IPV4.fullmatch(h)}
        self.trusted = _trusted_tokens(facts)
        rule_text = [f"{r.id} {r.title}" for r in facts.rules]
        feature_text = [f"{c.feature} {c.text}" for c in facts.explanation]
        self.trusted_text = " ".join(rule_text + feature_text).lower()
        self.techniques = {t.upper() for t in facts.techniques}
        self.techniques |= {t.split(".")[0] for t in self.techniques}
        first, last = _utc(facts.first_seen), _utc(facts.last_seen)
        self.first, self.last = min(first, last), max(first, last)

    # -- allowed sets -------------------------------------------------------------------

    def _known_name(self, token: str) -> bool:
        t = token.lower().strip(".,;:'\"`()[]").rstrip("$")
        if not t:
            return True
        return (
            t in self.hosts
            or t in self.users
            or t in self.ips
            or t in self.trusted
            or t in TECH_WORDS
            or bool(_UNIT.match(t))
        )

    def _date_ok(self, d: date) -> bool:
        return self.first.date() <= d <= self.last.date()

    def _clock_ok(self, hour: int, minute: int) -> bool:
        stamp = hour * 60 + minute
        edges = {self.first.hour * 60 + self.first.minute, self.last.hour * 60 + self.last.minute}
        if stamp in edges:
            return True
        if self.first.date() == self.last.date():
            return edges and min(edges) <= stamp <= max(edges)
        return False

    # -- the check ----------------------------------------------------------------------

    def check(self, text: str) -> GroundingReport:
        """Extract entities from ``text`` and compare them with the facts."""
        problems: list[str] = []
        codes: set[str] = set()
        entities: dict[str, list[str]] = {}
        masked = text

        def take(kind: str, pattern: re.Pattern[str]) -> list[re.Match[str]]:
            nonlocal masked
            found = list(pattern.finditer(masked))
            if found:
                entities.setdefault(kind, []).extend(m.group(0) for m in found)
                masked = pattern.sub(lambda m: " " * len(m.group(0)), masked)
            return found

        for m in take("ip", _IPV4):
            if m.group(0).lower() not in self.ips:
                problems.append(f"IP address {m.group(0)!r} is not in the alert")
                codes.add("it names an IP address that is not in the alert")
        for m in take("technique", _TECHNIQUE):
            if m.group(0).upper() not in self.techniques:
                problems.append(f"technique {m.group(0)!r} is not in the alert")
                codes.add("it names an ATT&CK technique that is not in the alert")
        for m in take("user", _EMAIL_USER) + take("user", _DOMAIN_USER):
            name = m.group(0).lower()
            if name.rstrip("$") not in self.users and name not in self.trusted_text:
                problems.append(f"user {m.group(0)!r} is not in the alert")
                codes.add("it names a user that is not in the alert")
        self._check_times(take, problems, codes)
        for m in take("ip", _IPV6):  # after clock times, which look alike
            if m.group(0).lower() not in self.ips:
                problems.append(f"IP address {m.group(0)!r} is not in the alert")
                codes.add("it names an IP address that is not in the alert")
        for kind, pattern in (("host", _FQDN), ("host", _MIXED)):
            for m in take(kind, pattern):
                tok = m.group(0)
                if _FILE_EXT.search(tok) or self._known_name(tok):
                    continue
                problems.append(f"name {tok!r} is not a host or user of the alert")
                codes.add("it names a host that is not in the alert")
        for pattern, what in ((_NOUN_HOST, "host"), (_NOUN_USER, "user")):
            for m in pattern.finditer(text):
                tok = m.group(1).strip(".,;:'\"`()")
                if not tok or tok.lower() in _STOPWORDS or self._known_name(tok):
                    continue
                if _IPV4.fullmatch(tok) or _TECHNIQUE.fullmatch(tok):
                    continue  # judged above
                entities.setdefault(what, []).append(tok)
                problems.append(f"{what} {tok!r} is not in the alert")
                codes.add(f"it names a {what} that is not in the alert")

        self._check_roles(text, entities, problems, codes)
        lower = text.lower()
        if not _mentions(lower, self.users):
            problems.append(f"the user {self.facts.user!r} is not named")
            codes.add("it does not name the user")
        if not _mentions(lower, host_forms(self.facts.src_host)):
            problems.append(f"the source host {self.facts.src_host!r} is not named")
            codes.add("it does not name the source host")
        for dst in _required_dst(self.facts):
            if not _mentions(lower, host_forms(dst)):
                problems.append(f"the destination host {dst!r} is not named")
                codes.add("it does not name the destination hosts")
        return GroundingReport(
            ok=not problems, problems=problems, codes=sorted(codes), entities=entities
        )

    def _check_roles(
        self, text: str, entities: dict[str, list[str]], problems: list[str], codes: set[str]
    ) -> None:
        """Hosts named as source/destination, and users, must hold that role."""
        src = host_forms(self.facts.src_host)
        dst = {f for h in self.facts.dst_hosts for f in host_forms(h)}
        for pattern, role, allowed in ((_FROM_HOST, "source", src), (_TO_HOST, "destination", dst)):
            for m in pattern.finditer(text):
                tok = m.group(1).strip(".,;:'\"`()").lower().rstrip("$")
                if tok in self.hosts and tok not in allowed:
                    entities.setdefault("role", []).append(f"{role}:{m.group(1)}")
                    problems.append(f"host {m.group(1)!r} is named as a {role} host but is not one")
                    codes.add(f"it names the wrong host as the {role}")
        for m in _NOUN_USER.finditer(text):
            tok = m.group(1).strip(".,;:'\"`()").lower()
            if tok.rstrip("$") in self.hosts and tok.rstrip("$") not in self.users:
                problems.append(f"host {m.group(1)!r} is named as the user")
                codes.add("it names a host as the user")

    def _check_times(self, take, problems: list[str], codes: set[str]) -> None:
        for m in take("date", _ISO_DATE):
            try:
                d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                d = None
            if d is None or not self._date_ok(d):
                problems.append(f"date {m.group(0)!r} is outside the alert")
                codes.add("it names a time that is not in the alert")
        for m in take("date", _MONTH_DATE):
            month = [x[:3] for x in _MONTHS].index(m.group(1)[:3].lower()) + 1
            try:
                d = date(int(m.group(3)), month, int(m.group(2)))
            except ValueError:
                d = None
            if d is None or not self._date_ok(d):
                problems.append(f"date {m.group(0)!r} is outside the alert")
                codes.add("it names a time that is not in the alert")
        for m in take("time", _CLOCK):
            hour, minute = int(m.group(1)), int(m.group(2))
            ampm = (m.group(4) or "").lower()
            if ampm == "p" and hour < 12:
                hour += 12
            elif ampm == "a" and hour == 12:
                hour = 0
            if hour > 23 or minute > 59 or not self._clock_ok(hour, minute):
                problems.append(f"time {m.group(0).strip()!r} is not in the alert")
                codes.add("it names a time that is not in the alert")
