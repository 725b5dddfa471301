"""Append-only store of pulled Splunk events, and the data directory built from it.

Layout under the output folder ``DIR``::

    DIR/splunk/auth/part-00000.parquet      canonical auth events + splunk_key
    DIR/splunk/process/part-00000.parquet   process/share/service events + splunk_key
    DIR/splunk/ledger/part-00000.parquet    splunk_key, splunk_time (one row per result)
    DIR/splunk/checkpoint.json              default checkpoint location

One :meth:`EventSink.write` is one *commit*: the auth and process parts are
written first and the ledger part last, each atomically (temporary name, fsync,
rename). A ledger part is the commit marker: on start, parts without their
ledger part are leftovers of a crash and are deleted. The ledger answers
"which results at or after second T are already persisted?", which is how a
restart after a crash between a commit and its checkpoint skips duplicates.

:func:`build_dataset` turns the store into the data directory of
docs/data-format.md (events, edges, nodes, meta.json, process parts).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

from ingest.splunk.checkpoint import fsync_dir

_PART = re.compile(r"^part-(\d{5,})\.parquet$")
LEDGER_SCHEMA = pl.Schema({"splunk_key": pl.String(), "splunk_time": pl.Int64()})


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write a parquet file under a temporary name, fsync it, rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp, compression="zstd", statistics=True)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class EventSink:
    """The append-only event store of the Splunk worker.

    Args:
        root: the output folder ``DIR``; the store lives in ``DIR/splunk``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.base = self.root / "splunk"
        self.dirs = {name: self.base / name for name in ("auth", "process", "ledger")}
        for folder in self.dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        self.removed_orphans = self._recover()
        self._next = self._max_part() + 1

    def parts(self, name: str) -> dict[int, Path]:
        """Committed-or-not part files of one folder, by part number."""
        found = {}
        for path in self.dirs[name].iterdir():
            match = _PART.match(path.name)
            if match:
                found[int(match.group(1))] = path
        return found

    def _max_part(self) -> int:
        numbers = [n for name in self.dirs for n in self.parts(name)]
        return max(numbers, default=-1)

    def _recover(self) -> int:
        """Delete temporary files and parts whose commit (ledger part) never happened."""
        committed = set(self.parts("ledger"))
        removed = 0
        for name, folder in self.dirs.items():
            for path in folder.iterdir():
                if path.name.startswith("."):
                    path.unlink()
                    continue
            if name == "ledger":
                continue
            for number, path in self.parts(name).items():
                if number not in committed:
                    path.unlink()
                    removed += 1
        return removed

    def write(self, auth: pl.DataFrame, process: pl.DataFrame, ledger: pl.DataFrame) -> int:
        """Commit one block: event parts first, then the ledger part. Returns the part number.

        ``ledger`` has one row per accepted result (``splunk_key``, ``splunk_time``),
        including results that produced no event, so they are not pulled again.
        """
        number = self._next
        name = f"part-{number:05d}.parquet"
        if auth.height:
            _write_atomic(auth, self.dirs["auth"] / name)
        if process.height:
            _write_atomic(process, self.dirs["process"] / name)
        ledger = ledger.select([pl.col(c).cast(t) for c, t in LEDGER_SCHEMA.items()])
        _write_atomic(ledger, self.dirs["ledger"] / name)
        self._next = number + 1
        return number

    def keys_since(self, second: int) -> dict[str, int]:
        """Keys (and their ``_time`` second) of persisted results with ``splunk_time >= second``."""
        if not self.parts("ledger"):
            return {}
        frame = (
            pl.scan_parquet(self.dirs["ledger"] / "part-*.parquet")
            .filter(pl.col("splunk_time") >= second)
            .collect()
        )
        return dict(zip(frame["splunk_key"], frame["splunk_time"], strict=True))

    def count(self) -> int:
        """Results persisted (ledger rows)."""
        if not self.parts("ledger"):
            return 0
        scan = pl.scan_parquet(self.dirs["ledger"] / "part-*.parquet")
        return scan.select(pl.len()).collect().item()

    def scan(self, name: str) -> pl.LazyFrame | None:
        """Lazy frame over the ``auth`` or ``process`` parts, or ``None`` when empty."""
        if not self.parts(name):
            return None
        return pl.scan_parquet(self.dirs[name] / "part-*.parquet")


def build_dataset(root: str | Path, window_seconds: int = 1800) -> dict:
    """(Re)build the data directory ``root`` from its Splunk store; return meta.json.

    Events go through :class:`ingest.graphs.DatasetWriter` (time-sorted, node ids kept
    stable across rebuilds); process events are copied to ``root/process/``.
    """
    from ingest.graphs import DatasetWriter

    sink = EventSink(root)
    with DatasetWriter(root, window_seconds=window_seconds, source="splunk") as writer:
        # Part by part (each time-sorted): memory stays bounded by one part; the
        # writer recomputes edges exactly if parts overlap in time.
        for _, path in sorted(sink.parts("auth").items()):
            part = pl.read_parquet(path).drop("splunk_key")
            writer.add(part.sort("time", maintain_order=True))
        writer.set_counts(splunk_results=sink.count())
    process_dir = Path(root) / "process"
    for path in process_dir.glob("part-*.parquet"):
        path.unlink()
    for number, path in sorted(sink.parts("process").items()):
        process_dir.mkdir(exist_ok=True)
        frame = pl.read_parquet(path).drop("splunk_key")
        frame.write_parquet(process_dir / f"part-{number:05d}.parquet")
    return writer.meta
