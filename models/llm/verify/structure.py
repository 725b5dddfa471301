"""Claims about how the alert's own names relate: roles, direction and hop order.

The path is the source host followed by the destinations in hop order. A text may
name the right hosts and still be wrong about them:

* role -- ``the source host SRV02`` when SRV02 is a destination, ``user WS01``;
* direction -- ``from SRV02 to WS01``, ``SRV02 was used to reach WS01``, ``WS01 was
  accessed from SRV02``: the host moved *from* must come before the one moved *to*;
* order -- ``to SRV03 and then to SRV02``: hops joined by a sequence word (then,
  later, before, followed by, ->) must follow the path's order (``after`` reverses).

These are pattern checks on cue words, not understanding: a wrong claim phrased
without any of the cues passes (docs/llm.md lists them).
"""

from __future__ import annotations

import itertools
import re

from models.llm.verify.names import Mention
from models.llm.verify.scan import Scan
from models.llm.verify.support import Support

_FROM_CUE = re.compile(
    r"(?:\bfrom|\boriginat(?:ed|ing|es)\s+(?:from|at|on)|\bleft|\bleaving|\bstarting\s+(?:from|at|on)"
    r"|\bpivot(?:ed|ing)?\s+(?:from|off))\s+(?:the\s+)?(?:(?:source\s+)?(?:host|machine|"
    r"workstation|server|computer|system)\s+)?$",
    re.IGNORECASE,
)
_TO_CUE = re.compile(
    r"(?:\bto|\binto|\bonto|\btowards?|\breach(?:ed|ing|es)?|\baccess(?:ed|ing|es)?|"
    r"\bentered|\bhit|\bcompromised|\btarget(?:ed|ing)|->|→|=>)\s+(?:the\s+)?(?:(?:destination\s+|"
    r"target\s+|remote\s+)?(?:host|machine|workstation|server|computer|system)s?\s+)?$",
    re.IGNORECASE,
)
_SOURCE_ROLE = re.compile(
    r"\b(?:source|origin|originating|starting|first)\s+(?:host|machine|computer|system|point|"
    r"workstation|server)?\s*(?:was|is|:|,|of)?\s*$",
    re.IGNORECASE,
)
_DEST_ROLE = re.compile(
    r"\b(?:destinations?|targets?|target(?:ed)?\s+hosts?|destination\s+hosts?|"
    r"remote\s+hosts?)\s*(?:was|were|is|are|:|,|included|include)?\s*$",
    re.IGNORECASE,
)
_LAST_ROLE = re.compile(
    r"\b(?:last|final)\s+(?:hop|host|destination|target|stop)\s*(?:was|is|:|,)?\s*$", re.I
)
_AFTER_SOURCE = re.compile(r"^\s*[,(]?\s*(?:the|its|a)?\s*(?:source|origin)\b", re.I)
_AFTER_DEST = re.compile(r"^\s*[,(]?\s*(?:the|a|its)?\s*(?:destination|target)\b", re.I)
_USER_CUE = re.compile(r"\b(?:user(?:name)?|account)\s*(?:named|called|was|is|:)?\s*$", re.I)
_HOST_CUE = re.compile(
    r"\b(?:host|server|machine|computer|workstation|endpoint|device)\s*(?:named|called)?\s*$",
    re.I,
)
_USED_TO_REACH = re.compile(
    r"^[\s,]*(?:was|were|is|had been)?\s*(?:\w+\s+){0,2}?(?:used|leveraged|abused)\s+"
    r"(?:by\s+[\w.@\\$-]+\s+)?(?:as\s+a\s+\w+\s+)?to\s+(?:\w+\s+){0,2}?"
    r"(?:reach|access|connect(?:\s+to)?|log\s*(?:on|in)\s+to|move\s+to|pivot\s+to|"
    r"authenticate\s+to|attack|compromise|hop\s+to|target|get\s+to)\s+(?:the\s+)?"
    r"(?:host\s+|server\s+|machine\s+)?$",
    re.I,
)
_ACTIVE_ARROW = re.compile(
    r"^[\s,]*(?:then\s+|later\s+|subsequently\s+)?(?:connected|authenticated|logged\s*(?:on|in)|"
    r"moved|pivoted|hopped|went|spread|jumped)\s+(?:on\s*)?(?:to|into|onto)\s+(?:the\s+)?"
    r"(?:host\s+|server\s+|machine\s+)?$|^\s*(?:->|→|=>|to)\s*$",
    re.I,
)
_PASSIVE_FROM = re.compile(
    r"^[\s,]*(?:was|were|is|had been)\s+(?:\w+\s+){0,2}?(?:accessed|reached|entered|"
    r"compromised|targeted|contacted|logged\s+(?:on|in)\s+to|connected\s+to)\s+"
    r"(?:\w+\s+){0,3}?from\s+(?:the\s+)?(?:host\s+|server\s+|machine\s+)?$",
    re.I,
)
_TO_FROM = re.compile(r"^[\s,]*(?:\w+\s+){0,3}?from\s+(?:the\s+)?(?:host\s+)?$", re.I)
_SEQUENCE = re.compile(
    r"\b(?:then|next|afterwards|after\s+that|after\s+this|after\s+which|later|"
    r"subsequently|followed\s+by|before|finally|after)\b|->|→|=>",
    re.I,
)
_BY_CUE = re.compile(
    r"\b(?:(?:used|accessed|run|reached|performed|initiated|made|done|logged\s+on|attempted)"
    r"\s+by|(?:logged\s*(?:on|in)|authenticated|signed\s+in|running|acting)\s+as|"
    r"(?:logons?|logins?|attempts?|authentications?)\s+(?:by|of|from|for))\s+"
    r"([A-Za-z][\w.@\\$-]*)(?=\s*(?:to|from|on|at|in|,|\.|;|\)|$))",
    re.I,
)
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "its",
        "their",
        "his",
        "her",
        "our",
        "hopwatch",
        "rule",
        "rules",
        "detector",
        "model",
        "gnn",
        "xgb",
        "it",
        "them",
        "someone",
        "anyone",
        "attacker",
        "attackers",
        "adversary",
        "adversaries",
        "default",
        "design",
        "itself",
        "themselves",
        "now",
        "then",
        "user",
        "users",
        "account",
        "accounts",
        "host",
        "hosts",
        "same",
    ]
)


