"""Alert routes: list, get, triage, summaries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from service.api.alerts.encode import alert_page_json
from service.api.alerts.schemas import (
    AlertDetail,
    AlertPage,
    AlertQuery,
    AlertUpdate,
    SummaryRead,
)
from service.api.deps import Reader, SessionDep, Writer, read
from service.api.query import openapi_parameters, query_model
from service.queries import alerts as alert_service
from service.queries import summaries as summary_service

router = APIRouter(prefix="/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**62, description="alert id")]
JSON = "application/json"


@router.get(
    "",
    response_model=AlertPage,
    dependencies=[Reader],
    openapi_extra={"parameters": openapi_parameters(AlertQuery)},
)
async def list_alerts(
    request: Request, q: Annotated[AlertQuery, Depends(query_model(AlertQuery))]
) -> Response:
    """Alerts matching every given filter, one page at a time (cursor pagination).

    With ``detector``, ``min_score`` applies to that detector's score.
    """
    limit = min(q.limit, request.app.state.settings.api.max_page)
    filters = alert_service.AlertFilter(**q.model_dump(exclude={"sort", "limit", "cursor"}))
    page = await read(
        request,
        alert_service.list_alerts,
        filters=filters,
        sort=q.sort,
        limit=limit,
        cursor=q.cursor,
    )
    return Response(alert_page_json(page.items, page.next_cursor), media_type=JSON)


@router.get("/{alert_id}", response_model=AlertDetail, dependencies=[Reader])
async def get_alert(alert_id: AlertId, request: Request) -> Response:
    """One alert with its scores, explanation, rule hits, campaign and history."""
    detail = await read(request, alert_service.get_alert_detail, alert_id=alert_id)
    return Response(AlertDetail.model_validate(detail).model_dump_json(), media_type=JSON)


@router.patch("/{alert_id}", response_model=AlertDetail, dependencies=[Writer])
def update_alert(
    alert_id: AlertId, body: AlertUpdate, request: Request, session: SessionDep
) -> AlertDetail:
    """Triage: set status, verdict and/or note; each change is kept in the history."""
    alert = alert_service.update_alert(
        session=session,
        alert_id=alert_id,
        actor=request.state.actor,
        status=body.status,
        verdict=body.verdict,
        note=body.note,
    )
    return AlertDetail.model_validate(alert)


@router.get("/{alert_id}/summary", response_model=SummaryRead, dependencies=[Reader])
def get_summary(alert_id: AlertId, session: SessionDep) -> SummaryRead:
    """The cached summary (404 until one is generated)."""
    return SummaryRead.model_validate(
        summary_service.get_summary(session=session, alert_id=alert_id)
    )


@router.post("/{alert_id}/summary", response_model=SummaryRead, dependencies=[Writer])
async def create_summary(alert_id: AlertId, request: Request, session: SessionDep) -> SummaryRead:
    """Generate the summary now through the summarizer's batching queue, and cache it.

    503 when the queue is full, 504 when it takes too long.
    """
    facts = await run_in_threadpool(
        lambda: summary_service.facts_for(session=session, alert_id=alert_id)
    )
    result = await summary_service.summarize(request.app.state.summarizer, facts)
    row = await run_in_threadpool(
        lambda: summary_service.save_summary(session=session, alert_id=alert_id, result=result)
    )
    return SummaryRead.model_validate(row)
