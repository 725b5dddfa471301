"""The fast LANL ingest: raw auth bytes to events and edge tables with compiled kernels.

:func:`ingest_lanl_fast` (in :mod:`~ingest.lanl.fast.driver`) runs the stages of
:mod:`~ingest.lanl.fast.engine`: per-thread parsing (:mod:`~ingest.lanl.fast.stage`),
the edge aggregate and the events writer (:mod:`~ingest.lanl.fast.events`), over the
kernels of :mod:`ingest.lanl.fast.kernels` as :mod:`~ingest.lanl.fast.native` loads
them (compiled at install time, else numba's JIT) with the shared numbers of
:mod:`~ingest.lanl.fast.layout`. Importing this package imports numpy only.
"""

from ingest.lanl.fast.driver import FastResult, ingest_lanl_fast
from ingest.lanl.fast.engine import UnsortedInput

__all__ = ["FastResult", "UnsortedInput", "ingest_lanl_fast"]
