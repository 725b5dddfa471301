"""The enterprise simulator: determinism, schema, labels, realism and benign novelty."""

from __future__ import annotations

import json
from itertools import pairwise

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ingest.schema import AUTH_SCHEMA, validate
from ingest.simulate import SimConfig, simulate, write_lanl
from ingest.simulate.config import DAY, HOUR, SimConfigError

SMALL = SimConfig(days=7, hosts=150, users=120, seed=1)


@pytest.fixture(scope="module")
def small():
    return simulate(SMALL)


@pytest.fixture(scope="module")
def stealthy():
    return simulate(SimConfig(days=14, hosts=150, users=120, seed=2, campaigns=4, stealth=1.0))


def _files(tmp, cfg):
    paths = write_lanl(simulate(cfg), tmp)
    return {k: p.read_bytes() for k, p in paths.items()}


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    cfg = SimConfig(days=3, hosts=60, users=40, seed=7, campaigns=1)
    a = _files(tmp_path / "a", cfg)
    b = _files(tmp_path / "b", cfg)
    c = _files(tmp_path / "c", SimConfig(days=3, hosts=60, users=40, seed=8, campaigns=1))
    assert a == b
    assert a["auth"] != c["auth"]
    assert a["auth"].count(b"\n") > 1000


def test_lanl_files_have_lanl_shape(small, tmp_path):
    paths = write_lanl(small, tmp_path)
    lines = paths["auth"].read_text().splitlines()
    assert len(lines) == small.events.height
    fields = lines[0].split(",")
    assert len(fields) == 9 and fields[0].isdigit() and fields[-1] in ("Success", "Fail")
    assert {ln.rsplit(",", 1)[1] for ln in lines} == {"Success", "Fail"}
    red = paths["redteam"].read_text().splitlines()
    assert len(red) == small.redteam.height > 0
    assert all(len(r.split(",")) == 4 and "@DOM1" in r.split(",")[1] for r in red)
    truth = json.loads(paths["campaigns"].read_text())
    assert truth["time_origin"]["weekday"] == "Monday"
    assert len(truth["campaigns"]) == SMALL.campaigns


def test_events_are_canonical_and_sorted(small):
    ev = small.events
    assert ev.schema == AUTH_SCHEMA
    assert validate(ev).bad_rows == 0
    assert ev["time"].is_sorted()
    assert ev["time"].min() >= 0 and ev["time"].max() < SMALL.span
    assert ev["source"].unique().to_list() == ["sim"]
    assert ev["record"].to_list()[:3] == [1, 2, 3]


def test_every_redteam_line_matches_an_auth_logon_with_user(small, stealthy):
    for res in (small, stealthy):
        red = res.redteam.rename({"user": "src_user"})
        hit = red.join(res.events, on=["time", "src_user", "src_host", "dst_host"], how="inner")
        assert hit.select("time", "src_host", "dst_host").unique().height == red.height
        logons = hit.filter(pl.col("orientation") == "LogOn", pl.col("logon_type") == "Network")
        assert logons.select("time", "src_host", "dst_host").unique().height == red.height


