"""The simulated enterprise: hosts with roles, users, service and machine accounts.

Everything is drawn once from the seeded generator, before any event. Hosts are
domain controllers, servers (shared ones such as mail/file, and per-department
ones), one software-deployment server, infrastructure servers (vulnerability
scanners, backup servers, the print server), network printers and workstations.
Users belong to a department, own a home workstation and use a small stable set
of servers. A few users are admins, a few help-desk staff; a few are new hires who
appear mid-span with fresh workstations, a few move desks mid-span; a few servers
come online mid-span.

Account ids index :attr:`Topology.account_names`, laid out in blocks: humans,
service accounts, the deployment account, the infrastructure accounts (scanner,
backup, scan-to-folder), then one machine account (``C12$@DOM1``), one
``SYSTEM@C12`` and one ``ANONYMOUS LOGON@C12`` per host.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ingest.simulate.config import DAY, HOUR, SimConfig

ROLE_DC, ROLE_SERVER, ROLE_WS, ROLE_DEPLOY, ROLE_SCANNER, ROLE_BACKUP, ROLE_PRINT, ROLE_PRINTER = (
    range(8)
)
ROLE_NAMES = (
    "dc",
    "server",
    "workstation",
    "deploy",
    "scanner",
    "backup",
    "print_server",
    "printer",
)
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
    helpdesk: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    movers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    move_home: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    move_time: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    scanners: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    backups: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    print_server: int = -1
    printers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    scanner_account: int = -1
    backup_account: int = -1
    scan_account: int = -1

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

    def infra_accounts(self) -> np.ndarray:
        """Ids of the infrastructure accounts (scanner, backup, scan-to-folder) in use."""
        ids = (self.scanner_account, self.backup_account, self.scan_account)
        return np.array([a for a in ids if a >= 0], dtype=np.int64)

    def home_at(self, users: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Each user's home workstation at time ``t`` (movers change desk at their move)."""
        home = self.human_home[users].astype(np.int64)
        if len(self.movers):
            idx = np.searchsorted(self.movers, users)
            idx = np.minimum(idx, len(self.movers) - 1)
            moved = (self.movers[idx] == users) & (t >= self.move_time[idx])
            home[moved] = self.move_home[idx[moved]]
        return home


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


def _count(rate: float, base: float, *, minimum: int = 1) -> int:
    """``round(base * rate)``, at least ``minimum`` when the knob is on, 0 when it is off."""
    return 0 if rate <= 0 else max(minimum, round(base * rate))


def build_topology(cfg: SimConfig, rng: np.random.Generator) -> Topology:
    """Draw the enterprise for ``cfg`` from ``rng`` (pure; deterministic by seed)."""
    n_hosts, n_users, span = cfg.hosts, cfg.users, cfg.span
    n_dc = int(np.clip(n_hosts // 250, 2, 8))
    n_srv = max(6, round(0.1 * n_hosts))
    n_scan, n_bak = round(cfg.scanners), round(cfg.backup)
    n_print = int(cfg.printers > 0)
    n_prn = _count(cfg.printers, 0.01 * n_hosts)
    n_ws = n_hosts - n_dc - n_srv - 1 - n_scan - n_bak - n_print - n_prn
    n_dept = int(np.clip(n_users // 60, 2, 12))

    host_names = _names(rng, n_hosts, "C")
    role = np.full(n_hosts, ROLE_WS, dtype=np.int8)
    dcs = np.arange(n_dc)
    servers = np.arange(n_dc, n_dc + n_srv)
    deploy_host = n_dc + n_srv
    nxt = deploy_host + 1
    scanners = np.arange(nxt, nxt + n_scan)
    backups = np.arange(nxt + n_scan, nxt + n_scan + n_bak)
    nxt += n_scan + n_bak
    print_server = nxt if n_print else -1
    printers = np.arange(nxt + n_print, nxt + n_print + n_prn)
    workstations = np.arange(nxt + n_print + n_prn, n_hosts)
    role[dcs], role[servers], role[deploy_host] = ROLE_DC, ROLE_SERVER, ROLE_DEPLOY
    role[scanners], role[backups], role[printers] = ROLE_SCANNER, ROLE_BACKUP, ROLE_PRINTER
    if print_server >= 0:
        role[print_server] = ROLE_PRINT

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

    # Humans: department, home workstation; new hires and desk movers get reserved
    # fresh workstations that come online shortly before they start using them.
    n_new = min(_count(cfg.new_hires, 0.02 * n_users), n_ws - 1, n_users - 2)
    n_move = min(_count(cfg.moved_desks, 0.01 * n_users), max(n_ws - n_new - 2, 0))
    n_move = min(n_move, n_users - n_new - 2)
    human_dept = rng.integers(n_dept, size=n_users).astype(np.int16)
    ws_perm = rng.permutation(workstations)
    fresh_ws, move_ws = ws_perm[:n_new], ws_perm[n_new : n_new + n_move]
    old_ws = ws_perm[n_new + n_move :]
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
    plain = regular[~admin[regular]]
    movers = np.sort(rng.choice(plain, size=min(n_move, len(plain)), replace=False))
    move_home = move_ws[np.argsort(rng.random(len(movers)))][: len(movers)].astype(np.int64)
    move_days = rng.integers(int(0.25 * cfg.days), max(int(0.7 * cfg.days), 1) + 1, len(movers))
    move_time = np.array([_weekday_start(int(d), cfg.days) for d in move_days], dtype=np.int64)
    online[move_home] = np.maximum(move_time - rng.integers(2 * HOUR, DAY, len(movers)), 0)
    dept[move_home] = human_dept[movers]
    n_help = _count(cfg.helpdesk, 0.01 * n_users)
    staff = np.setdiff1d(plain, movers)
    helpdesk = np.sort(rng.choice(staff, size=min(n_help, max(len(staff) - 1, 0)), replace=False))

    usual = _usual_servers(rng, servers[:n_shared], servers[n_shared:], dept, human_dept)

    # Service accounts run on servers on a schedule; one deploys software weekly.
    n_svc = _count(cfg.service_accounts, max(3, round(n_srv / 4)), minimum=0)
    targets_pool = np.concatenate([dcs, servers])
    svc_src = rng.choice(servers, size=n_svc)
    svc_targets = [
        rng.choice(targets_pool[targets_pool != s], size=int(rng.integers(1, 5)), replace=False)
        for s in svc_src
    ]
    svc_period = rng.choice(SVC_PERIODS, size=n_svc)
    svc_phase = (rng.random(n_svc) * svc_period).astype(np.int64)
    svc_krb = rng.random(n_svc) < 0.7

    # Infrastructure accounts: the scanners', the backup servers', the printers' scan-to-folder.
    infra = [n_scan > 0, n_bak > 0, n_prn > 0]
    n_named = n_users + n_svc + 1 + sum(infra)
    user_names = _names(rng, n_named, "U", f"@{cfg.domain}")
    svc_accounts = np.arange(n_users, n_users + n_svc)
    deploy_account = n_users + n_svc
    infra_ids, k = [], deploy_account + 1
    for on in infra:
        infra_ids.append(k if on else -1)
        k += on
    machine_base = n_named
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
        helpdesk=helpdesk.astype(np.int64),
        movers=movers.astype(np.int64),
        move_home=move_home,
        move_time=move_time,
        scanners=scanners,
        backups=backups,
        print_server=int(print_server),
        printers=printers,
        scanner_account=infra_ids[0],
        backup_account=infra_ids[1],
        scan_account=infra_ids[2],
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
