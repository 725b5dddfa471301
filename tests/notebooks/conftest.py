"""The demo deployment every notebook runs against, built once per session and served by
uvicorn on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.notebooks.demo import Demo, build_demo
from tests.service.live import serve


@dataclass
class Deployment:
    """The demo's files and its API's URL."""

    demo: Demo
    url: str


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from service.app import create_app

    demo = build_demo(tmp_path_factory.mktemp("notebook-demo"))
    with serve(create_app(demo.settings)) as url:
        yield Deployment(demo, url)
