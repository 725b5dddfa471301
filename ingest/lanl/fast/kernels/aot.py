"""Ahead-of-time compilation of the fast LANL kernels, at install time (numba's ``pycc``).

``pip install`` (``setup.py``) builds :data:`EXTENSION`, a CPython extension module
holding every kernel of :data:`EXPORTS` as native code, next to these sources.
:mod:`ingest.lanl.fast.native` loads it: a run never imports numba and never
compiles, so the first run of a fresh install is as fast as the next ones. The
kernels are the same Python functions numba's JIT compiles when the module is
missing (no C compiler at install time) or older than the sources.

Two settings differ from ``pycc``'s defaults: no numba runtime (the kernels allocate
nothing; it is what ``_nrt=False`` gives the JIT) and the GIL released around each
call, as ``nogil=True`` does for the JIT (``pycc`` has no option for it, so its
``Flags`` gain ``release_gil`` while the module is compiled): the parse threads of
:mod:`ingest.lanl.fast.engine` run in parallel only without the GIL.

Rebuild in place after editing a kernel: ``make kernels`` (``python -m
ingest.lanl.fast.kernels.aot``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from numba import types as nt
from numba.pycc import CC
from numba.pycc import compiler as pycc_compiler

from ingest.lanl.fast.kernels import aggregate, events, parse, tables
from ingest.lanl.fast.native import EXTENSION, source_hash

__all__ = ["EXPORTS", "build", "compiler", "extension"]


def _a(dtype: nt.Type, ndim: int = 1, *, readonly: bool = False, layout: str = "C") -> nt.Array:
    return nt.Array(dtype, ndim, layout, readonly=readonly)


_I64, _I32, _I16, _U8, _B = nt.int64, nt.int32, nt.int16, nt.uint8, nt.boolean
_BUF = _a(_U8, readonly=True)  # input bytes (np.frombuffer of bytes or a read-only map)
_V64, _V32, _T64 = _a(_I64), _a(_I32), _a(_I64, 2)
_STR = (_T64, _V64, _V64)  # a string table: rows, offsets, lengths
_NONE = nt.none

#: name -> (function, signature) of every kernel the Python stages call. The array
#: types are exactly those the stages pass (C-contiguous unless said otherwise).
EXPORTS = {
    "parse": (
        parse.parse,
        _I64(
            _BUF,
            _V64,
            _V64,
            _a(_U8),
            *_STR,
            *_STR,
            _T64,
            _a(_U8),
            _V64,
            _V32,
            _V32,
            _V32,
            _V32,
            _a(_I16),
            _V32,
            _V32,
            _V32,
            _V32,
            _V64,
            _V64,
            _T64,
            _a(_I64, 3),
        ),
    ),
    "resolve_long": (
        parse.resolve_long,
        _I64(_BUF, _T64, _V64, _a(_U8), *_STR, *_STR, *_STR, *([_V32] * 7)),
    ),
    "aggregate": (
        aggregate.aggregate,
        _I64(
            _V64,
            _V64,
            _V64,
            _V32,
            _V32,
            _V32,
            _a(_I16),
            _a(_U8),
            _V64,
            _T64,
            _a(_I32, 2),
            _V64,
            _V64,
            _V64,
            _T64,
        ),
    ),
    "intern_ids": (
        tables.intern_ids,
        _NONE(_a(_U8), _V64, _V64, _I64, _I64, *_STR, _a(_U8), _V64, _I64, _V64),
    ),
    "rehash_strings": (tables.rehash_strings, _NONE(_T64, _T64)),
    "rehash_edges": (tables.rehash_edges, _NONE(_V64, _T64, _I64)),
    "rehash_keys": (tables.rehash_keys, _I64(_V64, _V64)),
    "compact": (
        tables.compact,
        nt.UniTuple(_I64, 2)(_a(_B), _V64, _T64, _V64, _V64, _V64),
    ),
    "gather_columns": (
        tables.gather_columns,
        _NONE(_T64, _a(_I32, 2), _V64, _a(_I64, 2, layout="A")),
    ),
    "dict_encode": (events.dict_encode, _I64(_V32, _I64, _V64, _I64, _V64, _V32, _V64, _I64)),
    "dict_encode_pair": (
        events.dict_encode_pair,
        _I64(_V32, _V32, _I64, _V64, _I64, _V64, _V32, _V32, _V64, _I64),
    ),
    "forget": (events.forget, _NONE(_V64, _V64, _I64)),
    "remap": (events.remap, _NONE(_V32, _I64, _V64, _I64, _V32)),
    "gather_strings": (
        events.gather_strings,
        _I64(_V64, _I64, _V64, _V64, _a(_U8), _V32, _a(_U8)),
    ),
    "label_candidates": (events.label_candidates, _I64(_V64, _I64, _V64, _V64)),
}


@contextlib.contextmanager
def _release_gil() -> Iterator[None]:
    """``pycc`` wrappers that release the GIL around the call (see the module docstring)."""
    plain = pycc_compiler.Flags

    class Flags(plain):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.release_gil = True

    pycc_compiler.Flags = Flags
    try:
        yield
    finally:
        pycc_compiler.Flags = plain


class _Compiler(CC):
    """``pycc``'s compiler, generating the module's code with the GIL released in calls."""

    def _compile_object_files(self, build_dir: str) -> tuple[list[str], list[str]]:
        with _release_gil():
            return super()._compile_object_files(build_dir)


def _hash_function(value: int):
    def source_hash() -> int:
        return value

    return source_hash


def compiler() -> CC:
    """A ``pycc`` compiler of :data:`EXPORTS` plus ``source_hash()`` (the sources' hash,
    so :mod:`ingest.lanl.fast.native` can tell a module built from older sources)."""
    cc = _Compiler(EXTENSION.rpartition(".")[2], source_module=sys.modules[__name__])
    cc.use_nrt = False
    for name, (function, signature) in EXPORTS.items():
        cc.export(name, signature)(function.py_func)
    cc.export("source_hash", _I64())(_hash_function(source_hash()))
    return cc


def extension():
    """The setuptools extension of the kernels (optional: without a C compiler the
    install goes on and the kernels are JIT-compiled on first use)."""
    return compiler().distutils_extension(optional=True)


def build(output_dir: str | Path | None = None) -> Path:
    """Compile the extension module into ``output_dir`` (default: beside these sources)."""
    cc = compiler()
    if output_dir is not None:
        cc.output_dir = str(output_dir)
    cc.compile()
    return Path(cc.output_dir) / cc.output_file


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else None))
