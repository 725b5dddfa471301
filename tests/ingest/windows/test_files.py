"""The real EVTX samples in ../shared/data, read as EVTX, XmlWinEventLog and classic text.

The XML and classic forms are rendered from the EVTX records by
``tests/ingest/windows/fixtures.py`` (written to a temporary folder; the GPL samples are
never copied into the repository). All three forms must give the same
canonical events, and the tests name which rule fires on which file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from detections.rules import load_rules, rule_view, run_rules
from ingest.windows import frames_from_records, read_windows
from ingest.windows.evtx import TemplateRenderer, iter_evtx_events
from ingest.windows.xml import WinRecord
from tests.conftest import EVTX_DIR
from tests.ingest.windows.fixtures import render_classic, render_xml

pytestmark = pytest.mark.shared_data

#: Which rules fire on which recording, and the ATT&CK technique each recording shows.
EXPECTED_RULES = {
    "CA_4624_4625_LogonType2_LogonProc_chrome.evtx": {"hw-browser-password-prompt"},
    "LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx": {"hw-pass-the-hash-logon"},
    "LM_5145_Remote_FileCopy.evtx": {"hw-admin-share-exe-write"},
    "LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx": {"hw-winrm-spawned-process"},
    "LM_Remote_Service02_7045.evtx": {"hw-remote-exec-service-install"},
    "LM_ScheduledTask_ATSVC_target_host.evtx": {
        "hw-atsvc-remote-task",
        "hw-atexec-task-content",
        "hw-remote-task-network-logon",
        "hw-task-shell-action",
    },
    "LM_WMIC_4648_rpcss.evtx": {"hw-explicit-creds-remote", "hw-wmic-remote"},
    "LM_WMI_4624_4688_TargetHost.evtx": {"hw-wmi-spawned-process"},
    "LM_renamed_psexecsvc_5145.evtx": {
        "hw-admin-share-exe-write",
        "hw-admin-share-root-exe-drop",
        "hw-psexec-named-pipes",
        "hw-svcctl-remote-pipe",
    },
    "LM_wmiexec_impacket_sysmon_whoami.evtx": {
        "hw-impacket-exec-commandline",
        "hw-wmi-spawned-process",
    },
}
TECHNIQUE = {
    "CA_4624_4625_LogonType2_LogonProc_chrome.evtx": "T1555.003",
    "LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx": "T1550.002",
    "LM_5145_Remote_FileCopy.evtx": "T1570",
    "LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx": "T1021.006",
    "LM_Remote_Service02_7045.evtx": "T1569.002",
    "LM_ScheduledTask_ATSVC_target_host.evtx": "T1053.005",
    "LM_WMIC_4648_rpcss.evtx": "T1047",
    "LM_WMI_4624_4688_TargetHost.evtx": "T1047",
    "LM_renamed_psexecsvc_5145.evtx": "T1569.002",
    "LM_wmiexec_impacket_sysmon_whoami.evtx": "T1047",
}
FORMS = ("evtx", "xml", "classic")


@pytest.fixture(scope="module")
def evtx_records() -> dict[str, list[WinRecord]]:
    """Every sample's records, read once through python-evtx."""
    out = {}
    for name in EXPECTED_RULES:
        results = list(iter_evtx_events(EVTX_DIR / name))
        assert all(r.error is None for r in results), name
        out[name] = [r.record for r in results]
    return out


