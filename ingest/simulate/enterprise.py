"""Enterprise simulator: a realistic authentication log with labelled attack campaigns.

``simulate(SimConfig(...))`` is pure and deterministic by seed: it draws an
enterprise (:mod:`ingest.simulate.topology`), its benign activity
(:mod:`ingest.simulate.benign`) and attack campaigns (:mod:`ingest.simulate.attacks`) as
integer-coded numpy arrays, sorts them by time and turns them into the
canonical auth-event frame (``source="sim"``). Writers put the result on disk
in LANL form (:func:`write_lanl`) or Windows form
(:func:`ingest.simulate.windows.writer.write_windows`). See ``docs/simulator.md``.

Example::

    from ingest.simulate.enterprise import SimConfig, simulate, write_lanl
    result = simulate(SimConfig(days=7, hosts=150, users=120, seed=1))
    write_lanl(result, "/tmp/sim")      # auth.txt, redteam.txt, campaigns.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ingest.lanl import AUTH_FIELDS
from ingest.schema import AUTH_SCHEMA
from ingest.simulate.attacks import Campaign, build_campaigns
from ingest.simulate.benign import admin_activity, machine_activity, service_activity, user_activity
from ingest.simulate.config import (
    AUTH,
    EPOCH,
    LOGON,
    ORIENT,
    EventBatch,
    SimConfig,
    concat,
    time_order,
)
from ingest.simulate.noise import noise_activity
from ingest.simulate.topology import ROLE_NAMES, Topology, build_topology

__all__ = ["SimResult", "simulate", "write_lanl"]

#: Columns of the red-team frame (LANL ``redteam.txt`` order).
REDTEAM_COLUMNS = ("time", "user", "src_host", "dst_host")

#: Columns of LANL ``auth.txt`` in file order (the reader's own list).
LANL_COLUMNS = AUTH_FIELDS


@dataclass
class SimResult:
    """Output of :func:`simulate`.

    Attributes:
        config: the settings used.
        topology: hosts, accounts and roles (ids index its name tables).
        events: canonical auth events (``ingest.schema.AUTH_SCHEMA``), sorted by time;
            ``record`` is the 1-based line number in ``auth.txt``.
        redteam: one row per campaign hop: time, user, src_host, dst_host.
        campaigns: ground truth per campaign (hop path, technique, user, start/end).
        codes: the integer-coded events in the same order as ``events``
            (used by the Windows writer).
    """

    config: SimConfig
    topology: Topology
    events: pl.DataFrame
    redteam: pl.DataFrame
    campaigns: list[Campaign]
    codes: EventBatch

    def truth(self) -> dict:
        """Ground truth as a JSON-able dict: settings, campaigns and benign novelty."""
        topo, cfg = self.topology, self.config
        host, acct = topo.host_names, topo.account_names
        return {
            "generator": "hopwatch simulate",
            "config": cfg.to_dict(),
            "time_origin": {"t0": EPOCH.isoformat().replace("+00:00", "Z"), "weekday": "Monday"},
            "span": [0, cfg.span],
            "counts": {
                "events": self.events.height,
                "redteam": self.redteam.height,
                "hosts": topo.n_hosts,
                "users": topo.n_humans,
            },
            "campaigns": [c.to_dict(topo) for c in self.campaigns],
            "roles": {
                name: [host[h] for h in np.flatnonzero(topo.host_role == code)]
                for code, name in enumerate(ROLE_NAMES)
                if name != "workstation"
            },
            "novelty": {
                "admins": [acct[a] for a in topo.admins],
                "new_hires": [
                    {
                        "user": acct[u],
                        "workstation": host[topo.human_home[u]],
                        "start": int(topo.human_start[u]),
                    }
                    for u in topo.new_hires
                ],
                "new_servers": [
                    {"host": host[h], "online": int(topo.host_online[h])} for h in topo.new_servers
                ],
                "deploy_server": host[topo.deploy_host],
                "monitoring": (
                    {"account": acct[topo.svc_accounts[0]], "server": host[topo.svc_src[0]]}
                    if len(topo.svc_accounts)
                    else None
                ),
                "deploy_account": acct[topo.deploy_account],
                "service_accounts": [acct[a] for a in topo.svc_accounts],
                "helpdesk": [acct[a] for a in topo.helpdesk],
                "moved_desks": [
                    {
                        "user": acct[u],
                        "from": host[topo.human_home[u]],
                        "to": host[h],
                        "time": int(t),
                    }
                    for u, h, t in zip(topo.movers, topo.move_home, topo.move_time, strict=True)
                ],
                "infrastructure": {
                    "scanners": [host[h] for h in topo.scanners],
                    "backup_servers": [host[h] for h in topo.backups],
                    "print_server": host[topo.print_server] if topo.print_server >= 0 else None,
                    "printers": [host[h] for h in topo.printers],
                    "scanner_account": _name(acct, topo.scanner_account),
                    "backup_account": _name(acct, topo.backup_account),
                    "scan_account": _name(acct, topo.scan_account),
                },
            },
        }


def _name(names: list[str], i: int) -> str | None:
    return names[i] if i >= 0 else None


def simulate(config: SimConfig) -> SimResult:
    """Generate the enterprise, its benign activity and attack campaigns (pure, by seed)."""
    rng = np.random.default_rng(config.seed)
    topo = build_topology(config, rng)
    parts = []
    for gen in (user_activity, admin_activity, machine_activity, service_activity, noise_activity):
        parts += gen(config, topo, rng)
    campaigns, attack = build_campaigns(config, topo, parts, rng)
    codes = concat(parts + attack)
    del parts
    inside = (codes.t >= 0) & (codes.t < config.span)
    if not inside.all():
        codes = codes.select(inside)
    codes = codes.select(time_order(codes.t))
    return SimResult(
        config=config,
        topology=topo,
        events=to_frame(codes, topo),
        redteam=_redteam(campaigns, topo),
        campaigns=campaigns,
        codes=codes,
    )


def to_frame(codes: EventBatch, topo: Topology) -> pl.DataFrame:
    """Integer-coded events -> canonical auth-event frame (``source="sim"``)."""
    accounts = pl.Series(topo.account_names, dtype=pl.String)
    hosts = pl.Series(topo.host_names, dtype=pl.String)

    def table(values: tuple[str, ...], idx: np.ndarray) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(idx)

    n = len(codes)
    frame = pl.DataFrame(
        {
            "time": codes.t,
            "src_user": accounts.gather(codes.su),
            "dst_user": accounts.gather(codes.du),
            "src_host": hosts.gather(codes.sh),
            "dst_host": hosts.gather(codes.dh),
            "auth_type": table(AUTH, codes.at),
            "logon_type": table(LOGON, codes.lt),
            "orientation": table(ORIENT, codes.ori),
            "success": codes.ok,
            "source": pl.repeat("sim", n, eager=True, dtype=pl.String),
            "event_code": pl.Series([None] * 0, dtype=pl.Int32).extend_constant(None, n),
            "logon_id": pl.Series([], dtype=pl.String).extend_constant(None, n),
            "src_ip": pl.Series([], dtype=pl.String).extend_constant(None, n),
            "record": np.arange(1, n + 1, dtype=np.int64),
        }
    )
    return frame.cast(dict(AUTH_SCHEMA))


def _redteam(campaigns: list[Campaign], topo: Topology) -> pl.DataFrame:
    rows = [
        (h.time, topo.account_names[h.user], topo.host_names[h.src], topo.host_names[h.dst])
        for c in campaigns
        for h in c.hops
    ]
    schema = {"time": pl.Int64, "user": pl.String, "src_host": pl.String, "dst_host": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("time", maintain_order=True)


def write_lanl(
    result: SimResult, out_dir: str | Path, *, absolute_time: bool = False
) -> dict[str, Path]:
    """Write ``auth.txt``, ``redteam.txt`` (LANL form, no header) and ``campaigns.json``.

    Times are seconds from the simulation's start, as in the LANL release, unless
    ``absolute_time``: then they are UNIX seconds, t=0 being :data:`EPOCH` (a Monday),
    so alerts carry real-looking dates (the demo uses this). ``campaigns.json`` keeps
    relative times and records the offset as ``time_origin.offset_seconds``.
    Returns the written paths by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "auth": out / "auth.txt",
        "redteam": out / "redteam.txt",
        "campaigns": out / "campaigns.json",
    }
    offset = int(EPOCH.timestamp()) if absolute_time else 0
    shift = pl.col("time") + offset
    success = pl.when(pl.col("success")).then(pl.lit("Success")).otherwise(pl.lit("Fail"))
    # Values come from fixed name tables without commas, quotes or newlines: no quoting.
    result.events.select(*LANL_COLUMNS[:-1], success.alias("success")).with_columns(
        shift
    ).write_csv(paths["auth"], include_header=False, quote_style="never")
    result.redteam.select(REDTEAM_COLUMNS).with_columns(shift).write_csv(
        paths["redteam"], include_header=False, quote_style="never"
    )
    truth = result.truth()
    truth["time_origin"]["offset_seconds"] = offset
    paths["campaigns"].write_text(json.dumps(truth, indent=1) + "\n")
    return paths
