"""Benign activity of the simulated enterprise, vectorised per behaviour.

Each function draws one behaviour for the whole span from the seeded generator
and returns :class:`~ingest.simulate.config.EventBatch` objects (no per-event Python
loops; loops run over a few hundred service accounts or weeks at most):

* :func:`user_activity` -- workday sessions: TGT, interactive logon, unlock,
  typos, AuthMap, accesses to usual servers (TGS + network logon + logoff).
* :func:`admin_activity` -- admins touching many servers at irregular times,
  and setting up new servers on the day they come online.
* :func:`machine_activity` -- machine accounts doing Kerberos TGT/TGS and
  network logons to DCs around the clock, SYSTEM service logons.
* :func:`service_activity` -- scheduled service accounts (Batch + network), with
  bursts of failures (expired password), and the weekly software deployment
  fanning out to every workstation.

The noise classes of real Windows networks (null sessions, machine accounts to
themselves, scanners, backups, printers, help desk) are in :mod:`ingest.simulate.noise`.
"""

from __future__ import annotations

import numpy as np

from ingest.simulate.config import (
    A_KRB,
    A_NEG,
    A_NTLM,
    A_UNK,
    DAY,
    HOUR,
    L_BATCH,
    L_INT,
    L_NET,
    L_RDP,
    L_SVC,
    L_UNK,
    L_UNLOCK,
    O_AUTHMAP,
    O_LOGOFF,
    O_LOGON,
    O_TGS,
    O_TGT,
    SYSTEM_LOGON_ID,
    WEEK,
    EventBatch,
    SimConfig,
    batch,
    choice_codes,
    logon_ids,
)
from ingest.simulate.topology import ROLE_DC, ROLE_PRINTER, ROLE_WS, Topology


def _weekend(days: np.ndarray) -> np.ndarray:
    """True for Saturday and Sunday (t=0 is a Monday)."""
    return (days % 7) >= 5


def network_access(
    rng: np.random.Generator,
    topo: Topology,
    t: np.ndarray,
    user: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    auth: np.ndarray,
    *,
    logon: int | np.ndarray = L_NET,
    fail_rate: float = 0.03,
    tgs_rate: float = 0.5,
    session: float = 240.0,
    forced_fail: np.ndarray | None = None,
) -> list[EventBatch]:
    """A remote logon ``src -> dst``: optional TGS to the DC, the logon, and a logoff.

    Failed logons (rate ``fail_rate``) get no logoff; Kerberos logons are
    preceded by a TGS request with probability ``tgs_rate`` (tickets are cached).
    ``forced_fail`` marks logons that fail regardless (an expired password).
    """
    n = len(t)
    ok = rng.random(n) >= fail_rate
    if forced_fail is not None:
        ok &= ~forced_fail
    tgs = (auth == A_KRB) & (rng.random(n) < tgs_rate)
    dc = topo.host_dc[src]
    off = t + 1 + rng.exponential(session, n).astype(np.int64)
    lid = logon_ids(rng, n)
    return [
        batch(t[tgs] - 1, su=user[tgs], sh=src[tgs], dh=dc[tgs], at=A_KRB, lt=L_UNK, ori=O_TGS),
        batch(t, su=user, sh=src, dh=dst, at=auth, lt=logon, ori=O_LOGON, ok=ok, lid=lid),
        batch(
            off[ok],
            su=user[ok],
            sh=dst[ok],
            dh=dst[ok],
            at=A_UNK,
            lt=logon[ok] if isinstance(logon, np.ndarray) else logon,
            ori=O_LOGOFF,
            lid=lid[ok],
        ),
    ]


