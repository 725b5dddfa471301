"""Pieces of the Splunk worker on their own: checkpoint, config, result helpers,
and the export-stream reader (no server needed)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ingest.splunk.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from ingest.splunk.client import SplunkQueryError, SplunkTransient, StreamCut
from ingest.splunk.config import SplunkConfig, SplunkConfigError
from ingest.splunk.export import iter_export_blocks
from ingest.splunk.results import ResultError, dedupe_key, result_time, windows_converter
from ingest.windows import frames_from_records
from ingest.windows.xml import XmlEventError, parse_xml_record
from tests.ingest.splunk.standin import parse_search
from tests.ingest.windows.test_scan import CRAFTED

T0 = 1_800_000_000
HOUR = 3600


# -- checkpoint, config, result helpers -------------------------------------------------
def test_checkpoint_roundtrip_atomic_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "cp" / "checkpoint.json"
    assert load_checkpoint(path) is None
    save_checkpoint(path, Checkpoint(time=T0, keys={"b", "a"}, pulled=3))
    assert load_checkpoint(path) == Checkpoint(time=T0, keys={"a", "b"}, pulled=3)
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.json"]
    path.write_text('{"format_version": 1, "time": "yesterday"}')
    with pytest.raises(CheckpointError, match=r"checkpoint\.json: time"):
        load_checkpoint(path)
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)


def test_config_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "splunk.toml"
    path.write_text(
        '[splunk]\nhost = "sh1.example.org"\ntoken = "tok-123"\nindex = "wineventlog"\n'
        'sourcetypes = ["XmlWinEventLog", "we\\"ird"]\nbatch_span = "15m"\n'
        'checkpoint = "state/cp.json"\nstart = "-2h"\n'
    )
    cfg = SplunkConfig.from_toml(path)
    assert cfg.batch_span == 900 and cfg.scheme == "https" and cfg.port == 8089
    assert cfg.checkpoint == tmp_path / "state" / "cp.json"
    assert cfg.start_time(now=T0) == T0 - 2 * HOUR
    assert "tok-123" not in repr(cfg)
    search = cfg.search()
    assert search.startswith("search index=wineventlog (sourcetype=")
    assert 'sourcetype="we\\"ird"' in search and search.endswith("| sort 0 _time")
    assert cfg.oldest_first
    assert not SplunkConfig(token="t", query="search index={index} | sort 0 -_time").oldest_first
    parsed = parse_search(search)  # the stand-in reads it back as splunkd would
    assert parsed.filters["sourcetype"] == {"XmlWinEventLog", 'we"ird'}
    path.write_text('[splunk]\nhost = "h"\ntoken = "t"\nschem = "http"\n')
    with pytest.raises(SplunkConfigError, match=r"splunk\.toml: unknown key\(s\): schem"):
        SplunkConfig.from_toml(path)
    path.write_text('[splunk]\nhost = "h"\n')
    with pytest.raises(SplunkConfigError, match="token: give a token"):
        SplunkConfig.from_toml(path)
    with pytest.raises(SplunkConfigError, match="batch_span"):
        SplunkConfig(token="t", batch_span="soon")


def test_result_time_and_dedupe_key() -> None:
    assert result_time({"_time": "2013-09-11T16:05:37.503-07:00"}) == pytest.approx(1378940737.503)
    assert result_time({"_time": "1800000000.250"}) == 1800000000.25
    for bad in ({}, {"_time": "yesterday"}, {"_time": "2013-09-11T16:05:37"}):
        with pytest.raises(ResultError, match="_time"):
            result_time(bad)
    a = {"_time": "1", "_raw": "<Event/>", "host": "h", "index": "i", "_cd": "1:2"}
    assert dedupe_key(a) == dedupe_key(dict(a, _cd="9:9"))  # raw mode ignores _cd
    assert dedupe_key(a) != dedupe_key(dict(a, _raw="<Event />"))
    assert dedupe_key(a, "cd") == "cd:i:1:2" != dedupe_key(dict(a, index="j"), "cd")
    # Attacker-shaped fields cannot make two different events share a key.
    assert dedupe_key(dict(a, host="h\x00s", source="")) != dedupe_key(dict(a, source="s"))


def per_event_converter(items: list[tuple[str, int]], *, source: str):
    """The reference (the converter before it used the scanner): each result parsed alone."""
    records, failed = [], {}
    for raw, record in items:
        try:
            records.append(parse_xml_record(raw, source=source, record=record))
        except XmlEventError as exc:
            failed[exc.reason] = failed.get(exc.reason, 0) + 1
    parsed = frames_from_records(records)
    return parsed.auth, parsed.process, failed


def test_windows_converter_scans_like_parsing_each_result(tmp_path: Path) -> None:
    """Splunk ``_raw`` texts through the XML scanner: the frames and failures of parsing
    each result on its own, records (result offsets) with gaps kept."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from ingest.simulate import SimConfig, simulate
    from ingest.simulate.windows.writer import write_windows

    write_windows(simulate(SimConfig(days=1, hosts=20, users=10, seed=9, campaigns=1)), tmp_path)
    texts = [*CRAFTED, "  " + CRAFTED[0] + "\n"]  # whitespace around _raw, as Splunk may keep
    for name in ("security.xml", "sysmon.xml", "system.xml"):
        texts += (tmp_path / name).read_text().splitlines()[:400]
    items = [(text, 3 * i + 7) for i, text in enumerate(texts)]
    got = windows_converter(items, source="splunk:t:1")
    want = per_event_converter(items, source="splunk:t:1")
    assert got[0].height > 50 and got[1].height > 10
    assert_frame_equal(got[0], want[0])
    assert_frame_equal(got[1], want[1])
    assert got[2] == want[2] and sum(got[2].values()) >= 3
    assert set(got[0]["record"].to_list()) <= {r for _, r in items}
    empty = windows_converter([], source="splunk:t:1")
    assert empty[0].schema == want[0].schema and empty[0].height == 0 == empty[1].height
    assert empty[1].schema == want[1].schema and empty[2] == {}
    assert got[0].filter(pl.col("record") == 7).height == 1  # CRAFTED[0], a 4624


