"""Attack campaigns: a foothold workstation, stolen credentials, hops to new hosts,
and the attacker coming back.

A campaign starts on a regular user's home workstation (the foothold) during a
workday, after the benign prefix (``SimConfig.attack_start`` of the span).
Each hop is a network logon ``src -> dst`` made with a credential the attacker
holds: first the foothold user's, then the ones it dumps on each compromised host
(up to ``stolen_accounts`` per host, admins' and service accounts' first). Hops start
from the foothold (``foothold_share``) or from the last compromised host, so one
foothold is used with many stolen accounts. Without stealth, hops go every hour or
two to hosts the credential never touched, mostly over NTLM (PsExec / wmiexec).
After this first burst the attacker goes quiet (``quiet_days``) and comes back in
sessions on later days, revisiting pairs it created (``revisits`` on average per
campaign), now and then going one host further.

``stealth`` is the probability that a hop instead reuses an edge (and, when possible,
the user) seen in history, or, holding an admin's credential, goes through the
admin's own workstation and follows the admin's usual paths from there; it also
stretches the gaps, keeps hops in business hours and makes auth types follow the
benign mix.
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
    revisit: bool = False


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
                    "revisit": h.revisit,
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
) -> tuple[int, int, bool, bool] | None:
    """Pick a hop: (src, dst, known_edge, known_user_edge), or None if nothing is left.

    A stealthy hop with an admin's credential goes to the admin's workstation first and
    from there follows the admin's usual paths (known pair, known account on it).
    """
    rows = hist.before(t)
    sh, su, dh = hist.sh[rows], hist.su[rows], hist.dh[rows]
    owned_arr = np.fromiter(owned, dtype=np.int64)
    if stealthy and cred < topo.n_humans and topo.human_admin[cred]:
        home = int(topo.home_at(np.array([cred]), np.array([t]))[0])
        if home not in owned and topo.host_online[home] <= t:
            known = bool(((sh == src) & (dh == home)).any())
            return (
                src,
                home,
                known,
                bool(known and ((sh == src) & (dh == home) & (su == cred)).any()),
            )
        cand = np.setdiff1d(np.unique(dh[(sh == home) & (su == cred)]), owned_arr)
        if len(cand):
            return home, int(rng.choice(cand)), True, True
    from_src = sh == src
    if stealthy:
        for mask, with_user in ((from_src & (su == cred), True), (from_src, False)):
            cand = np.setdiff1d(np.unique(dh[mask]), owned_arr)
            if len(cand):
                return src, int(rng.choice(cand)), True, with_user
    touched = np.unique(dh[su == cred])
    known = np.unique(dh[from_src])
    pool = np.concatenate([topo.dcs, topo.servers, topo.workstations])
    pool = np.setdiff1d(_alive(topo, pool, t), np.concatenate([touched, known, owned_arr]))
    if not len(pool):
        return None
    role = topo.host_role[pool]
    w = np.where(role == ROLE_SERVER, 4.0, np.where(role == ROLE_DC, 1.0, 1.0 / 3))
    return src, int(rng.choice(pool, p=w / w.sum())), False, False


def _privileged(topo: Topology, users: np.ndarray) -> np.ndarray:
    """Admins, service accounts and infrastructure accounts among ``users``."""
    special = np.concatenate([topo.svc_accounts, topo.infra_accounts()])
    return np.isin(users, topo.admins) | np.isin(users, special)


def _harvest(
    hist: _History, topo: Topology, rng: np.random.Generator, host: int, t: int, most: int
) -> list[int]:
    """Credentials cached on ``host`` before ``t`` that the attacker dumps (at most ``most``).

    Each privileged account (admin, service or infrastructure account; admins first) that
    logged on there is taken with probability 0.8, each other user's with probability 0.5.
    """
    rows = hist.before(t)
    users = np.unique(hist.su[rows][hist.dh[rows] == host])
    users = users[users < topo.machine_base]
    priv = _privileged(topo, users)
    admin = np.isin(users, topo.admins)
    order = np.lexsort((rng.random(len(users)), ~priv, ~admin))
    take = rng.random(len(users)) < np.where(priv, 0.8, 0.5)
    return [int(u) for u in users[order][take[order]]][:most]


def _pick_cred(held: list[int], topo: Topology, rng: np.random.Generator) -> int:
    """The newest admin credential held (70%), else the newest other privileged one (70%),
    else any credential held."""
    arr = np.array(held)
    for group in (np.isin(arr, topo.admins), _privileged(topo, arr)):
        if group.any() and rng.random() < 0.7:
            return int(arr[group][-1])
    return int(held[int(rng.integers(len(held)))])


def _auth_for(cfg: SimConfig, topo: Topology, dst: int, rng: np.random.Generator) -> int:
    if rng.random() < cfg.stealth:
        return A_NTLM if rng.random() < topo.host_ntlm[dst] else A_KRB
    return int(rng.choice([A_NTLM, A_KRB, A_NEG], p=[0.75, 0.2, 0.05]))


class _Attacker:
    """One campaign's attacker: what it owns and holds, and the hops it made."""

    def __init__(self, cfg: SimConfig, topo: Topology, hist: _History, camp: Campaign, rng):
        self.cfg, self.topo, self.hist, self.camp, self.rng = cfg, topo, hist, camp, rng
        self.owned = {camp.foothold_host}
        self.cur = camp.foothold_host
        self.held = [camp.foothold_user]
        # Operators mostly stick to one tool per campaign.
        self.favourite = int(rng.choice(len(TECHNIQUES), p=[0.55, 0.45]))

    def technique(self) -> str:
        f = self.favourite if self.rng.random() < 0.8 else 1 - self.favourite
        return TECHNIQUES[f]

    def new_hop(self, t: int, first: bool) -> bool:
        """Move to a new host at ``t``; False when no target is left."""
        rng, camp = self.rng, self.camp
        if first or rng.random() < self.cfg.foothold_share:
            src = camp.foothold_host
        else:
            src = self.cur if rng.random() < 0.8 else int(rng.choice(sorted(self.owned)))
        cred = self.held[0] if first else _pick_cred(self.held, self.topo, rng)
        stealthy = bool(rng.random() < self.cfg.stealth)
        pick = _choose_dst(
            self.hist, self.topo, rng, t=t, src=src, cred=cred, owned=self.owned,
            stealthy=stealthy,
        )  # fmt: skip
        if pick is None:
            return False
        src, dst, known_edge, known_user = pick
        auth = _auth_for(self.cfg, self.topo, dst, rng)
        camp.hops.append(
            Hop(t, src, dst, cred, self.technique(), auth, stealthy, known_edge, known_user)
        )
        self.owned.add(dst)
        self.cur = dst
        for u in _harvest(self.hist, self.topo, rng, dst, t, self.cfg.stolen_accounts):
            if u not in self.held:
                self.held.append(u)
        return True

    def revisit(self, t: int) -> None:
        """Come back at ``t`` over a pair created earlier, with any credential held."""
        rng = self.rng
        pairs = sorted({(h.src, h.dst) for h in self.camp.hops})
        src, dst = pairs[int(rng.integers(len(pairs)))]
        cred = _pick_cred(self.held, self.topo, rng)
        used = any(h.src == src and h.dst == dst and h.user == cred for h in self.camp.hops)
        auth = _auth_for(self.cfg, self.topo, dst, rng)
        self.camp.hops.append(
            Hop(t, src, dst, cred, self.technique(), auth, False, True, used, revisit=True)
        )


