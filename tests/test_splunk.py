"""The Splunk pull worker against a stand-in splunkd that speaks the real wire format."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
from pathlib import Path

import polars as pl
import pytest

from ingest.splunk import (
    SplunkAuthError,
    SplunkConfig,
    SplunkPuller,
    SplunkQueryError,
    SplunkUnavailable,
)
from ingest.splunk_checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from ingest.splunk_config import SplunkConfigError
from ingest.splunk_results import ResultError, dedupe_key, result_time
from ingest.splunk_sink import EventSink, build_dataset
from tests.splunkd_standin import Event, SplunkdStandin, parse_search, xml_4624

T0 = 1_800_000_000  # 2027-01-15T08:00:00Z
HOUR = 3600
N = 120  # matching events over 3 hours
SECRET = "good-token"


def make_events(n: int = N, start: int = T0, step: float = 90.0) -> list[Event]:
    """``n`` 4624 network logons (unique TargetLogonId ``0x1000+i``), plus noise.

    Every 10th event shares its second with the previous one (boundary keys matter);
    the noise (another index, another sourcetype) must never be pulled.
    """
    events = []
    for i in range(n):
        t = start + i * step + (0.75 - step if i % 10 == 0 and i else 0.25)
        events.append(
            Event(
                time=t,
                raw=xml_4624(
                    time=t,
                    computer=f"srv{i % 3}.attackrange.local",
                    workstation=f"WS{i % 7}",
                    user=f"user{i % 5}",
                    record=10_000 + i,
                    logon_id=hex(0x1000 + i),
                ),
                host=f"srv{i % 3}",
            )
        )
    noise = [
        Event(
            time=start + 30,
            raw=xml_4624(time=start + 30, computer="x", workstation="y"),
            host="x",
            index="other",
        ),
        Event(time=start + 60, raw="not xml at all", host="x", sourcetype="syslog"),
    ]
    return events + noise


EXPECTED_IDS = sorted(hex(0x1000 + i) for i in range(N))


def config(standin: SplunkdStandin, **overrides: object) -> SplunkConfig:
    base: dict = {
        "host": "127.0.0.1",
        "port": standin.port,
        "scheme": "http",
        "token": SECRET,
        "index": "wineventlog",
        "sourcetypes": ["XmlWinEventLog"],
        "start": T0,
        "batch_span": "90m",
        "lag": 0,
        "block_rows": 100,
        "max_retries": 5,
        "backoff_base": 0.01,
        "backoff_cap": 0.04,
        "timeout": 10.0,
    }
    base.update(overrides)
    return SplunkConfig(**base)


def puller(cfg: SplunkConfig, out: Path, sleeps: list | None = None, **kw) -> SplunkPuller:
    sleeps = [] if sleeps is None else sleeps
    return SplunkPuller(cfg, out, now=lambda: T0 + 3 * HOUR + 60, sleep=sleeps.append, **kw)


def stored(out: Path) -> tuple[pl.DataFrame, list[str]]:
    sink = EventSink(out)
    auth = sink.scan("auth").collect()
    keys = pl.read_parquet(sink.dirs["ledger"] / "*.parquet")["splunk_key"].to_list()
    return auth, keys


def assert_exactly_once(out: Path) -> pl.DataFrame:
    auth, keys = stored(out)
    assert len(keys) == len(set(keys)) == N
    assert sorted(auth["logon_id"].str.to_lowercase().to_list()) == EXPECTED_IDS
    return auth


# -- normal pull ------------------------------------------------------------------------
def test_pull_with_token_reads_every_event_once(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        p = puller(config(standin), tmp_path)
        summary = p.pull()
        auth = assert_exactly_once(tmp_path)
        exports = standin.exports()
    assert summary.pulled == N and summary.auth_events == N and summary.duplicates == 0
    assert summary.checkpoint_time == T0 + 3 * HOUR + 60
    assert load_checkpoint(tmp_path / "splunk" / "checkpoint.json").time == T0 + 3 * HOUR + 60
    # The SDK's real requests: version probe, then v2 export in JSON, contiguous windows.
    assert all(r.path == "/services/search/v2/jobs/export" for r in exports)
    assert all(r.authorization == f"Bearer {SECRET}" for r in standin.requests)
    assert [r.params["output_mode"] for r in exports] == ["json"] * len(exports)
    bounds = [(int(r.params["earliest_time"]), int(r.params["latest_time"])) for r in exports]
    assert bounds[0][0] == T0 and bounds[-1][1] == T0 + 3 * HOUR + 60
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert 'sourcetype="XmlWinEventLog"' in exports[0].params["search"]
    assert standin.previews_sent > 0  # "| sort 0 _time" streams previews: all skipped
    # Canonical events from _raw, with Splunk provenance.
    row = auth.filter(pl.col("logon_id").str.to_lowercase() == hex(0x1000 + 8)).row(0, named=True)
    assert row["time"] == T0 + 8 * 90
    assert row["src_host"].lower() == "ws1" and row["dst_host"].lower() == "srv2"
    assert row["source"].startswith("splunk:hopwatch:") and row["record"] >= 0
    assert row["success"] is True and row["logon_type"] == "Network"


def test_second_pull_is_incremental(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        first = puller(config(standin), tmp_path).pull()
        later = SplunkPuller(
            config(standin), tmp_path, now=lambda: T0 + 3 * HOUR + 600, sleep=lambda s: None
        )
        second = later.pull()
        exports = standin.exports()
    assert first.pulled == N and second.pulled == 0 and second.windows == 1
    assert int(exports[-1].params["earliest_time"]) == T0 + 3 * HOUR + 60
    assert_exactly_once(tmp_path)


def test_build_dataset_from_pulled_events(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        puller(config(standin), tmp_path).pull()
    meta = build_dataset(tmp_path, window_seconds=1800)
    assert meta["events"] == N and meta["source"] == "splunk"
    events = pl.read_parquet(tmp_path / "events" / "*.parquet")
    assert events.height == N and events["window"].min() == T0 // 1800
    assert (tmp_path / "nodes.parquet").is_file() and meta["edges"] > 0


def test_login_with_username_and_password(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with SplunkdStandin(make_events(), users={"svc_hopwatch": "s3cr3t-pw"}) as standin:
        cfg = config(standin, token=None, username="svc_hopwatch", password="s3cr3t-pw")
        summary = puller(cfg, tmp_path).pull()
        login = [r for r in standin.requests if r.path == "/services/auth/login"]
        exports = standin.exports()
    assert summary.pulled == N
    assert len(login) == 1 and login[0].method == "POST"
    key = next(iter(standin.sessions))
    assert all(r.authorization == f"Splunk {key}" for r in exports)
    assert "s3cr3t-pw" not in caplog.text and "s3cr3t-pw" not in repr(cfg)


def test_splunk_8_uses_v1_export(tmp_path: Path) -> None:
    with SplunkdStandin(make_events(), version="8.2.6") as standin:
        summary = puller(config(standin), tmp_path).pull()
        paths = {r.path for r in standin.exports()}
    assert summary.pulled == N and paths == {"/services/search/jobs/export"}


# -- failures that must not be retried --------------------------------------------------
def test_bad_token_fails_fast_without_leaking_it(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        sleeps: list[float] = []
        p = puller(config(standin, token="stolen-or-expired"), tmp_path, sleeps)
        with pytest.raises(SplunkAuthError) as err:
            p.pull()
        statuses = [r.status for r in standin.requests]
    assert "401" in str(err.value) and "not properly authenticated" in str(err.value)
    assert "stolen-or-expired" not in str(err.value)
    assert statuses == [401] and sleeps == []
    assert not (tmp_path / "splunk" / "checkpoint.json").exists()


def test_wrong_password_fails_fast(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        cfg = config(standin, token=None, username="admin", password="wrong")
        with pytest.raises(SplunkAuthError, match="Login failed"):
            puller(cfg, tmp_path).pull()
        assert [r.status for r in standin.requests] == [401]


def test_bad_query_fails_fast_with_splunk_message(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        cfg = config(standin, query="search index={index} | frobnicate")
        with pytest.raises(SplunkQueryError, match="Unknown search command 'frobnicate'"):
            puller(cfg, tmp_path).pull()
        assert [r.status for r in standin.exports()] == [400]


# -- failures that are retried ----------------------------------------------------------
def test_503_and_dropped_connections_are_retried_with_capped_backoff(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        standin.faults.unavailable = 3
        standin.faults.drop_before_headers = 1
        sleeps: list[float] = []
        summary = puller(config(standin), tmp_path, sleeps).pull()
        statuses = [r.status for r in standin.requests]
    assert statuses[:4] == [0, 503, 503, 503]  # 0: dropped without an answer
    assert summary.retries == 4 and len(sleeps) == 4
    caps = [min(0.04, 0.01 * 2**k) for k in range(4)]
    assert all(0 <= s <= c for s, c in zip(sleeps, caps, strict=True))
    assert_exactly_once(tmp_path)


def test_unreachable_splunk_gives_up_after_retries(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = SplunkConfig(
        host="127.0.0.1",
        port=port,
        scheme="http",
        token=SECRET,
        start=T0,
        lag=0,
        max_retries=2,
        backoff_base=0.01,
        backoff_cap=0.02,
    )
    sleeps: list[float] = []
    with pytest.raises(SplunkUnavailable, match="giving up after 3 attempts"):
        puller(cfg, tmp_path, sleeps).pull()
    assert len(sleeps) == 2


# -- cut streams, crashes, restarts -----------------------------------------------------
@pytest.mark.parametrize("sort", [True, False], ids=["oldest-first", "newest-first"])
def test_cut_stream_mid_way_loses_and_duplicates_nothing(tmp_path: Path, sort: bool) -> None:
    query = "search index={index} {sourcetypes}" + (" | sort 0 _time" if sort else "")
    with SplunkdStandin(make_events()) as standin:
        standin.faults.cut_after = [75, 33, 3]  # 80 rows per 2h window, 40 per block
        cfg = config(standin, query=query, batch_span="2h", block_rows=40)
        summary = puller(cfg, tmp_path).pull()
        assert standin.faults.cut_after == []  # every cut happened
    assert summary.retries == 3
    assert_exactly_once(tmp_path)
    if not sort:
        # Newest-first: the 40 rows committed before the first cut are re-read, skipped.
        assert summary.duplicates == 40


class Crash(BaseException):
    """Stands for kill -9 between persisting a block and writing its checkpoint."""


class CrashingPuller(SplunkPuller):
    def __init__(self, *args, crash_at: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.advances = 0
        self.crash_at = crash_at

    def _advance(self, second: int) -> None:
        self.advances += 1
        if self.advances == self.crash_at:
            raise Crash
        super()._advance(second)


@pytest.mark.parametrize("crash_at", [1, 5])
def test_restart_from_checkpoint_after_crash(tmp_path: Path, crash_at: int) -> None:
    now = lambda: T0 + 3 * HOUR + 60  # noqa: E731
    with SplunkdStandin(make_events()) as standin:
        cfg = config(standin, block_rows=30)
        first = CrashingPuller(cfg, tmp_path, now=now, sleep=lambda s: None, crash_at=crash_at)
        with pytest.raises(Crash):
            first.pull()
        before = EventSink(tmp_path).count()
        assert before > 0  # something was persisted but not checkpointed
        second = SplunkPuller(cfg, tmp_path, now=now, sleep=lambda s: None)
        summary = second.pull()
    assert summary.duplicates > 0  # re-read from the old checkpoint, skipped
    assert before + summary.pulled == N
    assert_exactly_once(tmp_path)


def test_orphan_parts_of_an_unfinished_commit_are_removed(tmp_path: Path) -> None:
    with SplunkdStandin(make_events()) as standin:
        puller(config(standin), tmp_path).pull()
    sink = EventSink(tmp_path)
    part = next(iter(sink.parts("auth").values()))
    orphan = part.with_name("part-99999.parquet")
    orphan.write_bytes(part.read_bytes())
    (part.parent / ".part-99999.parquet.tmp").write_bytes(b"partial")
    reopened = EventSink(tmp_path)
    assert reopened.removed_orphans == 1 and not orphan.exists()
    assert [p.name for p in part.parent.iterdir() if p.name.startswith(".")] == []
    assert_exactly_once(tmp_path)


def test_follow_pulls_until_stopped(tmp_path: Path) -> None:
    clock = [T0 + HOUR]
    with SplunkdStandin(make_events()) as standin:
        p = SplunkPuller(
            config(standin, poll_interval=0), tmp_path, now=lambda: clock[0], sleep=lambda s: None
        )
        stop = threading.Event()
        pulls = []
        for summary in p.follow(stop):
            pulls.append(summary.pulled)
            clock[0] += HOUR
            if clock[0] > T0 + 4 * HOUR:
                stop.set()
    assert sum(pulls) == N and len(pulls) == 4
    assert_exactly_once(tmp_path)


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


# -- command line -----------------------------------------------------------------------
def test_cli_pull_prints_json_summary(tmp_path: Path) -> None:
    import time

    from typer.testing import CliRunner

    from service.cli import build_app

    start = int(time.time()) - 3 * HOUR
    events = make_events(start=start)
    with SplunkdStandin(events) as standin:
        path = tmp_path / "splunk.toml"
        path.write_text(
            f'[splunk]\nhost = "127.0.0.1"\nport = {standin.port}\nscheme = "http"\n'
            f'token = "{SECRET}"\nindex = "wineventlog"\nstart = {start}\nlag = "0s"\n'
            'batch_span = "2h"\n'
        )
        args = ["ingest", "splunk", "--config", str(path), "--out", str(tmp_path / "d"), "--json"]
        runner = CliRunner()
        first = runner.invoke(build_app(), args)
        second = runner.invoke(build_app(), args)
        path.write_text(path.read_text().replace(SECRET, "nope"))
        (tmp_path / "d" / "splunk" / "checkpoint.json").unlink()
        denied = runner.invoke(build_app(), args)
    assert first.exit_code == 0, first.output
    one = json.loads(first.stdout.strip().splitlines()[-1])
    two = json.loads(second.stdout.strip().splitlines()[-1])
    assert one["pulled"] == N and one["duplicates"] == 0 and one["dataset_events"] == N
    assert two["pulled"] == 0 and two["checkpoint_time"] >= one["checkpoint_time"]
    assert json.loads((tmp_path / "d" / "meta.json").read_text())["events"] == N
    assert denied.exit_code == 3 and "nope" not in denied.output


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
    import io

    from ingest.splunk import iter_export_blocks

    return [r for b in iter_export_blocks(io.BytesIO(body), block_rows) for r in b.results]


def test_export_reader_never_takes_a_truncated_stream_for_a_whole_one() -> None:
    from ingest.splunk import StreamCut

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
    from ingest.splunk import _Transient

    error = b'{"preview":false,"messages":[{"type":"ERROR","text":"[idx2] Search process did not exit cleanly"}]}\n'  # noqa: E501
    with pytest.raises(_Transient, match="idx2"):
        read_all(error + export_body())
    fatal = b'{"messages":[{"type":"FATAL","text":"Error in \'search\' command: bad"}]}\n'
    with pytest.raises(SplunkQueryError, match="bad"):
        read_all(fatal)
    info = (
        b'{"preview":false,"messages":[{"type":"INFO","text":"Your timerange was substituted"}]}\n'
    )
    lookup = b'{"messages":[{"type":"ERROR","text":"Could not load lookup=LOOKUP-geo"}]}\n'
    assert len(read_all(info + lookup + export_body())) == 4  # logged, not fatal


# -- real logs through the stand-in -----------------------------------------------------
@pytest.mark.shared_data
def test_real_evtx_events_pulled_through_splunk_match_the_file_reader(tmp_path: Path) -> None:
    """Every record of the shared EVTX samples, indexed as XmlWinEventLog and pulled back,
    gives the same canonical events as reading the files directly."""
    import re
    from datetime import datetime

    from ingest.win_evtx import iter_evtx_xml
    from ingest.windows import read_windows
    from tests.conftest import EVTX_DIR

    files = sorted(EVTX_DIR.glob("*.evtx"))
    events = []
    for path in files:
        for _, text, _ in iter_evtx_xml(path):
            if text is None:
                continue
            stamp = re.search(r"SystemTime=['\"]([^'\"]+)['\"]", text).group(1)
            when = datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()
            events.append(Event(time=when, raw=text, host=path.stem))
    start = int(min(e.time for e in events))
    end = int(max(e.time for e in events)) + 1
    with SplunkdStandin(events) as standin:
        cfg = config(standin, start=start, batch_span=end - start, block_rows=100_000)
        p = SplunkPuller(cfg, tmp_path, now=lambda: end, sleep=lambda s: None)
        summary = p.pull()
    direct = read_windows(files)
    assert summary.pulled == len(events) and summary.unparsed == {}
    sink = EventSink(tmp_path)
    drop = ["source", "record", "splunk_key"]
    for name, expected in (("auth", direct.auth), ("process", direct.process)):
        got = sink.scan(name).collect().drop(drop)
        want = expected.drop(["source", "record"])
        assert got.height == want.height > 0
        assert got.sort(got.columns).equals(want.sort(want.columns)), name


# -- a real kill -9 ---------------------------------------------------------------------
CHILD = """
import sys
from pathlib import Path
from ingest.splunk import SplunkConfig, SplunkPuller
port, out, t0 = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
cfg = SplunkConfig(host="127.0.0.1", port=port, scheme="http", token="good-token",
                   index="wineventlog", start=t0, batch_span="30m", lag=0, block_rows=10)