# -- the export stream reader -----------------------------------------------------------
def export_body(rows: int = 4, previews: int = 2) -> bytes:
    lines = []
    for i in range(previews):
        line = {"preview": True, "offset": i, "result": {"_time": str(T0 + i), "_raw": "p"}}
        lines.append(line | ({"lastrow": True} if i == previews - 1 else {}))
    for i in range(rows):
        line = {"preview": False, "offset": i}
        if i == rows - 1:
            line["lastrow"] = True
        line["result"] = {"_time": str(T0 + i), "_raw": f"<Event>{i}</Event>"}
        lines.append(line)
    return b"".join(json.dumps(x, separators=(",", ":")).encode() + b"\n" for x in lines)


def read_all(body: bytes, block_rows: int = 3) -> list[dict]:
    return [r for b in iter_export_blocks(io.BytesIO(body), block_rows) for r in b.results]


def test_export_reader_never_takes_a_truncated_stream_for_a_whole_one() -> None:
    body = export_body()
    whole = read_all(body)
    assert [r["_raw"] for r in whole] == [f"<Event>{i}</Event>" for i in range(4)]
    assert read_all(b'{"preview":false,"lastrow":true}\n') == []  # nothing matched
    for cut in range(1, len(body)):
        try:
            rows = read_all(body[:cut])
        except StreamCut:
            continue
        # Only a cut after the final row's closing brace may pass: then nothing is lost.
        assert rows == whole, f"cut at byte {cut} was taken as complete"
        assert body[cut:].strip() == b""


def test_export_reader_messages() -> None:
    error = b'{"preview":false,"messages":[{"type":"ERROR","text":"[idx2] Search process did not exit cleanly"}]}\n'  # noqa: E501
    with pytest.raises(SplunkTransient, match="idx2"):
        read_all(error + export_body())
    fatal = b'{"messages":[{"type":"FATAL","text":"Error in \'search\' command: bad"}]}\n'
    with pytest.raises(SplunkQueryError, match="bad"):
        read_all(fatal)
    info = (
        b'{"preview":false,"messages":[{"type":"INFO","text":"Your timerange was substituted"}]}\n'
    )
    lookup = b'{"messages":[{"type":"ERROR","text":"Could not load lookup=LOOKUP-geo"}]}\n'
    assert len(read_all(info + lookup + export_body())) == 4  # logged, not fatal
