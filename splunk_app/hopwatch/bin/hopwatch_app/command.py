"""What the four search commands share: the client from the stored settings, and
errors reported as one search error line (never a traceback)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from splunklib.searchcommands import validators

from hopwatch_app.client import HopwatchAppError, HopwatchClient
from hopwatch_app.rows import parse_since
from hopwatch_app.settings import load_settings


class Since(validators.Validator):
    """``since=``: ``-24h``, ``-7d``, epoch seconds or an ISO 8601 time."""

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        parse_since(str(value))  # raises ValueError -> "Illegal value: since=..."
        return str(value)

    def format(self, value: Any) -> str:
        return "" if value is None else str(value)


class Text(validators.Validator):
    """A non-empty string of at most 500 characters (the API's limit)."""

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        text = str(value).strip()
        if not text or len(text) > 500:
            raise ValueError("give 1 to 500 characters")
        return text

    def format(self, value: Any) -> str:
        return "" if value is None else str(value)


def client_for(command: Any) -> HopwatchClient:
    """A client with the settings the setup page stored (read with the search's session)."""
    return HopwatchClient(load_settings(command.service))


def guarded(command: Any, name: str, produce: Callable[[], Iterable[dict]]) -> Iterator[dict]:
    """Rows of ``produce()``; a failure ends the search with one error message."""
    try:
        yield from produce()
    except HopwatchAppError as exc:
        command.error_exit(exc, f"{name}: {exc}")
    except Exception as exc:  # a bug: say so in one line, keep the traceback in search.log
        command.logger.exception("%s failed", name)
        command.error_exit(
            exc,
            f"{name} failed unexpectedly ({type(exc).__name__}: {exc}); "
            "the traceback is in search.log",
        )


__all__ = ["Since", "Text", "client_for", "guarded"]