def test_campaigns_are_late_small_and_novel(small):
    span = SMALL.span
    assert all(c.hops for c in small.campaigns)
    assert min(c.start for c in small.campaigns) >= SMALL.attack_start * span
    ev = small.events
    remote = ev.filter(pl.col("src_host") != pl.col("dst_host"))
    window = (pl.col("time") // 1800).alias("window")
    n_edges = remote.select(window, "src_host", "dst_host").unique().height
    n_red = small.redteam.select(window, "src_host", "dst_host").unique().height
    assert n_red / n_edges < 0.002
    # Without stealth every first visit is a never-seen edge and a host new to the credential
    # (revisits come back over pairs the attacker created: tests/ingest/simulate/test_attacks.py).
    names, accts = small.topology.host_names, small.topology.account_names
    for camp in small.campaigns:
        # (Two campaigns may dump the same admin's credential and reach the same host.)
        others = {(h.user, h.dst) for c in small.campaigns if c is not camp for h in c.hops}
        for hop in (h for h in camp.hops if not h.revisit):
            before = remote.filter(pl.col("time") < hop.time)
            src, dst = names[hop.src], names[hop.dst]
            assert before.filter(pl.col("src_host") == src, pl.col("dst_host") == dst).is_empty()
            assert (hop.user, hop.dst) in others or before.filter(
                pl.col("src_user") == accts[hop.user],
                pl.col("dst_host") == dst,
                pl.col("orientation") == "LogOn",
                pl.col("success"),
            ).is_empty()
    # Stolen credentials: some hop uses another user than the foothold's.
    assert any(h.user != c.foothold_user for c in small.campaigns for h in c.hops)
    assert {h.technique for c in small.campaigns for h in c.hops} <= {"psexec", "wmiexec"}


def test_stealth_reuses_known_edges_in_business_hours(stealthy):
    hops = [h for c in stealthy.campaigns for h in c.hops]
    assert len(hops) >= 8
    remote = stealthy.events.filter(pl.col("src_host") != pl.col("dst_host"))
    names = stealthy.topology.host_names
    reused = in_hours = 0
    for h in hops:
        seen = remote.filter(
            pl.col("time") < h.time,
            pl.col("src_host") == names[h.src],
            pl.col("dst_host") == names[h.dst],
        )
        reused += not seen.is_empty()
        day, sec = divmod(h.time, DAY)
        in_hours += day % 7 < 5 and 8 * HOUR <= sec < 18 * HOUR
    assert reused / len(hops) >= 0.5
    assert in_hours / len(hops) >= 0.8
    gaps = [b.time - a.time for c in stealthy.campaigns for a, b in pairwise(c.hops)]
    assert sum(gaps) / len(gaps) > 4 * HOUR


def test_diurnal_and_weekly_cycles(small):
    inter = small.events.filter(
        pl.col("logon_type") == "Interactive", pl.col("orientation") == "LogOn"
    ).with_columns(
        hour=(pl.col("time") % DAY) // HOUR, weekday=(pl.col("time") // DAY) % 7
    )  # fmt: skip
    assert inter.filter(pl.col("hour").is_between(6, 12)).height / inter.height > 0.9
    per_day = inter.group_by("weekday").len()
    weekday = per_day.filter(pl.col("weekday") < 5)["len"].mean()
    weekend = per_day.filter(pl.col("weekday") >= 5)["len"].mean()
    assert weekday > 5 * weekend
    net = small.events.filter(
        pl.col("src_user").str.starts_with("U"), pl.col("logon_type") == "Network"
    )
    hours = net.with_columns(h=(pl.col("time") % DAY) // HOUR)["h"]
    assert ((hours >= 8) & (hours < 19)).mean() > 0.8


def test_machine_accounts_kerberos_to_dcs(small):
    dcs = set(small.topology.host_names[h] for h in small.topology.dcs)
    mach = small.events.filter(pl.col("src_user").str.contains(r"^C\d+\$@DOM1$"))
    assert set(mach["orientation"].unique()) >= {"TGT", "TGS", "LogOn", "LogOff"}
    tickets = mach.filter(pl.col("orientation").is_in(["TGT", "TGS"]))
    assert set(tickets["dst_host"].unique()) <= dcs
    assert set(tickets["auth_type"].unique()) == {"Kerberos"}
    # Every domain member's machine account shows up (network printers are not members).
    assert mach["src_host"].n_unique() == SMALL.hosts - len(small.topology.printers) > 0
    assert (mach["dst_user"].str.starts_with("SYSTEM@")).any()


def test_failures_and_value_mix(small):
    ev = small.events
    users = ev.filter(pl.col("src_user").str.contains(r"^U\d+@"), pl.col("orientation") == "LogOn")
    fail = 1 - users["success"].mean()
    assert 0.01 < fail < 0.1
    assert set(ev["auth_type"].unique()) >= {"Kerberos", "NTLM", "Negotiate", "?"}
    assert set(ev["orientation"].unique()) == {"LogOn", "LogOff", "TGS", "TGT", "AuthMap"}
    assert set(ev["logon_type"].unique()) >= {
        "Network", "Interactive", "RemoteInteractive", "Service", "Batch", "Unlock", "?"
    }  # fmt: skip
    # Every remote logon that succeeded is followed by a logoff on the destination.
    logon = ev.filter(
        pl.col("orientation") == "LogOn",
        pl.col("src_host") != pl.col("dst_host"),
        pl.col("success"),
    )
    logoff = ev.filter(pl.col("orientation") == "LogOff")
    assert logoff.height >= 0.9 * logon.height


def test_benign_novelty(small):
    topo, ev = small.topology, small.events
    names = topo.host_names
    # New hires: fresh workstation silent before it comes online, active after the start.
    for u in topo.new_hires:
        ws = names[topo.human_home[u]]
        on = ev.filter((pl.col("src_host") == ws) | (pl.col("dst_host") == ws))
        assert on["time"].min() >= topo.host_online[topo.human_home[u]]
        user = topo.account_names[u]
        assert ev.filter(pl.col("src_user") == user)["time"].min() >= topo.human_start[u]
    # New servers: no traffic before online, department users after.
    for h in topo.new_servers:
        to = ev.filter(pl.col("dst_host") == names[h])
        assert to["time"].min() >= topo.host_online[h]
    got = ev.filter(pl.col("dst_host").is_in([names[h] for h in topo.new_servers]))
    assert got.filter(pl.col("src_user").str.starts_with("U"))["src_user"].n_unique() >= 2
    # The deployment server reaches (nearly) every workstation.
    deploy = ev.filter(
        pl.col("src_host") == names[topo.deploy_host], pl.col("orientation") == "LogOn"
    )
    ws = {names[w] for w in topo.workstations}
    assert len(set(deploy["dst_host"]) & ws) >= 0.9 * len(ws)
    # Admins touch many more servers than regular users.
    remote = ev.filter(pl.col("src_host") != pl.col("dst_host"), pl.col("orientation") == "LogOn")
    per_user = remote.group_by("src_user").agg(pl.col("dst_host").n_unique().alias("n"))
    admins = {topo.account_names[a] for a in topo.admins}
    adm = per_user.filter(pl.col("src_user").is_in(admins))["n"].mean()
    reg = per_user.filter(
        pl.col("src_user").str.contains(r"^U\d+@"), ~pl.col("src_user").is_in(admins)
    )["n"].median()
    assert adm >= 3 * reg
    assert adm >= 0.6 * (len(topo.servers) + len(topo.dcs))


def test_bad_config_names_the_field():
    with pytest.raises(SimConfigError, match="stealth"):
        SimConfig(stealth=1.5)
    with pytest.raises(SimConfigError, match="hosts"):
        SimConfig(hosts=3)


def test_cli_writes_lanl_and_reports_json(tmp_path):
    from service.cli import build_app

    runner = CliRunner()
    args = ["simulate", "--out", str(tmp_path), "--days", "3", "--hosts", "60", "--users", "40"]
    res = runner.invoke(build_app(), [*args, "--campaigns", "1", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["events"] == len((tmp_path / "auth.txt").read_text().splitlines())
    assert summary["redteam"] == len((tmp_path / "redteam.txt").read_text().splitlines())
    bad = runner.invoke(build_app(), [*args, "--stealth", "2"])
    assert bad.exit_code != 0 and "stealth" in bad.output


@settings(max_examples=8, deadline=None)
@given(
    days=st.integers(1, 4),
    hosts=st.integers(20, 60),
    users=st.integers(5, 70),
    campaigns=st.integers(0, 3),
    stealth=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_invariants_hold_for_any_setting(days, hosts, users, campaigns, stealth, seed):
    cfg = SimConfig(
        days=days, hosts=hosts, users=users, campaigns=campaigns, stealth=stealth, seed=seed
    )
    res = simulate(cfg)
    ev = res.events
    assert ev["time"].is_sorted() and ev["time"].min() >= 0 and ev["time"].max() < cfg.span
    assert validate(ev).bad_rows == 0
    assert ev["src_host"].n_unique() <= hosts
    red = res.redteam.rename({"user": "src_user"})
    hit = red.join(
        ev.filter(pl.col("orientation") == "LogOn"),
        on=["time", "src_user", "src_host", "dst_host"],
        how="semi",
    )
    assert hit.height == red.height == sum(len(c.hops) for c in res.campaigns)
    for c in res.campaigns:
        assert c.start >= int(cfg.attack_start * cfg.span)
        assert all(a.time < b.time for a, b in pairwise(c.hops))
        assert all(h.src != h.dst for h in c.hops)


def test_absolute_time_shifts_every_time_by_the_epoch_and_keeps_labels(small, tmp_path):
    from ingest.lanl import ingest_lanl
    from ingest.simulate.config import EPOCH

    rel = write_lanl(small, tmp_path / "rel")
    ab = write_lanl(small, tmp_path / "abs", absolute_time=True)
    offset = int(EPOCH.timestamp())
    t_rel = [int(line.split(",", 1)[0]) for line in rel["auth"].read_text().splitlines()]
    t_abs = [int(line.split(",", 1)[0]) for line in ab["auth"].read_text().splitlines()]
    assert t_abs == [t + offset for t in t_rel]
    red_rel = rel["redteam"].read_text().splitlines()
    red_abs = ab["redteam"].read_text().splitlines()
    assert [int(r.split(",")[0]) - offset for r in red_abs] == [
        int(r.split(",")[0]) for r in red_rel
    ]
    assert json.loads(ab["campaigns"].read_text())["time_origin"]["offset_seconds"] == offset
    a = ingest_lanl(ab["auth"], tmp_path / "da", redteam=ab["redteam"]).summary()
    r = ingest_lanl(rel["auth"], tmp_path / "dr", redteam=rel["redteam"]).summary()
    for key in ("events", "edges", "labeled_events", "bad_lines"):
        assert a[key] == r[key], key
