"""Sigma rules: the shipped library and its XML samples, refusals, semantics, correlations."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from detections.rules import (
    RuleError,
    RuleRefused,
    check_samples,
    default_rules_dir,
    load_rule_set,
    load_rules,
    rule_view,
    run_rules,
    sample_view,
    savedsearches_conf,
    to_splunk,
)
from detections.rules.engine import Rule
from detections.rules.samples import fires, sample_xml

RULES = load_rules(strict=True)
BY_ID = {r.id: r for r in RULES}
REPORTING = [r for r in RULES if r.reports]
#: The tradecraft the library must cover (issue 19), by a rule id each.
REQUIRED = {
    "hw-psexec-service-install", "hw-remote-exec-service-install",
    "hw-remote-exec-service-install-4697", "hw-admin-share-exe-write",
    "hw-admin-share-root-exe-drop", "hw-psexec-named-pipes", "hw-sysmon-remote-exec-pipes",
    "hw-svcctl-remote-pipe", "hw-coercion-pipes", "hw-atsvc-remote-task",
    "hw-remote-task-network-logon", "hw-impacket-exec-commandline", "hw-wmi-spawned-process",
    "hw-wmic-remote", "hw-winrm-spawned-process", "hw-winrm-remote-command",
    "hw-dcom-lateral-movement", "hw-pass-the-hash-logon", "hw-pass-the-hash-ntlm-network",
    "hw-overpass-the-hash-rc4", "hw-rdp-session-hijack", "hw-rapid-network-logons",
    "hw-special-logon-many-hosts", "hw-explicit-creds-remote", "hw-task-shell-action",
}  # fmt: skip


def test_library_covers_the_tradecraft_with_attack_tags_levels_and_samples() -> None:
    assert set(BY_ID) >= REQUIRED
    for r in RULES:
        assert r.attack and all(a.startswith("T") for a in r.attack), r.id
        assert r.severity in ("low", "medium", "high", "critical")
        assert r.positive and r.negative, r.id
        assert r.sigma_id and len(r.sigma_id) == 36
        assert Path(r.path).parent == default_rules_dir()
    assert all(r.falsepositives for r in REPORTING)
    kinds = {r.correlation.type for r in RULES if r.correlation}
    assert kinds == {"value_count", "temporal"}
    assert not (Path(__file__).parents[3] / "detections/rules/spec.py").exists()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_every_rule_fires_on_its_positive_xml_samples_only(rule: Rule) -> None:
    """The meta-test: each rule's samples, rendered as XmlWinEventLog and read by the reader."""
    assert check_samples(rule, RULES) == []


def test_samples_go_through_the_windows_reader() -> None:
    event = {
        "EventID": 4624, "LogonType": "3", "TargetUserName": "Bob", "TargetDomainName":
        "corp.local", "TargetLogonId": "0x00000000001D313D", "IpAddress": "::ffff:10.0.0.7",
    }  # fmt: skip
    assert sample_xml(event).startswith("<Event xmlns=")
    view = sample_view([event])
    row = view.row(0, named=True)
    assert (row["kind"], row["dst_user"], row["logon_type"]) == ("auth", "bob@CORP", "Network")
    assert (row["logon_id"], row["src_ip"], row["source"]) == ("0x1d313d", "10.0.0.7", "sample")


def test_negative_samples_differ_from_positives_in_what_the_rule_tests() -> None:
    # a positive sample with its key field changed must stop firing
    rule = BY_ID["hw-pass-the-hash-logon"]
    event = dict(rule.positive[0][0])
    assert fires(rule, [event])
    event["LogonProcessName"] = "Advapi"
    assert not fires(rule, [event])


