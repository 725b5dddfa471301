"""The simulator's Windows form: attack-range style XmlWinEventLog files.

:mod:`~ingest.simulate.windows.mapping` maps the simulator's coded events to Security
events, :mod:`~ingest.simulate.windows.tradecraft` adds what each campaign hop leaves on
its target, :mod:`~ingest.simulate.windows.xml` renders XML, and
:mod:`~ingest.simulate.windows.writer` writes the files.
"""

from ingest.simulate.windows.writer import FILES, write_windows

__all__ = ["FILES", "write_windows"]
