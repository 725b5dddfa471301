"""Mapping of Windows records to canonical auth and process events (small hand-made records)."""

from __future__ import annotations

import polars as pl
import pytest

from ingest.schema import PROCESS_SCHEMA, validate
from ingest.schema import WINDOWS_AUTH_SCHEMA as AUTH_SCHEMA
from ingest.windows import frames_from_records
from ingest.windows.classic import iter_classic_events
from ingest.windows.xml import WinRecord
from tests.ingest.windows.fixtures import render_classic


def rec(
    event_id: int,
    computer: str = "srv1.corp.local",
    t: str = "2024-05-01T10:00:00.9999999Z",
    n: int = 1,
    channel: str | None = None,
    **data: str,
) -> WinRecord:
    """One record; channel follows the event id unless given."""
    if channel is None:
        channel = {
            1: "Microsoft-Windows-Sysmon/Operational",
            3: "Microsoft-Windows-Sysmon/Operational",
        }
        channel = channel.get(event_id, "System" if event_id == 7045 else "Security")
    return WinRecord(event_id, t, n, channel, computer, "", dict(data), "f.xml", n)


def auth_of(*records: WinRecord) -> list[dict]:
    auth, _ = frames_from_records(list(records))
    assert auth.schema == AUTH_SCHEMA
    return auth.to_dicts()


def proc_of(*records: WinRecord) -> list[dict]:
    _, process = frames_from_records(list(records))
    assert process.schema == PROCESS_SCHEMA
    return process.to_dicts()


NET = {
    "TargetUserName": "Alice",
    "TargetDomainName": "corp.local",
    "TargetLogonId": "0x00000000001D313D",
    "LogonType": "3",
    "AuthenticationPackageName": "NTLM",
}


def test_network_logon_with_workstation() -> None:
    (row,) = auth_of(rec(4624, WorkstationName="ws7", IpAddress="10.0.0.7", **NET))
    assert row["time"] == 1714557600
    assert row["src_host"] == "WS7" and row["dst_host"] == "SRV1"
    assert row["src_user"] == row["dst_user"] == "alice@CORP"
    assert (row["auth_type"], row["logon_type"], row["orientation"]) == ("NTLM", "Network", "LogOn")
    assert row["success"] is True and row["event_code"] == 4624
    assert row["logon_id"] == "0x1d313d" and row["src_ip"] == "10.0.0.7"
    assert row["source"] == "f.xml" and row["record"] == 1


def test_source_host_resolved_from_ip_seen_elsewhere() -> None:
    rows = auth_of(
        rec(4624, n=1, WorkstationName="", IpAddress="::ffff:10.0.0.7", **NET),
        rec(4624, n=2, WorkstationName="WS7", IpAddress="10.0.0.7", **NET),
        rec(4624, n=3, WorkstationName="-", IpAddress="10.9.9.9", **NET),
    )
    assert [r["src_host"] for r in rows] == ["WS7", "WS7", "10.9.9.9"]
    assert rows[0]["src_ip"] == "10.0.0.7"


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "-", ""])
def test_loopback_or_missing_source_is_a_local_logon(ip: str) -> None:
    (row,) = auth_of(rec(4624, WorkstationName="-", IpAddress=ip, **{**NET, "LogonType": "2"}))
    assert row["src_host"] == row["dst_host"] == "SRV1"
    assert row["logon_type"] == "Interactive"


def test_failed_logon_logoff_and_explicit_credentials() -> None:
    failed, logoff, explicit = auth_of(
        rec(4625, n=1, Status="0xC000006D", WorkstationName="WS2", **{**NET, "LogonType": "10"}),
        rec(4634, n=2, TargetUserName="bob", TargetDomainName="CORP", LogonType="3"),
        rec(
            4648,
            n=3,
            computer="pc01.corp.local",
            SubjectUserName="user01",
            SubjectDomainName="CORP",
            TargetUserName="administrator",
            TargetDomainName="CORP.LOCAL",
            TargetServerName="srv9.corp.local",
        ),
    )
    assert failed["success"] is False and failed["logon_type"] == "RemoteInteractive"
    assert logoff["orientation"] == "LogOff" and logoff["dst_user"] == "bob@CORP"
    assert logoff["auth_type"] == "?"
    assert (explicit["src_host"], explicit["dst_host"]) == ("PC01", "SRV9")
    assert (explicit["src_user"], explicit["dst_user"]) == ("user01@CORP", "administrator@CORP")