def user_activity(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Workday sessions of every human user, including admins and new hires."""
    n_users, days = topo.n_humans, np.arange(cfg.days)
    weekend = _weekend(days)
    p = np.where(weekend, 0.05, 0.93)[None, :]
    p = np.where(topo.human_admin[:, None], np.where(weekend, 0.25, 0.97)[None, :], p)
    started = (days[None, :] + 1) * DAY > topo.human_start[:, None]
    uu, dd = np.nonzero((rng.random((n_users, cfg.days)) < p) & started)
    n = len(uu)
    wkend = weekend[dd]
    t0 = dd * DAY + np.clip(rng.normal(8.6, 0.9, n), 6.0, 12.0) * HOUR
    t0 = np.maximum(t0.astype(np.int64), topo.human_start[uu] + 30)
    dur = np.where(wkend, rng.normal(3.0, 1.0, n), rng.normal(8.5, 1.2, n))
    dur = (np.clip(dur, 0.5, 12.0) * HOUR).astype(np.int64)
    end = t0 + dur
    ws = topo.home_at(uu, t0)
    # Now and then a user works from another workstation (hot desk, meeting room).
    roam = np.flatnonzero(rng.random(n) < 0.02)
    other = rng.choice(topo.workstations, size=len(roam))
    ok_other = topo.host_online[other] <= t0[roam] - 60
    ws[roam[ok_other]] = other[ok_other]
    dc = topo.host_dc[ws]
    ia = choice_codes(rng, n, {A_NEG: 0.6, A_KRB: 0.4})
    typo = rng.random(n) < 0.06
    unlock = rng.random(n) < 0.5
    t_unlock = t0 + (rng.uniform(0.35, 0.6, n) * dur).astype(np.int64)
    amap = rng.random(n) < 0.02
    lid = logon_ids(rng, n)
    out = [
        batch(t0 - 2, su=uu, sh=ws, dh=dc, at=A_KRB, lt=L_UNK, ori=O_TGT),
        batch(t0[typo] - 17, su=uu[typo], sh=ws[typo], dh=dc[typo], at=A_KRB, lt=L_UNK,
              ori=O_TGT, ok=False),
        batch(t0, su=uu, sh=ws, dh=ws, at=ia, lt=L_INT, ori=O_LOGON, lid=lid),
        batch(t0[typo] - 15, su=uu[typo], sh=ws[typo], dh=ws[typo], at=ia[typo], lt=L_INT,
              ori=O_LOGON, ok=False, lid=0),
        batch(end, su=uu, sh=ws, dh=ws, at=A_UNK, lt=L_INT, ori=O_LOGOFF, lid=lid),
        batch(t_unlock[unlock], su=uu[unlock], sh=ws[unlock], dh=ws[unlock], at=A_NEG,
              lt=L_UNLOCK, ori=O_LOGON, lid=logon_ids(rng, int(unlock.sum()))),
        batch(t0[amap] + 5, su=uu[amap], sh=ws[amap], dh=ws[amap], at=A_UNK, lt=L_UNK,
              ori=O_AUTHMAP),
    ]  # fmt: skip

    # Accesses to usual servers (and now and then to an unusual one).
    k = rng.poisson(topo.human_rate[uu] * np.where(wkend, 0.35, 1.0))
    idx = np.repeat(np.arange(n), k)
    ua = uu[idx]
    ta = t0[idx] + (rng.random(len(idx)) * dur[idx]).astype(np.int64)
    j = (topo.usual_n[ua] * rng.random(len(idx)) ** 1.6).astype(np.int64)
    dst = topo.usual[ua, j]
    rare = rng.random(len(idx)) < 0.015
    dst[rare] = rng.choice(topo.servers, size=int(rare.sum()))
    keep = (dst >= 0) & (topo.host_online[np.maximum(dst, 0)] <= ta)
    ua, ta, dst, src = ua[keep], ta[keep], dst[keep], ws[idx][keep]
    auth = np.where(
        rng.random(len(ua)) < topo.host_ntlm[dst],
        A_NTLM,
        np.where(rng.random(len(ua)) < 0.85, A_KRB, A_NEG),
    )
    out += network_access(rng, topo, ta, ua, src, dst, auth)
    if topo.print_server >= 0 and cfg.printers > 0:
        out += _printing(cfg, topo, rng, uu, t0, dur, ws)
    return out


def _printing(
    cfg: SimConfig,
    topo: Topology,
    rng: np.random.Generator,
    uu: np.ndarray,
    t0: np.ndarray,
    dur: np.ndarray,
    ws: np.ndarray,
) -> list[EventBatch]:
    """Users print through the print server now and then (a third of their workdays):
    a Kerberos network logon from their workstation to it (a user's first print is a
    never-seen pair into a server that most workstations reach)."""
    k = rng.poisson(0.35 * min(cfg.printers, 3.0), size=len(uu))
    idx = np.repeat(np.arange(len(uu)), k)
    t = t0[idx] + (rng.random(len(idx)) * dur[idx]).astype(np.int64)
    keep = topo.host_online[topo.print_server] <= t
    idx, t = idx[keep], t[keep]
    dst = np.full(len(t), topo.print_server)
    auth = np.where(rng.random(len(t)) < 0.9, A_KRB, A_NEG)
    return network_access(rng, topo, t, uu[idx], ws[idx], dst, auth, fail_rate=0.01,
                          session=60.0)  # fmt: skip


def admin_activity(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Admins touching many servers (new ones too) at irregular times, RDP or network;
    15% of their logons are remote support on a workstation."""
    admins = topo.admins
    days = np.arange(cfg.days)
    lam = np.where(_weekend(days), 1.5, 6.0)[None, :] * cfg.activity
    k = rng.poisson(np.broadcast_to(lam, (len(admins), cfg.days)))
    aa, dd = np.nonzero(k)
    reps = k[aa, dd]
    who, day = np.repeat(admins[aa], reps), np.repeat(dd, reps)
    n = len(who)
    hour = np.where(rng.random(n) < 0.7, rng.uniform(8, 18, n), rng.uniform(0, 24, n))
    t = (day * DAY + hour * HOUR).astype(np.int64)
    targets = np.concatenate([topo.dcs, topo.servers])
    dst = rng.choice(targets, size=n)
    desk = rng.random(n) < 0.15  # remote support on a workstation
    dst[desk] = rng.choice(topo.workstations, size=int(desk.sum()))
    # Setting up each new server on the day it comes online.
    m = rng.integers(2, 6, size=len(topo.new_servers))
    setup_dst = np.repeat(topo.new_servers, m)
    setup_t = topo.host_online[setup_dst] + rng.integers(600, 6 * HOUR, size=len(setup_dst))
    who = np.concatenate([who, rng.choice(admins, size=len(setup_dst))])
    t = np.concatenate([t, setup_t])
    dst = np.concatenate([dst, setup_dst])
    keep = (topo.host_online[dst] <= t) & (t < cfg.span)
    who, t, dst = who[keep], t[keep], dst[keep]
    n = len(t)
    rdp = rng.random(n) < 0.3
    auth = np.where(
        rdp,
        choice_codes(rng, n, {A_KRB: 0.7, A_NEG: 0.3}),
        choice_codes(rng, n, {A_KRB: 0.6, A_NTLM: 0.25, A_NEG: 0.15}),
    )
    logon = np.where(rdp, L_RDP, L_NET).astype(np.int8)
    return network_access(
        rng, topo, t, who, topo.home_at(who, t), dst, auth, logon=logon, fail_rate=0.04,
        session=900.0,
    )  # fmt: skip


def hourly_draw(
    cfg: SimConfig, topo: Topology, rng: np.random.Generator, rate: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts per (host, hour) at ``rate`` (broadcast to [hosts, hours]) for hosts
    that are online -> (host id, time) of each event."""
    hours = np.arange(cfg.days * 24)
    alive = (hours[None, :] + 1) * HOUR > topo.host_online[:, None]
    k = rng.poisson(np.broadcast_to(rate, alive.shape)) * alive
    h, hr = np.nonzero(k)
    reps = k[h, hr]
    h, hr = np.repeat(h, reps), np.repeat(hr, reps)
    t = hr * HOUR + rng.integers(0, HOUR, size=len(h))
    t = np.maximum(t, topo.host_online[h] + 2)
    return h.astype(np.int32), t


def work_hours(cfg: SimConfig) -> np.ndarray:
    """Per hour of the span: true on weekdays 08:00-18:00."""
    hour = np.arange(cfg.days * 24)
    return (~_weekend(hour // 24)) & ((hour % 24) >= 8) & ((hour % 24) < 18)


def machine_activity(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Machine accounts: hourly Kerberos to DCs, TGTs, SYSTEM service logons (printers,
    not being domain members, have none)."""
    is_ws = topo.host_role == ROLE_WS
    member = (topo.host_role != ROLE_PRINTER)[:, None]
    base = (
        np.select([is_ws, topo.host_role == ROLE_DC], [1.0, 2.0], 2.5)[:, None]
        * np.where(work_hours(cfg), 1.6, 1.0)[None, :]
    )

    def draw(rate: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return hourly_draw(cfg, topo, rng, rate * member)

    out = []
    h, t = draw(base * cfg.activity)
    m = topo.machine_base + h
    out += network_access(rng, topo, t, m, h, topo.host_dc[h], np.full(len(h), A_KRB),
                          fail_rate=0.004, tgs_rate=1.0, session=3.0)  # fmt: skip
    h, t = draw(0.1)
    dcx = np.where(rng.random(len(h)) < 0.85, topo.host_dc[h], rng.choice(topo.dcs, len(h)))
    out.append(batch(t, su=topo.machine_base + h, sh=h, dh=dcx, at=A_KRB, lt=L_UNK, ori=O_TGT))
    h, t = draw(0.25)
    out.append(
        batch(t, su=topo.machine_base + h, du=topo.system_base + h, sh=h, dh=h, at=A_NEG,
              lt=L_SVC, ori=O_LOGON, lid=SYSTEM_LOGON_ID)
    )  # fmt: skip
    return out


def service_activity(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Scheduled service accounts around the clock, and the weekly software deployment."""
    out: list[EventBatch] = []
    span = cfg.span
    for i, acct in enumerate(topo.svc_accounts):
        src, period = int(topo.svc_src[i]), int(topo.svc_period[i])
        runs = np.arange(int(topo.svc_phase[i]), span, period)
        runs = runs + rng.integers(0, 60, size=len(runs))
        runs = runs[(runs >= topo.host_online[src]) & (runs < span - 60)]
        out.append(
            batch(runs, su=acct, sh=src, dh=src, at=A_NEG, lt=L_BATCH, ori=O_LOGON,
                  lid=logon_ids(rng, len(runs)))
        )  # fmt: skip
        tg = topo.svc_targets[i]
        t = (runs[:, None] + 1 + np.arange(len(tg))[None, :]).ravel()
        dst = np.broadcast_to(tg[None, :], (len(runs), len(tg))).ravel()
        keep = topo.host_online[dst] <= t
        t, dst = t[keep], dst[keep]
        auth = np.full(len(t), A_KRB if topo.svc_krb[i] else A_NTLM)
        expired = np.zeros(len(t), dtype=bool)
        if rng.random() < 0.3:  # expired password: a burst of failures
            w0 = int(rng.integers(0, span))
            expired = (t >= w0) & (t < w0 + int(rng.integers(2 * HOUR, 8 * HOUR)))
        acc = network_access(rng, topo, t, np.full(len(t), acct), np.full(len(t), src), dst,
                             auth, fail_rate=0.002, tgs_rate=0.3, session=20.0,
                             forced_fail=expired)  # fmt: skip
        out += acc
    out += deployment(cfg, topo, rng)
    if len(topo.svc_accounts):
        out += monitoring(cfg, topo, rng)
    return out


def deployment(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """Wednesday 01:00-04:00 each week: the deployment server logs on to every workstation."""
    out = []
    ws = topo.workstations
    for week in range(-(-cfg.days // 7)):
        base = week * WEEK + 2 * DAY + HOUR
        if base + 4 * HOUR >= cfg.span:
            continue
        tg = ws[topo.host_online[ws] <= base]
        t = base + rng.integers(0, 3 * HOUR, size=len(tg))
        src = np.full(len(tg), topo.deploy_host)
        out.append(
            batch([base - 30], su=topo.deploy_account, sh=topo.deploy_host, dh=topo.deploy_host,
                  at=A_NEG, lt=L_BATCH, ori=O_LOGON, lid=logon_ids(rng, 1))
        )  # fmt: skip
        auth = choice_codes(rng, len(tg), {A_KRB: 0.7, A_NTLM: 0.3})
        acct = np.full(len(tg), topo.deploy_account)
        out += network_access(rng, topo, t, acct, src, tg, auth, fail_rate=0.01, session=300.0)
    return out


def monitoring(cfg: SimConfig, topo: Topology, rng: np.random.Generator) -> list[EventBatch]:
    """The first service account also polls about 10% of workstations a day from its server
    (inventory / health checks), 07:00-19:00: benign server -> workstation logons."""
    acct, src = int(topo.svc_accounts[0]), int(topo.svc_src[0])
    days = np.arange(cfg.days)
    k = rng.poisson(0.1 * len(topo.workstations), size=cfg.days)
    day = np.repeat(days, k)
    t = day * DAY + rng.integers(7 * HOUR, 19 * HOUR, size=len(day))
    dst = rng.choice(topo.workstations, size=len(day))
    keep = (topo.host_online[dst] <= t) & (topo.host_online[src] <= t)
    t, dst = t[keep], dst[keep]
    n = len(t)
    auth = choice_codes(rng, n, {A_KRB: 0.8, A_NTLM: 0.2})
    return network_access(rng, topo, t, np.full(n, acct), np.full(n, src), dst, auth,
                          fail_rate=0.01, tgs_rate=0.3, session=30.0)  # fmt: skip
