"""The REST API: auth (401/403), filters, pagination stability, triage history,
summary caching, events, limits, metrics."""

from __future__ import annotations

import polars as pl
import pytest
from fastapi.testclient import TestClient

from detections.alerts import build_alerts
from detections.store import upsert_alerts
from service.app import create_app
from service.queries import apikeys
from service.settings import load_settings
from tests.detections.store.test_store import make_engine
from tests.service.api.support import all_pages, auth, seed


def test_health_needs_no_key(lite):
    client, _ = lite
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/alerts"),
        ("GET", "/alerts/1"),
        ("PATCH", "/alerts/1"),
        ("GET", "/alerts/1/summary"),
        ("POST", "/alerts/1/summary"),
        ("GET", "/campaigns"),
        ("GET", "/campaigns/1"),
        ("POST", "/events"),
        ("GET", "/metrics"),
    ],
)
def test_every_route_but_health_needs_a_key(lite, method, path):
    client, _ = lite
    r = client.request(method, path)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.request(method, path, headers={"X-API-Key": "hw_00000000_forged"})
    assert r.status_code == 401


def test_both_header_forms_work_and_scopes_are_enforced(lite):
    client, keys = lite
    assert client.get("/alerts", headers={"X-API-Key": keys["read"]}).status_code == 200
    assert client.get("/alerts", headers=auth(keys["read"])).status_code == 200
    body = {"status": "triaged"}
    r = client.patch("/alerts/1", json=body, headers=auth(keys["read"]))
    assert r.status_code == 403 and "write" in r.json()["detail"]
    assert client.post("/alerts/1/summary", headers=auth(keys["read"])).status_code == 403
    assert client.patch("/alerts/1", json=body, headers=auth(keys["write"])).status_code == 200
    assert client.patch("/alerts/1", json=body, headers=auth(keys["admin"])).status_code == 200


def test_revoked_key_is_refused(lite):
    client, keys = lite
    with client.app.state.sessions() as session, session.begin():
        assert apikeys.revoke(session=session, name="k-read")
    assert client.get("/alerts", headers=auth(keys["read"])).status_code == 401


def test_filters_match_a_direct_check(api):
    client, keys = api
    everything = all_pages(client, keys["read"], limit=100)
    assert len(everything) > 40
    cases = {
        "min_score": (0.97, lambda a: a["score"] >= 0.97),
        "host": ("h3", lambda a: "h3" in (a["src_host"], a["dst_host"])),
        "user": ("eve@corp", lambda a: a["user"] == "eve@corp"),
        "start": (1800, lambda a: a["time"] >= 1800),
        "end": (1800, lambda a: a["time"] <= 1800),
        "severity": ("high", lambda a: a["severity"] == "high"),
        "detector": ("rules", lambda a: "rules" in a["scores"]),
        "rule": ("psexec", lambda a: "rules" in a["scores"]),
    }
    for name, (value, keep) in cases.items():
        got = {a["id"] for a in all_pages(client, keys["read"], **{name: value})}
        want = {a["id"] for a in everything if keep(a)}
        assert got == want and want, name
    got = all_pages(client, keys["read"], detector="gnn", min_score=0.95)
    assert got and all(a["scores"]["gnn"] >= 0.95 for a in got)
    campaign = next(a["campaign_id"] for a in everything if a["campaign_id"])
    got = all_pages(client, keys["read"], campaign=campaign)
    assert got and all(a["campaign_id"] == campaign for a in got)


@pytest.mark.parametrize("sort", ["-time", "time", "-score", "score", "id", "-id"])
def test_pages_are_stable_and_complete(api, sort):
    client, keys = api
    paged = all_pages(client, keys["read"], sort=sort, limit=7)
    ids = [a["id"] for a in paged]
    assert len(ids) == len(set(ids))
    one_page = client.get(
        "/alerts", params={"sort": sort, "limit": 100}, headers=auth(keys["read"])
    ).json()
    assert ids == [a["id"] for a in one_page["items"]]
    field = sort.lstrip("-")
    values = [(a[field], a["id"]) for a in paged]
    assert values == sorted(values, reverse=sort.startswith("-"))


