"""The canonical events the fast LANL ingest writes: ``events/part-NNNNN.parquet``.

Same rows and values as the Polars path (:class:`ingest.graphs.DatasetWriter` with
:func:`ingest.lanl.parse.parse_chunk`): the canonical columns
(:data:`ingest.schema.AUTH_SCHEMA`), then ``window`` and ``label``, in file order.
What differs is how: the parse kernel already holds every string as an id into its
tables, so each string column is written as Parquet dictionary pages, built from
the ids (:func:`~ingest.lanl.fast.kernels.events.dict_encode`,
:func:`~ingest.lanl.fast.kernels.events.gather_strings`), instead of a string per
row. The files carry no Arrow schema, so every reader sees plain ``String``
columns, as in the Polars path's files.

One :class:`EventsWriter` thread encodes each parsed part into row-group buffers as it
comes (then hands the part's arrays back to its parser), writes a row group of
``row_group_rows`` events at a time, and starts a new file after ``part_rows`` rows;
pyarrow (imported on that thread) releases the GIL while it encodes and compresses.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.lanl.fast import layout as L
from ingest.lanl.fast.stage import (
    EV_DST,
    EV_DU,
    EV_MIX,
    EV_ROW,
    EV_SRC,
    EV_T,
    EV_U,
    EV_WA,
    EV_WL,
    EV_WO,
)

if TYPE_CHECKING:
    from ingest.lanl.fast.native import Kernels

#: Rows per file (the Polars path's ``DatasetWriter.part_rows``).
PART_ROWS = 2_000_000
#: Rows per row group (one dictionary per string column and row group).
ROW_GROUP_ROWS = 1 << 20
#: Parts waiting for the writer at most (each holds its parser's event arrays).
MAX_QUEUED = 2
_STRING_COLUMNS = (
    "src_user",
    "dst_user",
    "src_host",
    "dst_host",
    "auth_type",
    "logon_type",
    "orientation",
    "source",
)
#: Per-column codecs that differ from the writer's (see :class:`EventsWriter`).
_COMPRESSION = {"time": "lz4", "window": "lz4"}
#: Columns that can hold nulls (the optional canonical columns LANL lacks, and label).
_NULLABLE = ("event_code", "logon_id", "src_ip", "label")


@dataclass
class StringTable:
    """A global string table as it stood when a part was handed over (ids below ``n``)."""

    store: np.ndarray
    offs: np.ndarray
    lens: np.ndarray
    n: int


@dataclass
class EventsJob:
    """One parsed part to write: its arrays (local ids) and how to read them."""

    ev: tuple[np.ndarray, ...]
    n: int
    umap: np.ndarray
    hmap: np.ndarray
    wmap: np.ndarray
    users: StringTable
    hosts: StringTable
    words: StringTable
    label: np.ndarray | None  # uint8 per event; None: no red-team file (label is null)
    first_line: int  # line number of the part's first line
    source: str
    release: Callable[[], None]  # hands the arrays back to the parser


class EventsWriter:
    """Writes events parts on its own thread, in the order jobs are submitted.

    Args:
        events_dir: the data directory's ``events/`` folder (empty).
        kernels: :func:`ingest.lanl.fast.native.load`.
        window_seconds: for the ``window`` column.
        labels: whether events carry labels (a red-team file was given); else
            ``label`` is null.
        part_rows: rows per file (a file closes at the first row group past it;
            default :data:`PART_ROWS`).
        row_group_rows: rows per row group (default :data:`ROW_GROUP_ROWS`).
        compression: Parquet codec of the string, flag and null columns (none: their
            dictionary indices compress little, for 15% more CPU). ``time`` and
            ``window`` always take lz4 (long runs of one value: 0.1 byte a row for 2 ns)
            and ``record`` delta encoding (consecutive numbers), the cheapest encodings
            measured for them on LANL-like data.
    """

    def __init__(
        self,
        events_dir: Path,
        kernels: Kernels,
        window_seconds: int,
        *,
        labels: bool,
        part_rows: int | None = None,
        row_group_rows: int | None = None,
        compression: str = "none",
    ) -> None:
        self.events_dir = Path(events_dir)
        self.kernels = kernels
        self.window_seconds = window_seconds
        self.labels = labels
        self.part_rows = PART_ROWS if part_rows is None else part_rows
        self.row_group_rows = ROW_GROUP_ROWS if row_group_rows is None else row_group_rows
        self.compression = compression
        self.parts = 0  # files written
        self.rows = 0
        self._queue: queue.Queue[EventsJob | None] = queue.Queue(MAX_QUEUED)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="lanl-events", daemon=True)
        self._thread.start()

    def submit(self, job: EventsJob) -> None:
        """Queue a part (blocks while :data:`MAX_QUEUED` wait); re-raises a writer error."""
        if self._error is not None:
            raise self._error
        self._queue.put(job)

    def close(self) -> None:
        """Write what is queued, close the last file; re-raises a writer error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    # -- writer thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        encoder = None
        try:
            while (job := self._queue.get()) is not None:
                if self._error is not None:
                    job.release()
                    continue
                if encoder is None:
                    encoder = _Encoder(self)
                try:
                    encoder.write(job)
                finally:
                    job.release()
            if encoder is not None:
                encoder.close()
        except BaseException as exc:  # surfaced by submit() and close()
            self._error = exc
            while (job := self._queue.get()) is not None:
                job.release()


