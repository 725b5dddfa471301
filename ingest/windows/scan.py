"""XmlWinEventLog lines straight to the raw frame (the hot path of ``hopwatch ingest windows``).

:func:`scan_xml_lines` gives the same frame as parsing every event with
:func:`~ingest.windows.xml.parse_xml_record` and calling
:func:`~ingest.windows.raw.records_frame`, without a record object or a dict
per event:

* one regex pass reads the System fields (the same expression as the record
  parser's fast path) and one ``split`` pass the ``<Data Name=...>`` pairs;
* events with the same EventData names (one Windows template: every 4624 of
  a host version) are stacked together and turned into columns once, in C
  (``zip``) and Polars, instead of field by field in Python;
* every event this scan does not recognise exactly goes through
  :func:`~ingest.windows.xml.parse_xml_record` itself: text with ``<!`` (DOCTYPE
  and ENTITY declarations are rejected there with the clear error) or ``<?``,
  an ``&`` that is not one of the five XML entities or a character reference
  (those are decoded here as the record parser does), ``<UserData>``, a ``<Data>``
  element the scan cannot pair, a System block out of the usual order. Those
  keep the hardened lxml fallback and its errors.

Safety is unchanged: nothing is expanded or fetched; the scan only slices
text between fixed markers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import polars as pl

from ingest.windows.raw import DATA_FIELDS, RAW_SCHEMA, SYSTEM_COLUMNS, records_frame
from ingest.windows.xml import (
    _BAD_AMP,
    _DATA_DQ,
    _DATA_SQ,
    _SYSTEM_ORDERED,
    SUPPORTED_EVENTS,
    WinRecord,
    XmlEventError,
    _unescape,
    iter_xml_texts,
    parse_xml_record,
)

_WANTED = frozenset(DATA_FIELDS)
_ROW = "_row"


class _Columns:
    """System columns of every event, and EventData grouped by name tuple, in flat lists.

    Flat lists (``extend``) instead of one list or dict per event: no
    per-event container outlives its event, so the cyclic garbage collector
    is not triggered by the scan, and columns come out as C-level slices.
    """

    def __init__(self) -> None:
        #: per event: provider, event id, time, record id, channel, computer (strings)
        self.system: list[str] = []
        self.eid: list[int] = []
        self.rid: list[int | None] = []
        self.record: list[int | None] = []
        #: EventData names -> (row numbers, the events' values one after another)
        self.groups: dict[tuple[str, ...], tuple[list[int], list[str | None]]] = {}
        #: event id -> (names, compiled template) of its last canonical EventData
        self.templates: dict[int, tuple[tuple[str, ...], re.Pattern[str]]] = {}
        self.slow: list[tuple[int, WinRecord]] = []

    def add_record(self, rec: WinRecord) -> None:
        """Append an event parsed by the record parser (its data joins at the end)."""
        self.slow.append((len(self.eid), rec))
        self.system.extend((rec.provider, "", rec.system_time, "", rec.channel, rec.computer))
        self.eid.append(rec.event_id)
        self.rid.append(rec.record_id)
        self.record.append(rec.record)

    def learn(self, event_id: int, names: tuple[str, ...], parts: list[str | None]) -> None:
        """Remember ``names`` as the event id's template when the body was canonical.

        ``parts`` is the single-quote ``split`` of the body. Canonical:
        ``</System><EventData>``, then only ``<Data Name='N'>V</Data>``
        elements, then ``</EventData></Event>``. The template is one regex of
        those literal names with a ``([^<]*)`` per value: on a body of the same
        shape it gives exactly the pairs that ``split`` gives, in one match.
        """
        if parts[0] != _HEAD or parts[-1] != _TAIL or None in parts[2::3] or any(parts[3:-1:3]):
            return
        body = "".join(f"<Data Name='{re.escape(n)}'>([^<]*)</Data>" for n in names)
        self.templates[event_id] = (names, re.compile(body + "</EventData>"))


_HEAD = "</System><EventData>"
_TAIL = "</EventData></Event>"


def _scan_one(cols: _Columns, text: str, line: int) -> bool:
    """Append one event in the common shape; False (nothing appended) when it is not."""
    # one-character tests first: memchr is ~25x faster than a two-character search
    if ("!" in text and "<!" in text) or ("?" in text and "<?" in text):
        return False
    if "\r" in text:  # XML normalises line ends in values (task XML): lxml's job
        return False
    amp = "&" in text  # references are decoded below; anything else is lxml's to judge
    if amp and _BAD_AMP.search(text):
        return False
    if not text.startswith("<Event") or not text.endswith("</Event>"):
        return False
    end_sys = text.find("</System>")
    if end_sys < 0 or end_sys >= 4096:
        return False
    m = _SYSTEM_ORDERED.search(text, 0, end_sys)
    if m is None:
        return False
    event_id = int(m.group(2))
    names: tuple[str, ...] = ()
    values: Sequence[str | None] = ()
    if event_id in SUPPORTED_EVENTS:
        tpl = cols.templates.get(event_id)
        hit = None
        if tpl is not None and text.startswith(_HEAD, end_sys):
            hit = tpl[1].match(text, end_sys + len(_HEAD))
            if hit is not None and hit.end() != len(text) - len("</Event>"):
                hit = None
        if hit is not None:
            names = tpl[0]  # type: ignore[index]
            values = hit.groups()
        else:
            body = text[end_sys:]
            n_data = body.count("<Data")
            if n_data:
                single = "<Data Name='" in body
                parts = (_DATA_SQ if single else _DATA_DQ).split(body)
                if len(parts) != 3 * n_data + 1:
                    return False
                names = tuple(parts[1::3])  # type: ignore[arg-type]
                values = parts[2::3]
                if single:
                    cols.learn(event_id, names, parts)
            elif "<UserData" in body:
                return False
    groups = m.groups()
    if amp:  # as the record parser: provider, channel, computer and EventData values
        values = [_unescape(v) for v in values]
        groups = (*map(_unescape, groups[:1]), *groups[1:4], *map(_unescape, groups[4:]))
    group = cols.groups.get(names)
    if group is None:
        group = cols.groups[names] = ([], [])
    group[0].append(len(cols.eid))
    group[1].extend(values)
    cols.system.extend(groups)
    rid = groups[3].strip()
    cols.eid.append(event_id)
    cols.rid.append(int(rid) if rid.isdigit() else None)
    cols.record.append(line)
    return True


def _group_frame(names: tuple[str, ...], rows: list[int], flat: list[str | None]) -> pl.DataFrame:
    """Rows of one EventData name tuple: ``_row`` plus the wanted fields (last one wins).

    Each event contributed ``len(names)`` values; the value of name ``k`` is at
    ``k``, then every ``len(names)``. A self-closing ``<Data/>`` has no value
    (None): its value is ``""``, as in the record parser.
    """
    series = [pl.Series(_ROW, rows, dtype=pl.Int64)]
    stride = len(names)
    last = {name: k for k, name in enumerate(names) if name in _WANTED}
    for name, k in last.items():
        values = pl.Series(name, flat[k::stride], dtype=pl.String)
        series.append(values.fill_null("") if values.has_nulls() else values)
    return pl.DataFrame(series)


def _frame(cols: _Columns, source: str) -> pl.DataFrame:
    n = len(cols.eid)
    if n == 0:
        return pl.DataFrame(schema=RAW_SCHEMA)
    sysl = cols.system
    lists = {
        "event_id": cols.eid,
        "system_time": sysl[2::6],
        "record_id": cols.rid,
        "channel": sysl[4::6],
        "computer": sysl[5::6],
        "provider": sysl[0::6],
        "record": cols.record,
    }
    system = pl.DataFrame(
        [
            pl.Series(c, lists[c], dtype=t)
            if c != "source"
            else pl.repeat(source, n, dtype=pl.String, eager=True).alias(c)
            for c, t in SYSTEM_COLUMNS.items()
        ]
    )
    parts = [_group_frame(names, *group) for names, group in cols.groups.items()]
    if cols.slow:
        rows, recs = zip(*cols.slow, strict=True)
        data = records_frame(list(recs)).select(DATA_FIELDS)
        parts.append(data.with_columns(pl.Series(_ROW, rows, dtype=pl.Int64)))
    data = pl.concat(parts, how="diagonal") if len(parts) > 1 else parts[0]
    if len(parts) > 1:
        data = data.sort(_ROW)
    missing = [pl.lit(None, dtype=pl.String).alias(f) for f in DATA_FIELDS if f not in data.columns]
    data = data.with_columns(missing).select(DATA_FIELDS)
    return pl.concat([system, data], how="horizontal")


def scan_xml_texts(
    texts: Iterable[tuple[str | None, XmlEventError | None, int]], *, source: str = ""
) -> tuple[pl.DataFrame, list[XmlEventError]]:
    """Raw frame (:data:`~ingest.windows.raw.RAW_SCHEMA`) of event texts, and bad events' errors.

    Args:
        texts: ``(text, error, line)`` as :func:`~ingest.windows.xml.iter_xml_texts` yields;
            ``line`` becomes the event's provenance ``record``.
        source: provenance (the file name).
    """
    cols = _Columns()
    errors: list[XmlEventError] = []
    for text, err, line in texts:
        if text is None:
            errors.append(err)  # type: ignore[arg-type]
        elif not _scan_one(cols, text, line):
            try:
                cols.add_record(parse_xml_record(text, source=source, record=line))
            except XmlEventError as exc:
                errors.append(exc)
    return _frame(cols, source), errors


def scan_xml_lines(
    lines: Iterable[str], *, source: str = ""
) -> tuple[pl.DataFrame, list[XmlEventError]]:
    """Raw frame and errors of an XmlWinEventLog text stream (see :func:`iter_xml_texts`)."""
    return scan_xml_texts(iter_xml_texts(lines, source=source), source=source)


def scan_xml_events(
    texts: Iterable[str], *, source: str, first_record: int = 0
) -> tuple[pl.DataFrame, list[XmlEventError]]:
    """Raw frame of single event texts (e.g. Splunk ``_raw``), records from ``first_record``."""
    numbered = ((t.strip(), None, first_record + i) for i, t in enumerate(texts))
    return scan_xml_texts(numbered, source=source)
