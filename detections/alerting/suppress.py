"""Known-benign classes: what an analyst dismisses at once, recognised from the logs.

A suppressed alert is never dropped: it is stored with ``suppressed`` set and the
reason in words (``GET /alerts?suppressed=true``, the triage page's "suppressed"
filter), it does not count towards the alert queue, and its pair is not quarantined
(known-benign activity is allowed to become "known"). The classes:

* ``null_session`` -- every account on the edge is ``ANONYMOUS LOGON``;
* ``local`` -- source and destination are the same host (local logons, a machine
  account on its own host, service logons): no movement between hosts;
* ``machine_to_dc`` -- a host's own machine account talking to a domain controller;
* ``fan_out_source`` -- the source and its accounts reached a large share of the
  network before (vulnerability scanners, backup and deployment servers, monitoring);
* ``fan_out_account`` -- an account that reached many hosts before (help desk,
  admins) used from a host where it is logged on or that it usually works from;
* ``roaming`` -- every person on the edge is logged on at the source and used the
  destination before from another host (hot desks, moved desks);
* ``tickets`` -- the edge holds only Kerberos ticket requests to a domain controller
  (the logon they serve is judged on its own edge);
* ``routine`` -- every account on the edge authenticated from the source in at least 8
  of the last 48 windows, alerted occurrences included, and none is logged on there (a
  scheduled task, a service, not a person at work:
  an open alert whose pair turns out routine is reclassified, and its pair released);
* ``verdict`` -- an analyst called this pair, or this account from this source,
  ``false_positive`` (:class:`VerdictBook`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from detections.alerting.context import LogContext, is_anonymous, is_machine

#: A source (with its accounts) that reached at least this share of the hosts seen, or
#: this many hosts, is a fan-out server.
FAN_OUT_SHARE = 0.2
FAN_OUT_MIN = 50
#: An account that reached at least this many hosts before is a fan-out account.
ACCOUNT_FAN_OUT = 25
#: Windows an account authenticated from a host before that host is its usual source.
USUAL_SOURCE = 5
#: An account used from a host in this many of the last day's windows works from it routinely.
ROUTINE_WINDOWS = 8
#: Classes an open alert is reclassified into when later occurrences show them.
RECLASSIFY = ("routine",)


@dataclass(frozen=True)
class Suppression:
    """Why an alert is suppressed: the class and the reason in words."""

    kind: str
    reason: str


@dataclass
class VerdictBook:
    """Analysts' ``false_positive`` verdicts as patterns future alerts are checked against.

    Attributes:
        pairs: (src_host, dst_host) -> the alert that was judged.
        account_sources: (account, src_host) -> the alert that was judged.
    """

    pairs: dict[tuple[str, str], str] = field(default_factory=dict)
    account_sources: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, *, src: str, dst: str, accounts: Sequence[str], alert: str) -> None:
        """Record a ``false_positive`` verdict on an alert of ``src -> dst`` with ``accounts``."""
        self.pairs[(src, dst)] = alert
        for a in accounts:
            if a and not is_machine(a) and not is_anonymous(a):
                self.account_sources[(a, src)] = alert

    def remove(self, *, src: str, dst: str, accounts: Sequence[str]) -> None:
        """Forget the patterns of a verdict that was changed or cleared."""
        self.pairs.pop((src, dst), None)
        for a in accounts:
            self.account_sources.pop((a, src), None)

    def match(self, src: str, dst: str, accounts: Sequence[str]) -> Suppression | None:
        """The verdict this edge falls under, if any."""
        alert = self.pairs.get((src, dst))
        if alert is not None:
            return Suppression(
                "verdict", f"analyst verdict false_positive on alert {alert} ({src} -> {dst})"
            )
        people = [a for a in accounts if not is_machine(a) and not is_anonymous(a)]
        judged = [self.account_sources.get((a, src)) for a in people]
        if people and all(judged):
            return Suppression(
                "verdict",
                f"analyst verdict false_positive on alert {judged[0]} "
                f"({', '.join(people[:3])} from {src})",
            )
        return None


def known_benign(
    ctx: LogContext,
    *,
    window: int,
    src: str,
    dst: str,
    accounts: Sequence[str],
    verdicts: VerdictBook | None = None,
    tickets_only: bool = False,
) -> Suppression | None:
    """The known-benign class of an edge, from the history before ``window`` (and the
    recent windows' activity, this one included), or None. ``tickets_only``: the edge
    holds only Kerberos ticket requests."""
    if verdicts is not None:
        hit = verdicts.match(src, dst, accounts)
        if hit is not None:
            return hit
    if src == dst:
        return Suppression(
            "local", f"local activity on {src} (source and destination are the same)"
        )
    if accounts and all(is_anonymous(a) for a in accounts):
        return Suppression("null_session", f"ANONYMOUS LOGON null session from {src} to {dst}")
    if tickets_only and ctx.is_dc(dst):
        return Suppression(
            "tickets",
            f"only Kerberos ticket requests from {src} to domain controller {dst} (the logon "
            "they serve is judged on its own)",
        )
    people = [a for a in accounts if not is_machine(a) and not is_anonymous(a)]
    own = f"{src}$"
    if (
        not people
        and ctx.is_dc(dst)
        and any(a.split("@")[0].upper() == own.upper() for a in accounts)
    ):
        return Suppression("machine_to_dc", f"{src}'s machine account to domain controller {dst}")
    hosts = max(len(ctx.host_first), 1)
    fan = ctx.src_fanout.get(src, 0)
    if people and fan >= max(FAN_OUT_MIN, FAN_OUT_SHARE * hosts):
        wide = [a for a in people if ctx.account_fanout.get(a, 0) >= 0.5 * fan]
        if len(wide) == len(people):
            return Suppression(
                "fan_out_source",
                f"{src} reached {fan} hosts before with {', '.join(wide[:3])} "
                "(a scanner, backup, deployment or monitoring server)",
            )
    if people:
        reach = {a: ctx.account_fanout.get(a, 0) for a in people}
        home = {
            a: ctx.has_session(a, src, window) or ctx.usual_source(a, src) >= USUAL_SOURCE
            for a in people
        }
        if all(r >= ACCOUNT_FAN_OUT and home[a] for a, r in reach.items()):
            a = max(reach, key=reach.__getitem__)
            where = "is logged on at" if ctx.has_session(a, src, window) else "works from"
            return Suppression(
                "fan_out_account",
                f"{a} reached {reach[a]} hosts before and {where} {src} "
                "(help desk or administration)",
            )
        if all(ctx.has_session(a, src, window) and ctx.reached(a, dst) for a in people):
            return Suppression(
                "roaming",
                f"{', '.join(people[:3])} logged on at {src} and used {dst} before from "
                "another host (a hot desk or a moved desk)",
            )
    # Automation, not a person at work: nobody on the edge is logged on at the source.
    used = {a: ctx.windows_used_from(a, src) for a in accounts if not is_anonymous(a)}
    nobody = not any(ctx.has_session(a, src, window) for a in used)
    if used and nobody and all(n >= ROUTINE_WINDOWS for n in used.values()):
        a = min(used, key=used.__getitem__)
        return Suppression(
            "routine",
            f"{a} authenticated from {src} in {used[a]} of the last 48 windows (routine or "
            "scheduled use of this source: a task, a service)",
        )
    return None
