"""Facts about the logs behind an alert, in analyst words, each with its weight.

Every line an analyst reads under an alert is a statement that can be checked in the
logs ("first time C17 reached C42", "7 accounts used from C17 in 2 hours (usual:
0.3)", "C42 is a domain controller"), never a model's internal value. A fact carries
a ``group`` (what part of the edge it is about: the pair, the accounts, the source,
the destination, the kind of logon, the time, a rule, the campaign) and a ``weight``:
the points it adds to the alert's score (negative: it speaks for benign activity).
The detectors' own evidence is spread over the facts of the groups their
explanations point at (:func:`attribute_rows`), so the shown contributions add up to
the score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from detections.alerting.context import LogContext, is_anonymous, is_machine

if TYPE_CHECKING:
    from models.quarantine import Quarantine

#: Windows (a day of 30-minute windows) a host or an account counts as new.
NEW_HOST_WINDOWS = 48
#: Groups of facts, and the detector explanation groups / features that point at each.
GROUPS = ("pair", "account", "source", "destination", "auth", "time", "rule", "campaign")
#: GNN occlusion groups (models.gnn.explain.GROUPS) -> fact group.
GNN_GROUPS = {
    "pair": "pair",
    "user": "account",
    "edge": "auth",
    "hist_src": "source",
    "h_src": "source",
    "hist_dst": "destination",
    "h_dst": "destination",
}
#: XGBoost feature-name prefixes (models.xgb.features.FEATURES) -> fact group.
XGB_PREFIXES = (
    ("pair_", "pair"),
    ("windows_since_pair", "pair"),
    ("user", "account"),
    ("n_users", "account"),
    ("src_", "source"),
    ("dst_", "destination"),
    ("hour", "time"),
    ("weekday", "time"),
)


@dataclass(frozen=True)
class Fact:
    """One checkable statement about the logs.

    Attributes:
        kind: what kind of fact (``first_contact``, ``stolen_account``, ...).
        group: one of :data:`GROUPS`.
        text: the sentence shown to the analyst.
        value: the number or name the sentence states.
        weight: points added to the alert's score (negative: towards benign).
    """

    kind: str
    group: str
    text: str
    value: float | str
    weight: float = 0.0

    def row(self) -> dict[str, Any]:
        """The explanation row stored with the alert (``feature``, ``value``,
        ``contribution``, ``text``, ``group``)."""
        return {
            "feature": self.kind,
            "value": self.value,
            "contribution": round(float(self.weight), 4),
            "text": self.text,
            "group": self.group,
        }


def when(seconds: int) -> str:
    """``2026-01-09 10:30 UTC``."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(windows: int, window_seconds: int) -> str:
    """A duration in words: ``45 minutes``, ``6 hours``, ``3 days``."""
    seconds = max(int(windows), 0) * window_seconds
    if seconds < 2 * 3600:
        return f"{max(seconds // 60, 1)} minutes"
    if seconds < 2 * 86_400:
        return f"{seconds // 3600} hours"
    return f"{seconds // 86_400} days"


def _people(accounts: Iterable[str]) -> list[str]:
    return [a for a in accounts if not is_machine(a) and not is_anonymous(a)]


