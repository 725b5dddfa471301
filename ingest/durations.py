"""The one duration parser: ``"90s"``, ``"30m"``, ``"1.5h"``, ``"2d"`` or a number of seconds.

Settings, the Splunk configuration, window sizes and rule time spans all read durations
with :func:`parse_duration`, so the same text means the same thing everywhere.
"""

from __future__ import annotations

import math
import re

from ingest.errors import HopwatchError

__all__ = ["DurationError", "parse_duration"]

UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


class DurationError(HopwatchError, ValueError):
    """A duration could not be read; the message names the setting or field."""


def parse_duration(value: object, *, name: str = "duration", allow_zero: bool = False) -> int:
    """Whole seconds from ``"90s"``, ``"30m"``, ``"1.5h"``, ``"2d"``, ``"45"`` or ``45``.

    A unit is one of ``s``, ``m``, ``h``, ``d`` (any case; none means seconds); the number
    may have a fraction, and the result must be a whole number of seconds.

    Args:
        value: the text or number.
        name: what is being read, for the error message (``"window"``, ``"overlap"``).
        allow_zero: accept ``0`` (an offset); otherwise the duration must be positive.

    Raises:
        DurationError: not a duration, a fraction of a second, negative, or zero when
            ``allow_zero`` is false.
    """
    if isinstance(value, bool):
        raise DurationError(f"{name}: expected a duration like '30m', got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise DurationError(f"{name}: expected a duration like '30m', got {value!r}")
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise DurationError(
                f"{name}: expected a duration like '90s', '30m', '1h' or '2d', got {value!r}"
            )
        seconds = float(match.group(1)) * UNITS[match.group(2).lower()]
    if seconds != int(seconds):
        raise DurationError(f"{name}: must be a whole number of seconds, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise DurationError(
            f"{name}: must be {'>= 0' if allow_zero else 'positive'}, got {value!r}"
        )
    return int(seconds)
