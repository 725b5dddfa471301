"""Pure helpers over Splunk export results: time, dedupe key, conversion to events.

A *result* is the dict that ``splunklib.results.JSONResultsReader`` yields for
one exported event: string values for ``_time``, ``_raw``, ``_cd``,
``_serial``, ``host``, ``source``, ``sourcetype``, ``index`` (multi-valued
fields come as lists). All of it is attacker-controlled text: nothing here
trusts it beyond parsing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from ingest.errors import HopwatchError

#: ``converter(items, source=...) -> (auth, process, failed)`` where ``items`` are
#: ``(raw, record)`` pairs; frames keep ``record`` so rows map back to results.
Converter = Callable[..., tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]]


_KEY_FIELDS = ("index", "_time", "host", "source", "_raw")


class ResultError(HopwatchError, ValueError):
    """One result cannot be used (bad ``_time``); the message names the field."""


def _scalar(value: Any) -> str | None:
    """First value of a possibly multi-valued field, as text."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def result_time(result: dict) -> float:
    """Epoch seconds of a result's ``_time``.

    Splunk renders ``_time`` as ISO 8601 with the user's UTC offset
    (``2013-09-11T16:05:37.503-07:00``) or, with ``output_time_format=%s.%Q``,
    as epoch seconds; both are accepted.

    Raises:
        ResultError: ``_time`` is missing or unparseable.
    """
    text = _scalar(result.get("_time"))
    if not text:
        raise ResultError("_time: missing")
    try:
        value = float(text)
    except ValueError:
        value = _iso_seconds(text)
    if not math.isfinite(value) or value < 0:
        raise ResultError(f"_time: out of range: {text[:64]!r}")
    return value


def _iso_seconds(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ResultError(f"_time: not a time: {text[:64]!r}") from None
    if parsed.tzinfo is None:
        raise ResultError(f"_time: no UTC offset: {text[:64]!r}")
    return parsed.timestamp()


def result_second(result: dict) -> int:
    """``floor(_time)``: the second the checkpoint and the time range speak in."""
    return math.floor(result_time(result))


def dedupe_key(result: dict, mode: str = "raw") -> str:
    """A key that is equal for the same indexed event across pulls.

    ``mode="raw"`` hashes index, ``_time``, host, source and ``_raw`` (stable even
    when a bucket moves between indexers); ``mode="cd"`` uses ``index`` + ``_cd``
    (Splunk's event address) and falls back to the hash when ``_cd`` is absent.
    """
    index = _scalar(result.get("index")) or ""
    if mode == "cd":
        cd = _scalar(result.get("_cd"))
        if cd:
            return f"cd:{index}:{cd}"
    # A JSON list is unambiguous: no field value can shift into its neighbour.
    parts = [_scalar(result.get(name)) or "" for name in _KEY_FIELDS]
    text = json.dumps(parts, ensure_ascii=True).encode("ascii")
    digest = hashlib.blake2b(text, digest_size=16)
    return "h:" + digest.hexdigest()


def windows_converter(
    items: Sequence[tuple[str, int]], *, source: str
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Convert ``XmlWinEventLog`` ``_raw`` texts with the Windows reader, one block at a time.

    The block goes through the XML line scanner of ``hopwatch ingest windows``
    (:func:`ingest.windows.scan.scan_xml_texts`: the raw frame in a few passes,
    the hardened record parser only for events it does not recognise exactly),
    then the mapping; the same frames as parsing each event alone. Parsing a block
    together lets the reader resolve source hosts from IP addresses seen in the
    same block. Results it rejects (malformed or unsafe XML) are counted by reason;
    unmapped event ids simply produce no rows.
    """
    from ingest.windows.mapping import host_map, map_frames
    from ingest.windows.scan import scan_xml_texts

    texts = ((raw.strip(), None, record) for raw, record in items)
    raw, errors = scan_xml_texts(texts, source=source)
    failed: dict[str, int] = {}
    for exc in errors:
        failed[exc.reason] = failed.get(exc.reason, 0) + 1
    auth, process = map_frames(raw, host_map(raw))
    return auth, process, failed


@dataclass
class Converted:
    """Events made from a block of results.

    Attributes:
        auth: canonical auth events (``ingest.schema.AUTH_SCHEMA``) + ``splunk_key``.
        process: process/share/service events + ``splunk_key`` (schema of the Windows reader).
        failed: results that the converter rejected, per reason.
    """

    auth: pl.DataFrame
    process: pl.DataFrame
    failed: dict[str, int] = field(default_factory=dict)


def convert_results(
    items: Sequence[tuple[dict, int, str]],
    *,
    source: str,
    converter: Converter = windows_converter,
) -> Converted:
    """Turn ``(result, offset, key)`` triples into event frames (pure apart from ``converter``).

    Provenance is ``source`` and ``record = offset``; each produced row also
    carries ``splunk_key``, the dedupe key of the result it came from.
    """
    pairs = [(_scalar(result.get("_raw")) or "", offset) for result, offset, _ in items]
    auth, process, failed = converter(pairs, source=source)
    keys = {offset: key for _, offset, key in items}
    return Converted(_with_keys(auth, keys), _with_keys(process, keys), dict(failed))


def _with_keys(frame: pl.DataFrame, keys: dict[int, str]) -> pl.DataFrame:
    """Add ``splunk_key`` by looking each row's ``record`` (result offset) up in ``keys``."""
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias("splunk_key"))
    key = pl.col("record").replace_strict(keys, default=None, return_dtype=pl.String)
    return frame.with_columns(key.alias("splunk_key"))


__all__ = [
    "Converted",
    "Converter",
    "ResultError",
    "convert_results",
    "dedupe_key",
    "result_second",
    "result_time",
    "windows_converter",
]
