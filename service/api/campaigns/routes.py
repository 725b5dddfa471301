"""Campaign routes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from service.api.alerts.schemas import AlertRead, Severity
from service.api.campaigns.schemas import CampaignDetail, CampaignPage, CampaignRead
from service.api.deps import Reader, SessionDep
from service.queries import campaigns as campaign_service

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


@router.get("", response_model=CampaignPage, dependencies=[Reader])
def list_campaigns(
    request: Request,
    session: SessionDep,
    start: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    end: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=60)] = None,
    sort: Annotated[
        Literal["-id", "-priority"],
        Query(description="-id: newest first; -priority: severity, then score (triage)"),
    ] = "-id",
) -> CampaignPage:
    """Campaigns, newest first (or in the triage order with ``sort=-priority``)."""
    page = campaign_service.list_campaigns(
        session=session,
        limit=min(limit, request.app.state.settings.api.max_page),
        cursor=cursor,
        severity=severity,
        start=start,
        end=end,
        sort=sort,
    )
    return CampaignPage(
        items=[CampaignRead.model_validate(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/{campaign_id}", response_model=CampaignDetail, dependencies=[Reader])
def get_campaign(
    campaign_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep
) -> CampaignDetail:
    """One campaign: the hop path in order, and its alerts."""
    campaign, alerts = campaign_service.get_campaign(session=session, campaign_id=campaign_id)
    return CampaignDetail.model_validate(
        {
            **CampaignRead.model_validate(campaign).model_dump(),
            "hops": campaign.hops,
            "alerts": [AlertRead.model_validate(a) for a in alerts],
        }
    )
