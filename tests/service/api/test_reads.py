"""The hot read routes (GET /alerts, GET /alerts/{id}) after their Core/direct-JSON
rework: same answers as the ORM + pydantic view, host pages in order, on both databases."""

from __future__ import annotations

import pytest

from tests.service.api.support import all_pages, auth


def test_fast_list_json_equals_the_alert_model(api):
    """GET /alerts writes its JSON directly (service/api/alerts/encode.py): it must say
    exactly what AlertRead built from the ORM object says, on both databases."""
    from sqlalchemy import select

    from detections.store.tables import Alert
    from service.api.alerts.schemas import AlertRead

    client, keys = api
    listed = all_pages(client, keys["read"], sort="id", limit=100)
    with client.app.state.sessions() as session:
        alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
        want = [AlertRead.model_validate(a).model_dump(mode="json") for a in alerts]
    assert listed == want
    assert any(a["campaign_id"] for a in listed) and any(a["techniques"] for a in listed)


def test_detail_equals_the_orm_view(api):
    from service.api.alerts.schemas import AlertDetail
    from service.queries import alerts as alert_service

    client, keys = api
    listed = all_pages(client, keys["read"], limit=100)
    with_campaign = next(a["id"] for a in listed if a["campaign_id"])
    with_hits = next(a["id"] for a in listed if "rules" in a["scores"])
    for alert_id in (1, with_campaign, with_hits):
        got = client.get(f"/alerts/{alert_id}", headers=auth(keys["read"])).json()
        with client.app.state.sessions() as session:
            orm = alert_service.get_alert(session=session, alert_id=alert_id)
            want = AlertDetail.model_validate(orm).model_dump(mode="json")
        assert got == want


@pytest.mark.parametrize("sort", ["-time", "time", "-score", "score", "id", "-id"])
def test_host_pages_walk_both_sides_in_order(api, sort):
    """host= is a union of two ordered index reads: paging through it in small pages
    must give exactly the host's alerts, in order, each once."""
    client, keys = api
    everything = all_pages(client, keys["read"], sort=sort, limit=100)
    for host in ("h1", "h3"):
        want = [a["id"] for a in everything if host in (a["src_host"], a["dst_host"])]
        got = [a["id"] for a in all_pages(client, keys["read"], host=host, sort=sort, limit=3)]
        assert got == want and len(want) > 3, (host, sort)
        both = all_pages(client, keys["read"], host=host, status="new", min_score=0.9, limit=2)
        assert [a["id"] for a in both] == [
            a["id"]
            for a in all_pages(client, keys["read"], host=host, limit=100)
            if a["status"] == "new" and a["score"] >= 0.9
        ]
