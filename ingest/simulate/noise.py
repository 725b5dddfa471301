"""Benign noise that real Windows networks have, each behind a :class:`SimConfig` knob.

None of this is an attack, and all of it is what naive lateral-movement detectors
alert on: never-seen pairs, accounts reaching hundreds of hosts, machine accounts
on their own host. Each function draws one behaviour for the whole span
(vectorised; loops run over a few infrastructure hosts or weeks at most); a knob at
0 turns its behaviour off (see ``docs/simulator.md``, "Benign noise"):

* :func:`null_sessions` (``null_sessions``) -- ``ANONYMOUS LOGON`` NTLM network logons
  from workstations and servers to file servers and DCs, and now and then to any host.
* :func:`machine_self` (``machine_self``) -- a machine account logging on over the
  network to its own host (``C12$@DOM1``, ``C12 -> C12``).
* :func:`scanning` (``scanners``) -- each vulnerability scanner sweeps every host on
  Tuesday nights and new hosts (plus a few at random) every night.
* :func:`backups` (``backup``) -- each backup server logs on to every server and DC
  every night.
* :func:`printer_scans` (``printers``) -- network printers send scans to a file
  server with the shared scan-to-folder account (users' printing is in
  :func:`ingest.simulate.benign.user_activity`).
* :func:`helpdesk_sessions` (``helpdesk``) -- help-desk staff open remote sessions on
  users' workstations from their own during business hours.

New hires and moved desks are part of the topology (:mod:`ingest.simulate.topology`).
"""

from __future__ import annotations

import numpy as np

from ingest.simulate.benign import hourly_draw, network_access, work_hours
from ingest.simulate.config import (
    A_KRB,
    A_NEG,
    A_NTLM,
    DAY,
    HOUR,
    L_INT,
    L_NET,
    L_RDP,
    O_LOGON,
    WEEK,
    EventBatch,
    SimConfig,
    batch,
    choice_codes,
    logon_ids,
)
from ingest.simulate.topology import ROLE_DC, ROLE_PRINTER, ROLE_SERVER, ROLE_WS, Topology


