"""Seven days of the simulator's benign Windows logs raise no high or critical rule hit."""

from __future__ import annotations

from pathlib import Path

from detections.rules import load_rules, rule_view, run_rules
from ingest.simulate import SimConfig, simulate
from ingest.simulate.windows.writer import FILES, write_windows
from ingest.windows import read_windows


def test_a_benign_week_raises_no_high_or_critical_hit(tmp_path: Path) -> None:
    # campaigns=0: benign only, with the simulator's look-alikes (weekly software
    # deployment over ADMIN$ + a service, administrators' PsExec and remote WMI)
    write_windows(simulate(SimConfig(days=7, hosts=150, users=120, seed=3, campaigns=0)), tmp_path)
    data = read_windows([tmp_path / f for f in FILES])
    assert data.auth.height > 50_000 and data.process.height > 100
    hits = run_rules(load_rules(strict=True), rule_view(data.auth, data.process))
    fired = set(hits["rule_id"])
    # the look-alikes are seen (medium), so the test is not vacuous ...
    assert {"hw-psexec-service-install", "hw-admin-share-exe-write"} <= fired
    assert "hw-wmi-spawned-process" in fired
    # ... and nothing reaches high or critical
    loud = hits.filter(hits["severity"].is_in(["high", "critical"]))
    assert loud.height == 0, loud.group_by("rule_id").len()
