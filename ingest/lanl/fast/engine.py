"""Tables and stages of the fast LANL ingest; the kernels are in :mod:`ingest.lanl.fast.kernel`.

A chunk is cut at a newline near its middle and its two halves are parsed at once
by two :class:`Parser` objects (one per thread, each with private string tables:
no locks). The driver then maps each parser's new local ids to global ids
(:meth:`Engine.map_ids`) and aggregates the events (:meth:`Engine.aggregate`),
while the parsers already work on the next chunk. Every table is a numpy array
owned here and grown when a kernel asks.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import pairwise

import numpy as np
import polars as pl

from ingest.errors import HopwatchError
from ingest.graphs.edges import AUTH_MIX, EDGE_COLUMNS, LOGON_MIX, ORIENTATION_MIX
from ingest.graphs.nodes import NodeIndex
from ingest.lanl.fast import aggregate as A
from ingest.lanl.fast import tables as T
from ingest.lanl.fast.stage import Parser, Part, Strings, vocabulary
from ingest.lanl.files import MAX_EXAMPLES, Chunk

ACC_COLUMNS = (
    "count",
    "n_users",
    "failures",
    *AUTH_MIX,
    "n_other_auth",
    *LOGON_MIX,
    "n_other_logon",
    *ORIENTATION_MIX,
    "first_time",
    "last_time",
    "n_labeled",
)
CATEGORIES = (*AUTH_MIX.values(), *LOGON_MIX.values(), *ORIENTATION_MIX.values())
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


class Engine:
    """Tables and counters of one pass over the input: two parsers, then aggregation."""

    def __init__(
        self, params: np.ndarray, rt_times: np.ndarray, nodes: NodeIndex, threads: int = 2
    ) -> None:
        self.params = params
        self.node_ids = NodeIds(nodes)  # the writer's node index, as an array
        vocab, words = vocabulary([*CATEGORIES, "Success", "Fail"])
        self.parsers = [Parser(params, vocab, words) for _ in range(max(1, threads))]
        # global ids: users, hosts and their bytes (S_NUSERS, S_NHOSTS, S_STORE of gst)
        self.gst = np.zeros(T.STATE_SIZE, np.int64)
        self.store = np.empty(1 << 20, np.uint8)
        self.users, self.hosts = Strings(), Strings()
        self.st2 = np.zeros(T.STATE_SIZE, np.int64)  # aggregate stage
        self.st2[T.S_WMAX] = -1
        self.e_tab = np.full(1 << 16, -1, np.int64)
        self.acc = T.aligned_rows(1 << 15)
        self.uset = np.full(1 << 16, -1, np.int64)
        self._spare = np.empty_like(self.uset)  # compact() rebuilds the user set here
        self._remap = np.empty(1 << 15, np.int64)
        self._col_bufs: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()  # take()'s copies
        self.rt_times = rt_times
        self.cand = np.zeros((1 << 10, 5), np.int64)
        self.ring = np.zeros((A.RING, 4), np.int64)  # aggregate's pipeline scratch

    @property
    def n_hosts(self) -> int:
        return int(self.gst[T.S_NHOSTS])

    # -- parse stage (worker threads) -------------------------------------------------------
    def submit(self, pool: ThreadPoolExecutor, chunk: Chunk) -> list[Future]:
        """Start parsing ``chunk``: its halves (cut at a newline) on the parsers."""
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
        strings.reserve(n + hi - lo)
        need = int(self.gst[T.S_STORE] + lens[lo:hi].sum())
        if need > len(self.store):
            new = np.empty(2 * need + (1 << 20), np.uint8)
            new[: self.gst[T.S_STORE]] = self.store[: self.gst[T.S_STORE]]
            self.store = new
        T.intern_ids(src, offs, lens, lo, hi, *strings.args(), self.store, self.gst, slot, out)

    def map_ids(self, part: Part) -> None:
        """Give the part's new local user and host ids their global ids."""
        p = part.parser
        store, u_offs, u_lens, h_offs, h_lens = part.tables
        if part.n_users > p.n_umapped:
            if part.n_users > len(p.umap):
                p.umap = np.resize(p.umap, 2 * part.n_users)
            self._map(
                self.users, T.S_NUSERS, store, u_offs, u_lens, p.n_umapped, part.n_users, p.umap
            )
            p.n_umapped = part.n_users
        if part.n_hosts > p.n_hmapped:
            if part.n_hosts > len(p.hmap):
                p.hmap = np.resize(p.hmap, 2 * part.n_hosts)
            self._map(
                self.hosts, T.S_NHOSTS, store, h_offs, h_lens, p.n_hmapped, part.n_hosts, p.hmap
            )
            p.n_hmapped = part.n_hosts

    def _grow_aggregate(self, status: int) -> None:
        if status == T.GROW_EDGES:
            n = int(self.st2[T.S_NEDGES])
            size = 4 * self.acc.shape[0]
            acc = T.aligned_rows(size)
            acc[:n] = self.acc[:n]
            self.acc = acc
            self.e_tab = np.full(2 * size, -1, np.int64)
            T.rehash_edges(self.e_tab, self.acc, n)
        elif status == T.GROW_USET:
            new = np.full(4 * len(self.uset), -1, np.int64)
            T.rehash_keys(new, self.uset)
            self.uset = new
        elif status == T.GROW_CAND:
            self.cand = np.concatenate([self.cand, np.zeros_like(self.cand)])
        else:  # pragma: no cover - the kernel returns only the codes above
            raise RuntimeError(f"unknown aggregate status {status}")

    def aggregate(self, part: Part) -> None:
        """Add a part's kept events to the edge counters (after :meth:`map_ids`)."""
        s = self.st2
        s[T.S_POS] = 0
        s[T.S_NKEPT] = part.n_kept
        p = part.parser
        while True:
            status = A.aggregate(
                self.params,
                s,
                *part.ev,
                self.e_tab,
                self.acc,
                self.acc.view(np.int32),
                self.uset,
                self.rt_times,
                self.cand,
                p.umap,
                p.hmap,
                self.ring,
            )
            if status == T.DONE:
                return
            if status == T.UNSORTED:
                raise UnsortedInput
            self._grow_aggregate(status)

    def release(self, part: Part) -> None:
        """Give a consumed part's event arrays back to its parser for reuse."""
        part.parser.spare.append(part.ev)

    def take(self, keep_mask: np.ndarray) -> tuple[Callable[[], pl.DataFrame], Callable[[], None]]:
        """Cut the slots not in ``keep_mask`` out (the kept ones are compacted).

        Returns ``(build, release)``: ``build()`` makes their edge frame from a copy,
        so it can run on another thread while this engine goes on, and
        ``release()`` hands the copy's buffer back for reuse once the frame is
        written (fresh buffers cost a page fault per 4 KiB).
        """
        n = int(self.st2[T.S_NEDGES])
        idx = np.flatnonzero(~keep_mask)
        hosts = self.hosts.series(self.store, self.n_hosts)
        try:
            buf = self._col_bufs.get_nowait()
        except queue.Empty:
            buf = None
        if buf is None or buf.shape[1] < len(idx):
            buf = np.empty((3 + T.OUT_COUNTERS, max(len(idx), 1 << 16)), np.int64)
        cols = buf[:, : len(idx)]  # a copy, by column
        T.gather_columns(self.acc, self.acc.view(np.int32), idx, cols)
        if len(idx) == n:
            self.e_tab[:] = -1
            self.uset[:] = -1
            self.st2[T.S_NEDGES] = self.st2[T.S_NUSET] = 0
        else:
            if len(self._spare) != len(self.uset):
                self._spare = np.empty_like(self.uset)
            if len(self._remap) < n:
                self._remap = np.empty(2 * n, np.int64)
            m, nu = T.compact(keep_mask, self.e_tab, self.acc, self.uset, self._spare, self._remap)
            self.uset, self._spare = self._spare, self.uset
            self.st2[T.S_NEDGES], self.st2[T.S_NUSET] = m, nu
        return partial(edge_frame, cols, hosts, self.node_ids), partial(self._col_bufs.put, buf)


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


def edge_frame(cols: np.ndarray, hosts: pl.Series, node_ids: NodeIds) -> pl.DataFrame:
    """Edge table of :func:`ingest.lanl.fast.tables.gather_columns`' ``cols`` (window, src
    id, dst id, then ``ACC_COLUMNS``); ``hosts`` decodes host ids, ``node_ids`` gives
    the node ids."""
    src, dst = node_ids.map(cols[0], cols[1], cols[2], hosts)
    frame = pl.DataFrame(
        {
            "window": cols[0],
            "src_host": hosts.gather(cols[1]),
            "dst_host": hosts.gather(cols[2]),
            "src": src,
            "dst": dst,
            **{c: cols[3 + j] for j, c in enumerate(ACC_COLUMNS)},
        }
    )
    frame = frame.with_columns((pl.col("n_labeled") > 0).alias("label")).select(EDGE_COLUMNS)
    window = cols[0]
    if len(window) > 1 and (window[1:] < window[:-1]).any():  # slot order is time order
        frame = frame.sort("window")  # unless the input was not sorted
    return frame
