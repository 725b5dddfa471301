"""Alert summaries: the cached one, or a new one through the summarizer's queue.

The summarizer is anything with ``async summarize(facts)`` (and optional
``start()`` / ``aclose()``): the LLM summarizer of ``models.llm`` or, with
``llm.engine = "template"``, :class:`TemplateSummarizer`, which writes a
deterministic summary from the facts alone.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from detections.store.tables import Summary, utcnow
from models.llm.facts import AlertFacts, facts_from_alert
from service.queries.alerts import get_alert
from service.queries.errors import NotFound, TimedOut, Unavailable


class TemplateSummarizer:
    """Deterministic two-sentence summaries from the facts only (``models.llm.template``)."""

    async def start(self) -> None:
        """Nothing to start."""

    async def aclose(self) -> None:
        """Nothing to close."""

    async def summarize(self, facts: AlertFacts) -> Any:
        """A grounded template summary of ``facts``."""
        from models.llm.facts import SummaryResult
        from models.llm.template import template_summary

        t0 = time.perf_counter()
        text = template_summary(facts)
        return SummaryResult(
            text=text,
            source="template",
            grounded=True,
            model="template",
            quantization="none",
            latency_ms=(time.perf_counter() - t0) * 1000,
        )


def build_summarizer(llm_config: Any) -> Any:
    """The summarizer for an ``LLMConfig`` (None: :class:`TemplateSummarizer`)."""
    if llm_config is None:
        return TemplateSummarizer()
    from models.llm.summarizer import Summarizer

    return Summarizer(llm_config)


def get_summary(*, session: Session, alert_id: int) -> Summary:
    """The cached summary.

    Raises:
        NotFound: the alert does not exist or has no summary yet.
    """
    get_alert(session=session, alert_id=alert_id)
    row = session.get(Summary, alert_id)
    if row is None:
        raise NotFound(f"alert {alert_id} has no summary yet; POST to generate one")
    return row


def facts_for(*, session: Session, alert_id: int) -> AlertFacts:
    """The facts of a stored alert (its campaign's hop path included).

    Raises:
        NotFound: no alert with this id.
    """
    alert = get_alert(session=session, alert_id=alert_id)
    path = alert.campaign.hosts if alert.campaign is not None else []
    return facts_from_alert(alert, alert_id=alert.id, hop_path=path)


def save_summary(*, session: Session, alert_id: int, result: Any) -> Summary:
    """Store ``result`` as the alert's summary, replacing an older one."""
    row = session.get(Summary, alert_id) or Summary(alert_id=alert_id)
    row.text = result.text
    row.source = result.source
    row.grounded = bool(result.grounded)
    row.model = result.model
    row.quantization = result.quantization
    row.latency_ms = float(result.latency_ms)
    row.prompt_tokens = int(getattr(result, "prompt_tokens", 0) or 0)
    row.completion_tokens = int(getattr(result, "completion_tokens", 0) or 0)
    row.created_at = utcnow()
    session.add(row)
    session.flush()
    return row


async def summarize(summarizer: Any, facts: AlertFacts) -> Any:
    """Run the summarizer, mapping its queue/timeouts to service errors.

    Raises:
        Unavailable: the queue is full or the summarizer is closed.
        TimedOut: the summary did not finish in time.
    """
    from models.llm.errors import QueueFull, SummarizerClosed, SummaryTimeout

    try:
        return await summarizer.summarize(facts)
    except (QueueFull, SummarizerClosed) as exc:
        raise Unavailable(f"summarizer busy: {exc}") from exc
    except SummaryTimeout as exc:
        raise TimedOut(f"summary timed out: {exc}") from exc
