"""Run-time helpers of the GNN detector: device choice, CPU threads, library versions
and the feature schema a saved model is checked against (:mod:`models.gnn.detector`)."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

import torch

from models.gnn.batches import BATCH_COLUMNS
from models.gnn.history.graph import (
    EDGE_FEATURES,
    HISTORY_FEATURES,
    NODE_FEATURES,
    PAIR_FEATURES,
)
from models.gnn.history.users import USER_FEATURES


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``/``cuda[:i]`` as given.

    Raises:
        ValueError: CUDA requested but not available, or an unknown device name.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    return torch.device(device)


@contextmanager
def cpu_threads(device: torch.device, threads: int | None) -> Iterator[None]:
    """Run torch's CPU ops with ``threads`` intra-op threads (restored afterwards).

    The GNN's per-window tensors are small; one thread avoids the oversubscription
    that makes many threads much slower on a shared machine.
    """
    if device.type != "cpu" or not threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on."""
    out = {"python": platform.python_version(), "torch": str(torch.__version__)}
    for dist in ("torch-geometric", "hopwatch", "numpy", "polars"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def feature_schema() -> dict[str, list[str]]:
    """The feature configuration a model is trained with (checked on load)."""
    return {
        "edge_columns": list(BATCH_COLUMNS),
        "node": list(NODE_FEATURES),
        "history": list(HISTORY_FEATURES),
        "pair": list(PAIR_FEATURES),
        "user": list(USER_FEATURES),
        "edge": list(EDGE_FEATURES),
    }


def schema_difference(saved: Any) -> str:
    """What a saved feature schema lacks or has beyond this code's, in words."""
    if not isinstance(saved, dict):
        return "no feature schema in the file"
    parts = []
    for group, names in feature_schema().items():
        old = list(saved.get(group) or [])
        added = [n for n in names if n not in old]
        dropped = [n for n in old if n not in names]
        if added:
            parts.append(f"{group}: this hopwatch adds {', '.join(added)}")
        if dropped:
            parts.append(f"{group}: this hopwatch lacks {', '.join(dropped)}")
        if not added and not dropped and old != names:
            parts.append(f"{group}: another order")
    return "; ".join(parts) or "other feature groups"
