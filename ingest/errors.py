"""The root of every hopwatch error.

Each package's errors derive from :class:`HopwatchError` (and, where callers expect it,
from the matching built-in such as :class:`ValueError`), so the command line can turn any
of them into one line and a non-zero exit code, never a traceback for bad input.
"""

from __future__ import annotations

__all__ = ["HopwatchError"]


class HopwatchError(Exception):
    """Base class of hopwatch's errors; its message is meant for the user."""
