"""The simulated enterprise: hosts with roles, users, service and machine accounts.

Everything is drawn once from the seeded generator, before any event. Hosts are
domain controllers, servers (shared ones such as mail/file, and per-department
ones), one software-deployment server and workstations. Users belong to a
department, own a home workstation and use a small stable set of servers. A few
users are admins; a few are new hires who appear mid-span with fresh
workstations; a few servers come online mid-span.

Account ids index :attr:`Topology.account_names`, laid out in blocks: humans,
service accounts, then one machine account (``C12$@DOM1``), one ``SYSTEM@C12``
and one ``ANONYMOUS LOGON@C12`` per host.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.simulate.config import DAY, HOUR, SimConfig

ROLE_DC, ROLE_SERVER, ROLE_WS, ROLE_DEPLOY = range(4)
ROLE_NAMES = ("dc", "server", "workstation", "deploy")
MAX_USUAL = 6
SVC_PERIODS = np.array([900, 1800, 3600, 4 * HOUR, 12 * HOUR, DAY])


@dataclass
class Topology:
    """Hosts, accounts and their relations (all arrays indexed by host or account id)."""

    host_names: list[str]
    host_role: np.ndarray
    host_dept: np.ndarray
    host_online: np.ndarray
    host_ntlm: np.ndarray
    host_dc: np.ndarray
    dcs: np.ndarray
    servers: np.ndarray
    workstations: np.ndarray
    deploy_host: int
    account_names: list[str]
    n_humans: int
    human_home: np.ndarray
    human_dept: np.ndarray
    human_start: np.ndarray
    human_admin: np.ndarray
    human_rate: np.ndarray
    usual: np.ndarray
    usual_n: np.ndarray
    svc_accounts: np.ndarray
    svc_src: np.ndarray
    svc_targets: list[np.ndarray]
    svc_period: np.ndarray
    svc_phase: np.ndarray
    svc_krb: np.ndarray
    deploy_account: int
    new_hires: np.ndarray
    new_servers: np.ndarray
    machine_base: int
    system_base: int
    anon_base: int

    @property
    def n_hosts(self) -> int:
        """Number of hosts."""
        return len(self.host_names)

    @property
    def admins(self) -> np.ndarray:
        """Account ids of the admins."""
        return np.flatnonzero(self.human_admin)

    def role_of(self, host: int) -> str:
        """Role name of a host id."""
        return ROLE_NAMES[int(self.host_role[host])]


def _names(rng: np.random.Generator, n: int, prefix: str, suffix: str = "") -> list[str]:
    """``n`` distinct LANL-style names (``C1234``) with shuffled numbers."""
    nums = rng.choice(np.arange(1, max(4 * n, 100)), size=n, replace=False)
    return [f"{prefix}{k}{suffix}" for k in nums]


def _weekday_start(day: int, days: int) -> int:
    """Seconds of 08:00 on ``day``, moved to a weekday inside the span (t=0 is a Monday)."""
    fwd = day
    while fwd % 7 >= 5:
        fwd += 1
    if fwd >= days - 1:
        fwd = day
        while fwd % 7 >= 5 and fwd > 0:
            fwd -= 1
    return fwd * DAY + 8 * HOUR


def build_topology(cfg: SimConfig, rng: np.random.Generator) -> Topology:
    """Draw the enterprise for ``cfg`` from ``rng`` (pure; deterministic by seed)."""
    n_hosts, n_users, span = cfg.hosts, cfg.users, cfg.span
    n_dc = int(np.clip(n_hosts // 250, 2, 8))
    n_srv = max(6, round(0.1 * n_hosts))
    n_ws = n_hosts - n_dc - n_srv - 1
    n_dept = int(np.clip(n_users // 60, 2, 12))

    host_names = _names(rng, n_hosts, "C")
    role = np.full(n_hosts, ROLE_WS, dtype=np.int8)
    dcs = np.arange(n_dc)
    servers = np.arange(n_dc, n_dc + n_srv)
    deploy_host = n_dc + n_srv
    workstations = np.arange(deploy_host + 1, n_hosts)
    role[dcs], role[servers], role[deploy_host] = ROLE_DC, ROLE_SERVER, ROLE_DEPLOY

    n_shared = max(2, n_srv // 5)
    dept = np.full(n_hosts, -1, dtype=np.int16)
    dept[servers[n_shared:]] = np.arange(n_srv - n_shared) % n_dept
    online = np.zeros(n_hosts, dtype=np.int64)
    n_new_srv = max(1, round(0.05 * n_srv))
    new_servers = np.sort(rng.choice(servers[n_shared:], size=n_new_srv, replace=False))
    online[new_servers] = (rng.uniform(0.2, 0.8, n_new_srv) * span).astype(np.int64)
    # Most servers speak Kerberos; a few legacy ones mostly NTLM.
    ntlm = np.where(rng.random(n_hosts) < 0.12, rng.uniform(0.5, 0.9, n_hosts), 0.04)
    host_dc = dcs[rng.integers(n_dc, size=n_hosts)]

    # Humans: department, home workstation, new hires on reserved fresh workstations.
    n_new = max(1, round(0.02 * n_users))
    n_new = min(n_new, n_ws - 1, n_users - 2)
    human_dept = rng.integers(n_dept, size=n_users).astype(np.int16)
    ws_perm = rng.permutation(workstations)
    fresh_ws, old_ws = ws_perm[:n_new], ws_perm[n_new:]
    new_hires = np.sort(rng.choice(n_users, size=n_new, replace=False))
    home = np.empty(n_users, dtype=np.int32)
    regular = np.setdiff1d(np.arange(n_users), new_hires)
    home[regular] = old_ws[np.arange(len(regular)) % len(old_ws)]
    home[new_hires] = fresh_ws
    start = np.zeros(n_users, dtype=np.int64)
    hire_days = rng.integers(int(0.2 * cfg.days), max(int(0.75 * cfg.days), 1) + 1, size=n_new)
    start[new_hires] = [_weekday_start(int(d), cfg.days) for d in hire_days]
    online[fresh_ws] = np.maximum(start[new_hires] - rng.integers(2 * HOUR, DAY, n_new), 0)
    dept[fresh_ws] = human_dept[new_hires]
    dept[old_ws[: len(regular)]] = human_dept[regular][: len(old_ws)]

    n_admin = max(2, round(0.012 * n_users))
    admin = np.zeros(n_users, dtype=bool)
    admin[rng.choice(regular, size=min(n_admin, len(regular)), replace=False)] = True
    rate = rng.lognormal(np.log(16.0 * cfg.activity), 0.6, n_users)

    usual = _usual_servers(rng, servers[:n_shared], servers[n_shared:], dept, human_dept)

    # Service accounts run on servers on a schedule; one deploys software weekly.
    n_svc = max(3, round(n_srv / 4))
    targets_pool = np.concatenate([dcs, servers])
    svc_src = rng.choice(servers, size=n_svc)
    svc_targets = [
        rng.choice(targets_pool[targets_pool != s], size=int(rng.integers(1, 5)), replace=False)
        for s in svc_src
    ]
    svc_period = rng.choice(SVC_PERIODS, size=n_svc)
    svc_phase = (rng.random(n_svc) * svc_period).astype(np.int64)
    svc_krb = rng.random(n_svc) < 0.7

    user_names = _names(rng, n_users + n_svc + 1, "U", f"@{cfg.domain}")
    svc_accounts = np.arange(n_users, n_users + n_svc)
    deploy_account = n_users + n_svc
    machine_base = n_users + n_svc + 1
    accounts = (
        user_names
        + [f"{h}$@{cfg.domain}" for h in host_names]
        + [f"SYSTEM@{h}" for h in host_names]
        + [f"ANONYMOUS LOGON@{h}" for h in host_names]
    )
    return Topology(
        host_names=host_names,
        host_role=role,
        host_dept=dept,
        host_online=online,
        host_ntlm=ntlm,
        host_dc=host_dc,
        dcs=dcs,
        servers=servers,
        workstations=workstations,
        deploy_host=deploy_host,
        account_names=accounts,
        n_humans=n_users,
        human_home=home,
        human_dept=human_dept,
        human_start=start,
        human_admin=admin,
        human_rate=rate,
        usual=usual[0],
        usual_n=usual[1],
        svc_accounts=svc_accounts,
        svc_src=svc_src,
        svc_targets=svc_targets,
        svc_period=svc_period,
        svc_phase=svc_phase,
        svc_krb=svc_krb,
        deploy_account=deploy_account,
        new_hires=new_hires,
        new_servers=new_servers,
        machine_base=machine_base,
        system_base=machine_base + n_hosts,
        anon_base=machine_base + 2 * n_hosts,
    )


def _pick_rows(rng: np.random.Generator, pool: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, ``k[i]`` distinct random items of ``pool`` (padded with -1), vectorised."""
    out = np.full((len(k), MAX_USUAL), -1, dtype=np.int64)
    if not len(pool) or not len(k):
        return out
    width = min(len(pool), MAX_USUAL)
    order = np.argsort(rng.random((len(k), len(pool))), axis=1)[:, :width]
    picked = pool[order]
    keep = np.arange(width)[None, :] < np.minimum(k, width)[:, None]
    out[:, :width] = np.where(keep, picked, -1)
    return out


