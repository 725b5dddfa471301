"""Fast LANL ingest (raw auth text -> edge table, node index, meta) with a numba kernel.

Same output as :func:`ingest.lanl.ingest_lanl` with ``write_events=False``: the
kernel (:mod:`ingest.lanl_kernel`) parses, validates, interns and aggregates in
one pass per chunk; this module grows its tables, labels red-team candidates,
flushes finished windows through the :class:`ingest.graphs.DatasetWriter`
(node index, edge parts, meta.json), and keeps the open window in memory.

Input that is not time-sorted (a window reappears after it was flushed) is
re-read from the start with flushing off: exact, but memory then grows with the
number of edges. Events parquet is not written here: ``ingest_lanl`` uses the
Polars path when events are requested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ingest import lanl_kernel as K
from ingest.graph_edges import AUTH_MIX, EDGE_COLUMNS_NO_IDS, LOGON_MIX, ORIENTATION_MIX
from ingest.lanl import (
    DEFAULT_CHUNK_BYTES,
    MAX_EXAMPLES,
    REASONS,
    BadLines,
    Chunk,
    _line_texts,
    auth_files,
    iter_chunks,
)

__all__ = ["FastResult", "UnsortedInput", "ingest_lanl_fast"]

_ACC_COLUMNS = (
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
_CATEGORIES = (*AUTH_MIX.values(), *LOGON_MIX.values(), *ORIENTATION_MIX.values())


class UnsortedInput(Exception):
    """A window reappeared after it was flushed (raised when ``on_unsorted="raise"``)."""


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


@dataclass
class _Strings:
    """One interning table: open-addressing ``tab`` plus per-id offset/length/hash."""

    count_slot: int
    tab: np.ndarray = field(default_factory=lambda: np.full(1 << 12, -1, np.int64))
    offs: np.ndarray = field(default_factory=lambda: np.zeros(1 << 11, np.int64))
    lens: np.ndarray = field(default_factory=lambda: np.zeros(1 << 11, np.int64))
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(1 << 11, np.int64))
    names: list[str] = field(default_factory=list)  # decoded, ids 0..len-1
    _series: pl.Series | None = None

    def grow(self, n: int) -> None:
        size = 2 * len(self.offs)
        for name in ("offs", "lens", "hashes"):
            old = getattr(self, name)
            new = np.zeros(size, np.int64)
            new[: len(old)] = old
            setattr(self, name, new)
        self.tab = np.full(2 * size, -1, np.int64)
        K.rehash_strings(self.tab, self.hashes, n)

    def args(self) -> tuple[np.ndarray, ...]:
        return self.tab, self.offs, self.lens, self.hashes

    def text(self, store: np.ndarray, k: int) -> str:
        o, n = int(self.offs[k]), int(self.lens[k])
        return store[o : o + n].tobytes().decode("utf-8", "replace")

    def series(self, store: np.ndarray, n: int) -> pl.Series:
        """Decoded strings of ids ``0..n-1`` as a Series (cached, extended on demand)."""
        if len(self.names) < n or self._series is None:
            self.names.extend(self.text(store, k) for k in range(len(self.names), n))
            self._series = pl.Series(self.names, dtype=pl.String)
        return self._series


@dataclass
class FastResult:
    """What :func:`ingest_lanl_fast` hands back to :func:`ingest.lanl.ingest_lanl`."""

    bad: BadLines
    matched: set[int]
    meta: dict
    restarted: bool


class _Engine:
    """Tables and counters of one pass over the input."""

    def __init__(self, params: np.ndarray, rt_times: np.ndarray) -> None:
        self.params = params
        self.state = np.zeros(K.STATE_SIZE, np.int64)
        self.store = np.empty(1 << 20, np.uint8)
        self.users = _Strings(K.S_NUSERS)
        self.hosts = _Strings(K.S_NHOSTS)
        self.cats = _Strings(K.S_NCATS)
        self.e_tab = np.full(1 << 16, -1, np.int64)
        self.e_win = np.zeros(1 << 15, np.int64)
        self.e_src = np.zeros(1 << 15, np.int64)
        self.e_dst = np.zeros(1 << 15, np.int64)
        self.acc = np.zeros((1 << 15, K.N_ACC), np.int64)
        self.uset = np.full(1 << 16, -1, np.int64)
        self.rt_times = rt_times
        self.cand = np.zeros((1 << 10, 5), np.int64)
        self.bad_rows = np.zeros(1 << 16, np.int64)
        self.bad_reasons = np.zeros(1 << 16, np.int64)
        self.w_success = np.frombuffer(b"Success", np.uint8)
        self.w_fail = np.frombuffer(b"Fail", np.uint8)
        for name in _CATEGORIES:  # fixed ids 0..12 for the mix columns
            raw = np.frombuffer(name.encode(), np.uint8)
            c = self.cats
            K.intern(
                raw, 0, len(raw), c.tab, c.offs, c.lens, c.hashes, self.store, self.state, K.S_NCATS
            )

    def _grow(self, status: int) -> None:
        s = self.state
        if status == K.GROW_USERS:
            self.users.grow(int(s[K.S_NUSERS]))
        elif status == K.GROW_HOSTS:
            self.hosts.grow(int(s[K.S_NHOSTS]))
        elif status == K.GROW_CATS:
            self.cats.grow(int(s[K.S_NCATS]))
        elif status == K.GROW_STORE:
            new = np.empty(2 * len(self.store) + (1 << 20), np.uint8)
            new[: s[K.S_STORE]] = self.store[: s[K.S_STORE]]
            self.store = new
        elif status == K.GROW_EDGES:
            n = int(s[K.S_NEDGES])
            size = 2 * len(self.e_win)
            for name in ("e_win", "e_src", "e_dst"):
                new = np.zeros(size, np.int64)
                new[:n] = getattr(self, name)[:n]
                setattr(self, name, new)
            acc = np.zeros((size, K.N_ACC), np.int64)
            acc[:n] = self.acc[:n]
            self.acc = acc
            self.e_tab = np.full(2 * size, -1, np.int64)
            K.rehash_edges(self.e_tab, self.e_win, self.e_src, self.e_dst, n)
        elif status == K.GROW_USET:
            new = np.full(2 * len(self.uset), -1, np.int64)
            K.rehash_keys(new, self.uset)
            self.uset = new
        elif status == K.GROW_CAND:
            self.cand = np.concatenate([self.cand, np.zeros_like(self.cand)])
        else:  # pragma: no cover - the kernel returns only the codes above
            raise RuntimeError(f"unknown kernel status {status}")

    def scan(self, data: bytes) -> None:
        """Run the kernel over one chunk (resuming after each table growth)."""
        s = self.state
        s[K.S_POS] = s[K.S_ROW] = s[K.S_NVALID] = s[K.S_NCAND] = s[K.S_NBADEX] = 0
        s[K.S_SORTED] = 1
        s[K.S_BAD : K.S_BAD + len(REASONS)] = 0
        buf = np.frombuffer(data, np.uint8)
        while True:
            status = K.scan(
                buf,
                self.params,
                s,
                self.store,
                *self.users.args(),
                *self.hosts.args(),
                *self.cats.args(),
                self.e_tab,
                self.e_win,
                self.e_src,
                self.e_dst,
                self.acc,
                self.uset,
                self.rt_times,
                self.cand,
                self.bad_rows,
                self.bad_reasons,
                self.w_success,
                self.w_fail,
            )
            if status == K.DONE:
                return
            if status == K.UNSORTED:
                raise UnsortedInput
            self._grow(status)

    def take(self, keep_mask: np.ndarray) -> pl.DataFrame:
        """Edge rows of the slots not in ``keep_mask``; the kept slots are compacted."""
        n = int(self.state[K.S_NEDGES])
        out = ~keep_mask
        idx = np.flatnonzero(out)
        hosts = self.hosts.series(self.store, int(self.state[K.S_NHOSTS]))
        acc = self.acc[idx]
        frame = pl.DataFrame(
            {
                "window": self.e_win[idx],
                "src_host": hosts.gather(self.e_src[idx]),
                "dst_host": hosts.gather(self.e_dst[idx]),
                **{c: acc[:, j] for j, c in enumerate(_ACC_COLUMNS)},
            }
        )
        frame = frame.with_columns((pl.col("n_labeled") > 0).alias("label")).select(
            EDGE_COLUMNS_NO_IDS
        )
        if len(idx) == n:
            self.e_tab[:] = -1
            self.uset[:] = -1
            self.state[K.S_NEDGES] = self.state[K.S_NUSET] = 0
        else:
            m, nu = K.compact(
                keep_mask, self.e_tab, self.e_win, self.e_src, self.e_dst, self.acc, self.uset
            )
            self.state[K.S_NEDGES], self.state[K.S_NUSET] = m, nu
        return frame.sort("window", "src_host", "dst_host")


def _prefetched(file: Path, chunk_bytes: int) -> Iterator[Chunk]:
    """Chunks of one file, reading the next one on a thread while the caller works."""
    chunks = iter_chunks(file, chunk_bytes)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(next, chunks, None)
        while True:
            chunk = future.result()
            if chunk is None:
                return
            future = pool.submit(next, chunks, None)
            yield chunk


def _label(eng: _Engine, rt: pl.DataFrame, user_aware: bool, matched: set[int]) -> tuple[int, int]:
    """Match this chunk's candidates to red-team lines; bump ``n_labeled``.

    Returns (labelled events, their first time or -1).
    """
    nc = int(eng.state[K.S_NCAND])
    if nc == 0:
        return 0, -1
    cand = eng.cand[:nc]
    store = eng.store
    users = [eng.users.text(store, int(k)) for k in cand[:, 1]]
    hosts = eng.hosts.series(store, int(eng.state[K.S_NHOSTS]))
    frame = pl.DataFrame(
        {
            "_i": np.arange(nc),
            "time": cand[:, 0],
            "src_user": users,
            "src_host": hosts.gather(cand[:, 2]),
            "dst_host": hosts.gather(cand[:, 3]),
        }
    )
    keys = ["time", "src_host", "dst_host"]
    left = [*keys, "src_user"] if user_aware else keys
    right = [*keys, "user"] if user_aware else keys
    hits = frame.join(rt.select([*keys, "user", "rt_id"]), left_on=left, right_on=right)
    if hits.height == 0:
        return 0, -1
    matched.update(hits["rt_id"].to_list())
    rows = np.unique(hits["_i"].to_numpy())
    np.add.at(eng.acc[:, K.A_LABELED], cand[rows, 4], 1)
    return len(rows), int(cand[rows, 0].min())


def _record_bad(eng: _Engine, chunk: Chunk, bad: BadLines) -> None:
    s = eng.state
    for r, reason in enumerate(REASONS):
        n = int(s[K.S_BAD + r])
        if n:
            bad.add(reason, n)
    room = MAX_EXAMPLES - len(bad.examples)
    nb = int(s[K.S_NBADEX])
    if room > 0 and nb:
        rows = eng.bad_rows[: min(room, nb)].tolist()
        reasons = eng.bad_reasons[: len(rows)].tolist()
        for r, code, text in zip(rows, reasons, _line_texts(chunk.data, rows), strict=True):
            bad.examples.append((chunk.source, chunk.first_line + r, REASONS[code], text))


def _run(
    auth: str | Path,
    writer,
    *,
    rt: pl.DataFrame | None,
    window_seconds: int,
    start: int | None,
    end: int | None,
    user_aware: bool,
    chunk_bytes: int,
    progress: Callable[[int], None] | None,
    hold_all: bool,
) -> tuple[BadLines, set[int], dict]:
    params = np.zeros(K.PARAMS_SIZE, np.int64)
    params[K.P_HAS_START], params[K.P_START] = start is not None, start or 0
    params[K.P_HAS_END], params[K.P_END] = end is not None, end or 0
    params[K.P_WINDOW] = window_seconds
    params[K.P_FLUSHED] = -1
    rt_times = np.full(16, -1, np.int64)
    if rt is not None and rt.height:
        times = rt["time"].unique().to_numpy()
        rt_times = np.full(_pow2(4 * len(times)), -1, np.int64)
        K.rehash_keys(rt_times, times.astype(np.int64))
        params[K.P_NRT] = len(times)
    eng = _Engine(params, rt_times)
    bad, matched = BadLines(), set()
    stats = {"events": 0, "first_time": None, "last_time": None, "labeled": 0, "first_label": None}
    sorted_so_far, last_time, done = True, None, 0
    s = eng.state
    for file in auth_files(auth):
        stop = False
        for chunk in _prefetched(file, chunk_bytes):
            s[K.S_NKEPT] = 0
            eng.scan(chunk.data)
            _record_bad(eng, chunk, bad)
            if progress is not None:
                progress(done + chunk.raw_bytes)
            if s[K.S_NVALID] == 0:
                continue
            lo, hi = int(s[K.S_LO]), int(s[K.S_HI])
            if sorted_so_far and ((last_time is not None and lo < last_time) or not s[K.S_SORTED]):
                sorted_so_far = False
            last_time = hi if last_time is None else max(last_time, hi)
            if end is not None and sorted_so_far and lo >= end:
                stop = True
                break
            if s[K.S_NKEPT] == 0:
                continue
            stats["events"] += int(s[K.S_NKEPT])
            klo, khi = int(s[K.S_KLO]), int(s[K.S_KHI])
            old_lo, old_hi = stats["first_time"], stats["last_time"]
            stats["first_time"] = klo if old_lo is None else min(old_lo, klo)
            stats["last_time"] = khi if old_hi is None else max(old_hi, khi)
            if rt is not None:
                n, first = _label(eng, rt, user_aware, matched)
                if n:
                    stats["labeled"] += n
                    old = stats["first_label"]
                    stats["first_label"] = first if old is None else min(old, first)
            if not hold_all:
                n = int(s[K.S_NEDGES])
                top = int(s[K.S_WMAX])
                keep = eng.e_win[:n] >= top
                if not keep.all():
                    writer._emit_edges(eng.take(keep))
                    params[K.P_FLUSHED] = top - 1
        done += file.stat().st_size
        if stop:
            break
    n = int(s[K.S_NEDGES])
    if n:
        edges = eng.take(np.zeros(n, dtype=bool))
        writer._emit_edges(edges)
    return bad, matched, stats


def _reset_edges(writer) -> None:
    """Forget emitted edges and nodes (restart after unsorted input)."""
    import shutil

    from ingest.nodes import NodeIndex

    shutil.rmtree(writer._edges_dir)
    writer._edges_dir.mkdir()
    writer._n_edge_parts = 0
    writer._stats["edges"] = 0
    writer._stats["windows"] = 0
    writer._flushed_window = None
    writer._nodes = NodeIndex(writer._base_nodes)


def ingest_lanl_fast(
    auth: str | Path,
    out: str | Path,
    *,
    rt: pl.DataFrame | None,
    window_seconds: int = 1800,
    start: int | None = None,
    end: int | None = None,
    user_aware: bool = False,
    nodes_from: str | Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: Callable[[int], None] | None = None,
    extra_counts: Callable[[BadLines, set[int]], dict] | None = None,
    on_unsorted: str = "restart",
) -> FastResult:
    """Edges, node index and meta of a LANL auth source (no events parquet).

    ``rt`` is the red-team frame of :func:`ingest.lanl.read_redteam` (already
    filtered to the time range), or ``None``. ``extra_counts(bad, matched)`` gives
    the extra meta.json entries. ``on_unsorted``: ``"restart"`` re-reads unsorted
    input with flushing off (exact; memory grows with the edges), ``"raise"``
    raises :class:`UnsortedInput`.
    """
    from ingest.graphs import DatasetWriter

    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    restarted = False
    with DatasetWriter(
        out, window_seconds, source="lanl", nodes_from=nodes_from, write_events=False
    ) as writer:
        kw = dict(
            rt=rt,
            window_seconds=window_seconds,
            start=start,
            end=end,
            user_aware=user_aware,
            chunk_bytes=chunk_bytes,
            progress=progress,
        )
        try:
            bad, matched, stats = _run(auth, writer, hold_all=False, **kw)
        except UnsortedInput:
            if on_unsorted == "raise":
                raise
            restarted = True
            _reset_edges(writer)
            bad, matched, stats = _run(auth, writer, hold_all=True, **kw)
        ws = writer._stats
        ws["events"] = stats["events"]
        ws["first_time"], ws["last_time"] = stats["first_time"], stats["last_time"]
        ws["has_labels"] = rt is not None and stats["events"] > 0
        ws["labeled"] = stats["labeled"]
        ws["first_label_time"] = stats["first_label"]
        if rt is not None:
            writer.write_redteam(rt.drop("rt_id"))
        if extra_counts is not None:
            writer.set_counts(**extra_counts(bad, matched))
    return FastResult(bad=bad, matched=matched, meta=writer.meta, restarted=restarted)
