"""Alert service functions: list (filters, sort, cursor pages), get, update (history kept)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select, tuple_
from sqlalchemy.orm import Session, joinedload, selectinload

from detections.models_sql import Alert, AlertHistory, AlertRuleHit, AlertScore
from service.services.errors import InvalidInput, NotFound

STATUSES = ("new", "triaged", "closed")
VERDICTS = ("true_positive", "false_positive")
SORTS = ("-time", "time", "-score", "score", "-id", "id")
_SORT_COLUMNS = {"time": Alert.time, "score": Alert.score, "id": Alert.id}


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


@dataclass
class AlertPage:
    """One page of alerts and the cursor of the next (None on the last page)."""

    items: list[Alert]
    next_cursor: str | None


def encode_cursor(sort: str, alert: Alert) -> str:
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


def _where(f: AlertFilter) -> list[Any]:
    conds: list[Any] = []
    if f.start is not None:
        conds.append(Alert.time >= f.start)
    if f.end is not None:
        conds.append(Alert.time <= f.end)
    if f.host is not None:
        conds.append(or_(Alert.src_host == f.host, Alert.dst_host == f.host))
    for column, value in (
        (Alert.src_host, f.src_host),
        (Alert.dst_host, f.dst_host),
        (Alert.user, f.user),
        (Alert.status, f.status),
        (Alert.severity, f.severity),
        (Alert.campaign_id, f.campaign),
    ):
        if value is not None:
            conds.append(column == value)
    if f.detector is not None:
        sub = exists().where(AlertScore.alert_id == Alert.id, AlertScore.detector == f.detector)
        if f.min_score is not None:
            sub = sub.where(AlertScore.score >= f.min_score)
        conds.append(sub)
    elif f.min_score is not None:
        conds.append(Alert.score >= f.min_score)
    if f.rule is not None:
        conds.append(
            exists().where(AlertRuleHit.alert_id == Alert.id, AlertRuleHit.rule_id == f.rule)
        )
    return conds


def list_alerts(
    *,
    session: Session,
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
    desc = sort.startswith("-")
    column = _SORT_COLUMNS[sort.lstrip("-")]
    query = select(Alert).where(*_where(filters))
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        if column is Alert.id:
            query = query.where(Alert.id < last_id if desc else Alert.id > last_id)
        else:
            key, after = tuple_(column, Alert.id), tuple_(value, last_id)
            query = query.where(key < after if desc else key > after)
    if column is Alert.id:
        order = [Alert.id.desc() if desc else Alert.id.asc()]
    else:
        order = [column.desc(), Alert.id.desc()] if desc else [column.asc(), Alert.id.asc()]
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    items = rows[:limit]
    return AlertPage(items=items, next_cursor=encode_cursor(sort, items[-1]) if more else None)


def get_alert(*, session: Session, alert_id: int) -> Alert:
    """The alert with its rule hits, history and campaign.

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
