"""Windows event logs: XmlWinEventLog, classic WinEventLog text and ``.evtx`` files.

Readers (:mod:`~ingest.windows.xml`, :mod:`~ingest.windows.classic`,
:mod:`~ingest.windows.evtx`, the fast line scanner :mod:`~ingest.windows.scan`) turn
files into records or the raw frame (:mod:`~ingest.windows.raw`);
:mod:`ingest.windows.mapping` maps those to canonical auth and process events;
:mod:`~ingest.windows.reader` detects the format per file and runs the whole read;
:mod:`~ingest.windows.writer` writes the result as a data directory.

Example::

    from ingest.windows import read_windows, parse_xml_event
"""

from ingest.windows.reader import (
    ParsedEvents,
    WindowsData,
    WindowsFormatError,
    detect_format,
    empty_parsed,
    frames_from_records,
    parse_xml_event,
    parse_xml_events,
    read_windows,
    windows_data,
)
from ingest.windows.writer import write_windows_dataset
from ingest.windows.xml import UnsafeXmlError, WinRecord, XmlEventError, parse_xml_record

__all__ = [
    "ParsedEvents",
    "UnsafeXmlError",
    "WinRecord",
    "WindowsData",
    "WindowsFormatError",
    "XmlEventError",
    "detect_format",
    "empty_parsed",
    "frames_from_records",
    "parse_xml_event",
    "parse_xml_events",
    "parse_xml_record",
    "read_windows",
    "windows_data",
    "write_windows_dataset",
]
