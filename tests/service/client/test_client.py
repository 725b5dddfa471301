"""The API client against a live API on loopback (uvicorn, seeded SQLite store)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import pytest

from ingest.errors import HopwatchError
from service.client import (
    AlertDetail,
    ApiError,
    ApiUnreachable,
    AuthenticationError,
    Campaign,
    CampaignDetail,
    HopwatchClient,
    InvalidRequest,
    NotFoundError,
    PermissionDenied,
    Summary,
)
from service.client.records import ALERT_SCHEMA, CAMPAIGN_SCHEMA, HOP_SCHEMA, RULE_HIT_SCHEMA
from tests.detections.store.test_store import make_engine
from tests.service.api.support import all_pages, auth, make_client
from tests.service.live import free_port, serve


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], object]]:
    """(base URL, {scope: key}, a TestClient on the same app for the expected answers)."""
    tmp_path = tmp_path_factory.mktemp("client")
    for engine in make_engine("sqlite", tmp_path):
        test_client, keys = make_client(engine, tmp_path)
        with serve(test_client.app) as url:
            yield url, keys, test_client


@pytest.fixture
def hw(live) -> Iterator[HopwatchClient]:
    url, keys, _ = live
    with HopwatchClient(url, keys["write"], page_size=7) as client:
        yield client


def test_alerts_follow_every_cursor_into_one_frame(live, hw):
    _, keys, api = live
    expected = all_pages(api, keys["read"], sort="-score")
    frame = hw.alerts(sort="-score")
    assert len(expected) > 3 * hw.page_size  # several pages were followed
    assert frame["id"].to_list() == [a["id"] for a in expected]
    assert frame["score"].to_list() == [a["score"] for a in expected]
    assert dict(frame.schema) | dict(ALERT_SCHEMA) == dict(frame.schema)
    assert {"score_gnn", "score_xgb"} <= set(frame.columns)
    first = expected[0]
    row = frame.row(0, named=True)
    assert row["time"] == datetime.fromtimestamp(first["time"], UTC)
    assert row["score_xgb"] == first["scores"].get("xgb")
    # limit stops early, across a page boundary, keeping the order
    assert hw.alerts(sort="-score", limit=10)["id"].to_list() == frame["id"].to_list()[:10]
    records = list(hw.iter_alerts(sort="-score", limit=9))
    assert [r.id for r in records] == frame["id"].to_list()[:9]


def test_alert_filters_reach_the_api(live, hw):
    _, keys, api = live
    for params in (
        {"rule": "psexec"},
        {"detector": "xgb", "min_score": 0.95},
        {"host": "h1", "sort": "time"},
        {"start": 1200, "end": 3600},
    ):
        expected = [a["id"] for a in all_pages(api, keys["read"], **params)]
        assert hw.alerts(**params)["id"].to_list() == expected, params
    high = hw.alerts(detector="xgb", min_score=0.95)
    assert high.height and (high["score_xgb"] >= 0.95).all()
    as_dates = hw.alerts(
        start=datetime.fromtimestamp(1200, UTC), end=datetime.fromtimestamp(3600, UTC)
    )
    assert as_dates["id"].to_list() == hw.alerts(start=1200, end=3600)["id"].to_list()
    with pytest.raises(ValueError, match="aware datetime"):
        hw.alerts(start=datetime(2026, 1, 1))


def test_an_empty_list_keeps_its_columns(hw):
    empty = hw.alerts(user="nobody@nowhere")
    assert empty.height == 0 and empty.schema == ALERT_SCHEMA
    assert hw.campaigns(start=2**40).schema == CAMPAIGN_SCHEMA


def test_one_alert_with_rule_hits_and_campaign(live, hw):
    _, keys, api = live
    target = next(a for a in hw.iter_alerts(rule="psexec") if a.campaign_id)
    detail = hw.alert(target.id)
    raw = api.get(f"/alerts/{target.id}", headers=auth(keys["read"])).json()
    assert isinstance(detail, AlertDetail)
    assert (detail.src_host, detail.dst_host, detail.user) == (
        raw["src_host"],
        raw["dst_host"],
        raw["user"],
    )
    assert detail.rule_hits.schema == RULE_HIT_SCHEMA
    assert detail.rule_hits["rule_id"].to_list() == [h["rule_id"] for h in raw["rule_hits"]]
    assert "psexec" in detail.rule_hits["rule_id"].to_list()
    assert detail.campaign is not None and detail.campaign.id == raw["campaign"]["id"]
    assert detail.time == datetime.fromtimestamp(raw["time"], UTC)


def test_triage_round_trip_and_refusals_carry_the_api_message(live, hw):
    url, keys, _ = live
    alert_id = int(hw.alerts(limit=1)["id"][0])
    before = hw.alert(alert_id).history.height
    after = hw.triage(alert_id, status="triaged", note="<b>checked</b> with the owner")
    assert (after.status, after.note) == ("triaged", "<b>checked</b> with the owner")
    assert after.history.height == before + 1
    assert after.history["actor"][-1] == "k-write"
    assert hw.alert(alert_id).status == "triaged"

    with pytest.raises(InvalidRequest) as bad:
        hw.triage(alert_id, verdict="maybe")
    assert bad.value.status == 422 and "verdict" in bad.value.message
    with pytest.raises(InvalidRequest, match="give at least one of status, verdict, note"):
        hw.triage(alert_id)
    with HopwatchClient(url, keys["read"]) as reader:
        with pytest.raises(PermissionDenied) as denied:
            reader.triage(alert_id, status="closed")
        assert denied.value.status == 403
        assert denied.value.message == "this API key has scope 'read'; needs 'write'"
        assert reader.alert(alert_id).status == "triaged"  # unchanged
    with (
        HopwatchClient(url, "hw_not_a_key") as stranger,
        pytest.raises(AuthenticationError, match="unknown or revoked API key"),
    ):
        stranger.alerts(limit=1)
    with HopwatchClient(url) as nobody:
        assert nobody.health() == {"status": "ok", "database": "ok"}
        with pytest.raises(AuthenticationError, match="missing API key"):
            nobody.campaigns()
    with pytest.raises(NotFoundError) as missing:
        hw.alert(10**9)
    assert missing.value.status == 404 and str(10**9) in missing.value.message
    for exc in (bad, denied, missing):
        assert isinstance(exc.value, ApiError) and isinstance(exc.value, HopwatchError)


def test_unreachable_api_is_an_api_error():
    with (
        HopwatchClient(f"http://127.0.0.1:{free_port()}", "k", timeout=5) as gone,
        pytest.raises(ApiUnreachable, match="cannot reach the API") as exc,
    ):
        gone.health()
    assert exc.value.status is None and isinstance(exc.value, HopwatchError)


def test_summary_missing_then_generated_then_cached(hw):
    alert_id = int(hw.alerts(sort="-score", limit=1)["id"][0])
    with pytest.raises(NotFoundError):
        hw.summary(alert_id)
    made = hw.summarize(alert_id)
    assert isinstance(made, Summary) and made.alert_id == alert_id
    assert made.source == "template" and made.grounded and made.text
    cached = hw.summary(alert_id)
    assert (cached.text, cached.created_at) == (made.text, made.created_at)


def test_campaigns_frame_and_one_campaign(live, hw):
    _, keys, api = live
    listed = api.get("/campaigns", params={"limit": 100}, headers=auth(keys["read"])).json()
    frame = hw.campaigns()
    assert frame["id"].to_list() == [c["id"] for c in listed["items"]]
    assert frame.height >= 2 and frame.schema == CAMPAIGN_SCHEMA
    assert hw.campaigns(limit=1).height == 1
    biggest = frame.sort("alert_count", descending=True).row(0, named=True)
    detail = hw.campaign(biggest["id"])
    assert isinstance(detail, CampaignDetail) and detail.hops.schema == HOP_SCHEMA
    raw = api.get(f"/campaigns/{biggest['id']}", headers=auth(keys["read"])).json()
    assert detail.hops["alert_id"].to_list() == [h["alert_id"] for h in raw["hops"]]
    assert detail.hops["hop"].to_list() == list(range(1, len(raw["hops"]) + 1))
    assert set(detail.hops["alert_id"]) <= set(detail.alerts["id"])
    assert detail.alerts.height == biggest["alert_count"]


def test_send_events(hw):
    ok = hw.send_events(
        pl.DataFrame(
            {
                "time": [1_700_000_000],
                "src_user": ["alice@CORP"],
                "dst_user": ["alice@CORP"],
                "src_host": ["WS7"],
                "dst_host": ["SRV9"],
            }
        )
    )
    assert (ok.accepted, ok.rejected) == (1, 0) and isinstance(ok.job_id, int)
    with pytest.raises(InvalidRequest) as bad:
        hw.send_events([{"time": -5, "src_user": "a", "dst_user": "a"}])
    assert "events" in bad.value.message and "time" in bad.value.message


def test_records_have_the_fields_the_api_documents(live):
    """Drift check: every field of the API's response schemas has a record field."""
    _, _, api = live
    schemas = api.get("/openapi.json").json()["components"]["schemas"]

    def names(schema: str) -> set[str]:
        return set(schemas[schema]["properties"]) - {"first_seen"}  # an ISO copy of time

    def fields(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    assert names("AlertDetail") == fields(AlertDetail)
    assert names("CampaignDetail") == fields(CampaignDetail)
    assert names("CampaignRead") == fields(Campaign)
    assert names("SummaryRead") == fields(Summary)
    assert set(schemas["RuleHitRead"]["properties"]) == set(RULE_HIT_SCHEMA.names())
