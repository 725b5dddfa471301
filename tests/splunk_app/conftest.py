"""Fixtures of the Splunk app tests: the app staged as `make splunk-app` stages it, a
live hopwatch API on loopback (uvicorn, seeded alerts, campaigns and keys), and a
splunkd stand-in holding the credential the setup page stores."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.splunk_app.chunked import Result, run_command
from tests.splunk_app.splunkd import Splunkd

ROOT = Path(__file__).resolve().parents[2]
PAGE = 7  # the API's api.max_page in these tests
DEFAULT_API_CONF = {"api": {"verify_tls": "true", "ca_file": "", "timeout": "30"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory) -> Path:
    """``hopwatch`` staged with lib/splunklib, by the build script `make splunk-app` runs."""
    spec = importlib.util.spec_from_file_location(
        "splunk_app_build", ROOT / "splunk_app" / "build.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.stage(tmp_path_factory.mktemp("stage"))


@dataclass
class LiveApi:
    """The API on loopback: URL, {scope: key}, its data directory, an httpx client."""

    url: str
    keys: dict[str, str]
    data_dir: Path
    http: httpx.Client

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params, headers={"X-API-Key": self.keys["read"]})
        r.raise_for_status()
        return r.json()

    def all_alerts(self, **params: Any) -> list[dict]:
        return self.all_items("/alerts", **params)

    def all_items(self, path: str, **params: Any) -> list[dict]:
        """Every item of a cursor-paged list route."""
        items, cursor = [], None
        while True:
            page = self.get(path, limit=100, **params, **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


@pytest.fixture(scope="module")
def live_api(tmp_path_factory) -> Iterator[LiveApi]:
    """uvicorn serving hopwatch's app (SQLite, template summaries) on a free port; pages
    hold at most ``PAGE`` alerts, so every listing crosses several cursor pages."""
    import uvicorn

    from service.app import create_app
    from service.settings import load_settings
    from tests.detections.store.test_store import make_engine
    from tests.service.api.support import seed

    tmp_path = tmp_path_factory.mktemp("api")
    settings = load_settings(
        llm={"engine": "template"}, data={"dir": str(tmp_path / "data")}, api={"max_page": PAGE}
    )
    for engine in make_engine("sqlite", tmp_path):
        keys = seed(engine)
        app = create_app(settings, engine=engine, key_cache_ttl=0)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                yield LiveApi(url=url, keys=keys, data_dir=tmp_path / "data", http=http)
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture
def splunkd(live_api) -> Iterator[Splunkd]:
    """splunkd with the setup page's credential for the live API (a write key)."""
    confs = {"hopwatch": {k: dict(v) for k, v in DEFAULT_API_CONF.items()}}
    with Splunkd(confs=confs) as server:
        server.store(
            "hopwatch", "api", json.dumps({"url": live_api.url, "key": live_api.keys["write"]})
        )
        yield server


@pytest.fixture
def search(app_dir, splunkd, tmp_path):
    """``search(command, *args, rows=None)``: run a command as splunkd would."""

    def run(command: str, *args: str, rows: list[dict] | None = None, **kw: Any) -> Result:
        dispatch = tmp_path / "dispatch"
        dispatch.mkdir(exist_ok=True)
        return run_command(
            app_dir,
            command,
            list(args),
            splunkd_uri=kw.pop("splunkd_uri", splunkd.uri),
            session_key=kw.pop("session_key", splunkd.session_key),
            dispatch_dir=dispatch,
            rows=rows,
            **kw,
        )

    return run
