"""Domain errors of the summarizer; the API maps them to HTTP statuses."""

from __future__ import annotations

from ingest.errors import HopwatchError


class SummarizerError(HopwatchError, RuntimeError):
    """Base class of summarizer errors."""


class QueueFull(SummarizerError):
    """The request queue is full: back off and retry (HTTP 503)."""


class SummaryTimeout(SummarizerError):
    """The request did not finish within ``LLMConfig.timeout_s`` (HTTP 504 or 503)."""


class SummarizerClosed(SummarizerError):
    """The summarizer is not started, or is shutting down (HTTP 503)."""


class EngineError(SummarizerError):
    """The generation engine failed (bad model file, server error)."""
