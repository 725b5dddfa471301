"""What the logs say about hosts, pairs and accounts: the alerting stage's own history.

Explanations shown to an analyst are facts about the logs ("first time C17 reached
C42", "7 accounts used from C17 in 2 hours"), and the known-benign classes are
recognised from the logs too (a source that reached hundreds of hosts, a null
session). :class:`LogContext` keeps the small history those facts need, advanced one
window at a time like a detector's (:meth:`LogContext.advance`), and it obeys the same
quarantine: a held pair is not "known" here either (its edges still count as activity
of the window, for "accounts used from C17 in 2 hours").

Everything is keyed by host and account names (strings) in plain dicts; a window costs
a few Polars aggregations and one pass over its distinct (account, source, destination)
rows.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from models.quarantine import Quarantine

#: Logon types that open a session on the destination host (a person at it).
SESSION_TYPES = ("Interactive", "RemoteInteractive", "Unlock", "CachedInteractive")
#: Ticket requests: their destination is a domain controller.
TICKETS = ("TGT", "TGS")
#: Distinct hosts asking a host for tickets before it is called a domain controller.
DC_MIN_CLIENTS = 5
#: Windows of recent activity kept (a day of 30-minute windows): accounts and new
#: destinations per source.
RECENT_WINDOWS = 48
#: How long a session on a host counts as "logged on there" (windows of 30 min: 12 h).
SESSION_WINDOWS = 24


def is_machine(account: str) -> bool:
    """``C12$@DOM1``-style machine accounts and the local ``SYSTEM``."""
    name = account.split("@")[0]
    return name.endswith("$") or name.upper() in ("SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE")


def is_anonymous(account: str) -> bool:
    """``ANONYMOUS LOGON`` null sessions."""
    return account.split("@")[0].upper() == "ANONYMOUS LOGON"


@dataclass
class PairStats:
    """History of one (source, destination) pair: windows seen, first and last."""

    windows: int
    first: int
    last: int


@dataclass
class WindowActivity:
    """One window's remote activity: per edge its accounts, per source its accounts and
    never-seen destinations (as of the history before the window)."""

    window: int
    edge_accounts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    src_accounts: dict[str, set[str]] = field(default_factory=dict)
    src_new: dict[str, set[str]] = field(default_factory=dict)


class LogContext:
    """The history of the logs that facts and benign classes are read from.

    Args:
        window_seconds: window size (for times in facts).
    """

    def __init__(self, window_seconds: int = 1800) -> None:
        self.window_seconds = int(window_seconds)
        self.pairs: dict[tuple[str, str], PairStats] = {}
        self.src_fanout: dict[str, int] = defaultdict(int)
        self.dst_fanin: dict[str, int] = defaultdict(int)
        self.src_windows: dict[str, int] = defaultdict(int)
        self.src_account_windows: dict[str, int] = defaultdict(int)
        self.account_src: dict[tuple[str, str], int] = {}
        self.account_dst: dict[tuple[str, str], int] = {}
        self.account_fanout: dict[str, int] = defaultdict(int)
        self.account_windows: dict[str, int] = defaultdict(int)
        self.sessions: dict[tuple[str, str], int] = {}
        self.ticket_clients: dict[str, set[str]] = defaultdict(set)
        self.dst_logons: dict[str, int] = defaultdict(int)
        self.dst_ntlm: dict[str, int] = defaultdict(int)
        self.host_first: dict[str, int] = {}
        self.account_first: dict[str, int] = {}
        self.recent: deque[WindowActivity] = deque(maxlen=RECENT_WINDOWS)
        self.recent_sessions: set[tuple[str, str]] = set()
        self.last_window: int | None = None

    # -- reading ------------------------------------------------------------------------
    def pair(self, src: str, dst: str) -> PairStats | None:
        """The pair's history, or None when ``src`` never reached ``dst`` (outside quarantine)."""
        return self.pairs.get((src, dst))

    def is_dc(self, host: str) -> bool:
        """Whether ``host`` hands out Kerberos tickets to several hosts (a domain controller)."""
        return len(self.ticket_clients.get(host, ())) >= DC_MIN_CLIENTS

    def ntlm_share(self, dst: str) -> float | None:
        """Share of the network logons to ``dst`` (from other hosts) that used NTLM so far."""
        n = self.dst_logons.get(dst, 0)
        return self.dst_ntlm.get(dst, 0) / n if n else None

    def usual_new_destinations(self, src: str) -> float:
        """Never-seen destinations ``src`` opened per active window so far."""
        n = self.src_windows.get(src, 0)
        return self.src_fanout.get(src, 0) / n if n else 0.0

    def usual_accounts(self, src: str) -> float:
        """Distinct accounts used from ``src`` (to other hosts) per active window so far."""
        n = self.src_windows.get(src, 0)
        return self.src_account_windows.get(src, 0) / n if n else 0.0

    def used_from(self, account: str, src: str) -> bool:
        """Whether ``account`` authenticated from ``src`` to another host before."""
        return (account, src) in self.account_src

    def usual_source(self, account: str, src: str) -> int:
        """Windows in which ``account`` authenticated from ``src`` to other hosts before."""
        return self.account_src.get((account, src), 0)

    def reached(self, account: str, dst: str) -> bool:
        """Whether ``account`` authenticated to ``dst`` (from another host) before."""
        return (account, dst) in self.account_dst

    def has_session(self, account: str, host: str, window: int) -> bool:
        """Whether ``account`` opened a session on ``host`` within the last 12 hours (this
        window's sessions included once :meth:`observe` saw it)."""
        if (account, host) in self.recent_sessions:
            return True
        last = self.sessions.get((account, host))
        return last is not None and window - last <= SESSION_WINDOWS

    def host_age(self, host: str, window: int) -> int | None:
        """Windows since ``host`` was first seen (None: never)."""
        first = self.host_first.get(host)
        return None if first is None else window - first

    def account_age(self, account: str, window: int) -> int | None:
        """Windows since ``account`` was first seen (None: never)."""
        first = self.account_first.get(account)
        return None if first is None else window - first

    def recent_accounts(self, src: str, windows: int = RECENT_WINDOWS) -> set[str]:
        """People's accounts (not machine or anonymous ones) used from ``src`` to other hosts
        in the last ``windows`` windows (this one included once :meth:`observe` saw it)."""
        out: set[str] = set()
        for act in list(self.recent)[-windows:]:
            out |= act.src_accounts.get(src, set())
        return {a for a in out if not is_machine(a) and not is_anonymous(a)}

    def windows_used_from(self, account: str, src: str, windows: int = RECENT_WINDOWS) -> int:
        """In how many of the last ``windows`` windows ``account`` authenticated from ``src``
        to another host (alerted occurrences included)."""
        return sum(account in act.src_accounts.get(src, ()) for act in list(self.recent)[-windows:])

    def recent_new_destinations(self, src: str, windows: int = 1) -> set[str]:
        """Never-seen destinations ``src`` opened in the last ``windows`` windows."""
        out: set[str] = set()
        for act in list(self.recent)[-windows:]:
            out |= act.src_new.get(src, set())
        return out

    # -- advancing -----------------------------------------------------------------------
    def observe(self, window: int, events: pl.DataFrame) -> WindowActivity:
        """Read one window's activity (before it is folded in): accounts per edge and per
        source, never-seen destinations per source. Pushes it onto the recent windows."""
        act = WindowActivity(int(window))
        self.recent_sessions = set(_session_rows(events))
        remote = _remote_rows(events)
        for (src, dst), accounts in remote.items():
            act.edge_accounts[(src, dst)] = sorted(accounts)
            act.src_accounts.setdefault(src, set()).update(accounts)
            if (src, dst) not in self.pairs:
                act.src_new.setdefault(src, set()).add(dst)
        self.recent.append(act)
        return act

    def advance(
        self, window: int, events: pl.DataFrame, quarantine: Quarantine | None = None
    ) -> None:
        """Fold one window's events in, without the pairs ``quarantine`` holds at it.

        Call :meth:`observe` first (the window's recent activity), then this.
        """
        window = int(window)
        if self.last_window is not None and window <= self.last_window:
            raise ValueError(f"log context is at window {self.last_window}; cannot fold {window}")
        held = quarantine.held(window) if quarantine is not None else frozenset()
        if not self.recent or self.recent[-1].window != window:
            self.observe(window, events)
        act = self.recent[-1]
        for host in _hosts(events):
            self.host_first.setdefault(host, window)
        for account in _accounts(events):
            self.account_first.setdefault(account, window)
        src_acc: dict[str, set[str]] = defaultdict(set)
        for (src, dst), accounts in act.edge_accounts.items():
            if (src, dst) in held:
                continue
            stats = self.pairs.get((src, dst))
            if stats is None:
                self.pairs[(src, dst)] = PairStats(1, window, window)
                self.src_fanout[src] += 1
                self.dst_fanin[dst] += 1
            else:
                stats.windows += 1
                stats.last = window
            for a in accounts:
                if (a, dst) not in self.account_dst:
                    self.account_fanout[a] += 1
                self.account_dst[(a, dst)] = window
            for a in accounts:
                src_acc[src].add(a)
        for src, accounts in src_acc.items():
            for a in accounts:
                self.account_src[(a, src)] = self.account_src.get((a, src), 0) + 1
            self.src_windows[src] += 1
            self.src_account_windows[src] += len(accounts)
            for a in accounts:
                self.account_windows[a] += 1
        for account, host in _session_rows(events):
            self.sessions[(account, host)] = window
        for client, dc in _ticket_rows(events):
            if client != dc:
                self.ticket_clients[dc].add(client)
        for dst, n, ntlm in _auth_rows(events, held):
            self.dst_logons[dst] += n
            self.dst_ntlm[dst] += ntlm
        self.last_window = window


