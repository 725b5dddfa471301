"""Detector registry: name -> class, imported lazily (torch and xgboost are heavy)."""

from __future__ import annotations

import importlib

from models.base import Detector

DETECTORS: dict[str, str] = {
    "gnn": "models.gnn:GNNDetector",
    "xgb": "models.xgb:XGBDetector",
}


def detector_class(name: str) -> type[Detector]:
    """The class registered under ``name``.

    Raises:
        KeyError: unknown name (the message lists the known ones).
    """
    try:
        target = DETECTORS[name]
    except KeyError:
        raise KeyError(
            f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}"
        ) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
