"""The simulator's Windows form: well-formed XmlWinEventLog, tradecraft, and the real reader."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import polars as pl
import pytest
from defusedxml import ElementTree
from typer.testing import CliRunner

from ingest.simulate import SimConfig, simulate
from ingest.simulate.windows.writer import write_windows
from ingest.simulate.windows.xml import EPOCH_S

CFG = SimConfig(days=3, hosts=40, users=25, seed=3, campaigns=2)
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


@pytest.fixture(scope="module")
def sim():
    return simulate(CFG)


@pytest.fixture(scope="module")
def out(sim, tmp_path_factory):
    path = tmp_path_factory.mktemp("win")
    write_windows(sim, path)
    return path


def _parse(line: str) -> dict:
    root = ElementTree.fromstring(line)
    system = root.find(f"{NS}System")
    data = {d.get("Name"): d.text or "" for d in root.iter(f"{NS}Data")}
    return {
        "eid": int(system.find(f"{NS}EventID").text),
        "computer": system.find(f"{NS}Computer").text,
        "rid": int(system.find(f"{NS}EventRecordID").text),
        "time": system.find(f"{NS}TimeCreated").get("SystemTime"),
        "channel": system.find(f"{NS}Channel").text,
        "data": data,
    }


@pytest.fixture(scope="module")
def parsed(out):
    return {
        name: [_parse(ln) for ln in (out / name).read_text().splitlines()]
        for name in ("system.xml", "sysmon.xml")
    }


def test_lines_are_well_formed_events_sorted_with_record_ids(out, parsed):
    lines = (out / "security.xml").read_text().splitlines()
    assert len(lines) > 10_000
    events = [_parse(ln) for ln in lines[::7]] + parsed["system.xml"] + parsed["sysmon.xml"]
    assert {e["channel"] for e in events} == {
        "Security",
        "System",
        "Microsoft-Windows-Sysmon/Operational",
    }
    assert all(e["computer"].startswith("ar-win-") for e in events)
    times = [_parse(ln)["time"] for ln in lines[:2000]]
    assert times == sorted(times)
    rids = defaultdict(list)
    for e in (_parse(ln) for ln in lines[:3000]):
        rids[e["computer"]].append(e["rid"])
    assert all(r == list(range(1, len(r) + 1)) for r in rids.values())
    full = _parse(next(ln for ln in lines if "<EventID>4624<" in ln))
    assert {"TargetUserName", "LogonType", "IpAddress", "LogonGuid", "ElevatedToken"} <= set(
        full["data"]
    )


def test_same_seed_same_bytes(sim, out, tmp_path):
    write_windows(simulate(CFG), tmp_path)
    for name in ("security.xml", "system.xml", "sysmon.xml", "redteam.txt", "campaigns.json"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def test_campaign_tradecraft(sim, out, parsed):
    truth = json.loads((out / "campaigns.json").read_text())
    hops = [h for c in truth["campaigns"] for h in c["hops"]]
    assert {h["technique"] for h in hops} == {"psexec", "wmiexec"}
    services = parsed["system.xml"]
    procs = parsed["sysmon.xml"]
    shares = [
        _parse(ln) for ln in (out / "security.xml").read_text().splitlines() if ">5145<" in ln
    ]
    for h in hops:
        host = f"{h['dst_host']}.attackrange.local"
        t0 = h["epoch_time"]

        def near(e, host=host, t0=t0):
            return e["computer"] == host and 0 <= _epoch(e["time"]) - t0 <= 120

        if h["technique"] == "psexec":
            share = [e for e in shares if near(e)]
            assert share and share[0]["data"]["ShareName"] == "\\\\*\\ADMIN$"
            assert share[0]["data"]["AccessMask"] == "0x2"
            assert share[0]["data"]["RelativeTargetName"].endswith(".exe")
            assert [e for e in services if near(e) and e["data"]["AccountName"] == "LocalSystem"]
        else:
            wmi = [e for e in procs if near(e)]
            assert wmi
            for e in wmi:
                assert e["data"]["ParentImage"].endswith("WmiPrvSE.exe")
                assert re.search(
                    r"1> \\\\127\.0\.0\.1\\ADMIN\$\\__\d+\.\d+ 2>&1$", e["data"]["CommandLine"]
                )
                assert e["data"]["User"] == "ATTACKRANGE\\" + h["user"].split("@")[0]
    # Only hops leave the wmiexec output-file pattern; benign WMI use does not.
    hop_hosts = {f"{h['dst_host']}.attackrange.local" for h in hops if h["technique"] == "wmiexec"}
    impacket = [e for e in procs if "\\127.0.0.1\\ADMIN$\\__" in e["data"]["CommandLine"]]
    assert impacket and {e["computer"] for e in impacket} <= hop_hosts
    # The raw text is escaped.
    assert "2&gt;&amp;1" in (out / "sysmon.xml").read_text()


def test_benign_lookalikes_present(parsed, sim):
    names = {e["data"]["ServiceName"] for e in parsed["system.xml"]}
    assert "DeployAgentSvc" in names
    deploy = [e for e in parsed["system.xml"] if e["data"]["ServiceName"] == "DeployAgentSvc"]
    assert len({e["computer"] for e in deploy}) >= 0.9 * len(sim.topology.workstations)


def _epoch(system_time: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(system_time[:19] + "+00:00").timestamp())


def test_project_reader_recovers_events_and_labels(sim, out):
    from ingest.windows import read_windows

    data = read_windows([out / n for n in ("security.xml", "system.xml", "sysmon.xml")])
    auth = data.auth
    assert set(data.by_event_id) >= {1, 4624, 4625, 4634, 4672, 4768, 4769, 4776, 5145, 7045}
    assert not auth["src_host"].str.contains(r"^\d+\.\d+\.\d+\.\d+$").any()
    codes = sim.codes
    logons = auth.filter(pl.col("event_code") == 4624)
    assert logons.height == int(((codes.ori == 0) & codes.ok & (codes.lt != 6)).sum())
    assert auth["time"].min() >= EPOCH_S
    red = pl.read_csv(
        out / "redteam.txt", has_header=False, new_columns=["time", "user", "src_host", "dst_host"]
    )
    assert red.height == sim.redteam.height
    hit = red.join(
        logons.filter(pl.col("logon_type") == "Network"),
        left_on=["time", "user", "src_host", "dst_host"],
        right_on=["time", "src_user", "src_host", "dst_host"],
        how="semi",
    )
    assert hit.height == red.height


def test_cli_windows_format(tmp_path):
    from service.cli import build_app

    args = ["simulate", "--out", str(tmp_path), "--days", "2", "--hosts", "30", "--users", "20"]
    res = CliRunner().invoke(build_app(), [*args, "--format", "windows", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["format"] == "windows"
    assert (tmp_path / "security.xml").stat().st_size > 0
    assert summary["redteam"] == len((tmp_path / "redteam.txt").read_text().splitlines())
