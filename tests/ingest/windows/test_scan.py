"""The columnar XmlWinEventLog scan (``ingest/windows/scan.py``) against the record parser and lxml.

The scan is only a faster road to the same raw frame: on every line of the
simulator's output and of XML rendered from the real EVTX samples, and on
crafted and random lines (escapes, character references, self-closing
elements, hostile and broken events), it must give exactly the frame that
parsing each event on its own gives, through the fast record path and through
hardened lxml alike, and the same errors.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest.simulate import SimConfig, simulate
from ingest.simulate.windows.writer import write_windows
from ingest.windows.mapping import host_map, map_frames, to_auth, to_process
from ingest.windows.raw import RAW_SCHEMA, records_frame
from ingest.windows.scan import scan_xml_events, scan_xml_lines
from ingest.windows.xml import (
    UnsafeXmlError,
    WinRecord,
    XmlEventError,
    _full,
    iter_xml_texts,
    parse_xml_record,
)
from tests.conftest import EVTX_DIR
from tests.ingest.windows.fixtures import render_xml

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def per_event(lines: list[str], source: str, *, lxml: bool) -> tuple[pl.DataFrame, list[str]]:
    """The reference: every event parsed on its own (record fast path, or lxml only)."""
    records: list[WinRecord] = []
    errors: list[str] = []
    for text, err, line in iter_xml_texts(lines, source=source):
        if text is None:
            errors.append(str(err))
            continue
        try:
            if lxml:
                records.append(_full(text.strip(), source, line))
            else:
                records.append(parse_xml_record(text, source=source, record=line))
        except XmlEventError as exc:
            errors.append(str(exc))
    return records_frame(records), errors


def assert_scan_matches(lines: list[str], source: str = "t.xml", *, lxml: bool = True) -> None:
    raw, errors = scan_xml_lines(lines, source=source)
    ref, ref_errors = per_event(lines, source, lxml=False)
    assert raw.schema == RAW_SCHEMA
    assert_frame_equal(raw, ref)
    assert [str(e) for e in errors] == ref_errors
    if lxml:  # the fast record path equals hardened lxml on these lines
        full, full_errors = per_event(lines, source, lxml=True)
        assert_frame_equal(raw, full)
        assert len(full_errors) == len(errors)


def event(data: str, *, eid: str = "<EventID>4624</EventID>", computer: str = "ws1.corp") -> str:
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing'/>"
        f"{eid}<Version>2</Version><TimeCreated SystemTime='2024-05-01T10:00:07.1234567Z'/>"
        "<EventRecordID>17</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>"
        f"<Channel>Security</Channel><Computer>{computer}</Computer><Security/></System>"
        f"<EventData>{data}</EventData></Event>"
    )


CRAFTED = [
    event("<Data Name='TargetUserName'>alice</Data><Data Name='LogonType'>3</Data>"),
    event("<Data Name='TargetUserName'>bob &amp; co &lt;x&gt; &#x41;&#65; &quot;q&quot;</Data>"),
    event("<Data Name='TargetUserName'>a</Data>", computer="h&amp;1.corp"),
    event("<Data Name='WorkstationName'/><Data Name='IpAddress'>10.0.0.2</Data>"),
    event('<Data Name="TargetUserName">dq</Data><Data Name="IpAddress"/>'),
    event("<Data Name='TargetUserName'>first</Data><Data Name='TargetUserName'>last</Data>"),
    event("<Data Name='LogonGuid'>{0}</Data><Data Name='TargetUserName'>x</Data>"),
    event("<Data>no name</Data><Data Name='TargetUserName'>y</Data>"),
    event("<Data Name='ServiceName'>svc</Data>", eid="<EventID Qualifiers='16384'>7045</EventID>"),
    event("<Data Name='TargetUserName'>ignored</Data>", eid="<EventID>4100</EventID>"),
    event("").replace("<EventData></EventData>", "<UserData><Foo><Bar>1</Bar></Foo></UserData>"),
    event(""),
    event("<Data Name='CommandLine'>cmd /c \"echo 'hi' > x\" ?!</Data>"),
    "   " + event("<Data Name='TargetUserName'>padded</Data>") + "  ",
    event("<Data Name='TargetUserName'>bad &nbsp; entity</Data>"),
    event("<Data Name='TargetUserName'>broken</Data").replace("</EventData>", ""),
    "<!DOCTYPE e [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>" + event("<Data Name='A'>&x;</Data>"),
    "<?xml version='1.0'?>" + event("<Data Name='TargetUserName'>declared</Data>"),
    event("<Data Name='TargetUserName'>multi\nline</Data>"),
    "not xml at all",
    event("<Data Name='TargetUserName'>after the bad ones</Data>"),
    # the learned template of 4624 (TargetUserName, LogonType): hits, near misses
    event("<Data Name='TargetUserName'>tpl1</Data><Data Name='LogonType'>9</Data>"),
    event("<Data Name='TargetUserName'>it's > x</Data><Data Name='LogonType'>2</Data>"),
    event("<Data Name='TargetUserName'>tpl3</Data> <Data Name='LogonType'>3</Data>"),
    event("<Data Name='TargetUserName'>tpl4</Data><Data Name='LogonType'/>"),
    event("<Data Name='TargetUserName'>tpl5</Data><Data Name='LogonType'>5</Data><Data Name='X'>"),
    event("<Data Name='TargetUserName'>tpl6</Data>"),
    event("<Data Name='TargetUserName'>tpl7</Data><Data Name='LogonType'>7</Data>") + "x",
    event("<Data Name='TargetUserName'>tpl8</Data><Data Name=\"LogonType\">8</Data>"),
]


def test_crafted_lines_match_the_record_parser() -> None:
    lines = [x for text in CRAFTED for x in text.split("\n")]
    raw, errors = scan_xml_lines(lines, source="t.xml")
    assert_scan_matches(lines, lxml=False)
    by_user = raw["TargetUserName"].to_list()
    assert 'bob & co <x> AA "q"' in by_user
    assert "last" in by_user and "multi\nline" in by_user and "after the bad ones" in by_user
    assert "h&1.corp" in raw["computer"].to_list()
    assert raw.filter(pl.col("IpAddress") == "10.0.0.2")["WorkstationName"].to_list() == [""]
    assert raw.filter(pl.col("event_id") == 4100)["TargetUserName"].to_list() == [None]
    assert any(isinstance(e, UnsafeXmlError) for e in errors)
    assert any("malformed" in str(e) for e in errors)  # &nbsp; goes to lxml and fails
    assert {"tpl1", "it's > x", "tpl3", "tpl4", "tpl6", "tpl8"} <= set(by_user)


def test_single_event_texts_match_parse_xml_record() -> None:
    texts = [t for t in CRAFTED if "\n" not in t]
    raw, errors = scan_xml_events(texts, source="splunk:1", first_record=100)
    records, n_err = [], 0
    for i, text in enumerate(texts):
        try:
            records.append(parse_xml_record(text, source="splunk:1", record=100 + i))
        except XmlEventError:
            n_err += 1
    assert_frame_equal(raw, records_frame(records))
    assert len(errors) == n_err > 0


def test_simulator_output_scans_like_lxml(tmp_path: Path) -> None:
    write_windows(simulate(SimConfig(days=1, hosts=20, users=10, seed=5, campaigns=1)), tmp_path)
    raws = []
    for name in ("security.xml", "sysmon.xml", "system.xml"):
        lines = (tmp_path / name).read_text().splitlines()
        assert lines
        assert_scan_matches(lines, name)
        raws.append(scan_xml_lines(lines, source=name)[0])
    # the one-pass mapping equals the two separate mappings
    raw = pl.concat(raws)
    hosts = host_map(raw)
    auth, process = map_frames(raw, hosts)
    assert auth.height > 100 and process.height > 10
    assert_frame_equal(auth, to_auth(raw, hosts))
    assert_frame_equal(process, to_process(raw, hosts))
    for part in (raws[0].head(1), raws[2].head(1), raws[0].filter(pl.col("event_id") == 4672)):
        one_auth, one_process = map_frames(part)
        assert_frame_equal(one_auth, to_auth(part))
        assert_frame_equal(one_process, to_process(part))


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(p.name for p in EVTX_DIR.glob("*.evtx")))
def test_real_evtx_xml_scans_like_lxml(name: str) -> None:
    from ingest.windows.evtx import iter_evtx_events, iter_evtx_xml

    texts = [text for _n, text, _err in iter_evtx_xml(EVTX_DIR / name) if text]
    assert texts
    # python-evtx's own rendering (double quotes, newlines, entities), as events
    raw, errors = scan_xml_events(texts, source=name, first_record=1)
    full = [_full(t.strip(), name, i) for i, t in enumerate(texts, 1)]
    assert not errors
    assert_frame_equal(raw, records_frame(full))
    # and Splunk's XmlWinEventLog rendering of the same records, as lines
    records = [r.record for r in iter_evtx_events(EVTX_DIR / name) if r.record]
    lines = "\n".join(render_xml(r) for r in records).split("\n")
    assert_scan_matches(lines, name)


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = st.sampled_from(
    [
        "<Data Name='TargetUserName'>",
        '<Data Name="IpAddress">',
        "</Data>",
        "<Data Name='LogonType'/>",
        "&amp;",
        "&#x41;",
        "&bogus;",
        "<!",
        "<?",
        "'",
        '"',
        ">",
        "<",
        "\n",
        "x",
        "</EventData>",
        "<UserData>",
    ]
)


@FUZZ
@given(st.lists(st.lists(PIECES, max_size=12).map("".join), min_size=1, max_size=6))
def test_fuzz_scan_equals_record_parser(bodies: list[str]) -> None:
    lines = [x for body in bodies for x in event(body).split("\n")]
    assert_scan_matches(lines, lxml=False)


SYSTEM_PARTS = [
    "<Provider Name='Microsoft-Windows-Security-Auditing'/>",
    '<Provider Name="Service Control Manager" Guid="{x}"/>',
    "<EventID>4624</EventID>",
    "<EventID Qualifiers='16384'>7045</EventID>",
    "<EventID> 4625 </EventID>",
    "<TimeCreated SystemTime='2024-05-01T10:00:07.1234567Z'/>",
    '<TimeCreated SystemTime="2024-05-02 10:00:07"></TimeCreated>',
    "<EventRecordID>17</EventRecordID>",
    "<EventRecordID>x</EventRecordID>",
    "<Channel>Security</Channel>",
    "<Computer>ws1.corp</Computer>",
    "<Channel>System</Channel><Computer>srv&amp;2</Computer>",
    "<Correlation/>",
    "<Execution ProcessID='4' ThreadID='8'/>",
    "\n",
]


@FUZZ
@given(st.lists(st.sampled_from(SYSTEM_PARTS), max_size=12), st.booleans())
def test_fuzz_system_blocks_scan_like_the_record_parser(parts: list[str], data: bool) -> None:
    body = "<Data Name='TargetUserName'>u</Data><Data Name='ServiceName'>s</Data>" if data else ""
    line = (
        f"<Event xmlns='{NS}'><System>{''.join(parts)}</System>"
        f"<EventData>{body}</EventData></Event>"
    )
    lines = [event("<Data Name='TargetUserName'>first</Data>"), *line.split("\n")]
    assert_scan_matches(lines, lxml=False)