_NAME_CUE = re.compile(
    r"\b(?:(host|server|machine|computer|workstation|endpoint|device)|(user(?:name)?|account))s?"
    r"\s+(?:named\s+|called\s+)?[\"'`(]?([A-Za-z0-9][\w.@\\$-]*)",
    re.I,
)
#: Words that follow "host"/"user" in ordinary prose (not names).
_CUE_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "to",
        "from",
        "into",
        "onto",
        "on",
        "in",
        "at",
        "of",
        "for",
        "by",
        "with",
        "via",
        "that",
        "which",
        "who",
        "whose",
        "was",
        "were",
        "is",
        "are",
        "be",
        "been",
        "being",
        "has",
        "had",
        "have",
        "may",
        "might",
        "could",
        "would",
        "should",
        "will",
        "can",
        "did",
        "does",
        "do",
        "not",
        "no",
        "pair",
        "pairs",
        "name",
        "names",
        "named",
        "called",
        "list",
        "lists",
        "logged",
        "logon",
        "logons",
        "logged",
        "moved",
        "reached",
        "accessed",
        "connected",
        "authenticated",
        "activity",
        "account",
        "accounts",
        "host",
        "hosts",
        "later",
        "then",
        "also",
        "again",
        "first",
        "last",
        "next",
        "previous",
        "same",
        "other",
        "new",
        "unusual",
        "rare",
        "never",
        "itself",
        "its",
        "their",
        "this",
        "these",
        "those",
        "it",
        "as",
        "such",
        "like",
        "than",
        "whether",
        "if",
        "hopping",
        "path",
    ]
)


