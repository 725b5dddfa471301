"""Fixtures of the API tests: a seeded client on SQLite and PostgreSQL (``api``), SQLite only
(``lite``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.detections.store.test_store import make_engine
from tests.service.api.support import make_client


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api(request, tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client and {scope: key} on SQLite and on PostgreSQL, shared by read-only tests."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    for engine in make_engine(request.param, tmp_path):
        client, keys = make_client(engine, tmp_path)
        with client:
            yield client, keys


@pytest.fixture
def lite(tmp_path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client on SQLite only (for tests that do not depend on the database)."""
    for engine in make_engine("sqlite", tmp_path):
        client, keys = make_client(engine, tmp_path)
        with client:
            yield client, keys
