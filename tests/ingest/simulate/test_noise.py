"""Benign noise knobs of the simulator: each on by default, each off at 0."""

from __future__ import annotations

import polars as pl
import pytest

from ingest.simulate import SimConfig, simulate
from ingest.simulate.config import DAY, NOISE, SimConfigError

BASE = {"days": 8, "hosts": 90, "users": 70, "seed": 5, "campaigns": 0}


@pytest.fixture(scope="module")
def on():
    return simulate(SimConfig(**BASE))


@pytest.fixture(scope="module")
def off():
    return simulate(SimConfig(**BASE, **dict.fromkeys(NOISE, 0.0)))


def _logons(res, *, remote: bool = True) -> pl.DataFrame:
    ev = res.events.filter(pl.col("orientation") == "LogOn")
    return ev.filter(pl.col("src_host") != pl.col("dst_host")) if remote else ev


def test_every_noise_knob_is_on_by_default():
    cfg = SimConfig()
    assert all(getattr(cfg, name) == 1.0 for name in NOISE)
    with pytest.raises(SimConfigError, match="scanners"):
        SimConfig(scanners=-1)


def test_null_sessions(on, off):
    anon = _logons(on).filter(pl.col("src_user").str.starts_with("ANONYMOUS LOGON@"))
    topo = on.topology
    dcs = {topo.host_names[h] for h in topo.dcs}
    ws = {topo.host_names[h] for h in topo.workstations}
    assert anon.height > 200
    assert set(anon["auth_type"].unique()) == {"NTLM"}
    assert (anon["src_user"] == "ANONYMOUS LOGON@" + anon["dst_host"]).all()
    # File servers and DCs mostly, and now and then any host (never-seen pairs).
    assert anon["dst_host"].is_in(list(dcs)).any()
    assert anon["dst_host"].is_in(list(ws)).sum() >= 5
    assert anon.select("src_host", "dst_host").unique().height > 100
    assert off.events.filter(pl.col("src_user").str.starts_with("ANONYMOUS LOGON@")).is_empty()


def test_machine_accounts_to_themselves(on, off):
    def self_net(res):
        return _logons(res, remote=False).filter(
            pl.col("src_host") == pl.col("dst_host"),
            pl.col("logon_type") == "Network",
            pl.col("src_user") == pl.col("src_host") + "$@DOM1",
        )

    got = self_net(on)
    members = on.topology.n_hosts - len(on.topology.printers)
    assert got["src_host"].n_unique() >= 0.9 * members
    assert self_net(off).is_empty()


def test_service_accounts_scale_with_the_knob(on, off):
    many = simulate(SimConfig(**{**BASE, "service_accounts": 2.0}))
    n_on, n_many = len(on.topology.svc_accounts), len(many.topology.svc_accounts)
    assert n_on >= 3 and n_many >= 2 * n_on - 1
    batch = on.events.filter(pl.col("logon_type") == "Batch")
    svc = {on.topology.account_names[a] for a in on.topology.svc_accounts}
    assert batch["src_user"].is_in(list(svc)).sum() > 100
    assert len(off.topology.svc_accounts) == 0
    svc_off = {off.topology.account_names[off.topology.deploy_account]}
    assert set(off.events.filter(pl.col("logon_type") == "Batch")["src_user"]) <= svc_off


def test_scanner_sweeps_every_host_weekly_and_new_hosts_nightly(on, off):
    topo = on.topology
    (scanner,) = topo.scanners
    acct = topo.account_names[topo.scanner_account]
    scans = _logons(on).filter(pl.col("src_user") == acct)
    assert set(scans["src_host"]) == {topo.host_names[scanner]}
    sweep = scans.filter(pl.col("time").is_between(DAY + 22 * 3600, 2 * DAY + 2 * 3600))
    online = (topo.host_online <= DAY + 22 * 3600).sum() - 1
    assert sweep["dst_host"].n_unique() >= 0.97 * online
    assert (~scans["success"]).mean() > 0.02
    # A host that comes online mid-span is scanned within a day.
    late = [h for h in topo.new_servers if topo.host_online[h] < 6 * DAY]
    for h in late:
        first = scans.filter(pl.col("dst_host") == topo.host_names[h])["time"].min()
        assert first is not None and first - topo.host_online[h] <= DAY + 3600
    assert len(off.topology.scanners) == 0 and off.topology.scanner_account < 0


