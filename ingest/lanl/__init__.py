"""LANL "Comprehensive, Multi-Source Cyber-Security Events" auth and red-team readers.

``auth.txt`` lines are ``time,src_user,dst_user,src_host,dst_host,auth_type,
logon_type,orientation,success``; ``redteam.txt`` lines are
``time,user,src_host,dst_host``. An auth source is a file (plain or ``.gz``) or a
folder of split files (read in natural name order).

- :mod:`ingest.lanl.files`: byte-level reading (files, chunks of whole lines, bad lines);
- :mod:`ingest.lanl.parse`: the Polars parse of a chunk into canonical events;
- :mod:`ingest.lanl.reader`: :func:`read_auth`, :func:`read_redteam` and
  :func:`ingest_lanl`, the whole source-to-data-directory pipeline;
- :mod:`ingest.lanl.fast`: the numba engine that ``ingest_lanl`` takes when it can.
"""

from ingest.lanl.files import BadLines, auth_files, natural_key
from ingest.lanl.parse import AUTH_FIELDS, parse_chunk
from ingest.lanl.reader import IngestResult, ingest_lanl, read_auth, read_redteam

__all__ = [
    "AUTH_FIELDS",
    "BadLines",
    "IngestResult",
    "auth_files",
    "ingest_lanl",
    "natural_key",
    "parse_chunk",
    "read_auth",
    "read_redteam",
]
