"""The analyst triage page: served without a key under a restrictive CSP, loads
nothing from elsewhere, inserts API text only as text, and every data call it
makes needs a key."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from tests.service.api.support import auth

ROOT_TESTS = Path(__file__).resolve().parent


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "action"):
            if values.get(name):
                self.urls.append(values[name])
        self.handlers += [k for k in values if k.startswith("on")]
        if tag == "script":
            self._in_script = True
        if values.get("style") is not None:
            self.handlers.append("style")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def test_triage_page_is_served_without_a_key_under_a_strict_csp(lite):
    client, _ = lite
    r = client.get("/triage")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = {
        part.split()[0]: part.split()[1:]
        for part in r.headers["content-security-policy"].split(";")
        if part.strip()
    }
    assert csp["default-src"] == ["'none'"]
    for directive in ("script-src", "style-src", "connect-src"):
        assert csp[directive] == ["'self'"], directive
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "unsafe" not in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    page = _Assets()
    page.feed(r.text)
    assert page.urls and all(u.startswith("/") and not u.startswith("//") for u in page.urls)
    assert page.inline_scripts == 0 and page.handlers == []  # the CSP would block them
    for url in page.urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert "content-security-policy" in asset.headers
    assert client.get("/triage/../app.py").status_code == 404


def test_triage_script_inserts_text_only_and_every_call_needs_a_key(lite):
    client, keys = lite
    js = client.get("/triage/triage.js")
    assert js.headers["content-type"].startswith("text/javascript")
    source = js.text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink
    assert "textContent" in source and "sessionStorage" in source
    assert not re.search(r"https?://", source)
    paths = set(re.findall(r"[\"`](/(?:alerts|campaigns)[^\"`?]*)", source))
    assert {"/alerts", "/alerts/${id}", "/alerts/${alertId}/summary"} <= paths, paths
    for path in paths:
        concrete = re.sub(r"\$\{[^}]+\}", "1", path)
        assert client.get(concrete).status_code == 401, concrete
        assert client.get(concrete, headers=auth(keys["read"])).status_code in (200, 404)
    assert client.patch("/alerts/1", json={"status": "triaged"}).status_code == 401
    assert client.post("/alerts/1/summary").status_code == 401


def test_triage_script_parses():
    """A syntax error would leave the page dead; check it with node where installed."""
    import shutil
    import subprocess

    import pytest

    from service.api.triage import STATIC

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    done = subprocess.run([node, "--check", str(STATIC / "triage.js")], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_triage_page_works_against_a_live_api(tmp_path):
    """triage.js in node (fake DOM, real fetch) against uvicorn: key, list, one alert
    with its hop path and rule hits, a PATCH, a filtered list."""
    import json
    import shutil
    import socket
    import subprocess
    import threading
    import time

    import pytest
    import uvicorn

    from service.api.triage import STATIC
    from tests.detections.store.test_store import make_engine
    from tests.service.api.support import make_client

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    for engine in make_engine("sqlite", tmp_path):
        client, keys = make_client(engine, tmp_path)
        hits = client.get("/alerts", params={"rule": "psexec"}, headers=auth(keys["read"]))
        target = next(a for a in hits.json()["items"] if a["campaign_id"])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.05)
            note = '<img src=x onerror="alert(1)"> checked'
            done = subprocess.run(
                [node, str(ROOT_TESTS / "triage_harness.js"), str(STATIC / "triage.html"),
                 str(STATIC / "triage.js"), f"http://127.0.0.1:{port}", keys["write"],
                 str(target["id"]), note],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        finally:
            server.should_exit = True
            thread.join(10)
        assert done.returncode == 0, done.stderr
        page = json.loads(done.stdout)
        assert page["before_key"] == "enter an API key" and page["stored_key"]
        assert page["listed"] == 50 and page["more_hidden"] is False
        # The first screen: campaigns and alerts, most severe first, then by score.
        rank = {"low": 0, "medium": 1, "high": 2, "critical": 3}
        sev = [rank[s] for s in page["first_severities"]]
        assert sev == sorted(sev, reverse=True) and sev[0] == 3
        same = [s for r, s in zip(sev, page["first_scores"], strict=True) if r == sev[0]]
        assert same == sorted(same, reverse=True)
        camp = [rank[s] for s in page["campaign_severities"]]
        assert camp and camp == sorted(camp, reverse=True)
        total = len(
            client.get("/alerts", params={"limit": 100}, headers=auth(keys["read"])).json()["items"]
        )
        assert page["after_more"] == total > 50 and page["more_hidden_after"] is True
        assert target["src_host"] in page["title"] and target["dst_host"] in page["title"]
        assert any("this alert" in hop for hop in page["hops"]) and len(page["hops"]) >= 2
        assert page["hits"][0][0] == "psexec" and page["summary"] == "no summary yet"
        assert page["note_shown"] == note and page["history"] == 1  # shown as text, verbatim
        assert page["filtered"] == ["triaged"]
        detail = client.get(f"/alerts/{target['id']}", headers=auth(keys["read"])).json()
        assert (detail["status"], detail["note"]) == ("triaged", note)
