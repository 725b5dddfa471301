"""Tables and stages of the fast LANL ingest; the kernels are in :mod:`ingest.lanl.fast.kernels`.

A chunk is cut at newlines into one range per :class:`Parser` (one per thread, each
with private string tables: no locks) and its ranges are parsed at once. The driver
then maps each parser's new local ids to global ids (:meth:`Engine.map_ids`),
labels red-team events (:meth:`Engine.label`) and aggregates the events into edge
counters (:meth:`Engine.aggregate`), while the parsers already work on the next
chunk. Every table is a numpy array owned here and grown when a kernel asks.
Finished windows become Arrow tables (:class:`EdgeParts`) written by the
:class:`ingest.graphs.DatasetWriter`'s :meth:`~ingest.graphs.DatasetWriter.write_edge_part`.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.errors import HopwatchError
from ingest.lanl.fast import layout as L
from ingest.lanl.fast.events import StringTable
from ingest.lanl.fast.stage import EV_DST, EV_MIX, EV_SRC, EV_T, EV_U, Parser, Part, Strings
from ingest.lanl.files import MAX_EXAMPLES, Chunk

if TYPE_CHECKING:
    import polars as pl

    from ingest.graphs.nodes import NodeIndex
    from ingest.lanl.fast.native import Kernels

#: Counter columns of an edge row as ``gather_columns`` lays them out (after window,
#: src id, dst id); the names are those of ``ingest.graphs.edges.EDGE_COLUMNS``.
ACC_COLUMNS = (
    "count",
    "n_users",
    "failures",
    "n_kerberos",
    "n_ntlm",
    "n_negotiate",
    "n_other_auth",
    "n_network",
    "n_interactive",
    "n_remote_interactive",
    "n_service",
    "n_batch",
    "n_other_logon",
    "n_logon",
    "n_logoff",
    "n_tgs",
    "n_tgt",
    "n_authmap",
    "first_time",
    "last_time",
    "n_labeled",
)
#: Chunks smaller than this are parsed by one thread.
MIN_SPLIT_BYTES = 1 << 20


class UnsortedInput(HopwatchError):
    """A window reappeared after it was flushed (raised when ``on_unsorted="raise"``)."""


@dataclass
class Parsed:
    """One parsed chunk: its parts (in line order) and what the driver needs to know."""

    chunk: Chunk
    done: int  # raw bytes of earlier files (progress)
    parts: list[Part]
    n_kept: int
    n_valid: int
    lo: int
    hi: int
    is_sorted: bool
    bad_counts: list[int]
    bad_rows: list[int]
    bad_reasons: list[int]


def _next_newline(buf: np.ndarray, start: int) -> int:
    """Index of the first newline at or after ``start``, or -1."""
    step = 4096
    while start < len(buf):
        hit = np.flatnonzero(buf[start : start + step] == 10)
        if len(hit):
            return start + int(hit[0])
        start += step
        step *= 2
    return -1


def _combine(chunk: Chunk, done: int, parts: list[Part]) -> Parsed:
    """Chunk-level counts, order statistics and bad-line examples of its parts."""
    valid = [q for q in parts if q.n_valid]
    is_sorted = all(q.is_sorted for q in valid) and all(
        a.last <= b.first for a, b in pairwise(valid)
    )
    rows: list[int] = []
    reasons: list[int] = []
    offset = 0
    for q in parts:
        rows += [offset + r for r in q.bad_rows]
        reasons += q.bad_reasons
        offset += q.n_lines
    return Parsed(
        chunk=chunk,
        done=done,
        parts=parts,
        n_kept=sum(q.n_kept for q in parts),
        n_valid=sum(q.n_valid for q in parts),
        lo=min((q.lo for q in valid), default=0),
        hi=max((q.hi for q in valid), default=0),
        is_sorted=is_sorted,
        bad_counts=[sum(c) for c in zip(*(q.bad_counts for q in parts), strict=True)],
        bad_rows=rows[:MAX_EXAMPLES],
        bad_reasons=reasons[:MAX_EXAMPLES],
    )


@dataclass
class Labels:
    """Red-team labelling of one part: per-event 0/1 and what it matched."""

    label: np.ndarray  # uint8, one per kept event
    count: int  # labelled events
    first: int  # time of the first, -1 when none


class Engine:
    """Tables and counters of one pass over the input: parsers, then aggregation."""

    def __init__(
        self,
        params: np.ndarray,
        rt_times: np.ndarray,
        kernels: Kernels,
        threads: int = 2,
    ) -> None:
        self.params = params
        self.kernels = kernels
        self.node_ids: NodeIds | None = None  # set by attach_nodes (the writer's index)
        self.vocab, self.words = L.vocabulary()
        self.parsers = [
            Parser(params, self.vocab, self.words, kernels) for _ in range(max(1, threads))
        ]
        # global ids: users, hosts, words and their bytes (counts and store end in gst)
        self.gst = np.zeros(L.STATE_SIZE, np.int64)
        self.store = np.empty(1 << 20, np.uint8)
        self.users, self.hosts, self.word_table = Strings(), Strings(), Strings()
        # word ids 0..N_WORDS-1 are the vocabulary's (the parsers use them as they are)
        kernels.intern_ids(
            self.words,
            self.vocab[:, 3].copy(),
            self.vocab[:, 0].copy(),
            0,
            L.N_WORDS,
            *self.word_table.args(),
            self.store,
            self.gst,
            L.S_NWORDS,
            np.zeros(L.N_WORDS, np.int64),
        )
        self.st2 = np.zeros(L.STATE_SIZE, np.int64)  # aggregate stage
        self.st2[L.S_WMAX] = -1
        self.e_tab = np.full(1 << 16, -1, np.int64)
        self.acc = L.aligned_rows(1 << 15)
        self.uset = np.full(1 << 16, -1, np.int64)
        self._spare = np.empty_like(self.uset)  # compact() rebuilds the user set here
        self._remap = np.empty(1 << 15, np.int64)
        self._col_bufs: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()  # take()'s copies
        self.rt_times = rt_times
        self._cand = np.zeros(1 << 10, np.int64)
        self._no_labels = np.zeros(1 << 10, np.uint8)
        self.ring = np.zeros((L.RING, 4), np.int64)  # aggregate's pipeline scratch
        self.edge_parts = EdgeParts(kernels)

    def attach_nodes(self, nodes: NodeIndex) -> None:
        """Give node ids from the writer's index (before the first :meth:`take`)."""
        self.node_ids = NodeIds(nodes)

    @property
    def n_hosts(self) -> int:
        return int(self.gst[L.S_NHOSTS])

    # -- parse stage (worker threads) -------------------------------------------------------
    def submit(self, pool: ThreadPoolExecutor, chunk: Chunk) -> list[Future]:
        """Start parsing ``chunk``: its ranges (cut at newlines) on the parsers."""
        data = chunk.data
        cuts = [0]
        k = len(self.parsers)
        if len(data) >= MIN_SPLIT_BYTES:
            buf = np.frombuffer(data, np.uint8)
            for i in range(1, k):
                cut = _next_newline(buf, max(cuts[-1], i * len(data) // k))
                if 0 <= cut < len(data) - 1:
                    cuts.append(cut + 1)
        cuts.append(len(data))
        return [
            pool.submit(p.parse, data, a, b)
            for p, a, b in zip(self.parsers, cuts, cuts[1:], strict=False)
        ]

    def collect(self, chunk: Chunk, done: int, futures: list[Future]) -> Parsed:
        """Wait for the parts of :meth:`submit` and combine them."""
        return _combine(chunk, done, [f.result() for f in futures])

    # -- aggregate stage (driver thread) ----------------------------------------------------
    def _map(self, strings: Strings, slot: int, src, offs, lens, lo: int, hi: int, out) -> None:
        n = int(self.gst[slot])
        strings.reserve(n + hi - lo, self.kernels)
        need = int(self.gst[L.S_STORE] + lens[lo:hi].sum())
        if need > len(self.store):
            new = np.empty(2 * need + (1 << 20), np.uint8)
            new[: self.gst[L.S_STORE]] = self.store[: self.gst[L.S_STORE]]
            self.store = new
        self.kernels.intern_ids(
            src, offs, lens, lo, hi, *strings.args(), self.store, self.gst, slot, out
        )

    def map_ids(self, part: Part) -> None:
        """Give the part's new local user, host and extra-word ids their global ids."""
        p = part.parser
        store, u_offs, u_lens, h_offs, h_lens, w_offs, w_lens = part.tables
        for table, slot, offs, lens, n, attr in (
            (self.users, L.S_NUSERS, u_offs, u_lens, part.n_users, "u"),
            (self.hosts, L.S_NHOSTS, h_offs, h_lens, part.n_hosts, "h"),
            (self.word_table, L.S_NWORDS, w_offs, w_lens, part.n_words, "w"),
        ):
            done = getattr(p, f"n_{attr}mapped")
            if n <= done:
                continue
            gmap = getattr(p, f"{attr}map")
            if n > len(gmap):
                gmap = np.resize(gmap, 2 * n)
                setattr(p, f"{attr}map", gmap)
            self._map(table, slot, store, offs, lens, done, n, gmap)
            setattr(p, f"n_{attr}mapped", n)

    def label(self, part: Part, rt: pl.DataFrame, user_aware: bool, matched: set[int]) -> Labels:
        """Mark the part's events matched by red-team lines (after :meth:`map_ids`).

        The same rule as :func:`ingest.graphs.label_events`: equal ``(time, src_host,
        dst_host)``, and ``src_user == user`` when ``user_aware``. ``matched`` gains the
        ``rt_id`` of every red-team line that matched.
        """
        import polars as pl

        n = part.n_kept
        label = np.zeros(n, np.uint8)
        if len(self._cand) < n:
            self._cand = np.zeros(2 * n, np.int64)
        ev, p = part.ev, part.parser
        c = self.kernels.label_candidates(ev[EV_T], n, self.rt_times, self._cand)
        if c == 0:
            return Labels(label, 0, -1)
        idx = self._cand[:c].copy()
        store = self.store
        users = [self.users.text(store, int(k)) for k in p.umap[ev[EV_U][idx]]]
        hosts = self.hosts.series(store, self.n_hosts)
        frame = pl.DataFrame(
            {
                "_i": idx,
                "time": ev[EV_T][idx],
                "src_user": users,
                "src_host": hosts.gather(p.hmap[ev[EV_SRC][idx]]),
                "dst_host": hosts.gather(p.hmap[ev[EV_DST][idx]]),
            }
        )
        keys = ["time", "src_host", "dst_host"]
        left = [*keys, "src_user"] if user_aware else keys
        right = [*keys, "user"] if user_aware else keys
        hits = frame.join(rt.select([*keys, "user", "rt_id"]), left_on=left, right_on=right)
        if hits.height == 0:
            return Labels(label, 0, -1)
        matched.update(hits["rt_id"].to_list())
        rows = np.unique(hits["_i"].to_numpy())
        label[rows] = 1
        return Labels(label, len(rows), int(ev[EV_T][rows].min()))

    def _grow_aggregate(self, status: int) -> None:
        if status == L.GROW_EDGES:
            n = int(self.st2[L.S_NEDGES])
            size = 4 * self.acc.shape[0]
            acc = L.aligned_rows(size)
            acc[:n] = self.acc[:n]
            self.acc = acc
            self.e_tab = np.full(2 * size, -1, np.int64)
            self.kernels.rehash_edges(self.e_tab, self.acc, n)
        elif status == L.GROW_USET:
            new = np.full(4 * len(self.uset), -1, np.int64)
            self.kernels.rehash_keys(new, self.uset)
            self.uset = new
        else:  # pragma: no cover - the kernel returns only the codes above
            raise RuntimeError(f"unknown aggregate status {status}")

    def aggregate(self, part: Part, labels: Labels | None) -> None:
        """Add a part's kept events to the edge counters (after :meth:`map_ids`).

        Raises:
            UnsortedInput: an event falls in a window already flushed.
        """
        s = self.st2
        s[L.S_POS] = 0
        s[L.S_NKEPT] = part.n_kept
        p = part.parser
        self.params[L.P_LABELS] = labels is not None
        if labels is None:
            if len(self._no_labels) < part.n_kept:
                self._no_labels = np.zeros(2 * part.n_kept, np.uint8)
            label = self._no_labels
        else:
            label = labels.label
        ev = part.ev
        while True:
            status = self.kernels.aggregate(
                self.params,
                s,
                ev[EV_T],
                ev[EV_U],
                ev[EV_SRC],
                ev[EV_DST],
                ev[EV_MIX],
                label,
                self.e_tab,
                self.acc,
                self.acc.view(np.int32),
                self.uset,
                p.umap,
                p.hmap,
                self.ring,
            )
            if status == L.DONE:
                return
            if status == L.UNSORTED:
                raise UnsortedInput
            self._grow_aggregate(status)

    def take(self, keep_mask: np.ndarray) -> tuple[Callable[[], EdgePart], Callable[[], None]]:
        """Cut the slots not in ``keep_mask`` out (the kept ones are compacted).

        Returns ``(build, release)``: ``build()`` makes their edge part from a copy,
        so it can run on another thread while this engine goes on, and
        ``release()`` hands the copy's buffer back for reuse once the part is
        written (fresh buffers cost a page fault per 4 KiB).
        """
        assert self.node_ids is not None, "attach_nodes first"
        n = int(self.st2[L.S_NEDGES])
        idx = np.flatnonzero(~keep_mask)
        hosts = self.hosts.series(self.store, self.n_hosts)
        table = StringTable(self.store, self.hosts.offs, self.hosts.lens, self.n_hosts)
        try:
            buf = self._col_bufs.get_nowait()
        except queue.Empty:
            buf = None
        if buf is None or buf.shape[1] < len(idx):
            buf = np.empty((3 + L.OUT_COUNTERS, -(-len(idx) // 32768) * 32768), np.int64)
        cols = buf[:, : len(idx)]  # a copy, by column
        self.kernels.gather_columns(self.acc, self.acc.view(np.int32), idx, cols)
        if len(idx) == n:
            self.e_tab[:] = -1
            self.uset[:] = -1
            self.st2[L.S_NEDGES] = self.st2[L.S_NUSET] = 0
        else:
            if len(self._spare) != len(self.uset):
                self._spare = np.empty_like(self.uset)
            if len(self._remap) < n:
                self._remap = np.empty(2 * n, np.int64)
            m, nu = self.kernels.compact(
                keep_mask, self.e_tab, self.acc, self.uset, self._spare, self._remap
            )
            self.uset, self._spare = self._spare, self.uset
            self.st2[L.S_NEDGES], self.st2[L.S_NUSET] = m, nu
        build = partial(self.edge_parts.build, cols, hosts, table, self.node_ids)
        return build, partial(self._col_bufs.put, buf)


@dataclass
class EdgePart:
    """Finished windows' edges as an Arrow table in ``EDGE_COLUMNS``, and their counts."""

    table: Any  # pyarrow.Table
    rows: int
    windows: int
    last_window: int

    def write(self, path: Path) -> None:
        """Write the part: host columns as dictionaries, integers delta-encoded (about as
        small as zstd's files, for half its CPU), except mostly-zero counters and runs of
        one value, which plain lz4 writes for less (measured per column on LANL-like
        data); window statistics kept, so readers skip parts outside a window range."""
        import pyarrow.parquet as pq

        encoding, codec = {}, {}
        for field in self.table.schema:
            if field.type.bit_width != 64:
                codec[field.name] = "none"
                continue
            col = self.table.column(field.name).chunk(0).to_numpy()
            runs = len(col) == 0 or col[0] == col[-1] or np.count_nonzero(col) * 8 < len(col)
            codec[field.name] = "lz4" if runs else "none"
            if not runs:
                encoding[field.name] = "DELTA_BINARY_PACKED"
        pq.write_table(
            self.table,
            path,
            compression=codec,
            use_dictionary=["src_host", "dst_host"],
            column_encoding=encoding,
            write_statistics=["window"],
            store_schema=False,
            dictionary_pagesize_limit=1 << 30,
            write_batch_size=1 << 16,
        )


class EdgeParts:
    """Builds edge parts on the writer thread (one at a time): host columns are encoded
    as dictionaries of the hosts a part uses, from host ids, never a string per row."""

    def __init__(self, kernels: Kernels) -> None:
        self.kernels = kernels
        self.seen = np.full(1 << 12, -1, np.int64)
        self.schema = None

    def build(
        self, cols: np.ndarray, hosts: pl.Series, table: StringTable, node_ids: NodeIds
    ) -> EdgePart:
        """The edge part of ``gather_columns``' ``cols`` (window, src id, dst id, then
        :data:`ACC_COLUMNS`); ``hosts``/``table`` decode host ids, ``node_ids`` gives
        the node ids (new hosts join the writer's index)."""
        import pyarrow as pa

        from ingest.graphs.edges import EDGE_COLUMNS

        K = self.kernels
        n = cols.shape[1]
        window = cols[0]
        order = None
        if n > 1 and (window[1:] < window[:-1]).any():  # slot order is time order
            order = np.argsort(window, kind="stable")  # unless the input was not sorted
            cols = cols[:, order]
            window = cols[0]
        src, dst = node_ids.map(window, cols[1], cols[2], hosts)
        if len(self.seen) < table.n:
            self.seen = np.full(2 * table.n, -1, np.int64)
        big = np.int64(1 << 62)  # every id is global already
        s32, d32 = cols[1].astype(np.int32), cols[2].astype(np.int32)
        used = np.empty(min(2 * n, table.n), np.int64)
        si, di = np.empty(n, np.int32), np.empty(n, np.int32)
        m = K.dict_encode_pair(s32, d32, n, self.seen, big, self.seen, si, di, used, 0)
        used = used[:m]
        offs = np.empty(m + 1, np.int32)
        data = np.empty(int(table.lens[used].sum()), np.uint8)
        high = K.gather_strings(used, m, table.offs, table.lens, table.store, offs, data)
        K.forget(self.seen, used, m)
        if high:
            names = pa.array(hosts.gather(used).to_list(), pa.string())
        else:
            names = pa.StringArray.from_buffers(m, pa.py_buffer(offs), pa.py_buffer(data))
        if self.schema is None:
            dictionary = pa.dictionary(pa.int32(), pa.string())
            types = {c: pa.int64() for c in EDGE_COLUMNS}
            types |= {"src_host": dictionary, "dst_host": dictionary, "label": pa.bool_()}
            self.schema = pa.schema([pa.field(c, t, nullable=False) for c, t in types.items()])
        columns = {
            "window": pa.array(window),
            "src_host": pa.DictionaryArray.from_arrays(pa.array(si), names),
            "dst_host": pa.DictionaryArray.from_arrays(pa.array(di), names),
            "src": pa.array(src),
            "dst": pa.array(dst),
            **{c: pa.array(cols[3 + j]) for j, c in enumerate(ACC_COLUMNS)},
            "label": pa.array(cols[3 + len(ACC_COLUMNS) - 1] > 0),
        }
        nw = 1 + int(np.count_nonzero(window[1:] != window[:-1])) if n else 0
        part = pa.Table.from_pydict(columns, schema=self.schema)
        return EdgePart(part, n, nw, int(window[-1]) if n else -1)


class NodeIds:
    """Host id -> node id of a :class:`ingest.graphs.nodes.NodeIndex`, kept as an array.

    The writer's index gives node ids by host name (a string cast per edge end);
    here each host's id is looked up once, when it first appears, and later edges
    are mapped with one array gather. Used on the writer thread only.
    """

    def __init__(self, nodes: NodeIndex) -> None:
        self.nodes = nodes
        self.node_of = np.full(1 << 12, -1, np.int64)

    def map(self, window: np.ndarray, src: np.ndarray, dst: np.ndarray, hosts: pl.Series):
        """Node ids of the edges' ends (host ids ``src``, ``dst``), adding new hosts
        to the index exactly as :meth:`NodeIndex.update` orders them."""
        import polars as pl

        if len(hosts) > len(self.node_of):
            grown = np.full(2 * len(hosts), -1, np.int64)
            grown[: len(self.node_of)] = self.node_of
            self.node_of = grown
        node_of = self.node_of
        fresh = (node_of[src] < 0) | (node_of[dst] < 0)
        if fresh.any():
            ends = np.unique(np.concatenate([src[fresh], dst[fresh]]))
            ends = ends[node_of[ends] < 0]
            names = hosts.gather(ends)
            ids = self.nodes.ids(names)  # known to an index this one extends
            if ids.null_count():
                self.nodes.update(
                    pl.DataFrame(
                        {
                            "window": window[fresh],
                            "src_host": hosts.gather(src[fresh]),
                            "dst_host": hosts.gather(dst[fresh]),
                        }
                    )
                )
                ids = self.nodes.ids(names)
            node_of[ends] = ids.to_numpy()
        return node_of[src], node_of[dst]
