"""Claims that stand on their own words: times and dates, numbers and scores,
technique and tool names, actions, the verdict, roles, and unknown names.

Each ``check_*`` function reads claims from a :class:`~models.llm.verify.scan.Scan`
(which blanks what was read, so later checks do not read it again) and reports every
claim the :class:`~models.llm.verify.support.Support` does not cover.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta

from models.llm.verify.lexicon import (
    ACTIONS,
    COMMON_CAPS,
    DAY_PARTS,
    HOST_ROLES,
    NUMBER_WORDS,
    RELATIVE_TIME,
    TOOLS,
    USER_ROLES,
    VERDICT,
    WEEKDAYS,
    alternation,
    id_supported,
)
from models.llm.verify.names import (
    CAPS,
    DOLLAR,
    DOMAIN_USER,
    EMAIL_USER,
    FILE_EXT,
    FQDN,
    IPV4,
    IPV6,
    MIXED,
    TECH_WORDS,
    TITLE,
    UNDERSCORE,
    UNIT,
)
from models.llm.verify.scan import Scan
from models.llm.verify.support import Support, noun_stem

TECHNIQUE_ID = re.compile(r"(?<![\w.])(?:T[A]?\d{4}(?:\.\d{3})?|S\d{4})(?![\w])")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
ISO_DATE = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
MONTH_DAY = re.compile(
    rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE
)
DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE
)
MONTH_ONLY = re.compile(rf"\b(?:in|during|of|since)\s+{_MONTH}(?:\s+(\d{{4}}))?\b", re.IGNORECASE)
YEAR_ONLY = re.compile(r"\b(?:in|during|of|since)\s+((?:19|20)\d{2})\b", re.IGNORECASE)
CLOCK = re.compile(
    r"(?<![\w:.])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([ap])\.?m\.?(?![\w]))?(?:\s*(?:utc|gmt|z)\b)?",
    re.IGNORECASE,
)
HOUR_AMPM = re.compile(r"(?<![\w:.])(\d{1,2})\s*([ap])\.?m\.?(?![\w])", re.IGNORECASE)
_NUMWORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_UNITS = {
    "second": 1 / 60,
    "sec": 1 / 60,
    "minute": 1,
    "min": 1,
    "hour": 60,
    "hr": 60,
    "day": 1440,
    "week": 10080,
}
DURATION = re.compile(
    rf"(?:\b(within|in under|under|less than|up to|over|more than|after|for|in|about|"
    rf"around|roughly|some)\s+)?(?:(?<![\w.])(\d+(?:\.\d+)?)|\b(a|an|{_NUMWORD}))\s*-?\s*"
    r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)\b",
    re.IGNORECASE,
)
PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
DECIMAL = re.compile(r"(?<![\w.])(\d*\.\d+)(?![\w.]*\d)")
INTEGER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*)(?![\w.]*\d)")
NUMBER_WORD = re.compile(rf"\b({_NUMWORD})\b", re.IGNORECASE)
HIGH = re.compile(
    r"\b(?:high(?:ly)?\s+(?:confidence|confident|likely|suspicious|probable)|very\s+"
    r"(?:likely|confident|suspicious|probable)|almost\s+certain(?:ly)?|strong(?:ly)?\s+"
    r"(?:confidence|indicat\w+|evidence|suspect\w*|likely))\b",
    re.IGNORECASE,
)
LOW = re.compile(
    r"\b(?:low\s+confidence|unlikely|(?:not|less)\s+(?:very\s+)?(?:confident|sure|likely)|"
    r"weak\s+(?:signal|evidence|confidence)|little\s+confidence)\b",
    re.IGNORECASE,
)
MODERATE = re.compile(
    r"\b(?:moderate(?:ly)?\s+(?:confidence|confident|likely|suspicious)|medium\s+confidence|"
    r"fairly\s+(?:confident|likely|sure))\b",
    re.IGNORECASE,
)
PROOF = re.compile(
    r"\b(?:certain(?:ly)?|definitely|confirmed|proven|undoubtedly|without (?:a )?doubt|"
    r"guaranteed)\b",
    re.IGNORECASE,
)
NEGATION = re.compile(
    r"(?:\bnot|n't|\bnever|\bno|\bnor|\bwithout|\bunlikely to be|\brather than|\binstead of|"
    r"\bruled out|\bno sign of|\bno evidence of)\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)

#: A verdict word inside a question to ask is not a verdict ("confirm whether it was expected").
HEDGE = re.compile(
    r"\b(?:whether|if|unless|confirm|check|verify|ask|asking|determine)\b[^.;]{0,40}$", re.I
)

_TOOLS = [(alternation([p]), ids) for p, ids in sorted(TOOLS.items(), key=lambda x: -len(x[0]))]
_ACTIONS = [(alternation([p]), ids) for p, ids in sorted(ACTIONS.items(), key=lambda x: -len(x[0]))]
_RELATIVE = alternation([RELATIVE_TIME])
_VERDICT = alternation([VERDICT])
_HOST_ROLES = alternation([HOST_ROLES])
_USER_ROLES = [(alternation([p]), re.compile(u, re.IGNORECASE)) for p, u in USER_ROLES.items()]
_DAY_PARTS = alternation(list(DAY_PARTS))
_WEEKDAYS = alternation(list(WEEKDAYS))
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[\"'(]\s*)$")


def _negated(text: str, start: int) -> bool:
    return bool(NEGATION.search(text[max(0, start - 40) : start]))


# -- technique ids, IPs ------------------------------------------------------------------


def check_ids(scan: Scan, s: Support) -> None:
    """ATT&CK technique and software ids, IPv4 addresses."""
    for m in scan.take(TECHNIQUE_ID):
        tid = m.group(0).upper()
        if tid == "TA0008":  # Lateral Movement: the tactic of every alert
            continue
        if tid not in s.techniques:
            scan.report(
                m.start(), m.end(), "technique", f"{tid} is not among the alert's techniques"
            )
    for m in scan.take(IPV4):
        if m.group(0).lower() not in s.ips:
            scan.report(m.start(), m.end(), "ip", "IP address not in the alert")


# -- times and dates ---------------------------------------------------------------------


def _date_ok(s: Support, d: date) -> bool:
    return s.first.date() <= d <= s.last.date()


def _minute_ok(s: Support, hour: int, minute: int) -> bool:
    stamp = hour * 60 + minute
    edges = [s.first.hour * 60 + s.first.minute, s.last.hour * 60 + s.last.minute]
    if stamp in edges:
        return True
    if s.first.date() == s.last.date():
        return edges[0] <= stamp <= edges[1]
    return stamp >= edges[0] or stamp <= edges[1]


def _hours(s: Support) -> set[int]:
    """UTC hours the alert spans."""
    hours: set[int] = set()
    t = s.first.replace(minute=0, second=0, microsecond=0)
    while t <= s.last and len(hours) < 24:
        hours.add(t.hour)
        t += timedelta(hours=1)
    return hours


def check_times(scan: Scan, s: Support) -> None:
    """Dates, clock times, durations, IPv6 addresses, relative time words, day parts and
    weekdays."""
    for m in scan.take(ISO_DATE):
        try:
            ok = _date_ok(s, date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            ok = False
        if not ok:
            scan.report(m.start(), m.end(), "time", "date outside the alert's time span")
    for m in scan.take(US_DATE):
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        ok = False
        for month, day in ((a, b), (b, a)):
            with contextlib.suppress(ValueError):
                ok = ok or _date_ok(s, date(y, month, day))
        if not ok:
            scan.report(m.start(), m.end(), "time", "date outside the alert's time span")
    for pattern, month_group, day_group in ((MONTH_DAY, 1, 2), (DAY_MONTH, 2, 1)):
        for m in scan.take(pattern):
            month = _MONTHS.index(m.group(month_group)[:3].lower()) + 1
            day, year = int(m.group(day_group)), m.group(3)
            years = [int(year)] if year else list(range(s.first.year, s.last.year + 1))
            ok = False
            for y in years:
                with contextlib.suppress(ValueError):
                    ok = ok or _date_ok(s, date(y, month, day))
            if not ok:
                scan.report(m.start(), m.end(), "time", "date outside the alert's time span")
    for m in scan.take(MONTH_ONLY):
        month = _MONTHS.index(m.group(1)[:3].lower()) + 1
        year = int(m.group(2)) if m.group(2) else None
        span = {(d.year, d.month) for d in (s.first, s.last)}
        if not any(mo == month and (year is None or y == year) for y, mo in span):
            scan.report(m.start(), m.end(), "time", "month outside the alert's time span")
    for m in scan.take(YEAR_ONLY):
        if not s.first.year <= int(m.group(1)) <= s.last.year:
            scan.report(m.start(), m.end(), "time", "year outside the alert's time span")
    for m in scan.take(CLOCK):
        hour, minute = int(m.group(1)), int(m.group(2))
        ampm = (m.group(4) or "").lower()
        hour += 12 if ampm == "p" and hour < 12 else 0
        hour = 0 if ampm == "a" and hour == 12 else hour
        if hour > 23 or minute > 59 or not _minute_ok(s, hour, minute):
            scan.report(m.start(), m.end(), "time", "time of day not in the alert")
    for m in scan.take(HOUR_AMPM):
        hour = int(m.group(1)) % 12 + (12 if m.group(2).lower() == "p" else 0)
        if hour not in _hours(s):
            scan.report(m.start(), m.end(), "time", "time of day not in the alert")
    span_min = (s.last - s.first).total_seconds() / 60
    for m in scan.take(DURATION):
        qualifier = (m.group(1) or "").lower()
        raw = m.group(2) or m.group(3).lower()
        value = float(raw) if m.group(2) else NUMBER_WORDS.get(raw, 1)
        unit = m.group(4).lower().rstrip("s")
        minutes = value * _UNITS.get(unit, _UNITS.get(unit[:3], 1))
        phrase = m.group(0)[len(m.group(1) or "") :].strip()
        if s.in_trusted(phrase):
            continue
        if qualifier in ("within", "in under", "under", "less than", "up to"):
            ok = span_min <= minutes + 0.5
        elif qualifier in ("over", "more than"):
            ok = span_min >= minutes - 0.5
        else:
            tolerance = max(0.5 * _UNITS.get(unit, 1), 0.15 * span_min, 0.5)
            ok = abs(span_min - minutes) <= tolerance
        if not ok:
            scan.report(m.start(), m.end(), "time", "duration does not match the alert's time span")
    for m in scan.take(_RELATIVE):
        scan.report(m.start(), m.end(), "time", "relative time: the alert has absolute times only")
    for m in scan.take(IPV6):  # after clock times, which look alike
        if m.group(0).lower() not in s.ips:
            scan.report(m.start(), m.end(), "ip", "IP address not in the alert")
    hours = _hours(s)
    for m in scan.take(_DAY_PARTS):
        lo, hi = DAY_PARTS[m.group(0).lower()]
        part = set(range(lo, hi)) if lo < hi else set(range(lo, 24)) | set(range(hi))
        if not part & hours:
            scan.report(
                m.start(), m.end(), "time", "part of the day does not match the alert's times"
            )
    days = {s.first.weekday(), s.last.weekday()}
    for m in scan.take(_WEEKDAYS):
        if WEEKDAYS.index(m.group(0).lower()) not in days:
            scan.report(m.start(), m.end(), "time", "weekday does not match the alert's dates")


# -- scores and counts -------------------------------------------------------------------


def _score_ok(s: Support, value: float, written: str) -> bool:
    decimals = len(written.split(".")[1]) if "." in written else 0
    if round(s.facts.score, decimals) == round(value, decimals):
        return True
    if abs(s.facts.score - value) <= 0.005:
        return True
    return any(abs(n - value) <= 1e-9 for n in s.numbers)


def check_scores(scan: Scan, s: Support) -> None:
    """Percentages, decimals in [0, 1], and confidence words against the score."""
    for m in scan.take(PERCENT):
        value = float(m.group(1)) / 100
        written = f"{value:.{max(2, len(m.group(1).split('.')[-1]) + 2)}f}"
        if not (_score_ok(s, value, written) or s.in_trusted(m.group(1))):
            scan.report(m.start(), m.end(), "score", "percentage does not match the alert's score")
    for m in scan.take(DECIMAL):
        value = float(m.group(1))
        if value <= 1.0 and not _score_ok(s, value, m.group(1)):
            scan.report(m.start(), m.end(), "score", "value does not match the alert's score")
        elif value > 1.0 and value not in s.numbers:
            scan.report(m.start(), m.end(), "count", "number not in the alert")
    score = s.facts.score
    for pattern, ok, why in (
        (HIGH, score >= 0.75, "high confidence claimed for a score below 0.75"),
        (MODERATE, 0.4 <= score < 0.9, "moderate confidence does not match the score"),
        (LOW, score < 0.6, "low confidence claimed for a score of 0.6 or more"),
        (PROOF, False, "a detector score is not proof"),
    ):
        for m in scan.take(pattern):
            if not ok and not (pattern is PROOF and _negated(scan.work, m.start())):
                scan.report(m.start(), m.end(), "score", why)


def _noun_after(text: str, end: int) -> str | None:
    for word in text[end : end + 40].split()[:3]:
        stem = noun_stem(word)
        if stem:
            return stem
    return None


def check_counts(scan: Scan, s: Support) -> None:
    """Integers and spelled numbers, with the noun they count."""
    found: list[tuple[int, int, float]] = []
    for m in scan.take(INTEGER):
        found.append((m.start(), m.end(), float(m.group(1).replace(",", ""))))
    for m in scan.take(NUMBER_WORD):
        found.append((m.start(), m.end(), float(NUMBER_WORDS[m.group(1).lower()])))
    for start, end, value in found:
        if value in s.numbers and re.search(r"\bevent(?:\s*id)?\s*$", scan.work[:start], re.I):
            continue  # an event id hopwatch's next steps cite
        noun = _noun_after(scan.work, end)
        if noun is not None:
            if (value, noun) in s.pairs:
                continue
            if noun == "host" and (value, "hop") in s.pairs:
                continue
            more = re.match(r"\s+(?:more|other|further|additional)\b", scan.work[end:], re.I)
            if noun == "host" and more and 0 < value < len(s.path) - 1:
                continue  # "and 2 more hosts": part of the path
            scan.report(start, end, "count", f"the alert does not support this number of {noun}s")
        elif value not in s.numbers:
            scan.report(start, end, "count", "number not in the alert")


# -- words: tools, actions, verdict, roles -----------------------------------------------


def check_words(scan: Scan, s: Support) -> None:
    """Tool and technique names, actions, the verdict, and what hosts and users are."""
    for m in scan.take(_VERDICT):
        if not (_negated(scan.work, m.start()) or HEDGE.search(scan.work[: m.start()])):
            scan.report(m.start(), m.end(), "verdict", "the summary may not clear the alert")
    for pattern, ids in _TOOLS:
        for m in scan.take(pattern):
            if not (id_supported(ids, s.techniques) or s.in_trusted(m.group(0))):
                scan.report(
                    m.start(), m.end(), "tool", "no technique or rule of the alert supports it"
                )
    for pattern, ids in _ACTIONS:
        for m in scan.take(pattern):
            if _negated(scan.work, m.start()):
                continue
            if not (id_supported(ids, s.techniques) or s.in_trusted(m.group(0))):
                scan.report(
                    m.start(), m.end(), "action", "no technique or rule of the alert supports it"
                )
    for m in scan.take(_HOST_ROLES):
        phrase = m.group(0).lower()
        named_dc = phrase.startswith("dc") or phrase.startswith("domain controller")
        if s.in_trusted(phrase) or (named_dc and any(h.startswith("dc") for h in s.hosts)):
            continue
        scan.report(m.start(), m.end(), "role", "the facts do not say what this host is")
    for pattern, user_shape in _USER_ROLES:
        for m in scan.take(pattern):
            if s.in_trusted(m.group(0)) or user_shape.search(s.facts.user):
                continue
            scan.report(m.start(), m.end(), "role", "the facts do not say what this account is")


# -- names -------------------------------------------------------------------------------


def _sentence_start(text: str, start: int) -> bool:
    return bool(_SENTENCE_START.search(text[max(0, start - 3) : start]))


def check_accounts(scan: Scan, s: Support) -> None:
    """``user@domain`` and ``DOMAIN\\user`` forms that are not the alert's user."""
    for pattern in (EMAIL_USER, DOMAIN_USER):
        for m in scan.take(pattern):
            tok = m.group(0).lower().rstrip("$")
            if tok in s.users or tok in s.hosts or s.in_trusted(tok):
                continue
            scan.report(m.start(), m.end(), "user", "user not in the alert")


