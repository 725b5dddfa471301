"""Enterprise simulator: a realistic authentication log with labelled attack campaigns.

:mod:`~ingest.simulate.config` (knobs and code tables), :mod:`~ingest.simulate.topology`
(hosts, users, accounts), :mod:`~ingest.simulate.benign` (benign behaviours),
:mod:`~ingest.simulate.attacks` (campaigns), :mod:`~ingest.simulate.enterprise` (the whole
run and the LANL-format writer) and :mod:`ingest.simulate.windows` (the Windows form).
"""

from ingest.simulate.attacks import Campaign, Hop
from ingest.simulate.config import SimConfig, SimConfigError
from ingest.simulate.enterprise import SimResult, simulate, write_lanl

__all__ = ["Campaign", "Hop", "SimConfig", "SimConfigError", "SimResult", "simulate", "write_lanl"]
