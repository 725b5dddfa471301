"""Attack campaigns: a foothold workstation, stolen credentials, hops to new hosts.

A campaign starts on a regular user's home workstation (the foothold) during a
workday, after the benign prefix (``SimConfig.attack_start`` of the span).
Each hop is a network logon ``src -> dst`` made with the credential the
attacker holds: first the foothold user's, then an admin's or a service
account's harvested on a compromised host that such an account logged on to.
Without stealth, hops go every hour or two to hosts the credential never
touched, mostly over NTLM (PsExec / wmiexec). ``stealth`` is the probability
that a hop instead reuses an edge (and, when possible, the user) seen in
history, and it also stretches the gaps, keeps hops in business hours and
makes auth types follow the benign mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ingest.simulate.benign import network_access
from ingest.simulate.config import (
    A_KRB,
    A_NEG,
    A_NTLM,
    AUTH,
    DAY,
    HOUR,
    L_SVC,
    O_LOGON,
    SYSTEM_LOGON_ID,
    TECHNIQUES,
    EventBatch,
    SimConfig,
    batch,
    time_order,
)
from ingest.simulate.topology import ROLE_DC, ROLE_SERVER, Topology


@dataclass
class Hop:
    """One lateral-movement step (ids index the topology's host/account tables)."""

    time: int
    src: int
    dst: int
    user: int
    technique: str
    auth: int
    stealthy: bool
    known_edge: bool
    known_user_edge: bool


@dataclass
class Campaign:
    """Ground truth of one attack campaign."""

    id: int
    foothold_host: int
    foothold_user: int
    start: int
    stealth: float
    hops: list[Hop] = field(default_factory=list)

    @property
    def end(self) -> int:
        """Time of the last hop (the start when there is none)."""
        return self.hops[-1].time if self.hops else self.start

    def to_dict(self, topo: Topology) -> dict:
        """Names instead of ids, for ``campaigns.json``."""
        host, acct = topo.host_names, topo.account_names
        return {
            "id": self.id,
            "foothold_host": host[self.foothold_host],
            "foothold_user": acct[self.foothold_user],
            "start": self.start,
            "end": self.end,
            "stealth": self.stealth,
            "path": [host[self.foothold_host]] + [host[h.dst] for h in self.hops],
            "hops": [
                {
                    "time": h.time,
                    "user": acct[h.user],
                    "src_host": host[h.src],
                    "dst_host": host[h.dst],
                    "dst_role": topo.role_of(h.dst),
                    "technique": h.technique,
                    "auth_type": AUTH[h.auth],
                    "stealthy": h.stealthy,
                    "known_edge": h.known_edge,
                    "known_user_edge": h.known_user_edge,
                }
                for h in self.hops
            ],
        }


class _History:
    """Successful remote logons of the benign events, sorted by time."""

    def __init__(self, benign: list[EventBatch]) -> None:
        masks = [(b.ori == O_LOGON) & (b.sh != b.dh) & b.ok for b in benign]
        cols = {
            name: np.concatenate([getattr(b, name)[m] for b, m in zip(benign, masks, strict=True)])
            for name in ("t", "su", "sh", "dh")
        }
        order = time_order(np.clip(cols["t"], 0, None))
        self.t, self.su, self.sh, self.dh = (
            np.take(cols[k], order) for k in ("t", "su", "sh", "dh")
        )

    def before(self, t: int) -> slice:
        """Rows strictly before ``t``."""
        return slice(0, int(np.searchsorted(self.t, t, side="left")))


def _business_hours(t: int, rng: np.random.Generator) -> int:
    """``t`` if it falls on a weekday 08:00-18:00, else a time in the next such window."""
    day, sec = divmod(t, DAY)
    if day % 7 < 5 and 8 * HOUR <= sec < 18 * HOUR:
        return t
    if sec >= 18 * HOUR:
        day += 1
    while day % 7 >= 5:
        day += 1
    return int(day * DAY + rng.integers(8 * HOUR + 1800, 17 * HOUR))


def _start_time(cfg: SimConfig, k: int, rng: np.random.Generator) -> int:
    """Start of campaign ``k``: stratified over the attack range of the span, on a workday.

    The range is [attack_start, 0.85] of the span, shortened with stealth (slow
    campaigns need room); a start that would fall on a weekend moves to the next
    workday, or to the previous one when the next is too late.
    """
    lo = cfg.attack_start
    hi = max(lo + 0.05, 0.85 - 0.25 * cfg.stealth)
    frac = lo + (hi - lo) * (k + rng.random()) / max(cfg.campaigns, 1)
    t = int(frac * cfg.span)
    fwd = _business_hours(t, rng)
    if fwd < hi * cfg.span:
        return fwd
    day = t // DAY - 1
    while day % 7 >= 5:
        day -= 1
    back = int(day * DAY + rng.integers(9 * HOUR, 16 * HOUR))
    return back if back >= lo * cfg.span else t


def _alive(topo: Topology, hosts: np.ndarray, t: int) -> np.ndarray:
    return hosts[topo.host_online[hosts] <= t]


def _choose_dst(
    hist: _History,
    topo: Topology,
    rng: np.random.Generator,
    *,
    t: int,
    src: int,
    cred: int,
    owned: set[int],
    stealthy: bool,
) -> tuple[int, bool, bool] | None:
    """Pick a hop target: (dst, known_edge, known_user_edge), or None if nothing is left."""
    rows = hist.before(t)
    sh, su, dh = hist.sh[rows], hist.su[rows], hist.dh[rows]
    from_src = sh == src
    owned_arr = np.fromiter(owned, dtype=np.int64)
    if stealthy:
        for mask, with_user in ((from_src & (su == cred), True), (from_src, False)):
            cand = np.setdiff1d(np.unique(dh[mask]), owned_arr)
            if len(cand):
                return int(rng.choice(cand)), True, with_user
    touched = np.unique(dh[su == cred])
    known = np.unique(dh[from_src])
    pool = np.concatenate([topo.dcs, topo.servers, topo.workstations])
    pool = np.setdiff1d(_alive(topo, pool, t), np.concatenate([touched, known, owned_arr]))
    if not len(pool):
        return None
    role = topo.host_role[pool]
    w = np.where(role == ROLE_SERVER, 4.0, np.where(role == ROLE_DC, 1.0, 1.0 / 3))
    return int(rng.choice(pool, p=w / w.sum())), False, False


def _harvest(
    hist: _History, topo: Topology, rng: np.random.Generator, host: int, t: int
) -> int | None:
    """A credential cached on ``host`` before ``t``, or None.

    A privileged one (admin or service account, admins preferred) with probability
    0.8 when any logged on there; otherwise another user's with probability 0.5.
    """
    rows = hist.before(t)
    users = np.unique(hist.su[rows][hist.dh[rows] == host])
    users = users[users < topo.machine_base]
    is_admin = np.isin(users, topo.admins)
    priv = users[is_admin | np.isin(users, topo.svc_accounts)]
    if len(priv) and rng.random() < 0.8:
        w = np.where(np.isin(priv, topo.admins), 2.0, 1.0)
        return int(rng.choice(priv, p=w / w.sum()))
    others = np.setdiff1d(users, priv)
    if len(others) and rng.random() < 0.5:
        return int(rng.choice(others))
    return None


def build_campaigns(
    cfg: SimConfig, topo: Topology, benign: list[EventBatch], rng: np.random.Generator
) -> tuple[list[Campaign], list[EventBatch]]:
    """Draw ``cfg.campaigns`` campaigns on top of ``benign``; return them (numbered in
    order of start) and their events."""
    hist = _History(benign)
    regular = np.flatnonzero(~topo.human_admin)
    campaigns: list[Campaign] = []
    events: list[EventBatch] = []
    limit = cfg.span - HOUR
    for k in range(cfg.campaigns):
        start = _start_time(cfg, k, rng)
        users = regular[topo.human_start[regular] < start - DAY]
        u0 = int(rng.choice(users if len(users) else regular))
        camp = Campaign(k, int(topo.human_home[u0]), u0, start, cfg.stealth)
        owned, cur, cred, t = {camp.foothold_host}, camp.foothold_host, u0, start
        favourite = int(rng.choice(len(TECHNIQUES), p=[0.55, 0.45]))
        for i in range(int(rng.integers(3, 7))):
            nt = t + 120 + int(rng.exponential(1.5 * HOUR * (1 + 8 * cfg.stealth)))
            if rng.random() < cfg.stealth:
                nt = _business_hours(nt, rng)
            if nt >= limit:
                if camp.hops:
                    break
                nt = t + max((limit - t) // 2, 1)
            t = nt
            src = cur if i == 0 or rng.random() < 0.8 else int(rng.choice(sorted(owned)))
            stealthy = bool(rng.random() < cfg.stealth)
            pick = _choose_dst(
                hist, topo, rng, t=t, src=src, cred=cred, owned=owned, stealthy=stealthy
            )
            if pick is None:
                break
            dst, known_edge, known_user = pick
            if rng.random() < cfg.stealth:
                auth = A_NTLM if rng.random() < topo.host_ntlm[dst] else A_KRB
            else:
                auth = int(rng.choice([A_NTLM, A_KRB, A_NEG], p=[0.75, 0.2, 0.05]))
            # Operators mostly stick to one tool per campaign.
            tech = TECHNIQUES[favourite if rng.random() < 0.8 else 1 - favourite]
            camp.hops.append(Hop(t, src, dst, cred, tech, auth, stealthy, known_edge, known_user))
            owned.add(dst)
            cur = dst
            privileged = cred >= topo.n_humans or bool(topo.human_admin[cred])
            if not privileged:
                # Until it holds a privileged credential, the attacker keeps dumping.
                cred = _harvest(hist, topo, rng, dst, t) or cred
        campaigns.append(camp)
        events += _hop_events(topo, camp, rng)
    campaigns.sort(key=lambda c: c.start)
    for i, camp in enumerate(campaigns):
        camp.id = i
    return campaigns, events


def _hop_events(topo: Topology, camp: Campaign, rng: np.random.Generator) -> list[EventBatch]:
    """Auth events of each hop: TGS when Kerberos, the labelled logon, logoff, PsExec service."""
    if not camp.hops:
        return []
    arr = {
        name: np.array([getattr(h, name) for h in camp.hops], dtype=np.int64)
        for name in ("time", "src", "dst", "user", "auth")
    }
    out = network_access(
        rng, topo, arr["time"], arr["user"], arr["src"], arr["dst"], arr["auth"],
        fail_rate=0.0, tgs_rate=1.0, session=600.0,
    )  # fmt: skip
    ps = np.array([h.technique == "psexec" for h in camp.hops])
    dst = arr["dst"][ps]
    out.append(
        batch(arr["time"][ps] + 3, su=topo.machine_base + dst, du=topo.system_base + dst,
              sh=dst, dh=dst, at=A_NEG, lt=L_SVC, ori=O_LOGON, lid=SYSTEM_LOGON_ID)
    )  # fmt: skip
    return out
