"""``POST /events``: a batch of canonical events or raw XmlWinEventLog lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.api.deps import SessionDep, Writer
from service.queries import events as event_service

router = APIRouter(tags=["events"])

MAX_BATCH = 10_000
Str = Annotated[str, Field(max_length=500)]


class EventIn(BaseModel):
    """One canonical authentication event (see ``ingest/schema.py``)."""

    model_config = ConfigDict(extra="forbid")

    time: int = Field(ge=0, le=2**62, description="UTC seconds")
    src_user: Str
    dst_user: Str
    src_host: Str
    dst_host: Str
    auth_type: Str = "?"
    logon_type: Str = "?"
    orientation: Str = "LogOn"
    success: bool = True
    source: Str | None = None
    event_code: int | None = Field(default=None, ge=0, le=65535)
    logon_id: Str | None = None
    src_ip: Str | None = None
    record: int | None = Field(default=None, ge=0, le=2**62)


class EventBatch(BaseModel):
    """Canonical events and/or raw XmlWinEventLog lines (one event per line)."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(default_factory=list, max_length=MAX_BATCH)
    xml: list[Annotated[str, Field(max_length=65_536)]] = Field(
        default_factory=list, max_length=MAX_BATCH
    )

    @model_validator(mode="after")
    def _not_empty(self) -> EventBatch:
        if not self.events and not self.xml:
            raise ValueError("give at least one of events, xml")
        return self


class EventsAccepted(BaseModel):
    """How many events were accepted, why others were rejected, and the ingest job."""

    accepted: int
    rejected: int
    reasons: dict[str, int]
    job_id: int | None


@router.post(
    "/events",
    response_model=EventsAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Writer],
)
def post_events(body: EventBatch, request: Request, session: SessionDep) -> EventsAccepted:
    """Queue a batch for ingest and scoring; returns at once (202)."""
    result = event_service.accept_events(
        session=session,
        data_dir=request.app.state.settings.data.dir,
        events=[e.model_dump() for e in body.events],
        xml_lines=body.xml,
        source=f"api:{request.state.actor}",
    )
    return EventsAccepted(
        accepted=result.accepted,
        rejected=result.rejected,
        reasons=result.reasons,
        job_id=result.job_id,
    )
