"""Direct JSON encoding of alert pages (the API's hottest response).

A page of 50 alerts validated and dumped through pydantic costs more CPU than
the query behind it, so ``GET /alerts`` writes its bytes here from the rows of
:data:`service.queries.alerts.LIST_COLUMNS`. The output has exactly the fields
of :class:`~service.api.alerts.schemas.AlertPage` (a test checks it against the
model, on SQLite and PostgreSQL); the route keeps ``response_model=AlertPage``
so the OpenAPI schema documents it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as _str
from typing import Any

from service.api.alerts.schemas import _iso


def _float(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "null"


def _opt_str(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _opt_int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def alert_json(row: Any) -> str:
    """One listed alert as a JSON object (``row`` in ``LIST_COLUMNS`` order; its
    ``scores`` and ``techniques`` are JSON text from the database)."""
    (id_, time, last_time, window, src, dst, user, score, detector,
     scores, techniques, severity, status, verdict, campaign_id, suppressed,
     suppressed_reason, priority) = row  # fmt: skip
    return (
        f'{{"id":{int(id_)},"time":{int(time)},"last_time":{int(last_time)},'
        f'"window":{int(window)},"src_host":{_str(src)},"dst_host":{_str(dst)},'
        f'"user":{_str(user)},"score":{_float(score)},"detector":{_str(detector)},'
        f'"scores":{scores or "{}"},"techniques":{techniques or "[]"},'
        f'"severity":{_str(severity)},"status":{_str(status)},"verdict":{_opt_str(verdict)},'
        f'"campaign_id":{_opt_int(campaign_id)},"suppressed":{"true" if suppressed else "false"},'
        f'"suppressed_reason":{_opt_str(suppressed_reason)},"priority":{_float(priority or 0.0)},'
        f'"first_seen":"{_iso(int(time))}"}}'
    )


def alert_page_json(rows: Sequence[Any], next_cursor: str | None) -> bytes:
    """An ``AlertPage`` as UTF-8 JSON bytes."""
    items = ",".join([alert_json(r) for r in rows])
    return f'{{"items":[{items}],"next_cursor":{_opt_str(next_cursor)}}}'.encode()
