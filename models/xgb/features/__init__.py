"""Tabular history features of every (src_host, dst_host) edge, for the XGBoost detector.

:mod:`~models.xgb.features.table` computes a window's feature table from the running
:mod:`~models.xgb.features.history`; :mod:`~models.xgb.features.walk` walks a data
directory window by window; :mod:`~models.xgb.features.sampling` and
:mod:`~models.xgb.features.training` build label-free training rows;
:mod:`~models.xgb.features.text` says each feature in analyst words.
"""

from models.xgb.features.history import History, WindowSummary, advance
from models.xgb.features.table import FEATURES, KEYS, edge_features, empty_features
from models.xgb.features.text import describe
from models.xgb.features.walk import FeatureWalker, store_fingerprint

__all__ = [
    "FEATURES",
    "KEYS",
    "FeatureWalker",
    "History",
    "WindowSummary",
    "advance",
    "describe",
    "edge_features",
    "empty_features",
    "store_fingerprint",
]