def _names(accounts: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(accounts[:most])
    return shown + (f" and {len(accounts) - most} more" if len(accounts) > most else "")


def edge_facts(
    ctx: LogContext,
    *,
    window: int,
    time: int,
    src: str,
    dst: str,
    accounts: Sequence[str],
    ntlm: float,
    quarantine: Quarantine | None = None,
) -> list[Fact]:
    """The facts of one edge of ``window`` from the history before it (``ctx`` has
    :meth:`LogContext.observe`-d the window, not folded it)."""
    ws = ctx.window_seconds
    out: list[Fact] = []
    stats = ctx.pair(src, dst)
    held_since = quarantine.first_held((src, dst)) if quarantine is not None else None
    if stats is not None:
        weight = -1.5 if stats.windows >= 3 else -0.5
        ago = span(window - stats.last, ws)
        out.append(
            Fact(
                "known_pair",
                "pair",
                f"{src} reached {dst} in {stats.windows} earlier windows, last {ago} ago",
                stats.windows,
                weight,
            )
        )
    elif held_since is not None and held_since < window:
        out.append(
            Fact(
                "revisit",
                "pair",
                f"{src} reached {dst} before only in alerted activity (first at "
                f"{when(held_since * ws)})",
                held_since,
                1.0,
            )
        )
    else:
        out.append(Fact("first_contact", "pair", f"first time {src} reached {dst}", 1, 0.5))

    people = _people(accounts)
    src_age = ctx.host_age(src, window)
    # On a host that appeared less than a day ago every account is "new": says nothing.
    settled = src_age is None or src_age >= NEW_HOST_WINDOWS
    stolen = [
        a
        for a in people
        if settled and not ctx.used_from(a, src) and not ctx.has_session(a, src, window)
    ]
    present = [a for a in people if ctx.has_session(a, src, window)]
    if stolen:
        out.append(
            Fact(
                "account_new_to_source",
                "account",
                f"{_names(stolen)} never authenticated from {src} before and "
                f"{'has' if len(stolen) == 1 else 'have'} no logon session there",
                len(stolen),
                3.0,
            )
        )
    new_dst = [a for a in people if not ctx.reached(a, dst)]
    if new_dst and not stolen:
        out.append(
            Fact(
                "account_new_to_destination",
                "account",
                f"{_names(new_dst)} never logged on to {dst} before",
                len(new_dst),
                0.25,
            )
        )
    if people and len(present) == len(people):
        out.append(
            Fact(
                "logged_on_at_source",
                "account",
                f"{_names(present)} {'is' if len(present) == 1 else 'are'} logged on at {src} "
                "(an interactive or remote desktop session in the last 12 hours)",
                len(present),
                -1.0,
            )
        )
    fresh = [a for a in people if (ctx.account_age(a, window) or 0) < 48 and a in ctx.account_first]
    if people and len(fresh) == len(people):
        out.append(
            Fact(
                "new_account",
                "account",
                f"{_names(fresh)} first appeared in the logs "
                f"{span(window - min(ctx.account_first[a] for a in fresh), ws)} ago",
                len(fresh),
                -1.0,
            )
        )

    recent2 = ctx.recent_accounts(src, 4)
    usual = ctx.usual_accounts(src)
    if len(recent2) >= 3 and len(recent2) > 2 * usual + 1:
        out.append(
            Fact(
                "accounts_per_source",
                "source",
                f"{len(recent2)} accounts used from {src} in 2 hours (usual: {usual:.1f})",
                len(recent2),
                min(1.0 * (len(recent2) - 1), 3.0),
            )
        )
    day = ctx.recent_accounts(src)
    if len(day) >= 3 and len(day) > len(recent2) and len(day) > 2 * usual + 1:
        out.append(
            Fact(
                "accounts_per_source_day",
                "source",
                f"{len(day)} accounts used from {src} in 24 hours (usual per window: {usual:.1f})",
                len(day),
                min(0.75 * (len(day) - 1), 2.5),
            )
        )
    new_now = ctx.recent_new_destinations(src, 1)
    usual_new = ctx.usual_new_destinations(src)
    if len(new_now) >= 2 and len(new_now) > 3 * usual_new + 1:
        out.append(
            Fact(
                "new_destinations",
                "source",
                f"{len(new_now)} new destinations from {src} in 30 minutes "
                f"(usual: {usual_new:.1f})",
                len(new_now),
                min(0.5 * (len(new_now) - 1), 1.5),
            )
        )
    age = src_age
    if age is not None and age < NEW_HOST_WINDOWS:
        out.append(
            Fact("new_host", "source", f"{src} first appeared {span(age, ws)} ago", age, -1.0)
        )

    if ctx.is_dc(dst):
        n = len(ctx.ticket_clients.get(dst, ()))
        out.append(
            Fact(
                "domain_controller",
                "destination",
                f"{dst} is a domain controller (hands out tickets to {n} hosts)",
                n,
                0.75,
            )
        )
    else:
        fanin = ctx.dst_fanin.get(dst, 0)
        kind = "a server" if fanin >= 10 else "a workstation-like host"
        out.append(
            Fact(
                "destination_role",
                "destination",
                f"{dst} is {kind}: reached from {fanin} hosts before",
                fanin,
                0.0 if fanin >= 10 else 0.25,
            )
        )

    share = ctx.ntlm_share(dst)
    if ntlm >= 0.5 and share is not None and share < 0.2:
        out.append(
            Fact(
                "ntlm",
                "auth",
                f"NTLM logon to {dst}, which sees NTLM in {100 * share:.0f}% of its network logons",
                round(share, 3),
                0.75,
            )
        )

    day_no, sec = divmod(int(time), 86_400)
    weekday = (day_no + 3) % 7  # 1970-01-01 was a Thursday
    if weekday >= 5 or not 8 * 3600 <= sec < 18 * 3600:
        name = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        out.append(
            Fact(
                "off_hours",
                "time",
                f"at {sec // 3600:02d}:{sec % 3600 // 60:02d} UTC on a {name[weekday]}, "
                "outside business hours",
                sec // 3600,
                0.25,
            )
        )
    return out


def rule_facts(hits: Iterable[Any]) -> list[Fact]:
    """One fact per rule that fired on the edge (high and critical rules weigh more)."""
    weights = {"low": 0.5, "medium": 1.5, "high": 2.5, "critical": 3.5}
    out = []
    for h in hits:
        evidence = f": {h.evidence}" if getattr(h, "evidence", "") else ""
        out.append(
            Fact(
                "rule",
                "rule",
                f"rule {h.rule_id} ({h.title}) fired at {when(h.time)}{evidence}",
                h.rule_id,
                weights.get(h.severity, 1.0),
            )
        )
    return out


def attribute_rows(
    rows: Sequence[Mapping[str, Any]], evidence: float, shares: Mapping[str, float] | None
) -> list[dict[str, Any]]:
    """Spread a detector's ``evidence`` over fact rows (:meth:`Fact.row`) by the groups its
    explanation points at (``shares``: group -> share of the positive attribution; None or
    empty: the pair and account facts evenly). Rows of other groups keep their
    contribution; the rows come back sorted by contribution, largest first."""
    out = [dict(r) for r in rows]
    if not out or evidence <= 0:
        return out
    present = {r.get("group") for r in out}
    usable = {g: v for g, v in (shares or {}).items() if g in present and v > 0}
    if not usable:
        usable = {g: 1.0 for g in ("pair", "account") if g in present} or {out[0].get("group"): 1.0}
    total = sum(usable.values())
    counts = {g: sum(1 for r in out if r.get("group") == g) for g in usable}
    for r in out:
        g = r.get("group")
        if g in usable:
            extra = evidence * usable[g] / total / counts[g]
            r["contribution"] = round(float(r.get("contribution", 0.0)) + extra, 4)
    out.sort(key=lambda r: -float(r.get("contribution", 0.0)))
    return out


def group_shares(detector: str, contributions: Iterable[Any]) -> dict[str, float]:
    """Fact group -> share of a detector explanation's positive contributions."""
    out: dict[str, float] = {}
    for c in contributions:
        name = str(getattr(c, "feature", None) or c.get("feature", ""))
        value = float(getattr(c, "contribution", None) or c.get("contribution", 0.0) or 0.0)
        if value <= 0:
            continue
        group = _group_of(detector, name)
        if group:
            out[group] = out.get(group, 0.0) + value
    total = sum(out.values())
    return {g: v / total for g, v in out.items()} if total > 0 else {}


def _group_of(detector: str, feature: str) -> str | None:
    if detector == "gnn":
        return GNN_GROUPS.get(feature)
    for prefix, group in XGB_PREFIXES:
        if feature.startswith(prefix):
            return group
    if feature.startswith(("frac_", "count", "failure")):
        return "auth"
    return None
