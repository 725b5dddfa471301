"""Analyst words for each tabular feature ("pair never seen before", "NTLM at 03:00").

Texts use only numeric feature values, never host or user names: those are
attacker-controlled and already shown beside the explanation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

Row = Mapping[str, float]


def _nan(v: float) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _n(v: float) -> str:
    """A count or mean: integers without decimals, others with one."""
    if _nan(v):
        return "no history"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _pct(v: float) -> str:
    return "n/a" if _nan(v) else f"{100 * v:.0f}%"


def _usual(v: float) -> str:
    return "no history" if _nan(v) else f"{_n(v)} usual"


def _mix(label: str) -> Callable[[Row, float], str]:
    return lambda r, v: f"{label} on {_pct(v)} of the edge's events"


def _ntlm(r: Row, v: float) -> str:
    if v > 0:
        return f"NTLM on {_pct(v)} of the edge's events, at {int(r['hour']):02d}:00"
    return "no NTLM on this edge"


def _role(who: str) -> Callable[[Row, float], str]:
    def text(r: Row, v: float) -> str:
        if _nan(v):
            return f"{who} has no history to infer its role"
        kind = "server-like" if v >= 0.5 else "workstation-like"
        return f"{who} looks {kind} ({_pct(v)} of its past peers connected to it)"

    return text


def _pair_seen(r: Row, v: float) -> str:
    if v < 0.5:
        return "source never authenticated to this destination before"
    return f"pair seen in {_n(r['pair_windows'])} earlier windows"


def _since(r: Row, v: float) -> str:
    if _nan(v):
        return "pair never seen before"
    return f"pair last seen {_n(v)} windows ago"


def _hist_windows(who: str) -> Callable[[Row, float], str]:
    def text(r: Row, v: float) -> str:
        return f"{who} never seen before" if v == 0 else f"{who} active in {_n(v)} earlier windows"

    return text


def _user_dst_windows(r: Row, v: float) -> str:
    if v == 0:
        return "a user on this edge never authenticated to this destination before"
    return f"every user on this edge reached this destination in at least {_n(v)} earlier windows"


TEXTS: dict[str, Callable[[Row, float], str]] = {
    "count": lambda r, v: f"{_n(v)} authentication events on this edge",
    "n_users": lambda r, v: f"{_n(v)} distinct users on this edge",
    "failure_ratio": lambda r, v: f"{_pct(v)} of the edge's attempts failed",
    "frac_kerberos": _mix("Kerberos"),
    "frac_ntlm": _ntlm,
    "frac_negotiate": _mix("Negotiate"),
    "frac_network": _mix("network logons"),
    "frac_interactive": _mix("interactive logons"),
    "frac_remote_interactive": _mix("remote-interactive (RDP) logons"),
    "frac_service": _mix("service logons"),
    "hour": lambda r, v: f"first event at {int(v):02d}:00",
    "weekday": lambda r, v: f"day {int(v)} of the week",
    "pair_seen": _pair_seen,
    "pair_windows": lambda r, v: f"pair seen in {_n(v)} earlier windows",
    "pair_events": lambda r, v: (
        "no earlier events on this pair" if v == 0 else f"{_n(v)} earlier events on this pair"
    ),
    "windows_since_pair": _since,
    "src_out_degree": lambda r, v: (
        f"{_n(v)} destination(s) from the source this window vs {_usual(r['src_out_degree_usual'])}"
    ),
    "src_out_degree_usual": lambda r, v: (
        f"source usually reaches {_n(v)} destinations per window (now {_n(r['src_out_degree'])})"
    ),
    "src_new_dsts": lambda r, v: (
        f"{_n(v)} new destinations from the source this window vs "
        f"{_usual(r['src_out_degree_usual'])} destinations"
    ),
    "src_hist_dsts": lambda r, v: f"source reached {_n(v)} distinct destinations before",
    "src_users": lambda r, v: (
        f"{_n(v)} users on the source this window vs {_usual(r['src_users_usual'])}"
    ),
    "src_users_usual": lambda r, v: f"source usually has {_n(v)} users per window",
    "src_failure_ratio_hist": lambda r, v: f"source's past failure ratio {_pct(v)}",
    "src_hist_windows": _hist_windows("source"),
    "src_server_role": _role("source"),
    "dst_in_degree": lambda r, v: (
        f"{_n(v)} source(s) reached the destination this window "
        f"vs {_usual(r['dst_in_degree_usual'])}"
    ),
    "dst_in_degree_usual": lambda r, v: (
        f"destination usually reached by {_n(v)} sources per window (now {_n(r['dst_in_degree'])})"
    ),
    "dst_new_srcs": lambda r, v: f"{_n(v)} new source(s) reached the destination this window",
    "dst_hist_srcs": lambda r, v: (
        "destination never reached before"
        if v == 0
        else f"destination reached by {_n(v)} distinct sources before"
    ),
    "dst_hist_windows": _hist_windows("destination"),
    "dst_server_role": _role("destination"),
    "users_new_to_dst": lambda r, v: (
        f"{_n(v)} user(s) on this edge never authenticated to this destination before"
    ),
    "user_dst_windows": _user_dst_windows,
    "user_dsts_now": lambda r, v: (
        f"busiest user reached {_n(v)} destinations this window vs {_usual(r['user_dsts_usual'])}"
    ),
    "user_new_dsts": lambda r, v: (
        f"{_n(v)} new destinations this window for one user vs "
        f"{_usual(r['user_dsts_usual'])} destinations"
    ),
    "user_dsts_usual": lambda r, v: f"that user usually reaches {_n(v)} destinations per window",
    "users_new_from_src": lambda r, v: (
        f"{_n(v)} account(s) on this edge never authenticated from the source before"
    ),
    "users_new_from_src_no_session": lambda r, v: (
        f"{_n(v)} account(s) never used from the source before and with no logon session there"
    ),
}


def describe(feature: str, row: Row) -> str:
    """The analyst sentence for ``feature`` given the edge's full feature ``row``.

    Raises:
        KeyError: unknown feature name.
    """
    return TEXTS[feature](row, row[feature])
