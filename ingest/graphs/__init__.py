"""Windows and graphs: the data-directory API (see docs/data-format.md).

:class:`GraphStore` reads a data directory; :class:`DatasetWriter` writes one;
:func:`window_edges` and :func:`to_pyg` are the pure transforms between canonical
events, edge tables and PyG snapshots; :class:`NodeIndex` is the stable host index.
"""

from ingest.graphs.edges import EDGE_COLUMNS, EDGE_FEATURES, EDGE_SCHEMA, window_edges
from ingest.graphs.labels import label_events
from ingest.graphs.nodes import NodeIndex
from ingest.graphs.pyg import EDGE_ATTR_NAMES, edge_attr_frame, to_pyg
from ingest.graphs.store import GraphStore
from ingest.graphs.writer import FORMAT_VERSION, DatasetWriter

__all__ = [
    "EDGE_ATTR_NAMES",
    "EDGE_COLUMNS",
    "EDGE_FEATURES",
    "EDGE_SCHEMA",
    "FORMAT_VERSION",
    "DatasetWriter",
    "GraphStore",
    "NodeIndex",
    "edge_attr_frame",
    "label_events",
    "to_pyg",
    "window_edges",
]
