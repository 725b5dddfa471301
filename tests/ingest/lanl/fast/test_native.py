"""The fast LANL kernels as a run gets them: compiled at install time, no numba, no Polars
before the input is read; numba's JIT when the compiled module is missing or stale."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from ingest.graphs.edges import AUTH_MIX, EDGE_FEATURES, LOGON_MIX, ORIENTATION_MIX
from ingest.lanl.fast import layout as L
from ingest.lanl.fast import native
from ingest.lanl.fast.engine import ACC_COLUMNS


def test_compiled_at_install_time() -> None:
    """``pip install`` (``make install``) built the kernels from these very sources."""
    assert native.main() == 0
    assert native.load().kind == "aot"


def test_a_run_starts_without_numba_or_polars() -> None:
    """What ``hopwatch ingest lanl`` imports before it reads the input: numpy, not numba
    (compiled kernels) and not Polars or pyarrow (loaded while the first chunk parses)."""
    code = (
        "import sys, service.cli.main, ingest.lanl, ingest.lanl.fast\n"
        "from ingest.lanl.fast.native import load\n"
        "assert load().kind == 'aot'\n"
        "print(sorted(m for m in ('numba', 'llvmlite', 'polars', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_stale_module_falls_back_to_the_jit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(native, "source_hash", lambda: -1)
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        assert native._aot() is None
    assert "older than their sources" in caplog.text
    assert native.main() == 1


def test_jit_and_compiled_kernels_agree() -> None:
    """The same source through numba's JIT gives what the compiled module gives."""
    jit, aot = native.load(jit=True), native.load()
    assert jit.kind == "jit" and set(vars(jit)) == set(vars(aot))
    ids = np.array([3, 7, 3, 9, 1, 7, 7], np.int32)
    gmap = np.array([10, 11, 12, 13, 14, 15, 16, 17, 18, 19], np.int64)
    results = []
    for kernels in (jit, aot):
        seen = np.full(32, -1, np.int64)
        out, used = np.empty(7, np.int32), np.empty(8, np.int64)
        m = kernels.dict_encode(ids, 7, gmap, 2, seen, out, used, 0)
        results.append((m, out.tolist(), used[:m].tolist()))
        kernels.forget(seen, used, m)
        assert (seen == -1).all()
    assert results[0] == results[1] == (4, [0, 1, 0, 2, 3, 1, 1], [11, 15, 17, 1])


def test_layout_matches_the_edge_table() -> None:
    """The kernels' vocabulary and counter columns are the edge table's, in its order."""
    assert L.WORDS[: L.N_AUTH] == tuple(AUTH_MIX.values())
    assert L.WORDS[L.LOGON_NAMED : L.LOGON_NAMED + L.N_LOGON] == tuple(LOGON_MIX.values())
    assert L.WORDS[L.ORIENT_LO : L.ORIENT_HI] == tuple(ORIENTATION_MIX.values())
    assert L.WORDS[L.SUCCESS_LO : L.SUCCESS_HI] == ("Success", "Fail")
    assert L.WORDS[L.AUTH_HI - 1] == L.WORDS[L.LOGON_LO] == "?"  # the shared value
    assert len(set(L.WORDS)) == len(L.WORDS)
    assert (*EDGE_FEATURES, "first_time", "last_time", "n_labeled") == ACC_COLUMNS
