"""Accept a batch of events: validate, park it in the data directory's inbox, queue it.

The ingest worker (``service/workers/tasks.py``) appends the batch to the data
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

from service.queries.errors import InvalidInput
from service.workers import queue as jobs

INBOX = "inbox"


@dataclass
class Accepted:
    """What became of a batch."""

    accepted: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    job_id: int | None = None


def parse_xml_lines(lines: list[str], *, source: str) -> tuple[Any, Any, dict[str, int]]:
    """(auth frame, process frame, rejected counts per reason) from raw XmlWinEventLog lines.

    Lines that are not well-formed events are counted, never raised; well-formed
    events of unmapped ids are counted as ``xml: not mapped``.
    """
    import polars as pl

    from ingest.windows import parse_xml_events

    (auth, process), skipped = parse_xml_events(lines, source=source)
    reasons = {f"xml: {reason}": n for reason, n in skipped.items()}
    unmapped = len(lines) - sum(skipped.values()) - auth.height - process.height
    if unmapped > 0:
        reasons["xml: not mapped"] = unmapped
    return auth, process if process.height else pl.DataFrame(), reasons


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

    from ingest.schema import AUTH_SCHEMA, conform, validate

    if not events and not xml_lines:
        raise InvalidInput("events", "give at least one event or xml line")
    reasons: dict[str, int] = {}
    rows = [{**e, "source": e.get("source") or source} for e in events]
    frames = []
    if rows:
        frames.append(pl.DataFrame(rows, schema_overrides=dict(AUTH_SCHEMA), strict=False))
    process = pl.DataFrame()
    if xml_lines:
        auth, process, xml_reasons = parse_xml_lines(xml_lines, source=source)
        frames.append(auth)
        reasons.update(xml_reasons)
    rejected = sum(reasons.values())
    frames = [f for f in frames if f.height]
    if not frames:
        return Accepted(accepted=0, rejected=rejected, reasons=reasons)
    frame = pl.concat([conform(f).collect() for f in frames], how="diagonal_relaxed")
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
        if process.height:
            process.write_parquet(inbox / f"{digest}.process.parquet")
        tmp = path.with_suffix(".tmp")
        good.write_parquet(tmp)
        tmp.replace(path)
    job_id = jobs.enqueue(
        session=session, kind="ingest", key=f"ingest:{digest}", payload={"path": str(path)}
    )
    return Accepted(accepted=good.height, rejected=rejected, reasons=reasons, job_id=job_id)
