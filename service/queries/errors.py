"""Domain errors raised by service functions; the API maps them to HTTP statuses."""

from __future__ import annotations

from ingest.errors import HopwatchError


class ServiceError(HopwatchError):
    """Base class of service-layer errors."""


class NotFound(ServiceError):
    """The named object does not exist (HTTP 404)."""


class InvalidInput(ServiceError):
    """A value is invalid (HTTP 422); ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Unavailable(ServiceError):
    """A dependency is busy or down (HTTP 503); retry later."""


class TimedOut(ServiceError):
    """A dependency did not answer in time (HTTP 504)."""
