"""Errors of the API client: one class per kind of failure, each carrying the API's message.

Every error derives from :class:`ApiError`, which derives from
:class:`ingest.errors.HopwatchError`; ``status`` is the HTTP status (``None`` when no
answer came) and ``message`` the API's own words (its ``detail``; for a 422 each bad
field as ``location: message``).
"""

from __future__ import annotations

from typing import Any

from ingest.errors import HopwatchError


class ApiError(HopwatchError):
    """The API refused a request, or could not be reached.

    Attributes:
        status: the HTTP status, or ``None`` when the server never answered.
        message: the API's message (``detail``), readable as is.
        detail: the ``detail`` value as the API sent it (a string, or the list of 422 errors).
        method, url: the request.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: Any = None,
        method: str = "",
        url: str = "",
    ) -> None:
        where = f"{method} {url}: " if method else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{where}{code}{message}")
        self.status = status
        self.message = message
        self.detail = detail if detail is not None else message
        self.method = method
        self.url = url


class ApiUnreachable(ApiError):
    """No answer: connection refused, DNS failure, or the request timed out."""


class AuthenticationError(ApiError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDenied(ApiError):
    """403: the API key's scope does not allow this (e.g. a ``read`` key that triages)."""


class NotFoundError(ApiError):
    """404: no such alert, campaign or summary."""


class InvalidRequest(ApiError):
    """400, 413 or 422: a parameter or body the API rejected (the field is named)."""


class ServiceUnavailable(ApiError):
    """503 or 504: the database or the summarizer is busy or down; retry later."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFoundError,
    413: InvalidRequest,
    422: InvalidRequest,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def message_of(detail: Any) -> str:
    """The API's ``detail`` as one line: a string as is; 422 errors as ``loc: msg; ...``."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def error_for(status: int, detail: Any, *, method: str, url: str) -> ApiError:
    """The :class:`ApiError` subclass for an HTTP ``status`` with the API's ``detail``."""
    cls = _BY_STATUS.get(status, ApiError)
    return cls(message_of(detail), status=status, detail=detail, method=method, url=url)
