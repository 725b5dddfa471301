"""The fast LANL kernel's word/vector primitives and its bit-mask line splitter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

import numba

from ingest.lanl import ingest_lanl
from ingest.lanl.fast.kernels.simd import eq_mask64, load_i64, low_bytes
from tests.builders import lanl_line
from tests.builders import write_lanl as write_lines
from tests.ingest.lanl.fast.test_driver import ODD_LINES, both, edges_frame


@numba.njit
def _masks(buf, value):
    out = np.empty(len(buf) - 63, np.uint64)
    for i in range(len(out)):
        out[i] = eq_mask64(buf, i, value)
    return out


@numba.njit
def _words(buf, n):
    out = np.empty(len(buf) - 7, np.int64)
    for i in range(len(out)):
        out[i] = low_bytes(load_i64(buf, i), n)
    return out


def test_eq_mask64_and_load_i64_match_numpy() -> None:
    rng = np.random.default_rng(7)
    buf = rng.choice(np.frombuffer(b",\n\rab0", np.uint8), size=300).astype(np.uint8)
    for value in (44, 10, 13):
        got = _masks(buf, np.int64(value))
        hits = buf == value
        want = [sum(1 << j for j in range(64) if hits[i + j]) for i in range(len(buf) - 63)]
        assert got.tolist() == want
    for n in (0, 1, 5, 8):
        got = _words(buf, n)
        want = [
            int.from_bytes(buf[i : i + min(n, 8)].tobytes().ljust(8, b"\0"), "little", signed=True)
            for i in range(len(buf) - 7)
        ]
        assert got.tolist() == want


def _block_lines() -> list[str]:
    """Valid lines of every length from 20 to about 200 bytes, odd lines among them."""
    lines = []
    for i in range(400):
        pad = "x" * (i % 170)
        if i % 3 == 0:
            line = lanl_line(20 + i, f"U{i % 5}{pad}@DOM1", f"C{i % 4}", f"C{i % 6}")
        elif i % 3 == 1:  # a long name in the middle: commas past byte 64 and 128
            line = lanl_line(20 + i, f"U{i % 5}@DOM1", f"C{pad[:40]}{i % 4}", "C1")
        else:
            line = lanl_line(20 + i, "U1@DOM1", "C2", "C3", auth_type=f"NTLM{pad[:60]}")
        lines.append(line)
        if i % 7 == 3:
            lines.append(ODD_LINES[(i // 7) % len(ODD_LINES)])
        if i % 11 == 5:
            lines.append(line + "\r")
    return lines


@pytest.mark.parametrize("chunk_bytes", [1000, 64 << 20])
def test_lines_across_vector_blocks_same_as_polars(tmp_path: Path, chunk_bytes: int) -> None:
    """Line and field ends on both sides of bytes 64 and 128 (the splitter's blocks)."""
    lines = _block_lines()
    lengths = {len(x) for x in lines}
    assert min(lengths) < 64 and any(64 <= n < 128 for n in lengths) and max(lengths) > 128
    auth = write_lines(tmp_path / "auth.txt", lines)
    _slow, fast = both(auth, tmp_path, window_seconds=3600, chunk_bytes=chunk_bytes)
    assert fast.events > 400 and fast.bad.count > 0
    assert edges_frame(tmp_path / "fast")["count"].sum() == fast.events


def test_no_trailing_newline_and_tail_lines(tmp_path: Path) -> None:
    """The last line has no newline; short tails after long runs take the byte loop."""
    lines = [lanl_line(i, "U1@DOM1", f"C{i % 9}", "C1") for i in range(50)]
    auth = tmp_path / "auth.txt"
    auth.write_text("\n".join(lines))  # no final newline
    _slow, fast = both(auth, tmp_path, window_seconds=60)
    assert fast.events == 50
    out = ingest_lanl(auth, tmp_path / "again", engine="fast", write_events=False)
    assert out.events == 50
