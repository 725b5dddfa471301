"""Rule samples as real Windows events: XmlWinEventLog through the same reader as real logs.

A rule's ``samples`` (hopwatch's extension of the Sigma format) list positive and
negative events written with Windows field names::

    samples:
      positive:
        - {EventID: 5145, Computer: SRV1.corp.local, SubjectUserName: admin,
           SubjectDomainName: CORP, ShareName: '\\\\*\\ADMIN$', RelativeTargetName: x.exe,
           AccessMask: '0x2', IpAddress: 10.0.0.5}
        - [ {EventID: 4624, ...}, {EventID: 4698, time: 30, ...} ]   # several events
      negative: [...]

``EventID`` is required; ``Channel`` defaults from the event id (Sysmon for 1, 3, 17,
18; System for 7045; else Security), ``Computer`` to ``WS01.corp.local``, ``time`` is
an offset in seconds (default: the event's index); every other key becomes an
``<Data Name=...>`` element. :func:`sample_xml` renders one event,
:func:`sample_view` reads a list of them with ``ingest.windows.parse_xml_events``
(the columnar scanner and the mapping every Windows log goes through) into the rule
view, and :func:`check_samples` runs a rule on each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import polars as pl

from detections.rules.engine import Rule, rule_view, run_rules

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
PROVIDERS = {
    "Security": "Microsoft-Windows-Security-Auditing",
    "System": "Service Control Manager",
    SYSMON: "Microsoft-Windows-Sysmon",
}
START = 1_700_000_000
_SYSTEM_KEYS = ("EventID", "Channel", "Computer", "time", "Provider")


def default_channel(event_id: int) -> str:
    """The channel an event id is read from."""
    if event_id in (1, 3, 17, 18):
        return SYSMON
    return "System" if event_id == 7045 else "Security"


def sample_xml(event: dict[str, Any], index: int = 0, start: int = START) -> str:
    """One sample event as an XmlWinEventLog line."""
    eid = int(event["EventID"])
    channel = str(event.get("Channel") or default_channel(eid))
    provider = str(event.get("Provider") or PROVIDERS.get(channel, channel))
    stamp = datetime.fromtimestamp(start + int(event.get("time", index)), UTC)
    parts = [
        f"<Event xmlns='{NS}'><System><Provider Name={quoteattr(provider)}/>",
        f"<EventID>{eid}</EventID><Version>0</Version><Level>0</Level>",
        f"<TimeCreated SystemTime='{stamp.strftime('%Y-%m-%dT%H:%M:%S.000000000Z')}'/>",
        f"<EventRecordID>{index + 1}</EventRecordID>",
        "<Correlation/><Execution ProcessID='4' ThreadID='8'/>",
        f"<Channel>{escape(channel)}</Channel>",
        f"<Computer>{escape(str(event.get('Computer', 'WS01.corp.local')))}</Computer>",
        "<Security/></System><EventData>",
    ]
    for name, value in event.items():
        if name in _SYSTEM_KEYS:
            continue
        text = "" if value is None else str(value)
        parts.append(f"<Data Name={quoteattr(str(name))}>{escape(text)}</Data>")
    parts.append("</EventData></Event>")
    return "".join(parts)


def sample_view(events: Sequence[dict[str, Any]], start: int = START) -> pl.DataFrame:
    """The rule view of sample events, read as XmlWinEventLog by the Windows reader."""
    from ingest.windows import parse_xml_events

    lines = [sample_xml(ev, i, start) for i, ev in enumerate(events)]
    (auth, process), _ = parse_xml_events(lines, source="sample", first_record=1)
    return rule_view(auth, process)


def _needed(rule: Rule, rules: Sequence[Rule]) -> list[Rule]:
    """The rule (reporting its own hits) and, for a correlation, its base rules."""
    if rule.correlation is None:
        return [replace(rule, reports=True)]
    base = [r for r in rules if r.id in rule.correlation.rules]
    return [*base, rule]


def fires(rule: Rule, events: Sequence[dict[str, Any]], rules: Sequence[Rule] = ()) -> bool:
    """True when ``rule`` hits on ``events`` (``rules``: where a correlation's base rules are)."""
    hits = run_rules(_needed(rule, rules), sample_view(events))
    return bool((hits["rule_id"] == rule.id).any())


def check_samples(rule: Rule, rules: Sequence[Rule] = ()) -> list[str]:
    """Problems with a rule's own samples (a positive that does not fire, a negative that does)."""
    problems = []
    for kind, samples, want in (
        ("positive", rule.positive, True),
        ("negative", rule.negative, False),
    ):
        for i, events in enumerate(samples):
            if fires(rule, events, rules) != want:
                verb = "does not fire" if want else "fires"
                problems.append(f"{rule.path}: samples.{kind}[{i}] {verb}")
    return problems