@pytest.fixture(scope="module")
def rendered(
    evtx_records: dict[str, list[WinRecord]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """XmlWinEventLog and classic-text renderings of every sample, in a temporary folder."""
    root = tmp_path_factory.mktemp("winforms")
    for form, render in (("xml", render_xml), ("classic", render_classic)):
        (root / form).mkdir()
        for name, records in evtx_records.items():
            text = "\n".join(render(r) for r in records) + "\n"
            (root / form / name.replace(".evtx", f".{form}.log")).write_text(text)
    return root


@pytest.fixture(scope="module")
def frames_by_form(
    evtx_records: dict[str, list[WinRecord]], rendered: Path
) -> dict[str, dict[str, tuple[pl.DataFrame, pl.DataFrame]]]:
    out: dict[str, dict[str, tuple[pl.DataFrame, pl.DataFrame]]] = {f: {} for f in FORMS}
    for name, records in evtx_records.items():
        out["evtx"][name] = frames_from_records(records)
        for form in ("xml", "classic"):
            data = read_windows([rendered / form / name.replace(".evtx", f".{form}.log")])
            assert data.events == len(records)
            assert "malformed xml" not in data.skipped
            out[form][name] = (data.auth, data.process)
    return out


def _same_events(a: pl.DataFrame, b: pl.DataFrame) -> None:
    # Provenance differs by design: the file name, and ``record`` is the
    # EventRecordID for EVTX but the line number for the text forms.
    assert a.drop("source", "record").equals(b.drop("source", "record")), (a, b)


@pytest.mark.parametrize("name", sorted(EXPECTED_RULES))
def test_three_forms_give_the_same_canonical_events(
    name: str, frames_by_form: dict, evtx_records: dict
) -> None:
    evtx_auth, evtx_proc = frames_by_form["evtx"][name]
    assert evtx_auth.height + evtx_proc.height > 0
    for form in ("xml", "classic"):
        auth, proc = frames_by_form[form][name]
        _same_events(evtx_auth, auth)
        _same_events(evtx_proc, proc)
        assert auth["source"].str.ends_with(f".{form}.log").all()
    ids = {r.record_id for r in evtx_records[name]}
    assert set(evtx_auth["record"]) | set(evtx_proc["record"]) <= ids


@pytest.mark.parametrize("name", sorted(EXPECTED_RULES))
def test_rules_fire_on_the_expected_files_in_every_form(name: str, frames_by_form: dict) -> None:
    rules = load_rules()
    for form in FORMS:
        auth, proc = frames_by_form[form][name]
        hits = run_rules(rules, rule_view(auth, proc))
        assert set(hits["rule_id"]) == EXPECTED_RULES[name], form
        techniques = {t for row in hits["attack"].to_list() for t in row}
        assert TECHNIQUE[name] in techniques, (form, techniques)
        if form == "evtx" and hits.height:
            assert hits["source"].str.starts_with(f"{name}#").all()


def test_chrome_interactive_logons_are_local(frames_by_form: dict) -> None:
    auth, _ = frames_by_form["evtx"]["CA_4624_4625_LogonType2_LogonProc_chrome.evtx"]
    assert (auth["src_host"] == auth["dst_host"]).all()
    assert set(auth["logon_type"]) == {"Interactive", "Service"}
    assert auth["success"].to_list().count(False) == 1


def test_network_logons_become_host_to_host_edges(frames_by_form: dict) -> None:
    auth, _ = frames_by_form["evtx"]["LM_WMI_4624_4688_TargetHost.evtx"]
    admin = auth.filter(pl.col("dst_user") == "administrator@EXAMPLE")
    # Kerberos logons carry no workstation: the IP is resolved through the NTLM logon.
    assert set(admin["src_host"]) == {"PC01"} and set(admin["dst_host"]) == {"WIN-77LTAPHIQ1R"}
    assert set(admin["auth_type"]) == {"Kerberos", "NTLM"}


def test_template_renderer_matches_python_evtx() -> None:
    from Evtx.Evtx import Evtx

    renderer = TemplateRenderer()
    for name in ("LM_WMI_4624_4688_TargetHost.evtx", "LM_wmiexec_impacket_sysmon_whoami.evtx"):
        with Evtx(str(EVTX_DIR / name)) as log:
            for rec in log.records():
                assert renderer.render(rec.root()) == rec.xml()


def test_folder_read_counts(evtx_records: dict, rendered: Path) -> None:
    data = read_windows([rendered / "xml", rendered / "classic"])
    n = sum(len(v) for v in evtx_records.values())
    assert data.events == 2 * n == 2 * 959
    assert data.by_event_id[5145] == 2 * (869 + 22 + 5)
    assert data.skipped == {"unsupported event id": 2 * 7}  # 1102 x3, 4661 x3, 4699


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_evtx_is_reported_not_fatal(tmp_path: Path, damage: str) -> None:
    import random

    data = bytearray((EVTX_DIR / "LM_WMI_4624_4688_TargetHost.evtx").read_bytes())
    if damage == "truncate":
        data = data[:40_000]
    else:
        rng = random.Random(1)
        for _ in range(200):
            data[4096 + 512 + rng.randrange(60_000)] = rng.randrange(256)
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(bytes(data))
    result = read_windows([bad, EVTX_DIR / "LM_Remote_Service02_7045.evtx"])
    assert result.skipped.get("unreadable evtx record", 0) >= 1
    assert result.process.height == 3  # the intact file is still read