def _next_time(cfg: SimConfig, t: int, rng: np.random.Generator) -> int:
    nt = t + 120 + int(rng.exponential(1.5 * HOUR * (1 + 8 * cfg.stealth)))
    return _business_hours(nt, rng) if rng.random() < cfg.stealth else nt


def _comebacks(att: _Attacker, cfg: SimConfig, t: int, limit: int) -> None:
    """Quiet periods, then sessions revisiting created pairs (and now and then a new hop)."""
    rng = att.rng
    left = int(rng.poisson(cfg.revisits))
    while left > 0 and att.camp.hops:
        quiet = rng.exponential(cfg.quiet_days * DAY) if cfg.quiet_days > 0 else 0.0
        t = t + 2 * HOUR + int(quiet)
        if rng.random() < max(0.6, cfg.stealth):  # operators work office hours
            t = _business_hours(t, rng)
        n = min(left, 1 + int(rng.poisson(max(1.0, cfg.revisits / 4))))
        for _ in range(n):
            if t >= limit:
                return
            att.revisit(t)
            t += 60 + int(rng.exponential(900))
        left -= n
        if rng.random() < 0.3 and t < limit:
            att.new_hop(t, first=False)
            t += 60


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
        home = int(topo.home_at(np.array([u0]), np.array([start]))[0])
        camp = Campaign(k, home, u0, start, cfg.stealth)
        att = _Attacker(cfg, topo, hist, camp, rng)
        t = start
        for i in range(int(rng.integers(3, 7))):
            nt = _next_time(cfg, t, rng)
            if nt >= limit:
                if camp.hops:
                    break
                nt = t + max((limit - t) // 2, 1)
            t = nt
            if not att.new_hop(t, first=i == 0):
                break
        _comebacks(att, cfg, t, limit)
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
