"""The "Send to hopwatch" alert action, run as Splunk's sendmodalert runs it:
``hopwatch_send.py --execute`` with the JSON payload on stdin and the results in a
gzipped CSV (multivalues in ``__mv_`` columns), against the live API."""

from __future__ import annotations

import gzip
import json
import subprocess

from tests.ingest.splunk.standin import xml_4624
from tests.splunk_app.chunked import PYTHON, rows_csv
from tests.splunk_app.conftest import free_port
from tests.splunk_app.test_splunk_commands import _inbox_events, classic_4624


def payload(splunkd, results_file, **configuration):
    """The payload Splunk writes for ``payload_format = json``."""
    return {
        "app": "search",
        "owner": "admin",
        "results_file": str(results_file),
        "results_link": "http://sh1:8000/app/search/search?sid=scheduler__admin__search__RMD5",
        "server_host": "sh1",
        "server_uri": splunkd.uri,
        "session_key": splunkd.session_key,
        "sid": "scheduler__admin__search__RMD5a1b2c3_at_1717171717_42",
        "search_name": "Logons to file servers",
        "configuration": {k: str(v) for k, v in configuration.items()},
        "result": {},
    }


def run_action(app_dir, stdin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-E", "-s", str(app_dir / "bin" / "hopwatch_send.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=app_dir / "bin",
    )


def results(tmp_path, rows):
    path = tmp_path / "results.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(rows_csv(rows))
    return path


def test_alert_results_arrive_through_post_events(app_dir, splunkd, live_api, tmp_path):
    rows = [
        {"_time": str(1_800_000_000 + i), "_raw": xml_4624(
            time=1_800_000_000 + i, computer="DC01.corp.example", workstation="WKS-EVE",
            user="Eve", domain="CORP", record=500 + i)}
        for i in range(3)
    ] + [classic_4624(1_800_000_100, "SRV-WEB3", "WKS-EVE", "eve", "CORP", 600)]  # fmt: skip
    done = run_action(
        app_dir, json.dumps(payload(splunkd, results(tmp_path, rows), batch_size=3)), "--execute"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("INFO hopwatch_send: sid=scheduler__admin__search__RMD5")
    assert "batch=1 records=3 sent_xml=3 sent_events=0 accepted=3" in lines[0]
    assert "batch=2 records=1 sent_xml=0 sent_events=1 accepted=1" in lines[1]
    assert lines[-1].endswith("done: 4 results, accepted=4 rejected=0 skipped=0")
    events = _inbox_events(live_api)
    mine = events.filter(events["time"] >= 1_800_000_000).sort("time")
    assert mine["dst_host"].to_list() == ["DC01", "DC01", "DC01", "SRV-WEB3"]
    assert set(mine["dst_user"].to_list()) == {"eve@CORP"}
    assert live_api.keys["write"] not in done.stderr


def test_no_results_sends_nothing(app_dir, splunkd, tmp_path):
    done = run_action(app_dir, json.dumps(payload(splunkd, results(tmp_path, []))), "--execute")
    assert done.returncode == 0
    assert done.stderr.strip().endswith("the search returned no results; nothing sent")


def test_failures_are_one_log_line_in_splunk_terms(app_dir, splunkd, live_api, tmp_path):
    rows = [{"_time": "1", "_raw": xml_4624(time=1, computer="A", workstation="B")}]
    good = payload(splunkd, results(tmp_path, rows))
    cases = []
    cases.append(("not json {", 2, "ERROR hopwatch_send: the alert payload on stdin is not JSON"))
    cases.append(
        (json.dumps({"sid": "x"}), 2,
         "ERROR hopwatch_send: the alert payload lacks session_key, server_uri, results_file")
    )  # fmt: skip
    cases.append(
        (json.dumps({**good, "results_file": str(tmp_path / "gone.csv.gz")}), 2,
         "ERROR hopwatch_send: cannot read the results file")
    )  # fmt: skip
    cases.append(
        (json.dumps({**good, "configuration": {"batch_size": "lots"}}), 2,
         "ERROR hopwatch_send: batch_size='lots': give a whole number from 1 to 10000")
    )  # fmt: skip
    for stdin, status, start in cases:
        done = run_action(app_dir, stdin, "--execute")
        assert done.returncode == status and done.stderr.startswith(start), done.stderr
    done = run_action(app_dir, json.dumps(good))  # no --execute
    assert done.returncode == 2 and done.stderr.startswith("FATAL hopwatch_send")

    splunkd.store("hopwatch", "api", json.dumps({"url": live_api.url, "key": "hw_bad_key_123"}))
    denied = run_action(app_dir, json.dumps(good), "--execute")
    assert denied.returncode == 3
    assert denied.stderr.startswith("ERROR hopwatch_send: hopwatch rejected the API key")

    down = f"http://127.0.0.1:{free_port()}"
    splunkd.store("hopwatch", "api", json.dumps({"url": down, "key": live_api.keys["write"]}))
    unreachable = run_action(app_dir, json.dumps(good), "--execute")
    assert unreachable.returncode == 3
    assert unreachable.stderr.startswith(
        f"ERROR hopwatch_send: the hopwatch API at {down} is unreachable"
    )
    for done in (denied, unreachable):
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
        assert live_api.keys["write"] not in done.stderr
