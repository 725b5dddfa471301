"""Configuration, code tables and event batches shared by the simulator modules.

The simulator works on integer-coded numpy arrays (one :class:`EventBatch` per
behaviour) and turns them into strings only once, at the end. Times are integer
seconds from 0, where t=0 is a Monday 00:00 UTC (see ``docs/simulator.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

import numpy as np

from ingest.errors import HopwatchError

DAY = 86_400
HOUR = 3_600
WEEK = 7 * DAY

#: Wall-clock instant of t=0 when timestamps are written as dates (a Monday).
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)

#: Code tables: the value of a coded column is an index into these tuples.
AUTH = ("Kerberos", "NTLM", "Negotiate", "?", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0")
LOGON = ("Network", "Interactive", "RemoteInteractive", "Service", "Batch", "Unlock", "?")
ORIENT = ("LogOn", "LogOff", "TGS", "TGT", "AuthMap")

A_KRB, A_NTLM, A_NEG, A_UNK, A_MSV = range(5)
L_NET, L_INT, L_RDP, L_SVC, L_BATCH, L_UNLOCK, L_UNK = range(7)
O_LOGON, O_LOGOFF, O_TGS, O_TGT, O_AUTHMAP = range(5)

#: Hop techniques of attack campaigns.
TECHNIQUES = ("psexec", "wmiexec")


#: The benign-noise knobs of :class:`SimConfig` (multipliers; 0 turns one off).
NOISE = (
    "null_sessions",
    "machine_self",
    "service_accounts",
    "scanners",
    "backup",
    "printers",
    "helpdesk",
    "new_hires",
    "moved_desks",
)


class SimConfigError(HopwatchError, ValueError):
    """A simulator setting is out of range (the message names the field)."""


@dataclass(frozen=True)
class SimConfig:
    """Settings of one simulated enterprise.

    Attributes:
        days: length of the simulated span in days (t=0 is a Monday 00:00 UTC).
        hosts: number of hosts (domain controllers, servers, workstations).
        users: number of human user accounts (admins and new hires included).
        seed: seed of ``numpy.random.default_rng``; same seed -> identical output.
        campaigns: number of attack campaigns (0 for a purely benign span).
        stealth: in [0, 1]; probability that a hop reuses a known edge, and how
            much hops slow down, keep to business hours and mimic benign auth types.
        domain: NetBIOS domain of the accounts (``U12@DOM1``).
        activity: multiplier on per-user and per-host event rates.
        attack_start: earliest start of the first campaign as a fraction of the span.

    Attacker behaviour (see ``docs/simulator.md``, "Attack campaigns"):

    Attributes:
        revisits: mean number (Poisson) of later visits per campaign to pairs the attacker
            itself created, on later days (0: none).
        stolen_accounts: most credentials the attacker harvests on each compromised host
            and keeps; hops from the foothold cycle through them (1: one at a time, as
            before).
        foothold_share: probability that a hop after the first starts from the foothold
            rather than from the last compromised host.
        quiet_days: mean length in days (exponential) of the quiet periods between an
            attack's bursts of activity (its initial hops and each revisit session).

    Benign noise of real Windows networks, each a multiplier of a realistic default rate
    or count (1.0: on, 0: off; see ``docs/simulator.md``, "Benign noise"):

    Attributes:
        null_sessions: ``ANONYMOUS LOGON`` NTLM null sessions from workstations to file
            servers, DCs and now and then to any host.
        machine_self: machine accounts logging on over the network to their own host
            (``C12$@DOM1``, ``C12 -> C12``: group policy, loopback SMB).
        service_accounts: scheduled service accounts (count multiplier).
        scanners: vulnerability scanners (count) sweeping every host weekly and new hosts
            daily with a scan account.
        backup: backup servers (count) logging on to every server each night.
        printers: network printers (about 1% of hosts) sending scans to a file server
            with a scan-to-folder account, and a print server every user prints through.
        helpdesk: help-desk staff (about 1% of users) opening remote sessions on users'
            workstations during business hours.
        new_hires: new hires (about 2% of users) starting mid-span on fresh workstations.
        moved_desks: users (about 1%) moving for good to a fresh workstation mid-span.
    """

    days: int = 14
    hosts: int = 1000
    users: int = 800
    seed: int = 0
    campaigns: int = 3
    stealth: float = 0.0
    domain: str = "DOM1"
    activity: float = 1.0
    attack_start: float = 0.45
    revisits: float = 3.0
    stolen_accounts: int = 3
    foothold_share: float = 0.5
    quiet_days: float = 1.0
    null_sessions: float = 1.0
    machine_self: float = 1.0
    service_accounts: float = 1.0
    scanners: float = 1.0
    backup: float = 1.0
    printers: float = 1.0
    helpdesk: float = 1.0
    new_hires: float = 1.0
    moved_desks: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            ("days", 1 <= self.days <= 3650, "must be between 1 and 3650"),
            ("hosts", 20 <= self.hosts <= 2_000_000, "must be between 20 and 2000000"),
            ("users", 5 <= self.users <= 2_000_000, "must be between 5 and 2000000"),
            ("seed", self.seed >= 0, "must be >= 0"),
            ("campaigns", 0 <= self.campaigns <= 1000, "must be between 0 and 1000"),
            ("stealth", 0.0 <= self.stealth <= 1.0, "must be in [0, 1]"),
            ("activity", 0.0 < self.activity <= 100.0, "must be in (0, 100]"),
            ("attack_start", 0.4 <= self.attack_start < 0.95, "must be in [0.4, 0.95)"),
            ("domain", self.domain.isalnum(), "must be alphanumeric"),
            ("revisits", 0.0 <= self.revisits <= 100.0, "must be in [0, 100]"),
            ("stolen_accounts", 1 <= self.stolen_accounts <= 50, "must be between 1 and 50"),
            ("foothold_share", 0.0 <= self.foothold_share <= 1.0, "must be in [0, 1]"),
            ("quiet_days", 0.0 <= self.quiet_days <= 30.0, "must be in [0, 30]"),
        ]
        checks += [
            (name, 0.0 <= getattr(self, name) <= 10.0, "must be in [0, 10]") for name in NOISE
        ]
        for name, ok, why in checks:
            if not ok:
                raise SimConfigError(f"SimConfig.{name}={getattr(self, name)!r} {why}")

    @property
    def span(self) -> int:
        """Length of the simulated span in seconds."""
        return self.days * DAY

    def to_dict(self) -> dict:
        """Plain-dict form (for ``campaigns.json``)."""
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the settings."""
        return [f.name for f in fields(cls)]


