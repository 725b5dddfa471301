"""The numba kernels of the fast LANL ingest (importing a module here imports numba).

- :mod:`~ingest.lanl.fast.kernels.parse`: raw auth lines to per-event arrays (one
  thread per byte range), over :mod:`~ingest.lanl.fast.kernels.lines` (line splitting,
  field decoding) and :mod:`~ingest.lanl.fast.kernels.simd` (vector compares, word
  loads, prefetch);
- :mod:`~ingest.lanl.fast.kernels.aggregate`: per-event arrays to edge counter rows;
- :mod:`~ingest.lanl.fast.kernels.tables`: the hash tables (strings, edges, key sets);
- :mod:`~ingest.lanl.fast.kernels.events`: dictionary encoding of the events written;
- :mod:`~ingest.lanl.fast.kernels.aot`: the install-time compilation of all of them.

This package's face is empty on purpose: the stages reach the kernels through
:func:`ingest.lanl.fast.native.load`, compiled ahead of time or by the JIT.
"""
