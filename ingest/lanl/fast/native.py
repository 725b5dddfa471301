"""The fast LANL kernels as callables: compiled at install time, or by numba's JIT.

:func:`load` returns the extension module that ``pip install`` built from
:mod:`ingest.lanl.fast.kernels` (:mod:`ingest.lanl.fast.kernels.aot`): importing it takes
a millisecond and needs no numba, so ``hopwatch ingest lanl`` starts reading its
input right after the interpreter and numpy are up. When the module is missing (an
install without a C compiler) or was built from other sources than the ones beside
it (a kernel edited after the install), the same functions are compiled by numba's
JIT instead, with numba's on-disk cache (``__pycache__`` beside the sources, or
numba's user cache folder when that is read-only, or ``NUMBA_CACHE_DIR``): once,
then loaded in about a second. Nothing here imports numba unless the JIT is used.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace

__all__ = ["EXTENSION", "KERNELS", "Kernels", "load", "main", "source_hash"]

#: The extension module :mod:`ingest.lanl.fast.kernels.aot` builds.
EXTENSION = "ingest.lanl.fast.kernels._native"
#: Kernel name -> the module of :mod:`ingest.lanl.fast.kernels` that defines it.
KERNELS: dict[str, str] = {
    "parse": "parse",
    "resolve_long": "parse",
    "aggregate": "aggregate",
    "intern_ids": "tables",
    "rehash_strings": "tables",
    "rehash_edges": "tables",
    "rehash_keys": "tables",
    "compact": "tables",
    "gather_columns": "tables",
    "dict_encode": "events",
    "dict_encode_pair": "events",
    "forget": "events",
    "remap": "events",
    "gather_strings": "events",
    "label_candidates": "events",
}

_HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


class Kernels(SimpleNamespace):
    """One attribute per kernel of :data:`KERNELS`, plus ``kind``: ``"aot"`` or ``"jit"``."""

    kind: str


def source_hash() -> int:
    """A 63-bit hash of the kernels' sources (``kernels/*.py`` and ``layout.py``)."""
    digest = hashlib.blake2b(digest_size=8)
    for path in [*sorted((_HERE / "kernels").glob("*.py")), _HERE / "layout.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return int.from_bytes(digest.digest(), "little") >> 1


def _aot() -> ModuleType | None:
    try:
        module = importlib.import_module(EXTENSION)
    except ImportError:
        log.warning(
            "the fast LANL kernels were not compiled at install time: numba compiles "
            "them now (once; later runs load numba's cache)"
        )
        return None
    if module.source_hash() != source_hash():
        log.warning(
            "the compiled LANL kernels are older than their sources: using numba's JIT "
            "(rebuild with `make kernels`)"
        )
        return None
    return module


@cache
def load(*, jit: bool = False) -> Kernels:
    """The kernels: the ahead-of-time module when it matches the sources, else numba's JIT.

    ``jit=True`` always takes the JIT (tests compare the two).
    """
    module = None if jit else _aot()
    if module is not None:
        return Kernels(kind="aot", **{name: getattr(module, name) for name in KERNELS})
    names = set(KERNELS.values())
    homes = {h: importlib.import_module(f"ingest.lanl.fast.kernels.{h}") for h in names}
    return Kernels(kind="jit", **{n: getattr(homes[h], n) for n, h in KERNELS.items()})


def main() -> int:
    """0 when the compiled kernels match their sources, else 1 (``make kernels`` then
    rebuilds them)."""
    try:
        module = importlib.import_module(EXTENSION)
    except ImportError:
        print("fast LANL kernels: not compiled")
        return 1
    if module.source_hash() != source_hash():
        print("fast LANL kernels: compiled from other sources")
        return 1
    print("fast LANL kernels: compiled, up to date")
    return 0