def _remote_rows(events: pl.DataFrame) -> dict[tuple[str, str], set[str]]:
    if events.is_empty():
        return {}
    rows = (
        events.filter(
            (pl.col("src_host") != pl.col("dst_host"))
            & ~pl.col("orientation").is_in(TICKETS)
            & pl.col("src_host").is_not_null()
            & pl.col("dst_host").is_not_null()
        )
        .select("src_host", "dst_host", pl.col("src_user").fill_null("?"))
        .unique()
    )
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for src, dst, user in rows.iter_rows():
        out[(src, dst)].add(user)
    return out


def _session_rows(events: pl.DataFrame) -> Iterable[tuple[str, str]]:
    if events.is_empty():
        return []
    ok = pl.col("success").fill_null(True)
    return (
        events.filter(
            pl.col("logon_type").is_in(SESSION_TYPES) & (pl.col("orientation") == "LogOn") & ok
        )
        .select(pl.col("src_user").fill_null("?"), "dst_host")
        .unique()
        .iter_rows()
    )


def _ticket_rows(events: pl.DataFrame) -> Iterable[tuple[str, str]]:
    if events.is_empty():
        return []
    return (
        events.filter(pl.col("orientation").is_in(TICKETS))
        .select("src_host", "dst_host")
        .unique()
        .iter_rows()
    )


def _auth_rows(events: pl.DataFrame, held: frozenset[tuple[str, str]]) -> Iterable[tuple]:
    """(dst_host, network logons from other hosts, of them NTLM) of a window."""
    if events.is_empty():
        return []
    logons = events.filter(
        (pl.col("orientation") == "LogOn")
        & (pl.col("logon_type") == "Network")
        & (pl.col("src_host") != pl.col("dst_host"))
    )
    if held:
        pairs = pl.DataFrame(
            sorted(held), schema={"src_host": pl.String, "dst_host": pl.String}, orient="row"
        )
        logons = logons.join(pairs, on=["src_host", "dst_host"], how="anti")
    return (
        logons.group_by("dst_host").agg(pl.len(), (pl.col("auth_type") == "NTLM").sum()).iter_rows()
    )


def _hosts(events: pl.DataFrame) -> list[str]:
    if events.is_empty():
        return []
    both = pl.concat([events["src_host"], events["dst_host"]]).drop_nulls().unique()
    return both.to_list()


def _accounts(events: pl.DataFrame) -> list[str]:
    if events.is_empty():
        return []
    return events["src_user"].drop_nulls().unique().to_list()