def write(tmp_path: Path, text: str, name: str = "r.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = """
title: Test {name}
name: {name}
logsource: {{product: windows, service: security}}
detection:
  sel:
{body}
  condition: {condition}
level: high
tags: [attack.t1021]
"""


def rule_text(body: str, name: str = "t-rule", condition: str = "sel") -> str:
    return BASE.format(name=name, body="\n".join("    " + line for line in body.splitlines()),
                       condition=condition)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "why"),
    [
        ("Hashes|contains: 'SHA256=AB'", "Hashes", "no column"),
        ("CommandLine|wide|contains: whoami", "CommandLine", "modifier 'wide'"),
        ("CommandLine|base64offset|contains|expand: '%x%'", "CommandLine", "modifier"),
        ("LogonType|startswith: '1'", "LogonType", "wildcards"),
        ("TargetUserName|re: '^adm'", "TargetUserName", "|re|i"),
        ("CommandLine|re: '(?<=a)b'", None, "Regular expression '(?<=a)b' is invalid"),
        ("AccessList|contains: 'MaybeWrite'", "AccessList", "access codes"),
    ],
)
def test_unsupported_fields_and_modifiers_are_refused_naming_file_and_field(
    tmp_path: Path, body: str, field: str | None, why: str
) -> None:
    path = write(tmp_path, rule_text("EventID: 4688\n" + body))
    found = load_rule_set(tmp_path)
    assert found.rules == [] and len(found.refused) == 1
    refusal = found.refused[0]
    assert refusal.path == str(path) and refusal.field == field and why in refusal.reason
    with pytest.raises(RuleRefused) as info:
        load_rules(tmp_path, strict=True)
    assert str(path) in str(info.value) and (field is None or f"'{field}'" in str(info.value))


def test_keyword_search_logsource_and_bad_correlations_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "title: kw\nlogsource: {product: windows, service: security}\n"
          "detection:\n  kw: [mimikatz]\n  condition: kw\n", "kw.yml")  # fmt: skip
    write(tmp_path, "title: lx\nlogsource: {product: linux, service: auth}\n"
          "detection:\n  s: {EventID: 1}\n  condition: s\n", "linux.yml")  # fmt: skip
    write(tmp_path, "title: fe\nlogsource: {product: windows, category: file_event}\n"
          "detection:\n  s: {Image: x}\n  condition: s\n", "file.yml")  # fmt: skip
    ordered = "{type: temporal_ordered, rules: [base], timespan: 5m, group-by: [Computer]}"
    hashes = "{type: value_count, rules: [base], timespan: 5m, group-by: [Hashes], "
    hashes += "condition: {gt: 2, field: Computer}}"
    write(tmp_path, rule_text("EventID: 4624", "base") + "---\ntitle: ord\nname: ord\n"
          f"correlation: {ordered}\n---\ntitle: vc\nname: vc\ncorrelation: {hashes}\n",
          "c.yml")  # fmt: skip
    write(tmp_path, "title: [broken\n", "broken.yml")
    found = load_rule_set(tmp_path)
    reasons = {Path(r.path).name + ":" + r.title: r.reason for r in found.refused}
    assert [r.id for r in found.rules] == ["base"]
    assert "keyword search" in reasons["kw.yml:kw"]
    assert "product 'linux'" in reasons["linux.yml:lx"]
    assert "category 'file_event'" in reasons["file.yml:fe"]
    assert "temporal_ordered" in reasons["c.yml:ord"]
    assert "no column" in reasons["c.yml:vc"]
    assert any(k.startswith("broken.yml") and "not valid Sigma" in v for k, v in reasons.items())


def test_rule_errors(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not found"):
        load_rules(tmp_path / "missing")
    with pytest.raises(RuleError, match=r"no \*\.yml"):
        load_rules(tmp_path)
    write(tmp_path, rule_text("EventID: 4624") + "---\n" + rule_text("EventID: 4625"))
    with pytest.raises(RuleError, match="'t-rule' already used"):
        load_rules(tmp_path)
    write(tmp_path, rule_text("EventID: 4624") + "samples: {positive: [{LogonType: 3}]}\n")
    with pytest.raises(RuleError, match=r"samples\.positive\[0\]\[0\]"):
        load_rules(tmp_path)


def one(tmp_path: Path, body: str, condition: str = "sel") -> Rule:
    write(tmp_path, rule_text(body, condition=condition))
    return load_rules(tmp_path, strict=True)[0]


def test_sigma_semantics_on_canonical_columns(tmp_path: Path) -> None:
    r = one(tmp_path, "EventID: 4688\nNewProcessName|endswith: '\\CMD.exe'")
    assert fires(r, [{"EventID": 4688, "NewProcessName": "C:\\Windows\\cmd.exe"}])
    assert not fires(r, [{"EventID": 4688, "NewProcessName": "C:\\cmd.exe.bak"}])
    r = one(tmp_path, "EventID: 4688\nCommandLine|cased|contains: ' /Q '")
    assert fires(r, [{"EventID": 4688, "CommandLine": "cmd /Q /c x"}])
    assert not fires(r, [{"EventID": 4688, "CommandLine": "cmd /q /c x"}])
    r = one(tmp_path, "EventID: 4688\nCommandLine|re: ' /Q '")
    assert not fires(r, [{"EventID": 4688, "CommandLine": "cmd /q /c x"}])  # re is cased
    r = one(tmp_path, "EventID: 4624\nLogonType: 10\nIpAddress|cidr: 10.1.0.0/16")
    logon = {
        "EventID": 4624,
        "LogonType": "10",
        "IpAddress": "::ffff:10.1.7.7",
        "TargetUserName": "a",
    }
    assert fires(r, [logon]) and not fires(r, [logon | {"IpAddress": "10.2.7.7"}])
    r = one(
        tmp_path,
        "EventID: 4624\nTargetUserName: 'ANONYMOUS LOGON'\nTargetDomainName: 'nt authority'",
    )
    assert fires(
        r,
        [
            {
                "EventID": 4624,
                "TargetUserName": "ANONYMOUS LOGON",
                "TargetDomainName": "NT AUTHORITY",
            }
        ],
    )
    r = one(
        tmp_path,
        "EventID: 5145\nShareName: '\\\\*\\C$'\nAccessList|contains|all: ['%%4417', '%%4418']",
    )
    share = {"EventID": 5145, "ShareName": "\\\\*\\C$", "AccessMask": "0x6"}
    assert fires(r, [share]) and not fires(r, [share | {"AccessMask": "0x2"}])
    r = one(tmp_path, "EventID: 4624\nIpAddress: '-'")
    assert fires(r, [{"EventID": 4624, "IpAddress": "-", "TargetUserName": "a"}])
    assert not fires(r, [{"EventID": 4624, "IpAddress": "10.0.0.1", "TargetUserName": "a"}])
    r = one(tmp_path, "EventID: 4624\nKeyLength|gt: 0")
    assert fires(r, [{"EventID": 4624, "KeyLength": "128", "TargetUserName": "a"}])
    r = one(tmp_path, "EventID: 4688\nCommandLine|windash|contains: ' -enc '")
    assert fires(r, [{"EventID": 4688, "CommandLine": "powershell /enc AAAA"}])
    r = one(
        tmp_path,
        "EventID: 4688",
        condition="sel and not filter\n  filter:\n    CommandLine|contains: x",
    )
    assert fires(r, [{"EventID": 4688}])  # a null field does not match, so 'not' holds


def test_access_names_dash_values_and_integrity_levels(tmp_path: Path) -> None:
    r = one(tmp_path, "EventID: 5145\nAccessList|contains: 'WriteData'")  # the rendered name
    share = {"EventID": 5145, "ShareName": "\\\\*\\IPC$", "AccessMask": "0x12019f"}
    assert fires(r, [share]) and not fires(r, [share | {"AccessMask": "0x120089"}])
    # Windows writes '-' for an absent address; the reader keeps null, and a pattern that
    # matches '-' still matches it (SigmaHQ filters on IpAddress|contains: '-')
    r = one(tmp_path, "EventID: 4625", condition="sel and not dash\n  dash:\n"
            "    IpAddress|contains: '-'")  # fmt: skip
    failed = {"EventID": 4625, "TargetUserName": "a", "LogonType": "2"}
    assert not fires(r, [failed | {"IpAddress": "-"}])
    assert fires(r, [failed | {"IpAddress": "10.0.0.1"}])
    text = rule_text("IntegrityLevel: System").replace(
        "service: security", "category: process_creation"
    )
    write(tmp_path, text)
    r = load_rules(tmp_path, strict=True)[0]
    sysmon = {"EventID": 1, "Image": "C:\\x.exe", "IntegrityLevel": "System"}
    security = {"EventID": 4688, "NewProcessName": "C:\\x.exe", "MandatoryLabel": "S-1-16-16384"}
    assert fires(r, [sysmon]) and fires(r, [security])
    assert not fires(r, [security | {"MandatoryLabel": "S-1-16-12288"}])


def test_user_values_in_domain_backslash_form(tmp_path: Path) -> None:
    text = rule_text("User: 'NT AUTHORITY\\SYSTEM'").replace(
        "service: security", "category: process_creation"
    )
    write(tmp_path, text)
    r = load_rules(tmp_path, strict=True)[0]
    proc = {"EventID": 1, "Image": "C:\\x.exe", "User": "NT AUTHORITY\\SYSTEM"}
    assert fires(r, [proc]) and not fires(r, [proc | {"User": "CORP\\system"}])
    assert not fires(r, [proc | {"EventID": 4624}])  # process_creation: only 1 and 4688


CORR = """
title: Base
name: base
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624, LogonType: 3}
  condition: sel
