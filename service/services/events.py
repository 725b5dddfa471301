"""Accept a batch of events: validate, park it in the data directory's inbox, queue it.

The ingest worker (``service/jobs.py``) appends the batch to the data
directory and queues the affected windows for scoring. Identical batches
posted twice map to the same job (the job key is the batch's hash).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from service.services import jobs
from service.services.errors import InvalidInput

INBOX = "inbox"


@dataclass
class Accepted:
    """What became of a batch."""

    accepted: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    job_id: int | None = None


def parse_xml_lines(
    lines: list[str], *, source: str
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Canonical event dicts from raw XmlWinEventLog lines, and rejected counts per reason.

    Lines that are not authentication events (or not XML) are rejected, never raised.
    """
    from ingest.windows import parse_xml_event

    events: list[dict[str, Any]] = []
    reasons: dict[str, int] = {}
    for i, line in enumerate(lines):
        try:
            parsed = parse_xml_event(line, source=source, record=i)
        except Exception as exc:  # attacker-controlled input: count, never crash
            reason = f"xml line: {type(exc).__name__}"
            reasons[reason] = reasons.get(reason, 0) + 1
            continue
        if parsed is None:
            reasons["xml line: not an authentication event"] = (
                reasons.get("xml line: not an authentication event", 0) + 1
            )
            continue
        events.append(parsed if isinstance(parsed, dict) else dict(parsed))
    return events, reasons


def accept_events(
    *,
    session: Session,
    data_dir: Path,
    events: list[dict[str, Any]],
    xml_lines: list[str],
    source: str = "api",
) -> Accepted:
    """Validate canonical events (and parse XML lines), write the good ones to the inbox,
    and queue an ingest job.

    Raises:
        InvalidInput: the batch is empty.
    """
    import polars as pl

    from ingest.schema import AUTH_SCHEMA, validate

    if not events and not xml_lines:
        raise InvalidInput("events", "give at least one event or xml line")
    reasons: dict[str, int] = {}
    rows = [{**e, "source": e.get("source") or source} for e in events]
    if xml_lines:
        parsed, xml_reasons = parse_xml_lines(xml_lines, source=source)
        rows.extend(parsed)
        reasons.update(xml_reasons)
    rejected = sum(reasons.values())
    if not rows:
        return Accepted(accepted=0, rejected=rejected, reasons=reasons)
    frame = pl.DataFrame(
        rows, schema_overrides={k: v for k, v in AUTH_SCHEMA.items()}, strict=False
    )
    report = validate(frame)
    for reason, n in report.reasons.items():
        reasons[reason] = reasons.get(reason, 0) + n
    rejected += report.bad_rows
    good = report.valid
    if good.height == 0:
        return Accepted(accepted=0, rejected=rejected, reasons=reasons)
    digest = hashlib.sha256(
        json.dumps(good.to_dicts(), sort_keys=True, default=str).encode()
    ).hexdigest()[:32]
    inbox = Path(data_dir) / INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{digest}.parquet"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        good.write_parquet(tmp)
        tmp.replace(path)
    job_id = jobs.enqueue(
        session=session, kind="ingest", key=f"ingest:{digest}", payload={"path": str(path)}
    )
    return Accepted(accepted=good.height, rejected=rejected, reasons=reasons, job_id=job_id)