#: One dictionary per row group for each entry: its string table and columns (column,
#: id field). The user columns share one, the host columns another: mostly the same
#: strings, and the second column's index is the first's wherever the ids agree.
_DICTIONARIES = {
    "users": ("users", (("src_user", EV_U), ("dst_user", EV_DU))),
    "hosts": ("hosts", (("src_host", EV_SRC), ("dst_host", EV_DST))),
    "auth_type": ("words", (("auth_type", EV_WA),)),
    "logon_type": ("words", (("logon_type", EV_WL),)),
    "orientation": ("words", (("orientation", EV_WO),)),
}
_DICT_COLUMNS = tuple(c for _, cols in _DICTIONARIES.values() for c, _ in cols)
#: A string table of at most this many strings (the vocabulary, LANL's 17k hosts) is a
#: row group's dictionary whole: its indices are the global ids, no lookup per event.
#: Larger ones (LANL's 100k users) get a dictionary of the strings the row group uses.
WHOLE_TABLE_MAX = 1 << 15


class _Encoder:
    """pyarrow state of the writer thread: the open file and one row group's buffers.

    The buffers are allocated once and reused (pyarrow reads the numpy memory in
    place, and a row group is written before the next one is filled): fresh memory
    costs a page fault, and a cleared page, per 4 KiB.
    """

    def __init__(self, owner: EventsWriter) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa, self.pq = pa, pq
        self.owner = owner
        self.kernels = owner.kernels
        dictionary = pa.dictionary(pa.int32(), pa.string())
        types = {
            "time": pa.int64(),
            **{c: dictionary for c in _STRING_COLUMNS[:7]},
            "success": pa.bool_(),
            "source": dictionary,
            "event_code": pa.int32(),
            "logon_id": pa.string(),
            "src_ip": pa.string(),
            "record": pa.int64(),
            "window": pa.int64(),
            "label": pa.bool_(),
        }
        # never-null columns are REQUIRED in the file (no definition levels to encode);
        # readers see the same types
        self.schema = pa.schema([pa.field(c, t, nullable=c in _NULLABLE) for c, t in types.items()])
        self.file: Any = None
        self.file_rows = 0
        cap = self.cap = owner.row_group_rows
        self.n = 0  # rows in the buffers
        self.time = np.empty(cap, np.int64)
        self.record = np.empty(cap, np.int64)
        self.window = np.empty(cap, np.int64)
        self.success = np.empty(cap, bool)
        self.label = np.empty(cap, np.uint8)
        self.mix = np.empty(cap, np.int16)
        self.source = np.empty(cap, np.int32)
        self.sources: list[str] = []
        self.indices = {c: np.empty(cap, np.int32) for c in _DICT_COLUMNS}
        self.used = {d: np.empty(2 * cap, np.int64) for d in _DICTIONARIES}
        self.size = dict.fromkeys(_DICTIONARIES, 0)  # dictionary entries so far
        self.seen = {d: np.full(1 << 10, -1, np.int64) for d in _DICTIONARIES}
        self.whole: dict[str, bool | None] = dict.fromkeys(_DICTIONARIES)  # per row group
        self.tables: dict[str, StringTable] = {}

    def _open(self) -> None:
        owner = self.owner
        path = owner.events_dir / f"part-{owner.parts:05d}.parquet"
        self.file = self.pq.ParquetWriter(
            path,
            self.schema,
            compression={c: _COMPRESSION.get(c, self.owner.compression) for c in self.schema.names},
            use_dictionary=list(_STRING_COLUMNS),
            write_statistics=False,
            store_schema=False,  # plain String columns for every reader
            dictionary_pagesize_limit=1 << 30,  # never fall back to plain strings
            write_batch_size=1 << 16,
            column_encoding={"record": "DELTA_BINARY_PACKED"},
        )
        owner.parts += 1
        self.file_rows = 0

    def close(self) -> None:
        self._flush()
        if self.file is not None:
            self.file.close()
            self.file = None

    def write(self, job: EventsJob) -> None:
        """Encode a part into the row group (flushing full row groups on the way)."""
        lo = 0
        while lo < job.n:
            if self.n == self.cap:
                self._flush()
            k = min(job.n - lo, self.cap - self.n)
            self._encode(job, lo, lo + k)
            lo += k

    def _encode(self, job: EventsJob, lo: int, hi: int) -> None:
        ev, a, k = job.ev, self.n, hi - lo
        b = a + k
        K = self.kernels
        self.tables.update(users=job.users, hosts=job.hosts, words=job.words)
        maps = {"users": (job.umap, 0), "hosts": (job.hmap, 0), "words": (job.wmap, L.N_WORDS)}
        for name, (kind, columns) in _DICTIONARIES.items():
            table = self.tables[kind]
            gmap, offset = maps[kind]
            if self.whole[name] is None:  # decided by a row group's first part
                self.whole[name] = table.n <= WHOLE_TABLE_MAX
            if self.whole[name]:
                for column, field in columns:
                    K.remap(ev[field][lo:hi], k, gmap, offset, self.indices[column][a:b])
                continue
            seen = self.seen[name]
            if len(seen) < table.n:
                grown = np.full(2 * table.n, -1, np.int64)
                grown[: len(seen)] = seen
                seen = self.seen[name] = grown
            ids = [ev[field][lo:hi] for _, field in columns]
            out = [self.indices[column][a:b] for column, _ in columns]
            if len(columns) == 2:
                self.size[name] = K.dict_encode_pair(
                    *ids, k, gmap, offset, seen, *out, self.used[name], self.size[name]
                )
            else:
                self.size[name] = K.dict_encode(
                    *ids, k, gmap, offset, seen, *out, self.used[name], self.size[name]
                )
        time = ev[EV_T][lo:hi]
        self.time[a:b] = time
        np.add(ev[EV_ROW][lo:hi], np.int64(job.first_line), out=self.record[a:b])
        np.floor_divide(time, self.owner.window_seconds, out=self.window[a:b])
        np.bitwise_and(ev[EV_MIX][lo:hi], 1, out=self.mix[a:b])
        np.equal(self.mix[a:b], 0, out=self.success[a:b])
        if job.label is not None:
            self.label[a:b] = job.label[lo:hi]
        if not self.sources or self.sources[-1] != job.source:
            self.sources.append(job.source)
        self.source[a:b] = len(self.sources) - 1
        self.n = b

    def _dictionary(self, name: str, table: StringTable):
        """The strings of dictionary ``name``, as an Arrow string array (then reset)."""
        pa, K = self.pa, self.kernels
        if self.whole[name]:
            m = table.n
            used = np.arange(m, dtype=np.int64)
        else:
            m = self.size[name]
            used = self.used[name][:m]
        offs = np.empty(m + 1, np.int32)
        data = np.empty(int(table.lens[used].sum()), np.uint8)
        high = K.gather_strings(used, m, table.offs, table.lens, table.store, offs, data)
        if not self.whole[name]:
            K.forget(self.seen[name], used, m)
        self.size[name] = 0
        self.whole[name] = None
        if high:  # not all ASCII: decode as the Polars path does (invalid UTF-8 replaced)
            text = [
                data[offs[j] : offs[j + 1]].tobytes().decode("utf-8", "replace") for j in range(m)
            ]
            return pa.array(text, pa.string())
        return pa.StringArray.from_buffers(m, pa.py_buffer(offs), pa.py_buffer(data))

    def _flush(self) -> None:
        """Write the buffered rows as one row group."""
        n = self.n
        if n == 0:
            return
        pa = self.pa
        if self.file is None:
            self._open()
        columns = {}
        for name, (kind, cols) in _DICTIONARIES.items():
            strings = self._dictionary(name, self.tables[kind])
            for c, _ in cols:
                columns[c] = pa.DictionaryArray.from_arrays(pa.array(self.indices[c][:n]), strings)
        columns |= {
            "time": pa.array(self.time[:n]),
            "success": pa.array(self.success[:n]),
            "source": pa.DictionaryArray.from_arrays(
                pa.array(self.source[:n]), pa.array(self.sources, pa.string())
            ),
            "event_code": pa.nulls(n, pa.int32()),
            "logon_id": pa.nulls(n, pa.string()),
            "src_ip": pa.nulls(n, pa.string()),
            "record": pa.array(self.record[:n]),
            "window": pa.array(self.window[:n]),
            "label": (
                pa.array(self.label[:n].view(bool))
                if self.owner.labels
                else pa.nulls(n, pa.bool_())
            ),
        }
        self.file.write_table(pa.Table.from_pydict(columns, schema=self.schema))
        self.sources = self.sources[-1:]
        self.file_rows += n
        self.owner.rows += n
        self.n = 0
        if self.file_rows >= self.owner.part_rows:
            self.file.close()
            self.file = None
