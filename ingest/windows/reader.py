"""Windows event reader: XmlWinEventLog, classic WinEventLog text and ``.evtx`` files.

The format of each file is detected from its content. Every form becomes
:class:`~ingest.windows.xml.WinRecord` records, then one raw frame, then canonical
auth events (``ingest.schema.WINDOWS_AUTH_SCHEMA``) and process / share / service
events (``ingest.schema.PROCESS_SCHEMA``) through the pure mapping in
``ingest/windows/mapping/events.py``.

```python
from ingest.windows.reader import read_windows, parse_xml_event
data = read_windows(["logs/", "host.evtx"])
data.auth, data.process, data.skipped, data.by_event_id
parsed = parse_xml_event(raw_xml, source="splunk:1700000000.12", record=42)
parsed.auth, parsed.process        # frames, empty when the event is not mapped
```
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import polars as pl

from ingest.errors import HopwatchError
from ingest.schema import PROCESS_SCHEMA
from ingest.schema import WINDOWS_AUTH_SCHEMA as AUTH_SCHEMA
from ingest.windows.classic import iter_classic_events
from ingest.windows.evtx import is_evtx, iter_evtx_events
from ingest.windows.mapping.events import AUTH_EVENTS, PROCESS_EVENTS, map_frames, supported
from ingest.windows.mapping.resolve import host_map
from ingest.windows.raw import records_frame
from ingest.windows.scan import scan_xml_events, scan_xml_lines
from ingest.windows.xml import WinRecord, XmlEventError, iter_xml_events, parse_xml_record

FORMATS = ("evtx", "xml", "classic")
_SNIFF_BYTES = 64 * 1024


class WindowsFormatError(HopwatchError, ValueError):
    """A file is not in any of the Windows formats this reader knows."""


class ParsedEvents(NamedTuple):
    """Canonical frames made from one or more events."""

    auth: pl.DataFrame
    process: pl.DataFrame


@dataclass
class WindowsData:
    """Everything read from Windows logs.

    Attributes:
        auth: canonical auth events.
        process: process / share / service / network / privilege events.
        events: records read (well-formed events, mapped or not).
        skipped: counts per reason for events not mapped or not readable.
        by_event_id: records read per event id.
        errors: the first few error messages, for the operator.
    """

    auth: pl.DataFrame
    process: pl.DataFrame
    events: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    by_event_id: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def detect_format(path: str | Path) -> str:
    """``"evtx"``, ``"xml"`` or ``"classic"`` from the file's first bytes.

    Raises:
        WindowsFormatError: none of them.
    """
    path = Path(path)
    if is_evtx(path):
        return "evtx"
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        return "xml"
    if "EventCode=" in head and ("LogName=" in head or "ComputerName=" in head):
        return "classic"
    raise WindowsFormatError(
        f"{path}: not EVTX, XmlWinEventLog or classic WinEventLog text (first bytes {head[:40]!r})"
    )


def _text_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        first = True
        for line in fh:
            if first:
                line = line.lstrip("\ufeff")
                first = False
            yield line


def iter_records(
    path: str | Path, fmt: str | None = None, *, source: str | None = None
) -> Iterator[tuple[WinRecord | None, XmlEventError | None, int]]:
    """(record, error, position) for every event of one file, in file order."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    name = source or path.name
    if fmt == "evtx":
        yield from iter_evtx_events(path, source=name)
    elif fmt == "xml":
        yield from iter_xml_events(_text_lines(path), source=name)
    elif fmt == "classic":
        yield from iter_classic_events(_text_lines(path), source=name)
    else:
        raise WindowsFormatError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files given, plus every regular non-hidden file under the folders given (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def frames_from_records(records: Sequence[WinRecord]) -> ParsedEvents:
    """Pure mapping of parsed records to (auth, process) frames."""
    raw = records_frame(records)
    return ParsedEvents(*map_frames(raw, host_map(raw)))


def _skip_counts(raw: pl.DataFrame) -> Counter[str]:
    mapped = list(AUTH_EVENTS) + list(PROCESS_EVENTS)
    flagged = raw.select(
        ok=supported() & pl.col("event_id").is_in(mapped),
        eid=pl.col("event_id"),
    ).filter(~pl.col("ok"))
    return Counter({"unsupported event id": flagged.height} if flagged.height else {})


def read_raw(path: str | Path, fmt: str | None = None) -> tuple[pl.DataFrame, list[XmlEventError]]:
    """Raw frame (``ingest.windows.raw.RAW_SCHEMA``) of one file, and its bad events' errors."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "xml":  # the hot path: lines straight to columns (ingest/windows/scan.py)
        return scan_xml_lines(_text_lines(path), source=path.name)
    records: list[WinRecord] = []
    errors: list[XmlEventError] = []
    for rec, err, _pos in iter_records(path, fmt):
        if rec is not None:
            records.append(rec)
        else:
            errors.append(err)
    return records_frame(records), errors


def read_windows(paths: Iterable[str | Path], *, max_errors: int = 20) -> WindowsData:
    """Read Windows logs (files or folders, any mix of the three formats).

    A malformed or unsafe event is counted under ``skipped`` and the rest of
    its file is still read. IP-to-host resolution uses all files together.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    frames: list[pl.DataFrame] = []
    skipped: Counter[str] = Counter()
    errors: list[str] = []
    for path in expand_paths(paths):
        try:
            raw, errs = read_raw(path)
        except (WindowsFormatError, XmlEventError) as exc:
            skipped["unreadable file"] += 1
            errs, raw = [exc], None
        else:
            frames.append(raw)
            for err in errs:
                skipped[err.reason] += 1
        errors.extend(str(e) for e in errs[: max(0, max_errors - len(errors))])
    return windows_data(frames, skipped, errors)


def windows_data(
    frames: Sequence[pl.DataFrame],
    skipped: Counter[str] | None = None,
    errors: list[str] | None = None,
) -> WindowsData:
    """Canonical frames and counts from raw frames (pure; IP-to-host resolution over all).

    Args:
        frames: raw frames (:data:`ingest.windows.raw.RAW_SCHEMA`), e.g. one per file.
        skipped: counts of events already rejected, per reason.
        errors: their messages.
    """
    skipped = Counter(skipped or {})
    raw = pl.concat(frames) if frames else records_frame([])
    auth, process = map_frames(raw, host_map(raw))
    skipped.update(_skip_counts(raw))
    counts = raw["event_id"].value_counts()
    by_id = dict(zip(counts["event_id"].to_list(), counts["count"].to_list(), strict=True))
    return WindowsData(
        auth=auth,
        process=process,
        events=raw.height,
        skipped=dict(sorted(skipped.items())),
        by_event_id=dict(sorted(by_id.items())),
        errors=list(errors or []),
    )


def parse_xml_event(text: str, *, source: str, record: int | None = None) -> ParsedEvents:
    """Parse ONE XML event (e.g. a Splunk ``_raw``) into canonical frames.

    Args:
        text: one ``<Event>`` element.
        source: provenance, e.g. ``splunk:<sid>``.
        record: provenance record number (Splunk result offset); EventRecordID when None.

    Returns:
        (auth, process) frames; both empty when the event id is not mapped.

    Raises:
        UnsafeXmlError: the text declares a DTD or entities.
        XmlEventError: the text is not a well-formed ``<Event>``.
    """
    return frames_from_records([parse_xml_record(text, source=source, record=record)])


def parse_xml_events(
    texts: Iterable[str], *, source: str, first_record: int = 0
) -> tuple[ParsedEvents, dict[str, int]]:
    """Parse many XML events (one source, records numbered from ``first_record``).

    Returns:
        the frames, and skipped counts per reason for events that failed.
    """
    raw, errors = scan_xml_events(texts, source=source, first_record=first_record)
    skipped = Counter(err.reason for err in errors)
    return ParsedEvents(*map_frames(raw, host_map(raw))), dict(skipped)


def empty_parsed() -> ParsedEvents:
    """Empty (auth, process) frames."""
    return ParsedEvents(pl.DataFrame(schema=AUTH_SCHEMA), pl.DataFrame(schema=PROCESS_SCHEMA))
