"""``GET /health`` (no auth) and ``GET /metrics`` (Prometheus text, read scope)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from service.api.deps import Reader

router = APIRouter(tags=["system"])


def _db_ok(request: Request) -> bool:
    try:
        with request.app.state.sessions() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/health")
async def health(request: Request, response: Response) -> dict[str, str]:
    """Liveness and database reachability; 503 when the database is down."""
    ok = await run_in_threadpool(_db_ok, request)
    if not ok:
        response.status_code = 503
    return {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"}


@router.get("/metrics", dependencies=[Reader], response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (requests, latency, summaries)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
