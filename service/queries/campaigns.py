"""Campaign service functions: list (newest first, cursor pages) and get (hop path)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from detections.store.tables import Alert, Campaign
from service.queries.errors import InvalidInput, NotFound


@dataclass
class CampaignPage:
    """One page of campaigns and the cursor of the next (None on the last page)."""

    items: list[Campaign]
    next_cursor: str | None


#: Orders of the campaign list: newest first, or the triage order (severity, then score).
SORTS = ("-id", "-priority")


def list_campaigns(
    *,
    session: Session,
    limit: int = 50,
    cursor: str | None = None,
    severity: str | None = None,
    start: int | None = None,
    end: int | None = None,
    sort: str = "-id",
) -> CampaignPage:
    """Campaigns, newest id first (``sort="-priority"``: highest severity, then score);
    the cursor is the last id seen (``priority:id`` for the triage order).

    Raises:
        InvalidInput: an unknown sort, or a cursor that is not from a previous page.
    """
    if sort not in SORTS:
        raise InvalidInput("sort", f"expected one of {', '.join(SORTS)}, got {sort!r}")
    query = select(Campaign)
    if cursor and sort == "-priority":
        value, _, last = cursor.partition(":")
        try:
            after, last_id = float(value), int(last)
        except ValueError:
            raise InvalidInput("cursor", "malformed cursor; use next_cursor from a page") from None
        query = query.where(
            (Campaign.priority < after) | ((Campaign.priority == after) & (Campaign.id < last_id))
        )
    elif cursor:
        if not cursor.isdigit() or len(cursor) > 19:
            raise InvalidInput("cursor", "malformed cursor; use next_cursor from a page")
        query = query.where(Campaign.id < int(cursor))
    if severity is not None:
        query = query.where(Campaign.severity == severity)
    if start is not None:
        query = query.where(Campaign.last_time >= start)
    if end is not None:
        query = query.where(Campaign.first_time <= end)
    order = [Campaign.id.desc()]
    if sort == "-priority":
        order = [Campaign.priority.desc(), Campaign.id.desc()]
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    items = rows[:limit]
    cursor_out = None
    if len(rows) > limit:
        last = items[-1]
        cursor_out = f"{last.priority!r}:{last.id}" if sort == "-priority" else str(last.id)
    return CampaignPage(items=items, next_cursor=cursor_out)


def get_campaign(*, session: Session, campaign_id: int) -> tuple[Campaign, list[Alert]]:
    """The campaign and its alerts in hop order (the order of ``campaign.hops``).

    Raises:
        NotFound: no campaign with this id.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    alerts = list(
        session.scalars(
            select(Alert).where(Alert.campaign_id == campaign_id).order_by(Alert.time, Alert.id)
        )
    )
    position = {hop.get("alert_id"): i for i, hop in enumerate(campaign.hops)}
    alerts.sort(key=lambda a: position.get(a.id, len(position)))
    return campaign, alerts
