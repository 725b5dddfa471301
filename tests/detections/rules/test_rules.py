"""The rule engine: the shipped rules and their samples, parse errors, operators, aggregation."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from detections.rules import check_samples, default_rules_dir, load_rules, run_rules
from detections.rules.engine import COLUMNS, evaluate, rule_view, sample_view
from detections.rules.spec import Rule, RuleError, load_rule

RULES = load_rules()
ESCU_TOPICS = {
    "hw-psexec-service-install": 7045,
    "hw-admin-share-exe-write": 5145,
    "hw-impacket-exec-commandline": 1,
    "hw-rapid-network-logons": 4624,
    "hw-special-logon-many-hosts": 4672,
    "hw-explicit-creds-remote": 4648,
    "hw-pass-the-hash-logon": 4624,
    "hw-atsvc-remote-task": 5145,
}


def test_shipped_rules_cover_the_required_techniques() -> None:
    ids = {r.id for r in RULES}
    assert len(RULES) >= 8
    assert set(ESCU_TOPICS) <= ids
    for r in RULES:
        assert r.attack and all(a.startswith("T") for a in r.attack)
        assert r.positive and r.negative
        assert Path(r.path).parent == default_rules_dir()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_every_rule_fires_on_its_positives_and_not_on_its_negatives(rule: Rule) -> None:
    """The meta-test: each rule's own samples."""
    for events in rule.positive:
        hits = evaluate(rule, sample_view(events))
        assert hits.height >= 1, f"{rule.id}: positive sample did not fire: {events}"
        assert set(hits["rule_id"]) == {rule.id}
        assert hits["source"].str.starts_with("sample#").all()
    for events in rule.negative:
        assert evaluate(rule, sample_view(events)).height == 0, f"{rule.id}: negative fired"
    assert check_samples(rule) == []


def test_a_rule_does_not_fire_on_other_rules_positives_by_accident() -> None:
    # Single-event rules keyed on different event codes must stay apart.
    by_id = {r.id: r for r in RULES}
    service = by_id["hw-psexec-service-install"]
    for other in RULES:
        if other.id == service.id:
            continue
        for events in other.positive:
            assert evaluate(service, sample_view(events)).height == 0


