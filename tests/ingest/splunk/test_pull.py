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
from ingest.splunk.checkpoint import (
    load_checkpoint,
)
from ingest.splunk.sink import EventSink, build_dataset
from tests.ingest.splunk.standin import Event, SplunkdStandin, xml_4624

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
        plain = runner.invoke(build_app(), args[:-1])
        path.write_text(path.read_text().replace(SECRET, "nope"))
        (tmp_path / "d" / "splunk" / "checkpoint.json").unlink()
        denied = runner.invoke(build_app(), args)
    assert first.exit_code == 0, first.output
    one = json.loads(first.stdout.strip().splitlines()[-1])
    two = json.loads(second.stdout.strip().splitlines()[-1])
    assert one["pulled"] == N and one["duplicates"] == 0 and one["dataset_events"] == N
    assert two["pulled"] == 0 and two["checkpoint_time"] >= one["checkpoint_time"]
    assert json.loads((tmp_path / "d" / "meta.json").read_text())["events"] == N
    assert plain.exit_code == 0 and "pulled 0 results" in plain.stdout
    assert denied.exit_code == 3 and "nope" not in denied.output