def noise_activity(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Every noise behaviour whose knob is on."""
    out: list[EventBatch] = []
    if cfg.null_sessions > 0:
        out += null_sessions(cfg, topo, rng)
    if cfg.machine_self > 0:
        out += machine_self(cfg, topo, rng)
    if len(topo.scanners):
        out += scanning(cfg, topo, rng)
    if len(topo.backups):
        out += backups(cfg, topo, rng)
    if len(topo.printers):
        out += printer_scans(cfg, topo, rng)
    if len(topo.helpdesk):
        out += helpdesk_sessions(cfg, topo, rng)
    return out


def _online(topo: Topology, hosts: np.ndarray, t: np.ndarray) -> np.ndarray:
    return topo.host_online[hosts] <= t


def null_sessions(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """``ANONYMOUS LOGON@<dst>`` NTLM network logons: about 0.7 a day per workstation and
    0.5 per server; half to a shared (file) server, a quarter to the host's DC, a quarter
    to any host (browsing and enumeration: never-seen pairs)."""
    role = topo.host_role
    rate = np.select([role == ROLE_WS, role == ROLE_SERVER], [0.03, 0.02], 0.0)
    h, t = hourly_draw(cfg, topo, rng, cfg.null_sessions * rate[:, None])
    shared = topo.servers[topo.host_dept[topo.servers] == -1]
    anyhost = np.concatenate([topo.dcs, topo.servers, topo.workstations])
    pick = rng.random(len(h))
    dst = np.where(
        pick < 0.5,
        rng.choice(shared, size=len(h)),
        np.where(pick < 0.75, topo.host_dc[h], rng.choice(anyhost, size=len(h))),
    )
    keep = _online(topo, dst, t) & (dst != h)
    h, t, dst = h[keep], t[keep], dst[keep]
    return network_access(rng, topo, t, topo.anon_base + dst, h, dst, np.full(len(h), A_NTLM),
                          fail_rate=0.05, tgs_rate=0.0, session=2.0)  # fmt: skip


def machine_self(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Machine account network logons to its own host (group policy, loopback SMB), about
    0.3 an hour per domain member, Kerberos or Negotiate."""
    member = (topo.host_role != ROLE_PRINTER).astype(float)
    h, t = hourly_draw(cfg, topo, rng, 0.3 * cfg.machine_self * member[:, None])
    auth = choice_codes(rng, len(h), {A_KRB: 0.6, A_NEG: 0.4})
    return network_access(rng, topo, t, topo.machine_base + h, h, h, auth,
                          fail_rate=0.002, tgs_rate=0.0, session=5.0)  # fmt: skip


def scanning(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Vulnerability scanners with the scan account: every host each Tuesday 22:00-02:00,
    and every night 21:00-22:00 the hosts that came online in the last day plus 3% at
    random (credentialed checks). NTLM mostly, 8% failures (hosts that refuse it)."""
    acct = topo.scanner_account
    hosts = np.arange(topo.n_hosts)
    ts, ds, ss = [], [], []
    for scanner in topo.scanners:
        targets = hosts[hosts != scanner]
        for week in range(-(-cfg.days // 7)):
            base = week * WEEK + DAY + 22 * HOUR
            if base + 4 * HOUR < cfg.span:
                ts.append(base + rng.integers(0, 4 * HOUR, size=len(targets)))
                ds.append(targets)
                ss.append(np.full(len(targets), scanner))
        for day in range(cfg.days):
            base = day * DAY + 21 * HOUR
            fresh = (topo.host_online[targets] > base - DAY) & (topo.host_online[targets] <= base)
            spot = rng.random(len(targets)) < 0.03
            tg = targets[fresh | spot]
            ts.append(base + rng.integers(0, HOUR, size=len(tg)))
            ds.append(tg)
            ss.append(np.full(len(tg), scanner))
    if not ts:
        return []
    t, dst, src = np.concatenate(ts), np.concatenate(ds), np.concatenate(ss)
    keep = _online(topo, dst, t) & (t < cfg.span)
    t, dst, src = t[keep], dst[keep], src[keep]
    auth = choice_codes(rng, len(t), {A_NTLM: 0.8, A_KRB: 0.2})
    return network_access(rng, topo, t, np.full(len(t), acct), src, dst, auth,
                          fail_rate=0.08, tgs_rate=0.3, session=20.0)  # fmt: skip


def backups(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Backup servers with the backup account: every server and DC each night 23:00-03:00
    (Kerberos, half-hour sessions)."""
    role = topo.host_role
    targets = np.flatnonzero((role == ROLE_SERVER) | (role == ROLE_DC))
    ts, ds, ss = [], [], []
    for server in topo.backups:
        for day in range(cfg.days):
            base = day * DAY + 23 * HOUR
            ts.append(base + rng.integers(0, 4 * HOUR, size=len(targets)))
            ds.append(targets)
            ss.append(np.full(len(targets), server))
    t, dst, src = np.concatenate(ts), np.concatenate(ds), np.concatenate(ss)
    keep = _online(topo, dst, t) & (t < cfg.span)
    t, dst, src = t[keep], dst[keep], src[keep]
    auth = choice_codes(rng, len(t), {A_KRB: 0.9, A_NEG: 0.1})
    return network_access(rng, topo, t, np.full(len(t), topo.backup_account), src, dst, auth,
                          fail_rate=0.01, tgs_rate=0.5, session=1800.0)  # fmt: skip


def printer_scans(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Each network printer sends about three scans a workday to the first shared file
    server with the scan-to-folder account (NTLM: printers are not domain members)."""
    work = work_hours(cfg)
    rate = np.zeros((topo.n_hosts, len(work)))
    rate[topo.printers] = 0.3 * cfg.printers * work[None, :]
    h, t = hourly_draw(cfg, topo, rng, rate)
    dst = np.full(len(h), int(topo.servers[0]))
    keep = _online(topo, dst, t)
    h, t, dst = h[keep], t[keep], dst[keep]
    return network_access(rng, topo, t, np.full(len(h), topo.scan_account), h, dst,
                          np.full(len(h), A_NTLM), fail_rate=0.02, tgs_rate=0.0,
                          session=10.0)  # fmt: skip


def helpdesk_sessions(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Help-desk staff: about six remote sessions a workday each (08:30-17:30) from their own
    workstation to a random user's, half RDP (RemoteInteractive), half remote tools
    (network logons)."""
    staff = topo.helpdesk
    days = np.arange(cfg.days)
    lam = np.where((days % 7) < 5, 6.0 * cfg.helpdesk, 0.0)
    k = rng.poisson(np.broadcast_to(lam[None, :], (len(staff), cfg.days)))
    who = np.repeat(np.repeat(staff, cfg.days), k.ravel())
    day = np.repeat(np.tile(days, len(staff)), k.ravel())
    t = (day * DAY + rng.uniform(8.6, 17.5, len(day)) * HOUR).astype(np.int64)
    t = np.maximum(t, topo.human_start[who] + HOUR)
    dst = rng.choice(topo.workstations, size=len(t))
    src = topo.home_at(who, t)
    keep = _online(topo, dst, t) & _online(topo, src, t) & (dst != src) & (t < cfg.span)
    who, t, dst, src = who[keep], t[keep], dst[keep], src[keep]
    rdp = rng.random(len(t)) < 0.5
    auth = np.where(
        rdp,
        choice_codes(rng, len(t), {A_KRB: 0.7, A_NEG: 0.3}),
        choice_codes(rng, len(t), {A_KRB: 0.7, A_NTLM: 0.3}),
    )
    logon = np.where(rdp, L_RDP, L_NET).astype(np.int8)
    out = network_access(rng, topo, t, who, src, dst, auth, logon=logon, fail_rate=0.02,
                         session=1200.0)  # fmt: skip
    # Each working day starts with a console logon on their own workstation.
    w, d = np.unique(np.stack([who, t // DAY]), axis=1)
    start = (d * DAY + 8 * HOUR).astype(np.int64)
    home = topo.home_at(w, start)
    lid = logon_ids(rng, len(w))
    out.append(batch(start, su=w, sh=home, dh=home, at=A_KRB, lt=L_INT, ori=O_LOGON, lid=lid))
    return out
