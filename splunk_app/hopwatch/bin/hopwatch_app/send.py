"""One batch of Splunk events to ``POST /events`` and what hopwatch made of it
(used by ``hopwatchsend`` and the "Send to hopwatch" alert action)."""

from __future__ import annotations

from typing import Any

from hopwatch_app.client import HopwatchClient


def batch_row(
    client: HopwatchClient,
    number: int,
    records: int,
    xml: list[str],
    events: list[dict[str, Any]],
    skipped: dict[str, int],
) -> dict[str, Any]:
    """Post one batch (when it holds anything hopwatch can read) and describe the result.

    ``accepted``/``rejected``/``reasons``/``job_id`` are hopwatch's answer
    (``EventsAccepted``); ``skipped`` counts the records that were not Windows
    logon events and so were not sent.
    """
    answer: dict[str, Any] = {"accepted": 0, "rejected": 0, "reasons": {}, "job_id": None}
    if xml or events:
        answer = client.post_events(events, xml)
    reasons = answer.get("reasons") or {}
    return {
        "batch": number,
        "records": records,
        "sent_xml": len(xml),
        "sent_events": len(events),
        "skipped": sum(skipped.values()),
        "skipped_reasons": ["%s: %d" % (k, v) for k, v in sorted(skipped.items())],
        "accepted": answer.get("accepted", 0),
        "rejected": answer.get("rejected", 0),
        "rejected_reasons": ["%s: %d" % (k, v) for k, v in sorted(reasons.items())],
        "job_id": answer.get("job_id") if answer.get("job_id") is not None else "",
    }


__all__ = ["batch_row"]
