"""Attacker knobs of the simulator: revisits, one foothold with many stolen accounts,
quiet periods, and the stealthy reuse of an admin's usual paths."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl
import pytest

from ingest.simulate import SimConfig, simulate
from ingest.simulate.config import DAY, HOUR

BASE = {"days": 14, "hosts": 120, "users": 90, "seed": 11, "campaigns": 4}


@pytest.fixture(scope="module")
def default():
    return simulate(SimConfig(**BASE))


@pytest.fixture(scope="module")
def heavy():
    return simulate(SimConfig(**BASE, revisits=10.0, stolen_accounts=5, foothold_share=1.0))


def test_revisits_come_back_over_created_pairs_on_later_days(default, heavy):
    for res in (default, heavy):
        for camp in res.campaigns:
            created: dict[tuple[int, int], int] = {}
            for hop in camp.hops:
                if hop.revisit:
                    first = created[(hop.src, hop.dst)]
                    assert hop.time - first >= 2 * HOUR
                    assert hop.known_edge
                else:
                    created.setdefault((hop.src, hop.dst), hop.time)
    n_default = sum(h.revisit for c in default.campaigns for h in c.hops)
    n_heavy = sum(h.revisit for c in heavy.campaigns for h in c.hops)
    assert n_default >= 4 and n_heavy >= 2.5 * n_default
    # Revisits are labelled red-team lines like every other hop.
    assert heavy.redteam.height == sum(len(c.hops) for c in heavy.campaigns)
    days = {h.time // DAY for c in heavy.campaigns for h in c.hops if h.revisit}
    assert len(days) >= 3
    none = simulate(SimConfig(**BASE, revisits=0.0))
    assert not any(h.revisit for c in none.campaigns for h in c.hops)


def test_one_foothold_is_used_with_many_stolen_accounts(heavy):
    one = simulate(SimConfig(**BASE, stolen_accounts=1, foothold_share=1.0, revisits=10.0))

    def accounts_from_foothold(res):
        return max(len({h.user for h in c.hops if h.src == c.foothold_host}) for c in res.campaigns)

    assert accounts_from_foothold(heavy) >= 4
    assert accounts_from_foothold(heavy) > accounts_from_foothold(one)
    for camp in heavy.campaigns:
        assert all(h.src == camp.foothold_host for h in camp.hops if not h.revisit)


def test_quiet_periods_separate_the_bursts(default):
    loud = simulate(SimConfig(**BASE, quiet_days=0.0))

    def longest_gaps(res):
        gaps = [[b.time - a.time for a, b in pairwise(c.hops)] for c in res.campaigns]
        return np.mean([max(g) for g in gaps if g])

    assert longest_gaps(default) > 12 * HOUR
    assert longest_gaps(default) > 2 * longest_gaps(loud)


def test_stealth_follows_an_admins_usual_paths_from_the_admins_workstation():
    res = simulate(SimConfig(**{**BASE, "seed": 3, "campaigns": 6}, stealth=1.0))
    topo = res.topology
    admins = set(topo.admins.tolist())
    via_admin = [
        h
        for c in res.campaigns
        for h in c.hops
        if h.user in admins
        and not h.revisit
        and h.src == topo.home_at(np.array([h.user]), np.array([h.time]))[0]
    ]
    assert via_admin, "no stealthy hop went through an admin's own workstation"
    remote = res.events.filter(
        pl.col("src_host") != pl.col("dst_host"), pl.col("orientation") == "LogOn"
    )
    for h in via_admin:
        seen = remote.filter(
            pl.col("time") < h.time,
            pl.col("src_host") == topo.host_names[h.src],
            pl.col("dst_host") == topo.host_names[h.dst],
            pl.col("src_user") == topo.account_names[h.user],
        )
        assert h.known_user_edge and seen.height >= 1