def test_kerberos_and_ntlm_validation_events() -> None:
    tgt, tgs, pre, ntlm = auth_of(
        rec(4768, n=1, computer="dc1", TargetUserName="bob", TargetDomainName="CORP.LOCAL",
            IpAddress="::ffff:10.0.0.7", Status="0x0"),
        rec(4769, n=2, computer="dc1", TargetUserName="bob@CORP.LOCAL",
            TargetDomainName="CORP.LOCAL", ServiceName="SRV2$", IpAddress="10.0.0.7",
            Status="0x0"),
        rec(4771, n=3, computer="dc1", TargetUserName="eve", ServiceName="krbtgt/CORP",
            IpAddress="10.0.0.8", Status="0x18"),
        rec(4776, n=4, computer="dc1", TargetUserName="eve", Workstation="\\\\WS8",
            PackageName="MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", Status="0xc000006a"),
    )  # fmt: skip
    assert (tgt["orientation"], tgt["dst_host"], tgt["success"]) == ("TGT", "DC1", True)
    assert tgt["src_host"] == "10.0.0.7" and tgt["auth_type"] == "Kerberos"
    assert (tgs["orientation"], tgs["dst_host"], tgs["dst_user"]) == ("TGS", "SRV2", "bob@CORP")
    assert (pre["success"], pre["dst_user"], pre["orientation"]) == (False, "eve@CORP", "TGT")
    assert (ntlm["orientation"], ntlm["src_host"], ntlm["success"]) == ("AuthMap", "WS8", False)
    assert ntlm["dst_user"] == "eve@?"


def test_user_forms_are_normalised() -> None:
    rows = auth_of(
        rec(4624, n=1, **{**NET, "TargetUserName": "CORP\\Bob", "TargetDomainName": ""}),
        rec(4624, n=2, **{**NET, "TargetUserName": "SRV1$", "TargetDomainName": "CORP"}),
        rec(4624, n=3, **{**NET, "TargetUserName": "-", "TargetDomainName": "-"}),
    )
    assert [r["dst_user"] for r in rows] == ["bob@CORP", "srv1$@CORP", None]


def test_process_share_service_network_and_privilege_events() -> None:
    rows = proc_of(
        rec(4688, n=1, t="2024-05-01T10:00:00Z", SubjectUserName="SRV1$",
            SubjectDomainName="CORP", NewProcessName="C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
            NewProcessId="0xae8", ProcessId="0x248", CommandLine=""),
        rec(4688, n=2, t="2024-05-01T10:00:01Z", SubjectUserName="SRV1$",
            SubjectDomainName="CORP", NewProcessName="C:\\Windows\\System32\\calc.exe",
            NewProcessId="0x424", ProcessId="0xAE8", CommandLine="calc"),
        rec(5145, n=3, SubjectUserName="Admin", SubjectDomainName="CORP",
            ShareName="\\\\*\\ADMIN$", RelativeTargetName="x.exe", AccessMask="0x120196",
            IpAddress="10.0.0.7"),
        rec(7045, n=4, ServiceName="blabla", ImagePath="%SystemRoot%\\blabla.exe"),
        rec(1, n=5, User="CORP\\Bob", Image="C:\\x.exe", ParentImage="C:\\p.exe",
            CommandLine="x -y", ProcessId="40", ParentProcessId="30", LogonId="0x1D"),
        rec(3, n=6, User="NT AUTHORITY\\SYSTEM", Image="System", SourceIp="10.0.0.7",
            SourceHostname="WS7", DestinationIp="10.0.0.1", DestinationPort="445"),
        rec(4672, n=7, SubjectUserName="Admin", SubjectDomainName="CORP",
            SubjectLogonId="0x3E7"),
    )  # fmt: skip
    by = {r["record"]: r for r in rows}
    assert by[2]["parent_image"].endswith("WmiPrvSE.exe")  # resolved from the creator pid
    assert (by[2]["pid"], by[2]["parent_pid"], by[2]["command_line"]) == (0x424, 0xAE8, "calc")
    assert by[1]["command_line"] is None
    share = by[3]
    assert (share["kind"], share["share_name"], share["access_mask"]) == (
        "share",
        "ADMIN$",
        0x120196,
    )
    assert share["user"] == "admin@CORP" and share["src_ip"] == "10.0.0.7"
    assert share["src_host"] == "WS7"  # learned from the Sysmon 3 event
    assert (by[4]["kind"], by[4]["service_name"], by[4]["host"]) == ("service", "blabla", "SRV1")
    assert (by[5]["user"], by[5]["pid"], by[5]["logon_id"]) == ("bob@CORP", 40, "0x1d")
    assert (by[6]["kind"], by[6]["dst_port"], by[6]["src_host"]) == ("network", 445, "WS7")
    assert (by[7]["kind"], by[7]["logon_id"]) == ("privilege", "0x3e7")