def write_rule(tmp_path: Path, text: str, name: str = "r.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
id: t-rule
title: Test
description: A test rule.
attack: [T1021]
severity: low
detection:
  match: {event_code: 4624}
samples:
  positive: [{event_code: 4624}]
  negative: [{event_code: 4625}]
"""


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("event_code: 4624}\nsamples", "nosuch: 1}\nsamples", "detection.match.nosuch"),
        ("{event_code: 4624}\nsamples", "{event_code|fuzzy: 1}\nsamples", "event_code|fuzzy"),
        ("attack: [T1021]", "attack: [lateral]", "'attack'"),
        ("severity: low", "severity: urgent", "'severity'"),
        ("id: t-rule", "id: Bad Id!", "'id'"),
        ("{event_code: 4624}\nsamples", "{image|re: '(('}\nsamples", "image|re"),
        ("  negative: [{event_code: 4625}]\n", "", "samples.negative"),
        ("{event_code: 4624}\nsamples", "{access_mask|any_bits: x}\nsamples", "any_bits"),
        ("title: Test", "title: Test\nextra: 1", "'extra'"),
    ],
)
def test_parse_errors_name_the_file_and_the_field(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    assert old in GOOD
    path = write_rule(tmp_path, GOOD.replace(old, new))
    with pytest.raises(RuleError) as info:
        load_rule(path, COLUMNS)
    assert str(path) in str(info.value)
    assert field in str(info.value)


def test_invalid_yaml_and_duplicate_ids(tmp_path: Path) -> None:
    write_rule(tmp_path, "id: [unclosed", "a.yml")
    with pytest.raises(RuleError, match=r"a\.yml: not valid YAML"):
        load_rules(tmp_path)
    (tmp_path / "a.yml").unlink()
    write_rule(tmp_path, GOOD, "a.yml")
    write_rule(tmp_path, GOOD, "b.yml")
    with pytest.raises(RuleError, match=r"b\.yml: field 'id': 't-rule' already used"):
        load_rules(tmp_path)
    with pytest.raises(RuleError, match="not found"):
        load_rules(tmp_path / "missing")


def test_aggregate_errors(tmp_path: Path) -> None:
    text = GOOD + "aggregate: {count_distinct: dst_host, by: [nosuch], within: 5m, gt: 3}\n"
    with pytest.raises(RuleError, match=r"aggregate\.by"):
        load_rule(write_rule(tmp_path, text), COLUMNS)
    text = GOOD + "aggregate: {count_distinct: dst_host, by: [user], within: soon, gt: 3}\n"
    with pytest.raises(RuleError, match=r"aggregate\.within"):
        load_rule(write_rule(tmp_path, text), COLUMNS)


def rule_from(detection: dict, aggregate: dict | None = None) -> Rule:
    data = {
        "id": "t-op",
        "title": "op",
        "description": "op",
        "attack": ["T1000"],
        "severity": "low",
        "detection": detection,
        "samples": {"positive": [{"event_code": 1}], "negative": [{"event_code": 2}]},
    }
    if aggregate:
        data["aggregate"] = aggregate
    return Rule.from_dict(data, columns=COLUMNS)


def fires(rule: Rule, **event: object) -> bool:
    return evaluate(rule, sample_view([event])).height > 0


def test_operators() -> None:
    r = rule_from({"match": {"image|endswith": "\\CMD.exe"}})
    assert fires(r, image="C:\\Windows\\cmd.exe") and not fires(r, image="C:\\cmd.exe.bak")
    r = rule_from({"match": {"access_mask|any_bits": 0x2}})
    assert fires(r, access_mask=0x120196) and not fires(r, access_mask=0x120089)
    r = rule_from({"match": {"event_code": 4648}, "none_of": [{"dst_host|same_as": "src_host"}]})
    assert fires(r, event_code=4648, src_host="A", dst_host="B")
    assert not fires(r, event_code=4648, src_host="A", dst_host="a")
    r = rule_from({"match": {"user|not": ["system@NT AUTHORITY"], "event_code|gte": 4000}})
    assert fires(r, user="bob@C", event_code=4624) and fires(r, event_code=4624)
    assert not fires(r, user="SYSTEM@nt authority", event_code=4624)
    r = rule_from({"match": {"command_line|exists": True, "command_line|re": r"\s/q\s"}})
    assert fires(r, command_line="cmd /Q /c x") and not fires(r, command_line=None)
    r = rule_from({"match": {"logon_type": "network"}})
    assert fires(r, logon_type="Network") and not fires(r, logon_type=None)


def spray(times: list[int], hosts: list[str], user: str = "bob@CORP") -> list[dict]:
    return [
        {"event_code": 4624, "src_user": user, "src_host": "WS1", "dst_host": h, "time": t}
        for t, h in zip(times, hosts, strict=True)
    ]


def test_aggregation_counts_distinct_hosts_in_a_sliding_window_and_dedupes_bursts() -> None:
    r = rule_from(
        {"match": {"event_code": 4624}},
        {"count_distinct": "dst_host", "by": ["src_user"], "within": "5m", "gt": 2},
    )
    burst = spray([0, 10, 20, 30, 40], ["A", "B", "C", "D", "E"])
    hits = evaluate(r, sample_view(burst))
    assert hits.height == 1 and hits["evidence"][0].startswith("3 distinct dst_host")
    again = burst + spray([1000, 1010, 1020], ["F", "G", "H"])
    assert evaluate(r, sample_view(again)).height == 2
    slow = spray([0, 200, 400, 600], ["A", "B", "C", "D"])
    assert evaluate(r, sample_view(slow)).height == 0
    same_host = spray([0, 1, 2, 3], ["A", "A", "A", "A"])
    assert evaluate(r, sample_view(same_host)).height == 0
    steady = spray(list(range(0, 1800, 30)), ["A", "B", "C", "D"] * 15)
    assert evaluate(r, sample_view(steady)).height == 1  # one burst, however long
    two_users = spray([0, 1], ["A", "B"], "u1@C") + spray([2, 3], ["C", "D"], "u2@C")
    assert evaluate(r, sample_view(two_users)).height == 0


def test_rule_view_unifies_auth_and_process_and_run_rules_sorts() -> None:
    auth = pl.DataFrame(
        {
            "time": [5],
            "src_user": ["u@C"],
            "dst_user": ["u@C"],
            "src_host": ["PC01"],
            "dst_host": ["PC01"],
            "auth_type": ["Negotiate"],
            "logon_type": ["NewCredentials"],
            "logon_process": ["seclogo"],
            "orientation": ["LogOn"],
            "success": [True],
            "source": ["a.evtx"],
            "event_code": [4624],
            "record": [9],
        }
    )
    process = pl.DataFrame(
        {
            "time": [1],
            "host": ["SRV"],
            "kind": ["service"],
            "event_code": [7045],
            "service_name": ["PSEXESVC"],
            "service_image": ["%SystemRoot%\\PSEXESVC.exe"],
            "source": ["b.evtx"],
            "record": [3],
        }
    )
    view = rule_view(auth, process)
    assert view["kind"].to_list() == ["service", "auth"]
    assert view["host"].to_list() == ["SRV", "PC01"]
    hits = run_rules(RULES, view)
    assert hits["rule_id"].to_list() == ["hw-psexec-service-install", "hw-pass-the-hash-logon"]
    assert hits["source"].to_list() == ["b.evtx#3", "a.evtx#9"]
    assert hits["attack"][1].to_list() == ["T1550.002"]
    assert rule_view(None, None).height == 0
    # without the seclogo logon process the NewCredentials logon is not pass-the-hash
    plain = rule_view(auth.with_columns(pl.lit("Advapi").alias("logon_process")), None)
    assert run_rules(RULES, plain).height == 0
    assert run_rules(RULES, rule_view(auth.drop("logon_process"), None)).height == 0
