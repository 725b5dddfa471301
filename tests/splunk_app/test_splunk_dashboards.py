"""Every search the app runs for an analyst (Dashboard Studio data sources, workflow
actions, the searchbnf examples) runs its hopwatch commands here against the live
API, and every field its later SPL uses is one the commands emit."""

from __future__ import annotations

import configparser
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "splunk_app" / "hopwatch"
VIEWS = APP / "default" / "data" / "ui" / "views"
HOPWATCH = ("hopwatchalerts", "hopwatchcampaigns", "hopwatchsummary", "hopwatchsend")


def studio_dashboards() -> dict[str, dict]:
    out = {}
    for path in sorted(VIEWS.glob("*.xml")):
        root = ET.parse(path).getroot()
        if root.get("version") == "2":
            out[path.stem] = json.loads(root.find("definition").text)
    return out


def dashboard_searches() -> dict[str, str]:
    """``dashboard/data source`` -> the full SPL it runs (chains resolved)."""
    out = {}
    for name, definition in studio_dashboards().items():
        sources = definition["dataSources"]

        def full(ds_id: str, sources: dict = sources) -> str:
            ds = sources[ds_id]
            query = ds["options"]["query"]
            if ds["type"] == "ds.chain":
                return full(ds["options"]["extend"], sources) + " " + query
            assert ds["type"] == "ds.search", ds_id
            return query

        for ds_id in sources:
            out[f"{name}/{ds_id}"] = full(ds_id)
    return out


def segments(spl: str) -> list[str]:
    """Pipeline segments (no quoted pipes in these searches)."""
    return [s.strip() for s in spl.strip().lstrip("|").split("|")]


def used_fields(segment: str) -> set[str]:
    """Fields a Splunk built-in of these searches reads."""
    words = segment.split()
    command, args = words[0], [w for w in words[1:] if "=" not in w]
    if command in ("table", "fields", "mvexpand", "top", "rare"):
        return set(args)
    if command in ("timechart", "stats", "chart") and "by" in args:
        return set(args[args.index("by") + 1 :])
    if command in ("stats",) and args == ["count"]:
        return set()
    raise AssertionError(f"teach used_fields about {command!r}")


@pytest.fixture
def tokens(live_api) -> dict[str, str]:
    alert = live_api.all_alerts(rule="psexec")[0]
    return {
        "since": "0",
        "status": "open",
        "campaign": str(alert["campaign_id"]),
        "alert_id": str(alert["id"]),
    }


def run_spl(search, spl: str, tokens: dict[str, str]):
    """The hopwatch commands of ``spl`` piped as Splunk pipes them; (result, rest)."""
    spl = re.sub(r"\$(\w+)\$", lambda m: tokens[m.group(1)], spl)
    parts = segments(spl)
    result = None
    while parts and parts[0].split()[0] in HOPWATCH:
        command, *args = parts.pop(0).split()
        rows = result.as_input() if result is not None else None
        result = search(command, *args, rows=rows)
        assert result.errors == [] and result.returncode == 0, (spl, result.messages)
    assert result is not None, f"{spl!r} starts with no hopwatch command"
    return result, parts


def test_the_dashboards_are_dashboard_studio_and_cover_the_issue():
    dashboards = studio_dashboards()
    assert set(dashboards) == {"hopwatch_overview", "hopwatch_campaigns", "hopwatch_alert"}
    titles = {v.get("title", "") for d in dashboards.values() for v in d["visualizations"].values()}
    for needed in ("Alerts over time by severity", "Top source hosts", "Top accounts",
                   "Open campaigns", "Grounded summary"):  # fmt: skip
        assert any(needed in t for t in titles), needed
    for d in dashboards.values():  # every visualization reads a defined data source
        for viz in d["visualizations"].values():
            assert viz["dataSources"]["primary"] in d["dataSources"]


@pytest.mark.parametrize("name", sorted(dashboard_searches()))
def test_every_dashboard_search_runs_and_finds_its_fields(search, tokens, name):
    result, rest = run_spl(search, dashboard_searches()[name], tokens)
    assert result.rows, name
    for segment in rest:
        missing = used_fields(segment) - result.fields
        assert not missing, f"{name}: {segment!r} uses fields the commands do not emit: {missing}"


def test_workflow_actions_find_the_alerts_of_a_field_value(search, live_api):
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(APP / "default" / "workflow_actions.conf")
    values = {"hopwatch_alerts_for_host": "h1", "hopwatch_alerts_for_user": "eve@corp"}
    assert set(conf.sections()) == set(values)
    for stanza, value in values.items():
        spl = conf[stanza]["search.search_string"].replace("$@field_value$", value)
        result, rest = run_spl(search, spl.replace('"', ""), {})
        key = "host" if "host" in stanza else "user"
        expected = [a["id"] for a in live_api.all_alerts(**{key: value})]
        assert expected and [int(r["alert_id"]) for r in result.rows] == expected
        assert rest == []


def test_searchbnf_examples_run(search, tokens):
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(APP / "default" / "searchbnf.conf")
    ran = 0
    for stanza in conf.sections():
        for key, spl in conf[stanza].items():
            if key.startswith("example") and spl.startswith("|"):
                spl = spl.replace("alert_id=42", f"alert_id={tokens['alert_id']}")
                result, rest = run_spl(search, spl, tokens)
                for segment in rest if result.rows else []:  # since=-7d finds no 1970 alert
                    assert used_fields(segment) <= result.fields, (spl, segment)
                ran += 1
    assert ran >= 8