def test_wrong_channel_and_unknown_ids_are_not_mapped() -> None:
    auth, process = frames_from_records(
        [
            rec(1, channel="Security", Image="x"),
            rec(4699, TaskName="t"),
            rec(7045, channel="Security"),
            rec(17, channel="Security", PipeName="\\x"),
        ]
    )
    assert auth.height == 0 and process.height == 0


def test_bad_time_is_reported_by_the_validator() -> None:
    auth, _ = frames_from_records([rec(4624, t="not a time", WorkstationName="WS2", **NET)])
    report = validate(auth)
    assert report.bad_rows == 1 and report.reasons == {"null time": 1}


def test_classic_text_gives_the_same_events_as_xml() -> None:
    records = [
        rec(4624, n=1, WorkstationName="WS7", IpAddress="10.0.0.7", IpPort="5000", **NET),
        rec(4625, n=2, Status="0xc000006d", WorkstationName="WS2", IpAddress="-",
            **{k: v for k, v in NET.items() if k != "TargetLogonId"}),
        rec(4648, n=3, SubjectUserName="u1", SubjectDomainName="CORP", TargetUserName="adm",
            TargetDomainName="CORP", TargetServerName="srv9", IpAddress="-"),
        rec(4769, n=4, TargetUserName="bob@CORP.LOCAL", TargetDomainName="CORP.LOCAL",
            ServiceName="SRV2$", IpAddress="::ffff:10.0.0.7", Status="0x0"),
        rec(4776, n=5, TargetUserName="eve", Workstation="WS8", Status="0x0",
            PackageName="MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"),
        rec(5145, n=6, SubjectUserName="Admin", SubjectDomainName="CORP", SubjectLogonId="0x3e7",
            ShareName="\\\\*\\C$", RelativeTargetName="a.exe", AccessMask="0x17019f",
            IpAddress="10.0.0.7", IpPort="445"),
        rec(7045, n=7, ServiceName="svc", ImagePath="cmd.exe /c x", AccountName="LocalSystem"),
    ]  # fmt: skip
    text = "\n".join(render_classic(r) for r in records)
    parsed = [r for r, err, _ in iter_classic_events(text.splitlines(), source="f.xml")]
    assert all(p is not None for p in parsed)
    a, b = frames_from_records(records), frames_from_records(parsed)
    assert a.auth.drop("record").equals(b.auth.drop("record"))
    assert a.process.drop("record").equals(b.process.drop("record"))
    assert a.auth.height == 5 and a.process.height == 2
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line[:1].isdigit()]
    assert b.auth["record"].to_list() + b.process["record"].to_list() == starts


def test_mapping_of_a_large_batch_is_columnar() -> None:
    records = [
        rec(4624, n=i, WorkstationName=f"WS{i % 50}", IpAddress=f"10.0.{i % 50}.1", **NET)
        for i in range(5000)
    ]
    auth, _ = frames_from_records(records)
    assert auth.height == 5000
    assert auth["src_host"].n_unique() == 50
    assert auth.filter(pl.col("src_host") == "WS3")["src_ip"].unique().to_list() == ["10.0.3.1"]


def test_logon_process_only_for_4624_and_4625() -> None:
    rows = auth_of(
        rec(4624, n=1, LogonProcessName="seclogo", **{**NET, "LogonType": "9"}),
        rec(4625, n=2, LogonProcessName="NtLmSsp ", **NET),
        rec(4624, n=3, LogonProcessName="Advapi  ", **NET),
        rec(4634, n=4, LogonProcessName="ignored", **NET),
        rec(4624, n=5, LogonProcessName="-", **NET),
        rec(4769, n=6, TargetUserName="bob@CORP.LOCAL", ServiceName="SRV1$", IpAddress="10.0.0.9"),
    )
    by_record = {r["record"]: r["logon_process"] for r in rows}
    assert by_record == {1: "seclogo", 2: "NtLmSsp", 3: "Advapi", 4: None, 5: None, 6: None}
    assert rows[0]["logon_type"] == "NewCredentials"
    # the column survives validation (conform keeps Windows-only columns) ...
    auth, _ = frames_from_records([rec(4624, LogonProcessName="seclogo", **NET)])
    assert validate(auth).valid["logon_process"].to_list() == ["seclogo"]
    # ... and is never added to frames that lack it (LANL, simulator)
    assert "logon_process" not in validate(auth.drop("logon_process")).valid.columns


