"""Response schemas of the campaign routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.api.alerts.schemas import AlertRead


class CampaignRead(BaseModel):
    """A campaign as listed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    first_time: int
    last_time: int
    users: list[str]
    hosts: list[str] = Field(description="hosts on the path, in order of first appearance")
    alert_count: int
    max_score: float
    severity: str
    techniques: list[str]
    priority: float = Field(0.0, description="severity rank (0 low .. 3 critical) + 0.999 * score")


class CampaignPage(BaseModel):
    """A page of campaigns."""

    items: list[CampaignRead]
    next_cursor: str | None


class CampaignDetail(CampaignRead):
    """A campaign with its ordered hop path and alerts."""

    hops: list[dict[str, Any]] = Field(
        description="src_host, dst_host, time, user, alert_id per hop, in order"
    )
    alerts: list[AlertRead]
