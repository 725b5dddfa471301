"""``hopwatch ingest windows`` and ``hopwatch rules run|check|list``, and the simulator's output."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ingest.windows.xml import WinRecord
from service.cli import build_app
from tests.conftest import EVTX_DIR
from tests.ingest.windows.fixtures import render_classic, render_xml

RUNNER = CliRunner()


def rec(event_id: int, n: int, t: str, computer: str, **data: str) -> WinRecord:
    channel = {7045: "System", 1: "Microsoft-Windows-Sysmon/Operational"}.get(event_id, "Security")
    return WinRecord(event_id, t, n, channel, computer, "", dict(data), "", n)


def psexec_hop() -> list[WinRecord]:
    """WS1 -> SRV1 as PsExec does it: network logon, ADMIN$ write, service install."""
    logon = {
        "TargetUserName": "admin",
        "TargetDomainName": "CORP",
        "TargetLogonId": "0x1234",
        "LogonType": "3",
        "AuthenticationPackageName": "NTLM",
        "WorkstationName": "WS1",
        "IpAddress": "10.0.0.11",
    }
    share = {
        "SubjectUserName": "admin",
        "SubjectDomainName": "CORP",
        "SubjectLogonId": "0x1234",
        "ShareName": "\\\\*\\ADMIN$",
        "RelativeTargetName": "PSEXESVC.exe",
        "AccessMask": "0x2",
        "IpAddress": "10.0.0.11",
    }
    return [
        rec(4624, 1, "2024-05-01T10:00:00.1Z", "srv1.corp.local", **logon),
        rec(5145, 2, "2024-05-01T10:00:01.1Z", "srv1.corp.local", **share),
        rec(7045, 3, "2024-05-01T10:00:02.1Z", "srv1.corp.local", ServiceName="PSEXESVC",
            ImagePath="%SystemRoot%\\PSEXESVC.exe", AccountName="LocalSystem"),
        rec(4699, 4, "2024-05-01T10:00:03.1Z", "srv1.corp.local", TaskName="\\t"),
    ]  # fmt: skip


def run(*args: str) -> tuple[int, str]:
    result = RUNNER.invoke(build_app(), list(args))
    return result.exit_code, result.output


def test_ingest_then_rules_on_xml_and_classic_files(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    records = psexec_hop()
    (logs / "a.xml").write_text("\n".join(render_xml(r) for r in records[:2]) + "\n<Event>\n")
    (logs / "b.log").write_text("\n".join(render_classic(r) for r in records[2:]) + "\n")
    out = tmp_path / "data"
    code, output = run(
        "ingest", "windows", str(logs), "--out", str(out), "--window", "1h", "--json"
    )
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary == {
        "events": 4,
        "auth_events": 1,
        "process_events": 2,
        "skipped": {"malformed xml": 1, "unsupported event id": 1},
        "by_event_id": {"4624": 1, "4699": 1, "5145": 1, "7045": 1},
    }
    meta = json.loads((out / "meta.json").read_text())
    assert meta["window_seconds"] == 3600 and meta["source"] == "windows"
    events = pl.read_parquet(out / "events")
    assert events["src_host"].to_list() == ["WS1"] and events["dst_host"].to_list() == ["SRV1"]
    process = pl.read_parquet(out / "process")
    assert sorted(process["kind"]) == ["service", "share"]

    code, output = run("rules", "run", "--data", str(out), "--json")
    assert code == 0, output
    hits = json.loads(output.strip().splitlines()[-1])["hits"]
    assert [h["rule_id"] for h in hits] == ["hw-admin-share-exe-write", "hw-psexec-service-install"]
    first = hits[0]
    assert {"rule_id", "title", "attack", "severity", "time", "host", "user", "source"} <= set(
        first
    )
    assert (first["host"], first["user"], first["source"]) == ("SRV1", "admin@CORP", "a.xml#2")
    assert hits[1]["source"] == "b.log#1" and "T1569.002" in hits[1]["attack"]

    code, output = run("rules", "run", "--data", str(out))
    assert code == 0 and "2 hits" in output


def test_cli_errors_and_rules_check(tmp_path: Path) -> None:
    code, output = run("ingest", "windows", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert code == 2 and "no such file" in output
    code, output = run("rules", "run", "--data", str(tmp_path))
    assert code == 2 and "no events" in output
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "x.yml").write_text(
        "title: needs hashes\nlogsource: {product: windows, category: process_creation}\n"
        "detection:\n  s: {Hashes|contains: abc}\n  condition: s\nlevel: high\n"
    )
    (bad / "ok.yml").write_text(
        "title: fine\nname: ok\nlogsource: {product: windows, service: security}\n"
        "detection:\n  s: {EventID: 4624, LogonType: 10}\n  condition: s\nlevel: low\n"
    )
    code, output = run("rules", "check", "--rules", str(bad), "-v")
    assert code == 0, output
    assert "refused:" in output and "x.yml" in output and "field 'Hashes'" in output
    assert "loaded: ok" in output and "1 rules loaded, 1 refused" in output
    code, output = run("rules", "check")
    assert code == 0 and "0 refused" in output and "0 sample problems" in output
    code, output = run("rules", "list")
    assert code == 0 and "hw-pass-the-hash-logon" in output and "temporal" in output
    conf = tmp_path / "app" / "default" / "savedsearches.conf"
    code, output = run("rules", "export", "--target", "splunk", "--out", str(conf))
    assert code == 0, output
    text = conf.read_text()
    assert text.count("[hopwatch - ") == text.count("\ndisabled = 1\n") > 20
    code, output = run("rules", "export", "--target", "elastic")
    assert code == 2 and "unknown target" in output


@pytest.mark.shared_data
def test_cli_on_the_real_evtx_folder(tmp_path: Path) -> None:
    out = tmp_path / "data"
    small = [
        EVTX_DIR / n
        for n in (
            "LM_WMIC_4648_rpcss.evtx",
            "LM_Remote_Service02_7045.evtx",
            "CA_4624_4625_LogonType2_LogonProc_chrome.evtx",
        )
    ]
    code, output = run("ingest", "windows", *map(str, small), "--out", str(out), "--json")
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["events"] == 5 + 3 + 4 and summary["auth_events"] == 3 + 4
    code, output = run("rules", "run", "--data", str(out), "--json")
    hits = json.loads(output.strip().splitlines()[-1])["hits"]
    fired = {(h["rule_id"], h["source"].split("#")[0]) for h in hits}
    assert fired == {
        ("hw-explicit-creds-remote", "LM_WMIC_4648_rpcss.evtx"),
        ("hw-wmic-remote", "LM_WMIC_4648_rpcss.evtx"),
        ("hw-remote-exec-service-install", "LM_Remote_Service02_7045.evtx"),
        ("hw-browser-password-prompt", "CA_4624_4625_LogonType2_LogonProc_chrome.evtx"),
    }


def test_simulator_windows_output_parses_and_hops_fire_rules(tmp_path: Path) -> None:
    from detections.rules import load_rules, rule_view, run_rules
    from ingest.simulate import SimConfig, simulate
    from ingest.simulate.windows.writer import write_windows
    from ingest.windows import read_windows

    write_windows(simulate(SimConfig(days=1, hosts=30, users=20, seed=1, campaigns=3)), tmp_path)
    data = read_windows(
        [tmp_path / "security.xml", tmp_path / "system.xml", tmp_path / "sysmon.xml"]
    )
    assert data.skipped == {} and data.auth.height > 1000
    hits = run_rules(load_rules(), rule_view(data.auth, data.process))
    hops = [h for c in json.loads((tmp_path / "campaigns.json").read_text())["campaigns"]
            for h in c["hops"]]  # fmt: skip
    expected = {
        "psexec": {"hw-admin-share-exe-write"},
        "wmiexec": {"hw-impacket-exec-commandline", "hw-wmi-spawned-process"},
    }
    # PsExec's service is PSEXESVC or, now and then, a random 8-letter name (the
    # simulator's tradecraft): the child-process rule fires for the first, the generic
    # remote-execution service rule for the second.
    either = {"psexec": {"hw-psexec-child-process", "hw-remote-exec-service-install"}}
    known = [h for h in hops if h["technique"] in expected]
    assert known, hops
    for hop in known:
        near = hits.filter(
            (pl.col("host") == hop["dst_host"].upper())
            & ((pl.col("time") - hop["epoch_time"]).abs() <= 120)
        )
        fired = set(near["rule_id"])
        assert expected[hop["technique"]] <= fired, hop
        assert fired & either.get(hop["technique"], fired), hop


def test_ingest_windows_with_redteam_labels_the_simulated_hops(tmp_path: Path) -> None:
    """``--redteam`` labels the Windows form as LANL ingest labels the LANL form."""
    from ingest.graphs import GraphStore
    from ingest.simulate import SimConfig, simulate
    from ingest.simulate.windows.writer import write_windows

    files = write_windows(
        simulate(SimConfig(days=2, hosts=30, users=20, seed=3, campaigns=2)), tmp_path / "sim"
    )
    redteam = files["redteam"].read_text().split()
    logs = [str(tmp_path / "sim" / name) for name in ("security.xml", "system.xml")]
    out = tmp_path / "data"
    code, output = run(
        "ingest", "windows", *logs, "--out", str(out), "--redteam", str(files["redteam"]), "--json"
    )
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["redteam_lines"] == len(redteam) > 0
    assert summary["labeled_events"] == len(redteam)  # every hop has its logon
    store = GraphStore(out)
    first = min(int(line.split(",")[0]) for line in redteam)
    assert store.meta["has_labels"] and store.meta["first_label_time"] == first
    labelled = store.edges().filter(pl.col("label"))
    pairs = {tuple(line.split(",")[2:]) for line in redteam}
    assert set(labelled.select("src_host", "dst_host").iter_rows()) == pairs
    code, output = run("ingest", "windows", *logs, "--out", str(out), "--redteam", "nope.txt")
    assert code == 2 and "red-team file not found" in output
