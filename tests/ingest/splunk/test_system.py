"""The Splunk worker end to end: real EVTX samples, a real ``kill -9``, HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.splunk import SplunkPuller
from ingest.splunk.sink import EventSink
from tests.ingest.splunk.standin import Event, SplunkdStandin
from tests.ingest.splunk.test_pull import T0, N, assert_exactly_once, config, make_events, puller


# -- real logs through the stand-in -----------------------------------------------------
@pytest.mark.shared_data
def test_real_evtx_events_pulled_through_splunk_match_the_file_reader(tmp_path: Path) -> None:
    """Every record of the shared EVTX samples, indexed as XmlWinEventLog and pulled back,
    gives the same canonical events as reading the files directly."""
    import re
    from datetime import datetime

    from ingest.windows import read_windows
    from ingest.windows.evtx import iter_evtx_xml
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
