"""The alerting stage over real detectors in lockstep, and ``hopwatch evaluate --detector all``."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from detections.alerting import evaluate_alerts, run_alerting
from detections.alerting.quality import SOC_KEYS
from ingest.graphs import GraphStore
from models.gnn import GNNDetector
from models.xgb import XGBDetector
from tests.models.gnn.builders import office_dataset

WS = 1800
PAIR = ("W3", "S2")
VISITS = (130, 134)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("alerting")
    plant = [(w * WS + 100, *PAIR) for w in VISITS]
    store = GraphStore(office_dataset(root / "data", plant=plant))
    train = [w for w in store.windows if w < 120]
    gnn = GNNDetector(
        hidden=16, epochs=3, device="cpu", seed=1, warmup_windows=4, lr=1e-2, ensemble=1
    )
    gnn.fit(store, train)
    xgb = XGBDetector(device="cpu", n_estimators=40, seed=1, nthread=2)
    xgb.fit(store, train)
    paths = {"gnn": root / "gnn.pt", "xgb": root / "xgb.model"}
    gnn.save(paths["gnn"])
    xgb.save(paths["xgb"])
    return store, paths


def test_the_attackers_second_visit_joins_its_alert_and_scores_as_high(trained):
    store, paths = trained
    dets = {
        "gnn": GNNDetector.load(paths["gnn"], device="cpu"),
        "xgb": XGBDetector.load(paths["xgb"]),
    }
    windows = [w for w in store.windows if w >= 120]
    run = run_alerting(dets, store, windows, thresholds={"gnn": 0.5, "xgb": 0.5})
    shown = [a for a in run.alerts if not a.suppressed]
    (hop,) = [a for a in shown if (a.src_host, a.dst_host) == PAIR]
    assert sorted(hop.occurrences) == list(VISITS)
    assert run.stage.quarantine.first_held(PAIR) == VISITS[0]
    facts = [r["feature"] for r in hop.explanation]
    # The facts of its strongest occurrence: the second visit, still "new" to the history.
    assert "account_new_to_source" in facts and "revisit" in facts
    assert abs(sum(r["contribution"] for r in hop.explanation) - hop.stage_score) < 1e-3
    for name, scores in run.scores.items():
        visits = scores.filter(pl.col("src_host") == PAIR[0], pl.col("dst_host") == PAIR[1])
        first, second = visits.sort("window")["score"].to_list()
        assert second >= first - 0.05, name


def test_evaluate_all_measures_the_alerts(trained):
    store, paths = trained
    dets = {
        "gnn": GNNDetector.load(paths["gnn"], device="cpu"),
        "xgb": XGBDetector.load(paths["xgb"]),
    }
    res = evaluate_alerts(dets, store, threshold_fpr=0.01)
    q = res.quality
    assert q["campaign_recall"] == 1.0 and q["true_campaigns"] == 1
    assert q["true_alerts"] >= 1 and q["suppressed_true"] == 0
    assert set(res.detectors) == {"gnn", "xgb"}
    out = res.as_dict()
    assert out["detector"] == "all" and set(SOC_KEYS) <= set(out)
    assert {"auc", "ap", "baseline", "split", "thresholds", "detectors"} <= set(out)
    assert out["positives"] == len(VISITS) and out["tpr"] == 1.0


def test_cli_evaluate_all_prints_the_json(trained, monkeypatch):
    import typer

    from service.cli import build_app
    from service.cli.detect import model_paths

    store, paths = trained
    monkeypatch.delenv("HOPWATCH_MODELS__GNN", raising=False)
    monkeypatch.delenv("HOPWATCH_MODELS__XGB", raising=False)
    args = ["evaluate", "--detector", "all", "--data", str(store.path), "--json"]
    args += ["--model", f"gnn={paths['gnn']}", "--model", f"xgb={paths['xgb']}"]
    res = CliRunner().invoke(build_app(), [*args, "--threshold-fpr", "0.01", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["campaign_recall"] == 1.0
    assert set(out["precision_by_severity"]) == {
        "low",
        "medium",
        "high",
        "critical",
        "high+critical",
    }
    bad = CliRunner().invoke(build_app(), [*args[:-1], "--model", "nope=/x"])
    assert bad.exit_code == 2
    with pytest.raises(typer.BadParameter, match="NAME=PATH"):
        model_paths(["nope=/x"])