def test_backup_server_reaches_every_server_each_night(on, off):
    topo = on.topology
    acct = topo.account_names[topo.backup_account]
    night = _logons(on).filter(
        pl.col("src_user") == acct,
        pl.col("time").is_between(2 * DAY + 23 * 3600, 3 * DAY + 3 * 3600),
    )
    servers = [*topo.dcs, *topo.servers]
    online = {topo.host_names[h] for h in servers if topo.host_online[h] <= 2 * DAY + 23 * 3600}
    assert online <= set(night["dst_host"])
    assert set(night["src_host"]) == {topo.host_names[topo.backups[0]]}
    assert len(off.topology.backups) == 0


def test_printers_scan_to_a_file_server_and_users_print(on, off):
    topo = on.topology
    printers = {topo.host_names[h] for h in topo.printers}
    scans = _logons(on).filter(pl.col("src_host").is_in(list(printers)))
    assert scans.height > 8
    assert set(scans["src_user"]) == {topo.account_names[topo.scan_account]}
    assert set(scans["dst_host"]) == {topo.host_names[topo.servers[0]]}
    assert set(scans["auth_type"]) == {"NTLM"}
    prints = _logons(on).filter(pl.col("dst_host") == topo.host_names[topo.print_server])
    ws = {topo.host_names[h] for h in topo.workstations}
    assert prints.filter(pl.col("src_host").is_in(list(ws)))["src_host"].n_unique() >= 0.5 * len(ws)
    assert len(off.topology.printers) == 0 and off.topology.print_server < 0


def test_helpdesk_opens_remote_sessions_on_many_workstations(on, off):
    topo = on.topology
    assert len(topo.helpdesk) >= 1
    names = topo.account_names
    for u in topo.helpdesk:
        rows = _logons(on).filter(pl.col("src_user") == names[u])
        remote = rows.filter(pl.col("logon_type") == "RemoteInteractive")
        assert remote["dst_host"].n_unique() >= 10
        assert set(rows["src_host"]) <= {topo.host_names[topo.human_home[u]]}
    assert len(off.topology.helpdesk) == 0


def test_new_hires_toggle(on, off):
    assert len(on.topology.new_hires) >= 1
    assert len(off.topology.new_hires) == 0 and (off.topology.human_start == 0).all()


def test_moved_desks_change_workstation_for_good(on, off):
    topo = on.topology
    assert len(topo.movers) >= 1
    for u, new, t in zip(topo.movers, topo.move_home, topo.move_time, strict=True):
        inter = on.events.filter(
            pl.col("src_user") == topo.account_names[u],
            pl.col("logon_type") == "Interactive",
            pl.col("orientation") == "LogOn",
        )
        before = set(inter.filter(pl.col("time") < t)["dst_host"])
        after = set(inter.filter(pl.col("time") >= t)["dst_host"])
        assert topo.host_names[new] in after and topo.host_names[new] not in before
        assert topo.host_names[topo.human_home[u]] not in after
    assert len(off.topology.movers) == 0


def test_cli_sets_knobs_by_name(tmp_path):
    import json

    from typer.testing import CliRunner

    from service.cli import build_app

    args = ["simulate", "--out", str(tmp_path), "--days", "2", "--hosts", "40", "--users", "30"]
    runner = CliRunner()
    res = runner.invoke(
        build_app(), [*args, "--set", "scanners=0", "--set", "revisits=4", "--json"]
    )
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "campaigns.json").read_text())
    assert truth["config"]["scanners"] == 0.0 and truth["config"]["revisits"] == 4.0
    assert truth["novelty"]["infrastructure"]["scanners"] == []
    bad = runner.invoke(build_app(), [*args, "--set", "days=3"])
    assert bad.exit_code != 0 and "NAME=VALUE" in bad.output
