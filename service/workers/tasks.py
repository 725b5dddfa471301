"""What each job does: ingest a batch, score a window, summarize an alert.

Handlers compute outside any transaction, then write their results *and* mark
the job done in one transaction, so a worker killed mid-job leaves nothing
half-written and the job is simply claimed again after its lease runs out.
Writes are idempotent (alerts are keyed by window and edge), so a job that runs
twice still leaves exactly one set of results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from detections.alerts import AlertRecord

#: Alerts at these severities are queued for a summary as soon as they are stored.
SUMMARIZE_SEVERITIES = ("high", "critical")


@dataclass
class JobContext:
    """Plain objects a worker needs (built from the settings by the command line).

    Attributes:
        sessions: session factory of the alert store.
        data_dir: the data directory (``docs/data-format.md``).
        window_seconds: window size of new batches.
        thresholds: detector -> alert threshold.
        campaign_span: longest gap between linked alerts, seconds.
        model_paths: detector -> saved model; loaded on first use.
        rules_dir: rule files (None: the built-in rules; "" disables rules).
        summarizer: the summary engine (summarize worker only).
    """

    sessions: sessionmaker[Session]
    data_dir: Path
    window_seconds: int = 1800
    thresholds: dict[str, float] = field(default_factory=dict)
    campaign_span: int = 8 * 3600
    model_paths: Mapping[str, Path] = field(default_factory=dict)
    rules_dir: Path | str | None = None
    summarizer: Any = None
    _detectors: dict[str, Any] | None = None
    _rules: list[Any] | None = None

    def detectors(self) -> dict[str, Any]:
        """The configured detectors, loaded once."""
        if self._detectors is None:
            from models.registry import detector_class

            self._detectors = {
                name: detector_class(name).load(path) for name, path in self.model_paths.items()
            }
        return self._detectors

    def rules(self) -> list[Any]:
        """The rules, loaded once (empty when disabled)."""
        if self._rules is None:
            if self.rules_dir == "":
                self._rules = []
            else:
                from detections.rules import load_rules

                self._rules = load_rules(self.rules_dir)
        return self._rules


def window_rule_hits(ctx: JobContext, store: Any, windows: list[int]) -> list[dict[str, Any]]:
    """Rule hits on the auth (and, for Windows data, process) events of ``windows``."""
    from detections.alerting import store_rule_hits

    return store_rule_hits(ctx.rules(), store, windows)


def score_windows(ctx: JobContext, data_dir: Path, windows: list[int]) -> list[AlertRecord]:
    """Alerts of some windows, as the alerting stage builds them
    (:func:`detections.alerting.run_alerting`): every detector's scores with the
    quarantine, the rules, known-benign suppression, facts, campaign candidates and
    severity, explanations spread over the facts. The store's feedback comes first
    (:func:`detections.store.feedback.load_feedback`): open alerts hold their pairs and
    take later occurrences, ``false_positive`` verdicts release their pairs and suppress
    their patterns, ``true_positive`` ones keep them hot. Returns the alerts opened or
    updated by these windows (suppressed ones included, marked)."""
    from detections.alerting import StageConfig, run_alerting
    from detections.store.feedback import load_feedback
    from ingest.graphs import GraphStore

    store = GraphStore(data_dir)
    present = set(store.windows)
    windows = sorted(int(w) for w in windows if int(w) in present)
    if not windows:
        return []
    detectors = ctx.detectors()
    with ctx.sessions() as session:
        feedback = load_feedback(
            session, since=windows[0] * store.window_seconds - 2 * ctx.campaign_span
        )
    run = run_alerting(
        detectors,
        store,
        windows,
        thresholds={name: ctx.thresholds.get(name, 1.0) for name in detectors},
        rules=ctx.rules(),
        config=StageConfig(span_seconds=ctx.campaign_span),
        quarantine=feedback.quarantine,
        verdicts=feedback.verdicts,
        remember=feedback.recent,
    )
    return [a for a in run.alerts if a.key in run.stage.touched]


def score_window(ctx: JobContext, data_dir: Path, window: int) -> list[AlertRecord]:
    """Alerts of one window (see :func:`score_windows`)."""
    return score_windows(ctx, data_dir, [window])


def store_alerts(
    session: Session, ctx: JobContext, alerts: list[AlertRecord], *, since: int | None
) -> dict[str, int]:
    """Upsert alerts, relink campaigns around them, queue summaries of severe ones (not of
    suppressed ones)."""
    from detections.store import relink_campaigns, upsert_alerts
    from service.workers import queue as jobs

    ids = upsert_alerts(session, alerts)
    relink_campaigns(session, span_seconds=ctx.campaign_span, since=since)
    for a in alerts:
        if a.severity in SUMMARIZE_SEVERITIES and not a.suppressed:
            jobs.enqueue(
                session=session,
                kind="summarize",
                key=f"summarize:{ids[a.key]}",
                payload={"alert_id": ids[a.key]},
            )
    return ids


def run_score(ctx: JobContext, job_id: int, payload: dict[str, Any], finish: Callable) -> dict:
    """Score job: ``{"data": DIR, "window": W}``."""
    data_dir = Path(payload.get("data") or ctx.data_dir)
    window = int(payload["window"])
    alerts = score_window(ctx, data_dir, window)
    with ctx.sessions() as session, session.begin():
        since = min((a.time for a in alerts), default=None)
        store_alerts(session, ctx, alerts, since=since)
        finish(session)
    return {"window": window, "alerts": len(alerts)}


def run_ingest(ctx: JobContext, job_id: int, payload: dict[str, Any], finish: Callable) -> dict:
    """Ingest job: ``{"path": inbox parquet}``: build the batch's data directory
    (node ids seeded from the main data directory) and queue its windows for scoring."""
    import polars as pl

    from ingest.graphs import DatasetWriter
    from service.workers import queue as jobs

    path = Path(payload["path"])
    events = pl.read_parquet(path)
    out = ctx.data_dir / "batches" / path.stem
    seed = ctx.data_dir / "nodes.parquet"
    with DatasetWriter(
        out,
        window_seconds=ctx.window_seconds,
        source="api",
        nodes_from=seed if seed.is_file() else None,
    ) as writer:
        writer.add(events)
    process = path.with_name(path.stem + ".process.parquet")
    if process.is_file():
        (out / "process").mkdir(exist_ok=True)
        pl.read_parquet(process).write_parquet(out / "process" / "part-00000.parquet")
    windows = sorted(set((events["time"] // ctx.window_seconds).to_list()))
    with ctx.sessions() as session, session.begin():
        for w in windows:
            jobs.enqueue(
                session=session,
                kind="score",
                key=f"score:{out}:{w}",
                payload={"data": str(out), "window": int(w)},
            )
        finish(session)
    return {"events": events.height, "windows": len(windows)}


async def run_summarize(ctx: JobContext, payload: dict[str, Any], finish: Callable) -> dict:
    """Summarize job: ``{"alert_id": N}`` through the summarizer's batching queue."""
    import asyncio

    from service.queries import summaries

    alert_id = int(payload["alert_id"])

    def _facts() -> Any:
        with ctx.sessions() as session:
            return summaries.facts_for(session=session, alert_id=alert_id)

    def _save(result: Any) -> None:
        with ctx.sessions() as session, session.begin():
            summaries.save_summary(session=session, alert_id=alert_id, result=result)
            finish(session)

    facts = await asyncio.to_thread(_facts)
    result = await summaries.summarize(ctx.summarizer, facts)
    await asyncio.to_thread(_save, result)
    return {"alert_id": alert_id, "source": result.source}