level: low
---
title: Many
name: many
correlation:
  type: value_count
  rules: [base]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gt: 2, field: Computer}
level: medium
"""


def spray(times: list[int], hosts: list[str], user: str = "bob") -> list[dict]:
    return [{"EventID": 4624, "LogonType": "3", "TargetUserName": user, "TargetDomainName": "C",
             "Computer": h, "time": t} for t, h in zip(times, hosts, strict=True)]  # fmt: skip


def test_value_count_counts_distinct_hosts_in_a_sliding_window_and_dedupes_bursts(
    tmp_path: Path,
) -> None:
    write(tmp_path, CORR)
    rules = load_rules(tmp_path, strict=True)
    base, many = rules
    assert not base.reports and many.correlation.group_by == ("target_user",)

    def hits(events: list[dict]) -> pl.DataFrame:
        return run_rules(rules, sample_view(events))

    burst = hits(spray([0, 10, 20, 30, 40], ["A", "B", "C", "D", "E"]))
    assert burst.height == 1 and burst["evidence"][0].startswith("3 distinct host")
    assert "target_user=bob" in burst["evidence"][0]
    again = spray([0, 10, 20, 30, 40], ["A", "B", "C", "D", "E"]) + spray(
        [1000, 1010, 1020], ["F", "G", "H"]
    )
    assert hits(again).height == 2
    assert hits(spray([0, 200, 400, 600], ["A", "B", "C", "D"])).height == 0
    assert hits(spray([0, 1, 2, 3], ["A", "A", "A", "A"])).height == 0
    assert hits(spray(list(range(0, 1800, 30)), ["A", "B", "C", "D"] * 15)).height == 1
    two = spray([0, 1], ["A", "B"], "u1") + spray([2, 3], ["C", "D"], "u2")
    assert hits(two).height == 0


def test_event_count_correlation_and_generate(tmp_path: Path) -> None:
    text = (
        CORR.replace("type: value_count", "type: event_count")
        .replace("{gt: 2, field: Computer}", "{gte: 3}")
        .replace("timespan: 5m", "timespan: 5m\n  generate: true")
    )
    write(tmp_path, text)
    rules = load_rules(tmp_path, strict=True)
    assert all(r.reports for r in rules)  # generate: true keeps the base rule's own hits
    found = run_rules(rules, sample_view(spray([0, 5, 9], ["A", "A", "A"])))
    assert found["rule_id"].to_list().count("many") == 1
    assert found["rule_id"].to_list().count("base") == 3


def test_run_rules_unifies_auth_and_process_and_sorts() -> None:
    auth = pl.DataFrame({
        "time": [5], "src_user": ["u@C"], "dst_user": ["u@C"], "src_host": ["PC01"],
        "dst_host": ["PC01"], "auth_type": ["Negotiate"], "logon_type": ["NewCredentials"],
        "logon_process": ["seclogo"], "orientation": ["LogOn"], "success": [True],
        "source": ["a.evtx"], "event_code": [4624], "record": [9],
    })  # fmt: skip
    process = pl.DataFrame({
        "time": [1], "host": ["SRV"], "kind": ["service"], "event_code": [7045],
        "service_name": ["PSEXESVC"], "service_image": ["%SystemRoot%\\PSEXESVC.exe"],
        "source": ["b.evtx"], "record": [3],
    })  # fmt: skip
    view = rule_view(auth, process)
    assert view["kind"].to_list() == ["service", "auth"]
    hits = run_rules(RULES, view)
    assert hits["rule_id"].to_list() == ["hw-psexec-service-install", "hw-pass-the-hash-logon"]
    assert hits["source"].to_list() == ["b.evtx#3", "a.evtx#9"]
    assert hits["attack"][1].to_list() == ["T1550.002"]
    assert "logon_process=seclogo" in hits["evidence"][1]
    assert run_rules(RULES, rule_view(None, None)).height == 0
    plain = rule_view(auth.with_columns(pl.lit("Advapi").alias("logon_process")), None)
    assert run_rules(RULES, plain).height == 0


def test_every_shipped_rule_converts_to_splunk_and_stanzas_ship_disabled() -> None:
    searches = to_splunk(RULES)
    assert {s.rule_id for s in searches} == {r.id for r in REPORTING}
    by = {s.rule_id: s for s in searches}
    assert 'source="WinEventLog:Security"' in by["hw-pass-the-hash-logon"].search
    assert "EventCode=4624" in by["hw-pass-the-hash-logon"].search
    assert "dc(" in by["hw-rapid-network-logons"].search  # value_count -> stats dc()
    conf = savedsearches_conf(searches)
    stanzas = [line for line in conf.splitlines() if line.startswith("[hopwatch - ")]
    assert len(stanzas) == len(searches)
    assert conf.count("\ndisabled = 1\n") == len(searches)
    assert "[hopwatch - Remote scheduled task over the ATSVC pipe]" in conf
