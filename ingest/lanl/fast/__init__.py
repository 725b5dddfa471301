"""The fast LANL ingest: raw auth bytes to edge tables with numba kernels.

:func:`ingest_lanl_fast` (in :mod:`~ingest.lanl.fast.driver`) runs the stages of
:mod:`~ingest.lanl.fast.engine`: per-thread parsing (:mod:`~ingest.lanl.fast.stage`,
over :mod:`~ingest.lanl.fast.kernel`, :mod:`~ingest.lanl.fast.lines`,
:mod:`~ingest.lanl.fast.simd`) and the aggregate (:mod:`~ingest.lanl.fast.aggregate`)
into the hash tables of :mod:`~ingest.lanl.fast.tables`. Importing it imports numba.
"""

from ingest.lanl.fast.driver import FastResult, ingest_lanl_fast
from ingest.lanl.fast.engine import UnsortedInput

__all__ = ["FastResult", "UnsortedInput", "ingest_lanl_fast"]