def test_new_alerts_do_not_shift_a_cursor(lite):
    client, keys = lite
    first = client.get(
        "/alerts", params={"sort": "-time", "limit": 5}, headers=auth(keys["read"])
    ).json()
    later = build_alerts(
        scores={
            "xgb": pl.DataFrame(
                {"window": [99], "src_host": ["n1"], "dst_host": ["n2"], "score": [0.99]}
            )
        },
        thresholds={"xgb": 0.9},
        window_seconds=600,
    )
    with client.app.state.sessions() as session, session.begin():
        upsert_alerts(session, later)
    second = client.get(
        "/alerts",
        params={"sort": "-time", "limit": 5, "cursor": first["next_cursor"]},
        headers=auth(keys["read"]),
    ).json()
    seen = {a["id"] for a in first["items"]}
    assert not seen & {a["id"] for a in second["items"]}
    assert max(a["time"] for a in second["items"]) <= min(a["time"] for a in first["items"])


def test_invalid_filters_are_422_naming_the_field(lite):
    client, keys = lite
    for params, field in [
        ({"min_score": "high"}, "min_score"),
        ({"min_score": 1.5}, "min_score"),
        ({"status": "open"}, "status"),
        ({"sort": "user"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"start": -1}, "start"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"detector": "X Y"}, "detector"),
    ]:
        r = client.get("/alerts", params=params, headers=auth(keys["read"]))
        assert r.status_code == 422, params
        assert r.json()["detail"][0]["loc"] == ["query", field]
    cursor = client.get("/alerts", params={"limit": 1}, headers=auth(keys["read"])).json()
    r = client.get(
        "/alerts",
        params={"sort": "score", "cursor": cursor["next_cursor"]},
        headers=auth(keys["read"]),
    )
    assert r.status_code == 422 and "sort" in r.json()["detail"][0]["msg"]


def test_detail_has_scores_rule_hits_and_campaign(lite):
    client, keys = lite
    (hit,) = all_pages(client, keys["read"], rule="psexec", end=1300)
    detail = client.get(f"/alerts/{hit['id']}", headers=auth(keys["read"])).json()
    assert detail["rule_hits"][0]["rule_id"] == "psexec"
    assert detail["rule_hits"][0]["attack"] == ["T1021.002"]
    assert detail["scores"]["rules"] == 1.0 and detail["history"] == []
    assert client.get("/alerts/999999", headers=auth(keys["read"])).status_code == 404


def test_patch_keeps_history_in_order(lite):
    client, keys = lite
    w = auth(keys["write"])
    client.patch("/alerts/3", json={"status": "triaged", "note": "looking"}, headers=w)
    client.patch("/alerts/3", json={"status": "triaged"}, headers=w)  # no change: no entry
    r = client.patch(
        "/alerts/3",
        json={"status": "closed", "verdict": "false_positive"},
        headers=auth(keys["admin"]),
    )
    body = r.json()
    assert (body["status"], body["verdict"], body["note"]) == (
        "closed",
        "false_positive",
        "looking",
    )
    history = body["history"]
    assert [h["actor"] for h in history] == ["k-write", "k-admin"]
    assert history[0]["changes"] == {
        "status": {"old": "new", "new": "triaged"},
        "note": {"old": None, "new": "looking"},
    }
    assert history[1]["changes"]["verdict"] == {"old": None, "new": "false_positive"}
    for bad in ({}, {"status": "done"}, {"verdict": "maybe"}, {"status": "new", "owner": "x"}):
        assert client.patch("/alerts/3", json=bad, headers=w).status_code == 422, bad
    assert client.patch("/alerts/999999", json={"status": "new"}, headers=w).status_code == 404


def test_summary_is_generated_then_cached(lite):
    client, keys = lite
    w = auth(keys["write"])
    assert client.get("/alerts/2/summary", headers=w).status_code == 404
    made = client.post("/alerts/2/summary", headers=w).json()
    assert made["source"] == "template" and made["grounded"]
    detail = client.get("/alerts/2", headers=w).json()
    assert detail["src_host"] in made["text"] and detail["dst_host"] in made["text"]
    cached = client.get("/alerts/2/summary", headers=auth(keys["read"])).json()
    assert cached == made
    again = client.post("/alerts/2/summary", headers=w).json()
    assert again["created_at"] >= made["created_at"]
    assert client.post("/alerts/999999/summary", headers=w).status_code == 404


