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


def list_campaigns(
    *,
    session: Session,
    limit: int = 50,
    cursor: str | None = None,
    severity: str | None = None,
    start: int | None = None,
    end: int | None = None,
) -> CampaignPage:
    """Campaigns, newest id first; the cursor is the last id seen.

    Raises:
        InvalidInput: a cursor that is not an id from a previous page.
    """
    query = select(Campaign)
    if cursor:
        if not cursor.isdigit() or len(cursor) > 19:
            raise InvalidInput("cursor", "malformed cursor; use next_cursor from a page")
        query = query.where(Campaign.id < int(cursor))
    if severity is not None:
        query = query.where(Campaign.severity == severity)
    if start is not None:
        query = query.where(Campaign.last_time >= start)
    if end is not None:
        query = query.where(Campaign.first_time <= end)
    rows = list(session.scalars(query.order_by(Campaign.id.desc()).limit(limit + 1)))
    items = rows[:limit]
    return CampaignPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


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