def _usual_servers(
    rng: np.random.Generator,
    shared: np.ndarray,
    dept_servers: np.ndarray,
    host_dept: np.ndarray,
    human_dept: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per user, a padded row of usual server ids (random order) and its length.

    Each user gets 1-3 servers of their department and 1-2 shared servers.
    """
    n_users = len(human_dept)
    k_own = rng.integers(1, 4, size=n_users)
    k_shared = rng.integers(1, 3, size=n_users)
    rows = np.full((n_users, MAX_USUAL), -1, dtype=np.int64)
    for d in np.unique(human_dept):
        users = np.flatnonzero(human_dept == d)
        own = _pick_rows(rng, dept_servers[host_dept[dept_servers] == d], k_own[users])
        both = np.concatenate([own, _pick_rows(rng, shared, k_shared[users])], axis=1)
        rows[users] = _compact(rng, both)
    count = (rows >= 0).sum(axis=1).astype(np.int32)
    return rows.astype(np.int32), count


def _compact(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    """Shuffle the valid (>= 0) entries of each row to the front, keep MAX_USUAL columns."""
    key = np.where(rows >= 0, rng.random(rows.shape), 2.0)
    order = np.argsort(key, axis=1)[:, :MAX_USUAL]
    return np.take_along_axis(rows, order, axis=1)