COLUMNS = ("t", "su", "du", "sh", "dh", "at", "lt", "ori", "ok", "lid")


@dataclass
class EventBatch:
    """Integer-coded auth events: times, account ids, host ids and code-table indices.

    ``lid`` is a logon id linking a logon to its logoff (0 when not a session event).
    """

    t: np.ndarray
    su: np.ndarray
    du: np.ndarray
    sh: np.ndarray
    dh: np.ndarray
    at: np.ndarray
    lt: np.ndarray
    ori: np.ndarray
    ok: np.ndarray
    lid: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    def select(self, mask: np.ndarray) -> EventBatch:
        """The rows where ``mask`` is true, or the rows at the given indices."""
        if mask.dtype == np.bool_:
            return EventBatch(*(getattr(self, c)[mask] for c in COLUMNS))
        return EventBatch(*(np.take(getattr(self, c), mask) for c in COLUMNS))


_DTYPES = {
    "t": np.int64,
    "su": np.int32,
    "du": np.int32,
    "sh": np.int32,
    "dh": np.int32,
    "at": np.int8,
    "lt": np.int8,
    "ori": np.int8,
    "ok": np.bool_,
    "lid": np.int64,
}


def batch(t: np.ndarray, **cols: object) -> EventBatch:
    """Build a batch of ``len(t)`` events; scalar columns are broadcast.

    ``du`` defaults to ``su``, ``ok`` to true and ``lid`` to 0.
    """
    n = len(t)
    cols.setdefault("du", cols["su"])
    cols.setdefault("ok", True)
    cols.setdefault("lid", 0)
    out = {"t": np.asarray(t, dtype=np.int64)}
    for name in COLUMNS[1:]:
        value = np.asarray(cols[name], dtype=_DTYPES[name])
        out[name] = np.broadcast_to(value, (n,)).copy() if value.ndim == 0 else value
        if len(out[name]) != n:
            raise ValueError(f"column {name}: {len(out[name])} values for {n} events")
    return EventBatch(**out)


def concat(batches: list[EventBatch]) -> EventBatch:
    """Concatenate batches (an empty list gives an empty batch)."""
    if not batches:
        return batch(np.zeros(0, np.int64), su=0, dh=0, sh=0, at=0, lt=0, ori=0)
    return EventBatch(*(np.concatenate([getattr(b, c) for b in batches]) for c in COLUMNS))


def time_order(t: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative times below 2**32 (two 16-bit radix passes, O(n))."""
    if len(t) and (t.min() < 0 or t.max() >= 2**32):
        raise ValueError("times must be in [0, 2**32) seconds")
    low = np.argsort((t & 0xFFFF).astype(np.uint16), kind="stable")
    high = np.argsort(np.take(t >> 16, low).astype(np.uint16), kind="stable")
    return np.take(low, high)


#: Logon id of the SYSTEM session (0x3e7), used for service logons.
SYSTEM_LOGON_ID = 0x3E7


def logon_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random logon ids (as Windows prints them, 0x10000..0xffffffff)."""
    return rng.integers(0x10000, 2**32, size=n, dtype=np.int64)


def choice_codes(rng: np.random.Generator, n: int, probs: dict[int, float]) -> np.ndarray:
    """``n`` codes drawn from ``{code: probability}`` (probabilities are normalised)."""
    codes = np.fromiter(probs.keys(), dtype=np.int8)
    p = np.fromiter(probs.values(), dtype=float)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]
