"""Helpers of the API tests: a seeded store, a client on it, auth headers, paging."""

from __future__ import annotations

import random

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from detections.alerts import build_alerts
from detections.store import relink_campaigns, upsert_alerts
from service.app import create_app
from service.queries import apikeys
from service.settings import load_settings

N_WINDOWS = 12


def seed(engine) -> dict[str, str]:
    """60-odd alerts over 12 windows, two detectors, rule hits, campaigns; three keys."""
    rng = random.Random(7)
    hosts = [f"h{i}" for i in range(8)]
    rows = {"xgb": [], "gnn": []}
    for w in range(N_WINDOWS):
        for _ in range(6):
            s, d = rng.sample(hosts, 2)
            rows["xgb"].append((w, s, d, round(rng.uniform(0.85, 1.0), 3)))
            rows["gnn"].append((w, s, d, round(rng.uniform(0.5, 1.0), 3)))
    scores = {
        k: pl.DataFrame(v, schema=["window", "src_host", "dst_host", "score"], orient="row").unique(
            subset=["window", "src_host", "dst_host"], keep="first"
        )
        for k, v in rows.items()
    }
    hits = [
        {
            "rule_id": "psexec",
            "title": "PsExec",
            "severity": "high",
            "attack": ["T1021.002"],
            "time": w * 600 + 30,
            "src_host": "h1",
            "dst_host": "h2",
            "user": "eve@corp",
        }
        for w in (2, 5, 9)
    ]
    alerts = build_alerts(
        scores=scores, thresholds={"xgb": 0.9, "gnn": 0.9}, window_seconds=600, rule_hits=hits
    )
    with Session(engine) as session, session.begin():
        upsert_alerts(session, alerts)
        relink_campaigns(session, span_seconds=300)
        keys = {
            scope: apikeys.create(session=session, name=f"k-{scope}", scope=scope)[1]
            for scope in apikeys.SCOPES
        }
    return keys


def make_client(engine, tmp_path) -> tuple[TestClient, dict[str, str]]:
    settings = load_settings(
        llm={"engine": "template"}, data={"dir": str(tmp_path / "data")}, api={"max_page": 100}
    )
    keys = seed(engine)
    app = create_app(settings, engine=engine, key_cache_ttl=0)
    return TestClient(app), keys


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def all_pages(client, key, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get(
            "/alerts",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=auth(key),
        )
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
