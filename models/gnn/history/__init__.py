"""Streaming history of the authentication graph that the temporal GNN reads.

:class:`GraphHistory` (:mod:`~models.gnn.history.graph`) holds per-host and per-pair
history and computes the features; :mod:`~models.gnn.history.pairs` is the pair table over
the numba hash table of :mod:`~models.gnn.history.hashtable`;
:mod:`~models.gnn.history.context` finds a window's never-seen pairs around each pair;
:mod:`~models.gnn.history.users` tracks which accounts authenticate on each edge.
"""

from models.gnn.history.context import WindowNovelty, window_context, window_novelty
from models.gnn.history.graph import GraphHistory, edge_features, time_features
from models.gnn.history.pairs import PairHistory
from models.gnn.history.users import EdgeUsers, UserHistory

__all__ = [
    "EdgeUsers",
    "GraphHistory",
    "PairHistory",
    "UserHistory",
    "WindowNovelty",
    "edge_features",
    "time_features",
    "window_context",
    "window_novelty",
]