def test_kerberos_lookups_keep_order_nulls_and_repeats() -> None:
    """Kerberos users and service hosts are computed per distinct value and joined back."""
    rows = auth_of(
        rec(4769, n=1, computer="dc1", TargetUserName="bob", ServiceName="SRV2$", Status="0x0"),
        rec(4768, n=2, computer="dc1", ServiceName="krbtgt/CORP.LOCAL", Status="0x0"),
        rec(4769, n=3, computer="dc1", TargetUserName="bob", ServiceName="SRV2$", Status="0x0"),
        rec(4769, n=4, computer="dc1", TargetUserName="amy", ServiceName="http/web", Status="0x0"),
        rec(4768, n=5, computer="dc1", TargetUserName="bob", ServiceName="krbtgt/OTHER"),
    )
    got = [(r["record"], r["src_user"], r["dst_user"], r["dst_host"]) for r in rows]
    assert got == [
        (1, "bob@?", "bob@?", "SRV2"),
        (2, None, None, "DC1"),
        (3, "bob@?", "bob@?", "SRV2"),
        (4, "amy@WEB", "amy@WEB", "DC1"),
        (5, "bob@OTHER", "bob@OTHER", "DC1"),
    ]


def test_remote_execution_events_issue_19() -> None:
    """4697 service, 4698/4702 tasks, Sysmon 17/18 pipes and the new auth details."""
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    subject = {"SubjectUserName": "Admin", "SubjectDomainName": "CORP", "SubjectLogonId": "0x0AB"}
    rows = proc_of(
        rec(4697, n=1, ServiceName="XbTq", ServiceFileName="%systemroot%\\kZ.exe",
            ServiceAccount="LocalSystem", **subject),
        rec(4698, n=2, TaskName="\\T1", TaskContent="<Task>\r\n  <Exec>\r\n  </Exec>\r\n</Task>",
            **subject),
        rec(4702, n=3, TaskName="\\T2", TaskContentNew="<Task/>", **subject),
        rec(17, n=4, channel=sysmon, PipeName="\\PSEXESVC", Image="C:\\Windows\\PSEXESVC.exe",
            ProcessId="4242", User="NT AUTHORITY\\SYSTEM"),
        rec(1, n=5, channel=sysmon, Image="C:\\x.exe", OriginalFileName="psexec.c",
            IntegrityLevel="High"),
        rec(4688, n=6, NewProcessName="C:\\y.exe", MandatoryLabel="S-1-16-16384", **subject),
        rec(7045, n=7, ServiceName="s", ImagePath="C:\\s.exe", AccountName="LocalSystem"),
    )  # fmt: skip
    by = {r["record"]: r for r in rows}
    assert (by[1]["kind"], by[1]["service_image"], by[1]["service_account"]) == (
        "service", "%systemroot%\\kZ.exe", "LocalSystem",
    )  # fmt: skip
    assert (by[1]["user"], by[1]["logon_id"]) == ("admin@CORP", "0xab")
    assert (by[2]["kind"], by[2]["task_name"]) == ("task", "\\T1")
    assert by[2]["task_content"] == "<Task>\n<Exec>\n</Exec>\n</Task>"  # indentation dropped
    assert by[3]["task_content"] == "<Task/>" and by[3]["logon_id"] == "0xab"
    assert (by[4]["kind"], by[4]["pipe_name"], by[4]["pid"]) == ("pipe", "\\PSEXESVC", 4242)
    assert by[4]["user"] == "system@NT AUTHORITY"
    assert (by[5]["original_file_name"], by[5]["integrity_level"]) == ("psexec.c", "High")
    assert by[6]["integrity_level"] == "System" and by[6]["original_file_name"] is None
    assert by[7]["service_account"] == "LocalSystem"
    (logon,) = auth_of(rec(4624, KeyLength="0", ProcessName="C:\\svc.exe", **NET))
    assert (logon["key_length"], logon["process_name"]) == (0, "C:\\svc.exe")
    kerberos = {"TargetUserName": "bob", "TargetDomainName": "CORP.LOCAL", "Status": "0x0"}
    (tgt,) = auth_of(rec(4768, ServiceName="krbtgt", TicketEncryptionType="0x017", **kerberos))
    assert tgt["ticket_encryption"] == "0x17" and tgt["key_length"] is None
