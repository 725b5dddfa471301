"""Windows records to canonical events (pure Polars transforms).

:mod:`~ingest.windows.mapping.events` maps the raw frame to auth and process events,
:mod:`~ingest.windows.mapping.normalize` normalises names and values, and
:mod:`~ingest.windows.mapping.resolve` resolves IP addresses to hosts.
"""

from ingest.windows.mapping.events import (
    AUTH_EVENTS,
    PROCESS_EVENTS,
    map_frames,
    resolve_parents,
    supported,
    to_auth,
    to_process,
)
from ingest.windows.mapping.resolve import host_map

__all__ = [
    "AUTH_EVENTS",
    "PROCESS_EVENTS",
    "host_map",
    "map_frames",
    "resolve_parents",
    "supported",
    "to_auth",
    "to_process",
]