_ACTOR_VERB = re.compile(
    r"^\s+(?:then\s+|later\s+|also\s+)?(?:moved|logged|used|authenticated|connected|accessed|"
    r"ran|executed|pivoted|reached|signed|dumped|copied|started|launched)\b",
    re.IGNORECASE,
)
_NOT_ACTORS = frozenset(
    [
        "it",
        "this",
        "that",
        "they",
        "he",
        "she",
        "we",
        "someone",
        "somebody",
        "hopwatch",
        "the",
        "then",
        "an",
        "a",
        "another",
        "later",
        "next",
        "first",
        "finally",
        "attacker",
        "adversary",
        "user",
        "account",
        "host",
    ]
)


def check_names(scan: Scan, s: Support) -> None:
    """Name-like tokens that are not the alert's: FQDNs, shapes, capitals, titles."""
    seen: list[tuple[int, int]] = []

    def judge(start: int, end: int, kind: str) -> None:
        if any(a < end and start < b for a, b in seen):
            return
        seen.append((start, end))
        tok = scan.text[start:end]
        if s.known_name(tok) or FILE_EXT.search(tok):
            return
        low = tok.lower().rstrip("$")
        if low in TECH_WORDS or UNIT.match(low) or low in COMMON_CAPS:
            return
        if any(p.fullmatch(low) for p in s.user_shapes):
            kind = "user"
        scan.report(start, end, kind, f"{kind} not in the alert")

    for m in scan.take(FQDN):
        judge(m.start(), m.end(), "host")
    for m in scan.take(UNDERSCORE):
        judge(m.start(), m.end(), "user")
    for m in scan.take(MIXED):
        judge(m.start(), m.end(), "host")
    for m in scan.take(DOLLAR):
        judge(m.start(), m.end(), "host")
    for m in scan.take(CAPS):
        judge(m.start(), m.end(), "host")
    for m in scan.take(TITLE):
        word = m.group(0).lower()
        if word in COMMON_CAPS:
            continue
        if _sentence_start(scan.text, m.start()):
            # a capitalised first word is a name only when it acts ("Bob moved ...")
            if word in _NOT_ACTORS or not _ACTOR_VERB.match(scan.text[m.end() :]):
                continue
            judge(m.start(), m.end(), "user")
            continue
        judge(m.start(), m.end(), "host")