def test_summarizer_not_running_is_503(tmp_path):
    from models.llm.config import LLMConfig
    from models.llm.summarizer import Summarizer

    class Unstarted(Summarizer):
        async def start(self) -> None:  # never started: the real summarize raises
            return None

    for engine in make_engine("sqlite", tmp_path):
        settings = load_settings(llm={"engine": "template"}, data={"dir": str(tmp_path)})
        keys = seed(engine)
        summarizer = Unstarted(LLMConfig(engine="openai"))
        with TestClient(create_app(settings, engine=engine, summarizer=summarizer)) as client:
            r = client.post("/alerts/1/summary", headers=auth(keys["write"]))
            assert r.status_code == 503 and r.headers["retry-after"] == "5"


def test_campaign_detail_has_ordered_hops(lite):
    client, keys = lite
    page = client.get("/campaigns", headers=auth(keys["read"])).json()
    assert page["items"]
    best = max(page["items"], key=lambda c: c["alert_count"])
    detail = client.get(f"/campaigns/{best['id']}", headers=auth(keys["read"])).json()
    assert len(detail["hops"]) == best["alert_count"] == len(detail["alerts"])
    times = [h["time"] for h in detail["hops"]]
    assert times == sorted(times)
    assert [h["alert_id"] for h in detail["hops"]] == [a["id"] for a in detail["alerts"]]
    assert client.get("/campaigns/999999", headers=auth(keys["read"])).status_code == 404


def test_post_events_queues_an_ingest_job(lite):
    client, keys = lite
    event = {
        "time": 100,
        "src_user": "u@d",
        "dst_user": "u@d",
        "src_host": "a",
        "dst_host": "b",
        "auth_type": "NTLM",
        "logon_type": "Network",
    }
    bad = {**event, "src_host": " "}
    r = client.post("/events", json={"events": [event, bad]}, headers=auth(keys["write"]))
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 1) and body["job_id"]
    assert body["reasons"] == {"empty src_host": 1}
    again = client.post("/events", json={"events": [event]}, headers=auth(keys["write"])).json()
    assert again["job_id"] == body["job_id"]  # same batch, same job
    assert client.post("/events", json={}, headers=auth(keys["write"])).status_code == 422
    assert (
        client.post("/events", json={"events": [event]}, headers=auth(keys["read"])).status_code
        == 403
    )


def test_body_size_is_bounded(lite):
    client, keys = lite
    big = b'{"xml": ["' + b"x" * (5 * 1024 * 1024) + b'"]}'
    r = client.post(
        "/events", content=big, headers={**auth(keys["write"]), "content-type": "application/json"}
    )
    assert r.status_code == 413


def test_metrics_count_requests_by_route_template(lite):
    client, keys = lite
    client.get("/alerts/1", headers=auth(keys["read"]))
    client.get("/alerts/2", headers=auth(keys["read"]))
    text = client.get("/metrics", headers=auth(keys["read"])).text
    assert 'route="/alerts/{alert_id}",status="200"} 2.0' in text
    assert "hopwatch_http_request_seconds_bucket" in text


def test_post_xml_lines_then_ingest_worker_queues_scoring(lite, tmp_path):
    from ingest.windows.xml import WinRecord
    from service.workers import Worker
    from service.workers import queue as jobs
    from service.workers.tasks import JobContext
    from tests.ingest.windows.fixtures import render_xml

    client, keys = lite
    logon = WinRecord(
        event_id=4624,
        system_time="2024-05-01T10:00:07.1234567Z",
        record_id=1,
        channel="Security",
        computer="srv9.corp.local",
        provider="Microsoft-Windows-Security-Auditing",
        data={"TargetUserName": "alice", "TargetDomainName": "CORP", "LogonType": "3",
              "AuthenticationPackageName": "NTLM", "WorkstationName": "WS7",
              "IpAddress": "10.1.2.3", "TargetLogonId": "0x1D313D"},
        source="t.xml",
        record=1,
    )  # fmt: skip
    lines = [render_xml(logon), "<Event><not-closed>"]
    r = client.post("/events", json={"xml": lines}, headers=auth(keys["write"]))
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 1), body
    ctx = JobContext(
        sessions=client.app.state.sessions, data_dir=tmp_path / "data", window_seconds=1800
    )
    assert Worker("ingest", ctx, name="w").run(exit_when_idle=True) == 1
    with client.app.state.sessions() as session:
        counts = jobs.counts(session=session)
    assert counts == {"ingest": {"done": 1}, "score": {"pending": 1}}
