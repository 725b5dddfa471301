"""Shared test fixtures and skip logic for optional services and data."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
EVTX_DIR = SHARED_DATA / "evtx-lateral-movement"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip marked tests whose service, device or data is absent here."""
    skips = {
        "postgres": (not _port_open("127.0.0.1", 5432), "PostgreSQL not on 127.0.0.1:5432"),
        "redis": (not _port_open("127.0.0.1", 6379), "Redis not on 127.0.0.1:6379"),
        "shared_data": (not EVTX_DIR.is_dir(), f"{EVTX_DIR} absent"),
    }
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    skips["gpu"] = (not has_cuda, "no CUDA device")
    for item in items:
        for marker, (skip, why) in skips.items():
            if skip and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=why))
