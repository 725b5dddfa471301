"""Byte-level reading of LANL auth sources: files, chunks of whole lines, bad-line records.

An auth source is a file (plain or ``.gz``) or a folder of split files (read in
natural name order). :func:`iter_chunks` yields runs of whole lines of one file;
plain files can be memory-mapped (``mapped=True``: no copy, no read buffer), gz
files are streamed. Both LANL engines (:mod:`ingest.lanl.reader`, :mod:`ingest.lanl.fast.driver`)
read through :func:`prefetch_chunks`.
"""

from __future__ import annotations

import gc
import gzip
import mmap
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024
MAX_EXAMPLES = 5
MAX_EXAMPLE_CHARS = 200

#: Bad-line reasons, in the order they are checked.
REASONS = (
    "empty line",
    "too many columns",
    "missing or empty field",
    "non-integer time",
    "negative time",
    "bad success value",
)


@dataclass
class BadLines:
    """Malformed lines seen so far: total, per reason, and the first examples.

    ``examples`` holds ``(source, line number, reason, text)`` tuples; ``text`` is
    the raw line (decoded leniently, truncated): print it escaped, it is untrusted.
    """

    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[str, int, str, str]] = field(default_factory=list)

    def add(self, reason: str, n: int) -> None:
        """Count ``n`` lines for ``reason``."""
        self.count += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (restored afterwards).

    The fast LANL pass (imports included) makes few objects that reference counting
    does not free, yet the collector's scans took about 3% of its CPU time (perf).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``auth_2`` before ``auth_10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def auth_files(path: str | Path) -> list[Path]:
    """The files of an auth source: the file itself, or a folder's visible files.

    Raises:
        FileNotFoundError: the path does not exist or the folder has no files.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"auth source not found: {path}")
    files = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    if not files:
        raise FileNotFoundError(f"no files in auth folder: {path}")
    return sorted(files, key=lambda p: natural_key(p.name))


def _is_plain(path: Path) -> bool:
    """A non-empty file that is not gzip (a candidate for memory mapping)."""
    with path.open("rb") as f:
        magic = f.read(2)
    return bool(magic) and magic != b"\x1f\x8b"


def _open(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(reader of decompressed bytes, underlying raw file for progress)."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


@dataclass
class Chunk:
    """A run of whole lines from one file."""

    source: str
    first_line: int  # 1-based line number of the chunk's first line (0: see iter_mapped)
    data: bytes
    raw_bytes: int  # bytes of the underlying (possibly compressed) file consumed so far


def iter_chunks(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[Chunk]:
    """Yield chunks of whole lines of one file (plain or gzip), in order."""
    reader, raw = _open(path)
    seekable = reader is raw  # plain file: step back over a partial last line (one copy)
    line = 1
    rest = b""
    try:
        while True:
            block = reader.read(chunk_bytes)
            if not block:
                break
            if seekable and not rest and len(block) == chunk_bytes:
                cut = block.rfind(b"\n")
                if cut >= 0:
                    if cut + 1 < len(block):
                        raw.seek(cut + 1 - len(block), 1)
                        block = block[: cut + 1]
                    yield Chunk(path.name, line, block, raw.tell())
                    line += block.count(b"\n")
                    continue
            data = rest + block if rest else block
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1 :]
            body = data[: cut + 1] if rest else data
            yield Chunk(path.name, line, body, raw.tell())
            line += body.count(b"\n")
        if rest:
            yield Chunk(path.name, line, rest, raw.tell())
    finally:
        reader.close()
        raw.close()


def iter_mapped(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[Chunk]:
    """Chunks of whole lines of a plain file as read-only memory maps (no copy).

    ``Chunk.data`` is a memoryview of a map of just that chunk's pages (populated
    up front where the OS allows), unmapped when the last reference goes: memory
    stays bounded by the chunks in flight. Lines are not counted here (a pass over
    every byte): the first chunk has ``first_line`` 1, later ones 0, and the
    consumer, which parses the lines anyway, sets it from the previous chunk's count.
    """
    size = path.stat().st_size
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    line, pos = 1, 0
    with path.open("rb") as f:
        while pos < size:
            base = pos - pos % mmap.ALLOCATIONGRANULARITY
            want = chunk_bytes
            while True:
                length = min(size - base, pos - base + want)
                mm = mmap.mmap(f.fileno(), length, flags=flags, prot=mmap.PROT_READ, offset=base)
                end = length
                if base + length < size:
                    end = mm.rfind(b"\n", pos - base, length) + 1
                if end > 0:
                    break
                mm.close()  # a line longer than the window: map a larger one
                want *= 2
            data = memoryview(mm)[pos - base : end]
            yield Chunk(path.name, line, data, base + end)
            line = 0
            pos = base + end


def _line_texts(data: bytes, rows: list[int]) -> list[str]:
    """Raw text of the given 0-based line indices of ``data``."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate([[0], ends + 1])
    out = []
    for r in rows:
        lo = int(starts[r])
        hi = int(ends[r]) if r < len(ends) else len(data)
        out.append(bytes(data[lo:hi]).rstrip(b"\r")[:MAX_EXAMPLE_CHARS].decode("utf-8", "replace"))
    return out


def prefetch_chunks(
    path: str | Path, chunk_bytes: int, mapped: bool = False
) -> Iterator[tuple[Chunk, int]]:
    """(chunk, raw bytes of earlier files) of every auth file, reading one chunk ahead.

    File reads and gzip release the GIL, so the next chunk loads while the caller
    parses. ``mapped``: plain files come as memory maps (:func:`iter_mapped`;
    ``Chunk.data`` is then a memoryview, not bytes).
    """
    done = 0
    for file in auth_files(path):
        plain = _is_plain(file)
        chunks = (
            iter_mapped(file, chunk_bytes) if mapped and plain else iter_chunks(file, chunk_bytes)
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(next, chunks, None)
            while True:
                chunk = future.result()
                if chunk is None:
                    break
                future = pool.submit(next, chunks, None)
                yield chunk, done
        done += file.stat().st_size
