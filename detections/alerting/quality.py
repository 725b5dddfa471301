"""Alert quality where the SOC lives: the queue's size, its precision by severity, and
campaigns found.

Definitions (used by ``hopwatch evaluate --detector all`` and
``benchmarks/detection_quality.py``; docs/detectors.md, "Alert-level metrics"):

* an alert (not suppressed) is **true** when one of its occurrences (window, source,
  destination) is a red-team edge;
* ``alerts_per_day_per_1000_hosts``: alerts (not suppressed) per test day per 1,000
  hosts of the data directory;
* ``precision_by_severity``: per severity (and ``high+critical``), alerts, true alerts
  and their ratio (``null`` when there is no alert);
* ``campaign_recall``: share of the true campaigns with at least one alerted hop;
* ``campaign_precision``: share of the predicted campaigns (two or more linked alerts)
  holding a red-team hop; ``false_campaigns_per_day_per_1000_hosts`` counts the others;
* ``fp_per_day_at_recall_0_5`` / ``_0_8``: benign edges per test day ranked at or above
  the highest rank that reaches 50% / 80% of the red-team edges, ranking edges by the
  alert covering them (severity, then score) and then by the detectors' evidence.

True campaigns come from the simulator's ``campaigns.json`` when given, else from the
labels: red-team edges that share an account or a host are one campaign.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from detections.alerts import SEVERITIES, AlertRecord, severity_rank
from models.metrics import fp_per_day_at_recall

Edge = tuple[int, str, str]
#: JSON keys ``hopwatch evaluate --detector all`` adds beside the edge metrics.
SOC_KEYS = (
    "alerts_per_day_per_1000_hosts",
    "precision_by_severity",
    "campaign_recall",
    "campaign_precision",
    "false_campaigns_per_day_per_1000_hosts",
    "fp_per_day_at_recall_0_5",
    "fp_per_day_at_recall_0_8",
)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def alert_edges(alert: AlertRecord) -> list[Edge]:
    """The (window, source, destination) edges an alert covers."""
    windows = alert.occurrences or [alert.window]
    return [(int(w), alert.src_host, alert.dst_host) for w in windows]


def campaigns_from_truth(
    truth: Mapping[str, Any], window_seconds: int, *, offset: int | None = None
) -> list[set[Edge]]:
    """True campaigns of a simulator ``campaigns.json`` as sets of edges (``offset``:
    seconds added to its times, default its ``time_origin.offset_seconds``)."""
    if offset is None:
        offset = int(truth.get("time_origin", {}).get("offset_seconds", 0) or 0)
    out = []
    for camp in truth.get("campaigns", []):
        hops = {
            ((int(h["time"]) + offset) // window_seconds, h["src_host"], h["dst_host"])
            for h in camp.get("hops", [])
        }
        if hops:
            out.append(hops)
    return out


def campaigns_from_labels(labelled: pl.DataFrame) -> list[set[Edge]]:
    """True campaigns from red-team edges alone: edges sharing a host or an account (the
    ``user`` column, when present) are one campaign (transitively)."""
    rows = labelled.select("window", "src_host", "dst_host").unique().rows()
    users = labelled["user"].to_list() if "user" in labelled.columns else [None] * len(rows)
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    for i, ((_, s, d), u) in enumerate(zip(rows, users, strict=True)):
        for token in (f"h:{s}", f"h:{d}", f"u:{u}" if u else None):
            if token is None:
                continue
            if token in seen:
                parent[find(i)] = find(seen[token])
            else:
                seen[token] = i
    groups: dict[int, set[Edge]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(find(i), set()).add((int(r[0]), r[1], r[2]))
    return list(groups.values())


def alert_quality(
    alerts: Sequence[AlertRecord],
    campaigns: Sequence[Any],
    *,
    positives: Iterable[Edge],
    true_campaigns: Sequence[set[Edge]],
    days: float,
    hosts: int,
) -> dict[str, Any]:
    """The alert-level metrics of one evaluation (see the module docstring)."""
    pos = set(positives)
    shown = [a for a in alerts if not a.suppressed]
    per_k = max(hosts, 1) / 1000.0
    per_day = max(days, 1e-9)
    true_alert = {a.key: any(e in pos for e in alert_edges(a)) for a in shown}
    by_sev: dict[str, dict[str, Any]] = {}
    for sev in SEVERITIES:
        group = [a for a in shown if a.severity == sev]
        k = sum(true_alert[a.key] for a in group)
        by_sev[sev] = {"alerts": len(group), "true": k, "precision": _ratio(k, len(group))}
    hc = [a for a in shown if severity_rank(a.severity) >= 2]
    k = sum(true_alert[a.key] for a in hc)
    by_sev["high+critical"] = {"alerts": len(hc), "true": k, "precision": _ratio(k, len(hc))}
    alerted = {e for a in shown for e in alert_edges(a)}
    found = sum(1 for c in true_campaigns if c & alerted)
    keys_true = {a.key for a in shown if true_alert[a.key]}
    predicted = [c for c in campaigns if len(getattr(c, "alert_keys", [])) >= 2]
    right = sum(1 for c in predicted if set(c.alert_keys) & keys_true)
    suppressed = [a for a in alerts if a.suppressed]
    kinds: dict[str, int] = {}
    for a in suppressed:
        kind = (a.explanation[0].get("feature") if a.explanation else None) or "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "alerts": len(shown),
        "true_alerts": sum(true_alert.values()),
        "alerts_per_day_per_1000_hosts": len(shown) / per_day / per_k,
        "precision_by_severity": by_sev,
        "alert_precision": _ratio(sum(true_alert.values()), len(shown)),
        "campaigns": len(predicted),
        "true_campaigns": len(true_campaigns),
        "campaigns_found": found,
        "campaign_recall": _ratio(found, len(true_campaigns)),
        "campaign_precision": _ratio(right, len(predicted)),
        "false_campaigns_per_day_per_1000_hosts": (len(predicted) - right) / per_day / per_k,
        "suppressed": len(suppressed),
        "suppressed_true": sum(1 for a in suppressed if any(e in pos for e in alert_edges(a))),
        "suppressed_by_class": dict(sorted(kinds.items())),
    }


def edge_alert_scores(
    edges: pl.DataFrame,
    scores: Mapping[str, pl.DataFrame],
    thresholds: Mapping[str, float],
    alerts: Sequence[AlertRecord],
) -> np.ndarray:
    """One score per row of ``edges`` (window, src_host, dst_host) ranking them as the
    alert queue does: edges an alert (not suppressed) covers first, by severity then
    score (``10 + priority``); the rest by the detectors' scores relative to their
    thresholds (the largest anomaly log-odds above the threshold's, below 10)."""
    keys = ["window", "src_host", "dst_host"]
    frame = edges.select(keys)
    rel = None
    for name, sc in scores.items():
        t = min(max(thresholds.get(name, 0.5), 1e-9), 1 - 1e-9)
        col = (
            frame.join(sc.select(*keys, "score"), on=keys, how="left", maintain_order="left")[
                "score"
            ]
            .fill_null(0.0)
            .to_numpy()
        )
        col = np.clip(col, 1e-12, 1 - 1e-12)
        lo = np.log(col / (1 - col)) - math.log(t / (1 - t))
        rel = lo if rel is None else np.maximum(rel, lo)
    base = np.zeros(frame.height) if rel is None else 5.0 + np.clip(rel, -5.0, 4.9) / 1.0
    cover: dict[Edge, float] = {}
    for a in alerts:
        if a.suppressed:
            continue
        for e in alert_edges(a):
            cover[e] = max(cover.get(e, 0.0), 10.0 + a.priority)
    bump = np.array([cover.get((int(w), s, d), 0.0) for w, s, d in frame.iter_rows()])
    return np.maximum(base, bump)


def recall_fp(y: np.ndarray, s: np.ndarray, days: float) -> dict[str, float | None]:
    """``fp_per_day_at_recall_0_5`` and ``_0_8`` of scores ``s`` against labels ``y``."""
    out = {}
    for r, name in ((0.5, "fp_per_day_at_recall_0_5"), (0.8, "fp_per_day_at_recall_0_8")):
        v = fp_per_day_at_recall(y, s, r, days)
        out[name] = None if math.isnan(v) else v
    return out
