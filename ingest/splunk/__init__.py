"""Pull Windows authentication events from Splunk with the export API, exactly once.

:class:`SplunkPuller` (:mod:`~ingest.splunk.pull`) runs the checkpointed export pull:
:mod:`~ingest.splunk.config` (what and where), :mod:`~ingest.splunk.client` (splunk-sdk
connection and error classes), :mod:`~ingest.splunk.export` (the export body in bounded
blocks), :mod:`~ingest.splunk.results` (time, dedupe key, conversion to events),
:mod:`~ingest.splunk.checkpoint` and :mod:`~ingest.splunk.sink` (the append-only store).
"""

from ingest.splunk.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from ingest.splunk.client import (
    SplunkAuthError,
    SplunkError,
    SplunkQueryError,
    SplunkTLSError,
    SplunkUnavailable,
    StreamCut,
)
from ingest.splunk.config import SplunkConfig, SplunkConfigError
from ingest.splunk.pull import PullSummary, SplunkPuller
from ingest.splunk.sink import EventSink, build_dataset

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "EventSink",
    "PullSummary",
    "SplunkAuthError",
    "SplunkConfig",
    "SplunkConfigError",
    "SplunkError",
    "SplunkPuller",
    "SplunkQueryError",
    "SplunkTLSError",
    "SplunkUnavailable",
    "StreamCut",
    "build_dataset",
    "load_checkpoint",
]
