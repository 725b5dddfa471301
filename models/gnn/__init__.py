"""The temporal GNN detector.

:class:`GNNDetector` (:mod:`~models.gnn.detector`) is the :class:`models.base.Detector`
face; :mod:`~models.gnn.network` holds the network (graph encoder per snapshot, GRU over
time, pair decoder), :mod:`~models.gnn.train` the training and scoring loops,
:mod:`~models.gnn.batches` the window batches read from a data directory,
:mod:`~models.gnn.replay` the replay over windows in time order, :mod:`~models.gnn.state`
the saved end-of-training state, :mod:`~models.gnn.explain` explanations by occlusion,
:mod:`~models.gnn.runtime` device and thread helpers, and :mod:`models.gnn.history` the
streaming history the features are read from.
"""

from models.gnn.detector import GNNDetector
from models.gnn.train import GNNConfig

__all__ = ["GNNConfig", "GNNDetector"]
