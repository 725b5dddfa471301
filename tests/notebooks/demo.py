"""The notebooks' demo deployment, built once from library calls.

The same stages as ``hopwatch demo`` (``service.cli.demo``), sized for CI on two cores and
in the simulator's Windows form (XmlWinEventLog as Splunk would give it, so the data
directory also holds the share, service and process events the rules and the hunts read):

simulate -> Windows logs -> ingest (labelled with the red-team lines) -> train XGBoost
and the GNN on the latest benign windows -> thresholds on held-out benign windows ->
score the test windows, run the rules -> alerts and campaigns in SQLite -> an API key.
The summarizer is the deterministic template engine (loading the bundled LLM takes longer
than every notebook together); serving is the caller's (``tests.service.live.serve``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The simulated enterprise: 3 days (the attacks start in the second), 120 hosts.
DAYS, HOSTS, USERS, SEED, CAMPAIGNS = 3, 120, 96, 7, 2
#: Benign windows the detectors train on (the latest before the held-out ones).
FIT_WINDOWS = 48
CHANNELS = ("security.xml", "system.xml", "sysmon.xml")


@dataclass
class Demo:
    """Where the demo's parts are, and what building them cost.

    Attributes:
        work: the folder holding everything below.
        sim: the simulator's Windows logs, ``redteam.txt`` and ``campaigns.json``.
        data: the data directory (labelled).
        models: ``xgb.model`` and ``gnn.model``.
        settings: the settings tree the API serves with (thresholds filled in).
        api_key: a ``write`` key.
        alerts, campaigns: how many were stored.
        seconds: wall time per stage.
    """

    work: Path
    sim: Path
    data: Path
    models: Path
    settings: Any
    api_key: str
    alerts: int
    campaigns: int
    seconds: dict[str, float] = field(default_factory=dict)


def build_demo(work: Path) -> Demo:
    """Build the whole demo under ``work`` (about a minute on two idle cores)."""
    from sqlalchemy import func, select

    from detections.store import migrate, open_engine, session_factory
    from detections.store.tables import Campaign
    from ingest.graphs import GraphStore
    from ingest.lanl import read_redteam
    from ingest.simulate import SimConfig, simulate
    from ingest.simulate.windows import write_windows
    from ingest.windows import read_windows, write_windows_dataset
    from models.evaluate import store_split
    from models.gnn import GNNDetector
    from models.xgb import XGBDetector
    from service.cli.demo import choose_thresholds, score_and_store
    from service.queries import apikeys
    from service.settings import load_settings
    from service.workers import context_from_settings

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        seconds[name] = round(now - t0, 1)
        t0 = now

    sim, data, models = work / "sim", work / "data", work / "models"
    config = SimConfig(days=DAYS, hosts=HOSTS, users=USERS, seed=SEED, campaigns=CAMPAIGNS)
    files = write_windows(simulate(config), sim)
    logs = read_windows([sim / name for name in CHANNELS])
    write_windows_dataset(logs, data, redteam=read_redteam(files["redteam"]))
    stage("simulate + ingest")

    store = GraphStore(data)
    split = store_split(store)
    fit = split.fit_windows[-FIT_WINDOWS:]
    models.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, detector in (
        ("xgb", XGBDetector(n_estimators=40, nthread=2)),
        ("gnn", GNNDetector(epochs=2, ensemble=1, threads=2)),
    ):
        detector.fit(store, fit)
        paths[name] = models / f"{name}.model"
        detector.save(paths[name])
        stage(f"train {name}")

    settings = load_settings(
        database={"url": f"sqlite:///{(work / 'hopwatch.db').resolve()}"},
        data={"dir": str(data), "window": store.window_seconds},
        models={name: str(p) for name, p in paths.items()},
        llm={"engine": "template"},
    )
    engine = open_engine(settings.database.url)
    try:
        migrate(engine)
        ctx = context_from_settings(settings, sessions=session_factory(engine))
        ctx.thresholds = choose_thresholds(ctx.detectors(), store, split.threshold_windows)
        n_alerts = score_and_store(ctx, data, split.test_windows)
        with ctx.sessions() as session, session.begin():
            _, key = apikeys.create(session=session, name="notebooks", scope="write")
            n_campaigns = session.scalar(select(func.count()).select_from(Campaign))
    finally:
        engine.dispose()
    stage("thresholds + score + alerts")
    settings = settings.model_copy(
        update={"detection": settings.detection.model_copy(update={"thresholds": ctx.thresholds})}
    )
    return Demo(work, sim, data, models, settings, key, n_alerts, int(n_campaigns or 0), seconds)