summary = SplunkPuller(cfg, out, now=lambda: t0 + 3 * 3600 + 60).pull()
print(summary.pulled, summary.duplicates)
"""


def test_sigkill_mid_pull_then_restart(tmp_path: Path) -> None:
    """A real ``kill -9`` in the middle of a window, after some of its blocks were committed."""
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    with SplunkdStandin(make_events()) as standin:
        standin.faults.stall_after = [None, None, 15]  # third window (20 rows): 15, then hang
        args = [sys.executable, "-c", CHILD, str(standin.port), str(tmp_path), str(T0)]
        child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert standin.faults.stalled.wait(90), "the child never reached the third window"
        time.sleep(0.5)  # let it commit the blocks it has
        child.kill()
        child.wait()
        standin.faults.release.set()
        assert child.returncode != 0  # killed before it finished
        rerun = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    pulled_after, _ = map(int, rerun.stdout.split())
    assert 0 < pulled_after < N
    assert_exactly_once(tmp_path)


# -- TLS --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_with_ca_file_and_refusal_without(tmp_path: Path, certificate) -> None:
    from ingest.splunk import SplunkTLSError

    cert, key = certificate
    with SplunkdStandin(make_events(), tls=(str(cert), str(key))) as standin:
        sleeps: list[float] = []
        with pytest.raises(SplunkTLSError, match="certificate verify failed"):
            puller(config(standin, scheme="https"), tmp_path / "a", sleeps).pull()
        assert sleeps == []  # not retried
        summary = puller(config(standin, scheme="https", ca_file=cert), tmp_path).pull()
    assert summary.pulled == N
    assert_exactly_once(tmp_path)
