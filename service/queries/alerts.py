"""Alert service functions: list (filters, sort, cursor pages), get, update (history kept).

The read paths (:func:`list_alerts`, :func:`get_alert_detail`) are the API's hot
routes: they run SQLAlchemy Core selects of only the needed columns (no ORM
objects, no identity map) and accept a ``Session`` or a plain pooled
``Connection``. The JSON columns of a listed alert come back as JSON *text*, ready
to be embedded in a response without a parse / re-encode round trip.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Text,
    bindparam,
    cast,
    exists,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, joinedload, selectinload

from detections.store.tables import Alert, AlertHistory, AlertRuleHit, AlertScore, Campaign
from service.queries.errors import InvalidInput, NotFound

STATUSES = ("new", "triaged", "closed")
VERDICTS = ("true_positive", "false_positive")
SORTS = ("-time", "time", "-score", "score", "-id", "id", "-priority", "priority")
_SORT_COLUMNS = {
    "time": Alert.time,
    "score": Alert.score,
    "id": Alert.id,
    "priority": Alert.priority,
}


@dataclass(frozen=True)
class AlertFilter:
    """Filters of :func:`list_alerts`; every field is optional.

    Attributes:
        start, end: alert time range (UTC seconds, inclusive).
        min_score: lowest score; with ``detector``, the lowest score of that detector.
        host: src_host or dst_host equals it.
        user: the alert's user equals it.
        detector: the alert has a score from this detector (``gnn``, ``xgb``, ``rules``).
        rule: a rule with this id fired on the alert.
        suppressed: only suppressed (known-benign) alerts, or only the others.
    """

    start: int | None = None
    end: int | None = None
    min_score: float | None = None
    host: str | None = None
    src_host: str | None = None
    dst_host: str | None = None
    user: str | None = None
    status: str | None = None
    severity: str | None = None
    detector: str | None = None
    rule: str | None = None
    campaign: int | None = None
    suppressed: bool | None = None


#: Columns of a listed alert, in this order (``scores`` and ``techniques`` as JSON text).
LIST_COLUMNS = (
    Alert.id,
    Alert.time,
    Alert.last_time,
    Alert.window,
    Alert.src_host,
    Alert.dst_host,
    Alert.user,
    Alert.score,
    Alert.detector,
    cast(Alert.scores, Text).label("scores"),
    cast(Alert.techniques, Text).label("techniques"),
    Alert.severity,
    Alert.status,
    Alert.verdict,
    Alert.campaign_id,
    Alert.suppressed,
    Alert.suppressed_reason,
    Alert.priority,
)
_DETAIL_COLUMNS = (
    *(c for c in LIST_COLUMNS if c.name not in ("scores", "techniques")),
    Alert.scores,
    Alert.techniques,
    Alert.users,
    Alert.explanation,
    Alert.evidence,
    Alert.src_ips,
    Alert.note,
    Alert.occurrences,
    Alert.stage_score,
    Campaign.hosts.label("campaign_hosts"),
    Campaign.alert_count.label("campaign_alert_count"),
    Campaign.severity.label("campaign_severity"),
)
_HIT_COLUMNS = (
    AlertRuleHit.rule_id,
    AlertRuleHit.title,
    AlertRuleHit.severity,
    AlertRuleHit.attack,
    AlertRuleHit.time,
    AlertRuleHit.host,
    AlertRuleHit.user,
    AlertRuleHit.source,
)

Reader = Session | Connection


@dataclass
class AlertPage:
    """One page of alerts (rows of :data:`LIST_COLUMNS`) and the cursor of the next
    (None on the last page)."""

    items: list[Row[Any]]
    next_cursor: str | None


def encode_cursor(sort: str, alert: Any) -> str:
    """An opaque cursor positioned after ``alert`` in ``sort`` order."""
    column = sort.lstrip("-")
    payload = {"s": sort, "v": getattr(alert, column), "id": alert.id}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """(sort value, id) from a cursor made by :func:`encode_cursor`.

    Raises:
        InvalidInput: the cursor is malformed or was made for another sort.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        value, last_id, made_for = payload["v"], int(payload["id"]), payload["s"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidInput("cursor", "malformed cursor; use next_cursor from a page") from None
    if made_for != sort:
        raise InvalidInput("cursor", f"cursor was made for sort={made_for!r}, not {sort!r}")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidInput("cursor", "malformed cursor; use next_cursor from a page")
    return value, last_id


_EQUALS = {
    "src_host": Alert.src_host,
    "dst_host": Alert.dst_host,
    "user": Alert.user,
    "status": Alert.status,
    "severity": Alert.severity,
    "campaign": Alert.campaign_id,
    "suppressed": Alert.suppressed,
}


def _where(given: frozenset[str]) -> list[Any]:
    """Conditions for the filters named in ``given`` (but ``host``, see
    :func:`_list_statement`), each value a bind parameter of the filter's name."""
    b = bindparam
    conds: list[Any] = []
    if "start" in given:
        conds.append(Alert.time >= b("start"))
    if "end" in given:
        conds.append(Alert.time <= b("end"))
    conds += [column == b(name) for name, column in _EQUALS.items() if name in given]
    if "detector" in given:
        sub = exists().where(AlertScore.alert_id == Alert.id, AlertScore.detector == b("detector"))
        if "min_score" in given:
            sub = sub.where(AlertScore.score >= b("min_score"))
        conds.append(sub)
    elif "min_score" in given:
        conds.append(Alert.score >= b("min_score"))
    if "rule" in given:
        conds.append(
            exists().where(AlertRuleHit.alert_id == Alert.id, AlertRuleHit.rule_id == b("rule"))
        )
    return conds


@lru_cache(maxsize=1024)
def _list_statement(given: frozenset[str], sort: str, after: bool) -> Select[Any]:
    """The select of one filter shape, built once: values are bound at execution, and
    reusing the same statement object skips SQLAlchemy's per-call construction,
    cache-key and result-adaptation work.

    ``host`` (src_host or dst_host) is a union of two ordered, limited index reads
    (one per side, on the ``(host, time|score, id)`` indexes) rather than an OR,
    which would fetch and sort every alert of the host.
    """
    desc = sort.startswith("-")
    column = _SORT_COLUMNS[sort.lstrip("-")]
    conds = _where(given)
    if after:
        last_id = bindparam("after_id", type_=Alert.id.type)
        if column is Alert.id:
            conds.append(Alert.id < last_id if desc else Alert.id > last_id)
        else:
            key = tuple_(column, Alert.id)
            value = tuple_(bindparam("after_value", type_=column.type), last_id)
            conds.append(key < value if desc else key > value)
    if column is Alert.id:
        order = [Alert.id.desc() if desc else Alert.id.asc()]
    else:
        order = [column.desc(), Alert.id.desc()] if desc else [column.asc(), Alert.id.asc()]
    limit = bindparam("page_limit")
    if "host" in given:
        sides = [
            select(Alert.id).where(side == bindparam("host"), *conds).order_by(*order).limit(limit)
            for side in (Alert.src_host, Alert.dst_host)
        ]
        ids = union_all(*(select(s.subquery().c.id) for s in sides))
        conds = [Alert.id.in_(ids)]
    return select(*LIST_COLUMNS).where(*conds).order_by(*order).limit(limit)


def list_alerts(
    *,
    session: Reader,
    filters: AlertFilter = AlertFilter(),
    sort: str = "-time",
    limit: int = 50,
    cursor: str | None = None,
) -> AlertPage:
    """A page of alerts matching ``filters`` in ``sort`` order (ties broken by id).

    Pages are stable: a cursor continues after the last alert seen, so alerts
    added meanwhile never shift or repeat items.

    Raises:
        InvalidInput: unknown sort, non-positive limit, or a bad cursor.
    """
    if sort not in SORTS:
        raise InvalidInput("sort", f"expected one of {', '.join(SORTS)}, got {sort!r}")
    if limit < 1:
        raise InvalidInput("limit", "must be >= 1")
    params = {k: v for k, v in vars(filters).items() if v is not None}
    statement = _list_statement(frozenset(params), sort, bool(cursor))
    if cursor:
        params["after_value"], params["after_id"] = decode_cursor(cursor, sort)
        if sort.lstrip("-") == "id":
            del params["after_value"]
    params["page_limit"] = limit + 1
    rows = session.execute(statement, params).all()
    more = len(rows) > limit
    items = rows[:limit]
    return AlertPage(items=items, next_cursor=encode_cursor(sort, items[-1]) if more else None)


_DETAIL = (
    select(*_DETAIL_COLUMNS)
    .outerjoin(Campaign, Campaign.id == Alert.campaign_id)
    .where(Alert.id == bindparam("alert_id"))
)
_RULE_HITS = (
    select(*_HIT_COLUMNS)
    .where(AlertRuleHit.alert_id == bindparam("alert_id"))
    .order_by(AlertRuleHit.id)
)
_HISTORY = (
    select(AlertHistory.at, AlertHistory.actor, AlertHistory.changes)
    .where(AlertHistory.alert_id == bindparam("alert_id"))
    .order_by(AlertHistory.id)
)


def get_alert_detail(*, session: Reader, alert_id: int) -> dict[str, Any]:
    """The alert with its rule hits, history and campaign, as plain data (the fields
    of the API's ``AlertDetail``); three indexed Core selects.

    Raises:
        NotFound: no alert with this id.
    """
    key = {"alert_id": alert_id}
    row = session.execute(_DETAIL, key).first()
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    out = row._asdict()
    hosts = out.pop("campaign_hosts")
    count = out.pop("campaign_alert_count")
    severity = out.pop("campaign_severity")
    out["campaign"] = (
        None
        if out["campaign_id"] is None
        else {"id": out["campaign_id"], "hosts": hosts, "alert_count": count, "severity": severity}
    )
    out["rule_hits"] = [r._asdict() for r in session.execute(_RULE_HITS, key)]
    out["history"] = [r._asdict() for r in session.execute(_HISTORY, key)]
    return out


def get_alert(*, session: Session, alert_id: int) -> Alert:
    """The alert (ORM object, for updates) with its rule hits, history and campaign.

    Raises:
        NotFound: no alert with this id.
    """
    alert = session.scalar(
        select(Alert)
        .where(Alert.id == alert_id)
        .options(
            selectinload(Alert.rule_hits),
            selectinload(Alert.history),
            joinedload(Alert.campaign),
        )
    )
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    return alert


def update_alert(
    *,
    session: Session,
    alert_id: int,
    actor: str,
    status: str | None = None,
    verdict: str | None = None,
    note: str | None = None,
    clear_verdict: bool = False,
) -> Alert:
    """Change status / verdict / note and record who changed what in the history.

    Fields left as None are unchanged (``clear_verdict`` resets the verdict).
    No history row is written when nothing changes.

    Raises:
        NotFound: no alert with this id.
        InvalidInput: a status or verdict outside the allowed values.
    """
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"expected one of {', '.join(STATUSES)}")
    if verdict is not None and verdict not in VERDICTS:
        raise InvalidInput("verdict", f"expected one of {', '.join(VERDICTS)}")
    alert = get_alert(session=session, alert_id=alert_id)
    wanted: dict[str, Any] = {"status": status, "verdict": verdict, "note": note}
    if clear_verdict:
        wanted["verdict"] = None
    changes = {}
    for name, new in wanted.items():
        if new is None and not (name == "verdict" and clear_verdict):
            continue
        old = getattr(alert, name)
        if old != new:
            changes[name] = {"old": old, "new": new}
            setattr(alert, name, new)
    if changes:
        alert.history.append(AlertHistory(actor=actor, changes=changes))
    session.flush()
    return alert