def _sentence_bounds(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in re.finditer(r"[.!?](?=\s+[A-Z\"'(]|\s*$)", text):
        bounds.append((start, m.end()))
        start = m.end()
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


def check_structure(scan: Scan, mentions: list[Mention], s: Support) -> None:
    """Roles, direction and hop order of the alert's named hosts and user, and users
    named after ``by``/``as`` that are not the alert's."""
    text, report = scan.text, scan.report
    for m in _BY_CUE.finditer(scan.work):
        tok = m.group(1)
        low = tok.lower().rstrip("$")
        if low in _NOT_NAMES or low.endswith(("ing", "ly")) or s.known_name(tok):
            continue
        report(m.start(1), m.end(1), "user", "user not in the alert")
    last = len(s.path) - 1
    hosts = [m for m in mentions if m.kind == "host"]
    for m in mentions:
        before = text[max(0, m.start - 60) : m.start]
        after = text[m.end : m.end + 30]
        if m.kind == "host":
            if _USER_CUE.search(before) and m.text.lower().rstrip("$") not in s.users:
                report(m.start, m.end, "role", "a host is named as the user")
            if (_SOURCE_ROLE.search(before) or _AFTER_SOURCE.match(after)) and m.index != 0:
                report(m.start, m.end, "role", "named as the source host but is a destination")
            if (_DEST_ROLE.search(before) or _AFTER_DEST.match(after)) and m.index == 0:
                report(m.start, m.end, "role", "named as a destination but is the source host")
            if _LAST_ROLE.search(before) and m.index != last:
                report(m.start, m.end, "order", "named as the last hop but is not")
            if _TO_CUE.search(before) and m.index == 0:
                report(m.start, m.end, "direction", "the source host is named as moved to")
            if _FROM_CUE.search(before) and m.index == last and last > 0:
                report(m.start, m.end, "direction", "nothing moved from the last hop")
        elif m.kind == "user" and _HOST_CUE.search(before):
            report(m.start, m.end, "role", "the user is named as a host")
    for m in _NAME_CUE.finditer(scan.work):
        tok = m.group(3)
        if tok.lower() in _CUE_WORDS or tok.lower().endswith(("ing", "ed", "ly")):
            continue
        if m.group(1) and not re.search(r"[A-Z0-9_.$]", tok):
            continue  # "host pair", "hosts without": a plain word after host is prose
        if s.known_name(tok) or tok.lower() in s.hosts or tok.lower() in s.users:
            continue
        kind = "host" if m.group(1) else "user"
        report(m.start(3), m.end(3), kind, f"{kind} not in the alert")
    for a, b in itertools.pairwise(hosts):
        if a.index == b.index:
            continue
        between = text[a.end : b.start]
        if re.search(r"[.!?]\s", between):
            continue  # another sentence
        before_a = text[max(0, a.start - 60) : a.start]
        span = (a.start, b.end)
        forward: bool | None = None
        if (
            (
                _FROM_CUE.search(before_a)
                and re.match(
                    r"^[\s,]*(?:\w+\s+){0,3}?(?:to|into|onto|towards?|->|→|=>)\s+(?:the\s+)?"
                    r"(?:host\s+|server\s+|machine\s+)?$",
                    between,
                    re.I,
                )
            )
            or _USED_TO_REACH.match(between)
            or _ACTIVE_ARROW.match(between)
        ):
            forward = True
        elif _PASSIVE_FROM.match(between) or (_TO_CUE.search(before_a) and _TO_FROM.match(between)):
            forward = False
        if forward is not None:
            if (a.index < b.index) != forward:
                report(*span, "direction", "the movement runs the other way in the alert")
            continue
        seq = list(_SEQUENCE.finditer(between))
        if not seq:
            continue
        word = seq[-1].group(0).lower()
        later = word != "after"
        if (a.index < b.index) != later:
            report(*span, "order", "the hops happened in the other order")
