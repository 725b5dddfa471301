"""Alerts of a stretch of windows exactly as the service builds them, in one process.

:func:`run_alerting` walks the data directory's windows in order: windows before the
first scored one only build the alerting stage's history; each scored window is
scored by every detector in lockstep (:func:`models.quarantine.score_in_step`), its
rule hits are added, :meth:`AlertingStage.step` turns it into alerts and holds their
pairs, and only then do the detectors fold the window into their histories. At the
end the alerts' detector explanations are spread over their facts and the alerts are
linked into campaigns. ``hopwatch evaluate --detector all`` and ``hopwatch demo`` run
this; the score worker runs the same stage one window per job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from detections.alerting.facts import attribute_rows, group_shares
from detections.alerting.stage import DETECTORS_ROW, AlertingStage, StageConfig
from detections.alerting.suppress import VerdictBook
from detections.alerts import AlertRecord
from detections.campaigns import CampaignRecord, link_campaigns
from models.quarantine import Quarantine, score_in_step

if TYPE_CHECKING:
    from ingest.graphs import GraphStore

#: Event columns the stage reads.
EVENT_COLUMNS = (
    "window",
    "time",
    "src_user",
    "src_host",
    "dst_host",
    "auth_type",
    "logon_type",
    "orientation",
    "success",
)


@dataclass
class AlertingRun:
    """What :func:`run_alerting` produced.

    Attributes:
        alerts: every alert record (suppressed ones included, marked), by time.
        campaigns: non-suppressed alerts linked into campaigns (two alerts or more).
        scores: detector -> scores of every scored edge (the quarantined history's).
        stage: the stage, with its history, open alerts and quarantine.
    """

    alerts: list[AlertRecord]
    campaigns: list[CampaignRecord]
    scores: dict[str, pl.DataFrame]
    stage: AlertingStage
    timings: dict[str, float] = field(default_factory=dict)


def iter_window_events(
    store: GraphStore, windows: Sequence[int], chunk: int = 48
) -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame]]:
    """``(window, edges, events)`` of each stored window in ``windows``, read in chunks."""
    wanted = sorted(set(int(w) for w in windows) & set(store.windows))
    schema = store.events().collect_schema()
    cols = [c for c in EVENT_COLUMNS if c in schema]
    for i in range(0, len(wanted), chunk):
        part = wanted[i : i + chunk]
        edges = store.edges(windows=part).partition_by("window", as_dict=True)
        events = store.events(windows=part).select(cols).collect()
        by_window = events.partition_by("window", as_dict=True)
        empty = events.clear()
        for w in part:
            yield w, edges.get((w,), pl.DataFrame()), by_window.get((w,), empty)


def store_rule_hits(rules: Sequence[Any], store: GraphStore, windows: Sequence[int]) -> list[dict]:
    """Rule hits on the auth (and, for Windows data, process) events of ``windows``."""
    if not rules or not windows:
        return []
    from detections.rules import hits_to_dicts, rule_view, run_rules

    auth = store.events(windows).collect()
    ws = store.window_seconds
    process = None
    folder = Path(store.path) / "process"
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if files:
        process = (
            pl.concat([pl.scan_parquet(f) for f in files], how="diagonal_relaxed")
            .filter((pl.col("time") // ws).is_in(list(windows)))
            .collect()
        )
    if auth.height == 0 and (process is None or process.height == 0):
        return []
    return hits_to_dicts(run_rules(rules, rule_view(auth, process)))


def run_alerting(
    detectors: Mapping[str, Any],
    store: GraphStore,
    windows: Sequence[int],
    *,
    thresholds: Mapping[str, float],
    rules: Sequence[Any] = (),
    config: StageConfig | None = None,
    quarantine: Quarantine | None = None,
    verdicts: VerdictBook | None = None,
    remember: Iterable[AlertRecord] = (),
    explain: bool = True,
) -> AlertingRun:
    """Score ``windows`` with every detector, the rules and the alerting stage.

    Args:
        detectors: name -> trained detector (``score_windows`` / ``explain`` with a
            quarantine).
        store: the data directory.
        windows: the windows to score (later than each detector's training windows).
        thresholds: detector -> signal threshold.
        rules: loaded rules (empty: none).
        config: the stage's knobs.
        quarantine: the held pairs so far (new: none).
        verdicts: analysts' ``false_positive`` patterns.
        remember: open alerts of earlier windows (repeats join them; campaigns link).
        explain: spread the detectors' explanations over each alert's facts.
    """
    import time

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    wanted = sorted(int(w) for w in windows)
    stage = AlertingStage(
        thresholds=dict(thresholds),
        window_seconds=store.window_seconds,
        config=config or StageConfig(),
        quarantine=quarantine if quarantine is not None else Quarantine(),
        verdicts=verdicts if verdicts is not None else VerdictBook(),
    )
    stage.remember(remember)
    if wanted:
        history = [w for w in store.windows if w < wanted[0]]
        for w, _, events in iter_window_events(store, history):
            stage.skip(w, events)
    timings["history_seconds"] = time.perf_counter() - t0
    hits: dict[int, list[dict]] = defaultdict(list)
    for h in store_rule_hits(rules, store, wanted):
        hits[int(h["time"]) // store.window_seconds].append(h)
    frames = iter_window_events(store, wanted)

    def on_window(window: int, scores: dict[str, pl.DataFrame]) -> None:
        for w, edges, events in frames:
            if w == window:
                stage.step(w, scores=scores, edges=edges, events=events, rule_hits=hits.get(w, ()))
                return
            stage.skip(w, events)  # a window no detector scored (none has edges there)

    t1 = time.perf_counter()
    out = score_in_step(detectors, store, wanted, quarantine=stage.quarantine, on_window=on_window)
    timings["score_seconds"] = time.perf_counter() - t1
    alerts = sorted(stage.records.values(), key=lambda a: (a.time, a.key))
    if explain:
        t2 = time.perf_counter()
        explain_alerts(detectors, store, alerts, thresholds, stage.quarantine)
        timings["explain_seconds"] = time.perf_counter() - t2
    shown = [a for a in alerts if not a.suppressed]
    campaigns = link_campaigns(shown, span_seconds=stage.config.span_seconds)
    scores = {n: pl.concat(f) if f else pl.DataFrame() for n, f in out.items()}
    return AlertingRun(alerts, campaigns, scores, stage, timings)


def explain_alerts(
    detectors: Mapping[str, Any],
    store: GraphStore,
    alerts: Iterable[AlertRecord],
    thresholds: Mapping[str, float],
    quarantine: Quarantine | None,
) -> None:
    """Spread each alert's detector evidence (its ``detectors`` explanation row) over its
    facts, by the groups the strongest detector's explanation (occlusion for the GNN, SHAP
    for XGBoost, from the same quarantined history) points at; the pair and account facts
    evenly when no detector explains it (a rule-only alert)."""
    todo = [a for a in alerts if not a.suppressed and a.explanation]
    by_detector: dict[str, list[AlertRecord]] = defaultdict(list)
    rest = []
    for a in todo:
        hot = {n: s for n, s in a.scores.items() if n in detectors and s >= thresholds.get(n, 2)}
        if hot:
            by_detector[max(hot, key=hot.__getitem__)].append(a)
        else:
            rest.append(a)
    for name, group in by_detector.items():
        edges = [(a.window, a.src_host, a.dst_host) for a in group]
        explained = detectors[name].explain(store, edges, top=10, quarantine=quarantine)
        for a, exp in zip(group, explained, strict=True):
            a.explanation = spread_detectors(a.explanation, group_shares(name, exp.contributions))
    for a in rest:
        a.explanation = spread_detectors(a.explanation, None)


def spread_detectors(
    rows: list[dict[str, Any]], shares: Mapping[str, float] | None
) -> list[dict[str, Any]]:
    """Replace the ``detectors`` row of an alert's explanation by its evidence spread over
    the facts of the groups the detector's explanation points at (``shares``)."""
    evidence = sum(float(r["contribution"]) for r in rows if r.get("feature") == DETECTORS_ROW)
    facts = [r for r in rows if r.get("feature") != DETECTORS_ROW]
    if len(facts) == len(rows):
        return rows
    return attribute_rows(facts, evidence, shares)
