"""``hopwatch demo``: the whole product on embedded defaults.

Simulate a small enterprise -> ingest -> train the XGBoost and GNN detectors on
benign history -> pick thresholds on held-out benign windows -> score the later
windows through the alerting stage (detectors in lockstep with the quarantine, the
rules, known-benign suppression, campaign candidates, severity) -> alerts and
campaigns in SQLite -> summarize the top alerts with the bundled LLM -> print the
first screen (campaigns and alerts, most severe first) -> serve the API on
127.0.0.1:8000 and print the URL and an API key. ``--no-serve`` stops before serving.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

DEMO_DAYS = 7
DEMO_HOSTS = 300
DEMO_USERS = 240
DEMO_SEED = 7
DEMO_CAMPAIGNS = 3
#: Benign windows the detectors train on (the latest before the held-out ones).
FIT_WINDOWS = 72
#: Target false-positive rate on held-out benign windows when choosing the detectors'
#: signal thresholds (the alerting stage decides what becomes an alert).
THRESHOLD_FPR = 0.005
#: Alerts summarized by the demo (highest severity, then score).
SUMMARIZE_TOP = 5
#: Longest wait for the LLM per summary batch before the template summary is used.
LLM_TIMEOUT_S = 90.0


def run_foundation(work: Path, *, seed: int = DEMO_SEED, data: Path | None = None) -> dict:
    """Simulate and ingest a small enterprise under ``work``; return the ingest summary."""
    from ingest.lanl import ingest_lanl
    from ingest.simulate import simulate, write_lanl
    from ingest.simulate.config import SimConfig

    data = data or work / "data"
    config = SimConfig(
        days=DEMO_DAYS, hosts=DEMO_HOSTS, users=DEMO_USERS, seed=seed, campaigns=DEMO_CAMPAIGNS
    )
    # UNIX times from 2026-01-05 (a Monday) so alerts show real-looking dates
    files = write_lanl(simulate(config), work / "sim", absolute_time=True)
    result = ingest_lanl(files["auth"], data, redteam=files["redteam"])
    return {"sim": str(work / "sim"), "data": str(data), **result.summary()}


def train_detectors(store: Any, windows: list[int], models_dir: Path) -> dict[str, Path]:
    """Fit XGBoost and the GNN on ``windows``; save them; return name -> path."""
    from models.gnn import GNNDetector
    from models.xgb import XGBDetector

    models_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, detector in (
        ("xgb", XGBDetector(n_estimators=60, nthread=2)),
        ("gnn", GNNDetector(epochs=1, threads=2)),
    ):
        detector.fit(store, windows)
        paths[name] = models_dir / f"{name}.model"
        detector.save(paths[name])
    return paths


def choose_thresholds(detectors: dict[str, Any], store: Any, windows: list[int]) -> dict:
    """Per detector, the threshold that flags ``THRESHOLD_FPR`` of benign held-out edges."""
    from models.metrics import threshold_for_fpr

    return {
        name: threshold_for_fpr(det.score(store, windows)["score"].to_numpy(), THRESHOLD_FPR)
        for name, det in detectors.items()
    }


def score_and_store(ctx: Any, data: Path, windows: list[int]) -> int:
    """Score ``windows`` (the same code path as the score worker) and store the alerts."""
    from service.workers.tasks import score_windows, store_alerts

    alerts = score_windows(ctx, data, windows)
    with ctx.sessions() as session, session.begin():
        store_alerts(session, ctx, alerts, since=None)
    return len(alerts)


async def summarize_top(ctx: Any, llm_config: Any, n: int) -> list[dict]:
    """Summarize the ``n`` most severe alerts in one batch; falls back to the template
    engine when the local model cannot be loaded or a summary fails."""
    import asyncio

    from sqlalchemy import select

    from detections.store.tables import Alert
    from service.queries import summaries

    with ctx.sessions() as session:
        ids = list(
            session.scalars(
                select(Alert.id)
                .where(Alert.suppressed.is_(False))
                .order_by(Alert.priority.desc(), Alert.id)
                .limit(n)
            )
        )
    summarizer = summaries.build_summarizer(llm_config)
    try:
        await summarizer.start()
    except Exception as exc:
        typer.echo(f"LLM unavailable ({exc}); using template summaries", err=True)
        summarizer = summaries.TemplateSummarizer()
    facts = []
    for alert_id in ids:
        with ctx.sessions() as session:
            facts.append(summaries.facts_for(session=session, alert_id=alert_id))
    try:  # all at once: the summarizer batches them
        results = await asyncio.gather(
            *(summaries.summarize(summarizer, f) for f in facts), return_exceptions=True
        )
    finally:
        await summarizer.aclose()
    template = summaries.TemplateSummarizer()
    out = []
    for alert_id, f, result in zip(ids, facts, results, strict=True):
        if isinstance(result, BaseException):
            typer.echo(f"summary of alert {alert_id} failed ({result}); template used", err=True)
            result = await template.summarize(f)
        with ctx.sessions() as session, session.begin():
            summaries.save_summary(session=session, alert_id=alert_id, result=result)
        out.append({"alert_id": alert_id, "source": result.source, "text": result.text})
    return out


def demo(
    work: Path = typer.Option(Path("runs/demo"), "--work", help="Folder for demo outputs."),
    data: Path | None = typer.Option(None, "--data", help="Data directory (default WORK/data)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default SQLite in WORK)."),
    seed: int = typer.Option(DEMO_SEED, "--seed", help="Simulator seed."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API at the end."),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address when serving."),
    port: int = typer.Option(8000, "--port", help="Port when serving."),
    llm: str = typer.Option(
        "auto", "--llm", help="auto (llama.cpp on CPU), llamacpp, transformers, openai or template."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary last."),
) -> None:
    """Simulate, ingest, train both detectors, score, build alerts and campaigns,
    summarize the top alerts, then serve the API and print the URL and an API key."""
    summary = run_demo(work, data=data, db=db, seed=seed, llm=llm, quiet=as_json)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in summary.items() if k != "settings"}))
    if serve:
        import uvicorn

        from service.app import create_app

        settings = summary["settings"]
        typer.echo(
            f"\nserving on http://{host}:{port}  (API docs: http://{host}:{port}/docs); "
            "it answers once uvicorn prints 'Application startup complete' (model load)"
        )
        typer.echo(f"API key (scope write): {summary['api_key']}")
        typer.echo(
            f'try:  curl -H "Authorization: Bearer {summary["api_key"]}" '
            f'"http://{host}:{port}/alerts?min_score=0.9&limit=5"'
        )
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def run_demo(
    work: Path,
    *,
    data: Path | None = None,
    db: str | None = None,
    seed: int = DEMO_SEED,
    llm: str = "auto",
    quiet: bool = False,
) -> dict[str, Any]:
    """Every stage of the demo up to (not including) serving; returns a summary with the
    settings to serve with and a fresh API key."""
    import asyncio

    from rich.console import Console

    from detections.store import migrate, open_engine, session_factory
    from ingest.graphs import GraphStore
    from models.evaluate import store_split
    from service.queries import apikeys
    from service.settings import load_settings
    from service.workers import context_from_settings

    console = Console(stderr=True, quiet=quiet)
    work.mkdir(parents=True, exist_ok=True)
    data = data or work / "data"
    db = db or f"sqlite:///{(work / 'hopwatch.db').resolve()}"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def stage(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 1)
        console.log(f"{name}: {timings[name]} s")

    ingest = run_foundation(work, seed=seed, data=data)
    stage("simulate + ingest")
    store = GraphStore(data)
    split = store_split(store)
    fit = split.fit_windows[-FIT_WINDOWS:]
    paths = train_detectors(store, fit, work / "models")
    stage("train xgb + gnn")
    settings = load_settings(
        database={"url": db},
        data={"dir": str(data), "window": store.window_seconds},
        models={name: str(p) for name, p in paths.items()},
        llm={"engine": llm, "timeout_s": LLM_TIMEOUT_S},
    )
    engine = open_engine(settings.database.url)
    migrate(engine)
    ctx = context_from_settings(settings, sessions=session_factory(engine))
    thresholds = choose_thresholds(ctx.detectors(), store, split.threshold_windows)
    ctx.thresholds = thresholds
    stage("thresholds")
    n_alerts = score_and_store(ctx, data, split.test_windows)
    stage("score + rules + alerts + campaigns")
    summaries = asyncio.run(summarize_top(ctx, settings.llm.to_config(), SUMMARIZE_TOP))
    stage("summaries")
    with ctx.sessions() as session, session.begin():
        _, key = apikeys.create(session=session, name=f"demo-{time.time_ns()}", scope="write")
        screen = first_screen(session)
    engine.dispose()
    settings = settings.model_copy(
        update={"detection": settings.detection.model_copy(update={"thresholds": thresholds})}
    )
    summary = {
        "data": str(data),
        "database": db,
        "events": ingest.get("events"),
        "windows": len(store.windows),
        "fit_windows": len(fit),
        "test_windows": len(split.test_windows),
        "thresholds": {k: round(v, 4) for k, v in thresholds.items()},
        "alerts": n_alerts,
        "campaigns": len(screen["campaigns"]),
        "alerts_by_severity": screen["by_severity"],
        "suppressed": screen["suppressed"],
        "first_screen": screen,
        "summaries": summaries,
        "seconds": timings,
        "api_key": key,
        "settings": settings,
    }
    _print(console, summary)
    return summary


def first_screen(session: Any, n: int = 10) -> dict[str, Any]:
    """What the triage page opens on: campaigns and alerts (not suppressed), most severe
    first, then by score; with the alert counts per severity and the suppressed ones."""
    from sqlalchemy import func, select

    from detections.store.tables import Alert
    from service.queries import alerts as alert_queries
    from service.queries import campaigns as campaign_queries

    camps = campaign_queries.list_campaigns(session=session, sort="-priority", limit=n).items
    page = alert_queries.list_alerts(
        session=session,
        filters=alert_queries.AlertFilter(suppressed=False),
        sort="-priority",
        limit=n,
    )
    counts = session.execute(
        select(Alert.severity, Alert.suppressed, func.count()).group_by(
            Alert.severity, Alert.suppressed
        )
    ).all()
    return {
        "campaigns": [
            {
                "id": c.id,
                "severity": c.severity,
                "path": list(c.hosts),
                "users": list(c.users),
                "alerts": c.alert_count,
                "first_time": c.first_time,
            }
            for c in camps
        ],
        "alerts": [
            {
                "id": a.id,
                "severity": a.severity,
                "score": round(a.score, 4),
                "src": a.src_host,
                "dst": a.dst_host,
                "user": a.user,
                "campaign_id": a.campaign_id,
            }
            for a in page.items
        ],
        "by_severity": {sev: n for sev, sup, n in counts if not sup},
        "suppressed": sum(n for _, sup, n in counts if sup),
    }


def _print(console: Any, summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="hopwatch demo")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in ("events", "windows", "fit_windows", "test_windows", "alerts", "campaigns"):
        table.add_row(key, str(summary[key]))
    for name, value in summary["thresholds"].items():
        table.add_row(f"threshold {name}", str(value))
    for name, value in summary["seconds"].items():
        table.add_row(f"{name} (s)", str(value))
    console.print(table)
    screen = summary["first_screen"]
    console.print("[bold]campaigns, most severe first[/bold] (the triage page's first screen)")
    for c in screen["campaigns"]:
        console.print(
            f"  #{c['id']} {c['severity']}: {' -> '.join(c['path'])} "
            f"({c['alerts']} alerts; {', '.join(c['users'][:3])})",
            markup=False,
        )
    console.print(
        f"alerts by severity {screen['by_severity']}; {screen['suppressed']} suppressed "
        "(known-benign, kept with their reason: GET /alerts?suppressed=true)",
        markup=False,
    )
    for s in summary["summaries"][:3]:
        console.print(f"[bold]alert {s['alert_id']}[/bold] ({s['source']}): {s['text']}")
