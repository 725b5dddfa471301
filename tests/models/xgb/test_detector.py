"""XGBoost detector: training, scoring, TreeSHAP explanations, plots, save/load, CLI."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from ingest.graphs import GraphStore
from models.base import Detector, ModelMismatch
from models.registry import detector_class
from models.xgb import XGBDetector
from models.xgb.features.table import FEATURES, feature_matrix
from models.xgb.treeshap import ADDITIVITY_TOL
from tests.builders import events_from_rows, make_dataset

WS = 1800
WINDOWS = 30
ATTACK_WINDOW = 27
TRAIN = list(range(24))
VICTIMS = [f"W{i}" for i in range(5, 11)]


def enterprise(seed: int = 0) -> pl.DataFrame:
    """24 workstations with one user each, a DC and 3 servers; a lateral burst at the end.

    Every window each user logs on to the DC and to one or two of its two usual
    servers (rarely a third). In ``ATTACK_WINDOW`` user U0 on W0 authenticates with
    NTLM to six other workstations (labelled), plus its usual traffic.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(WINDOWS):
        for i in range(24):
            host, user = f"W{i}", f"U{i}@DOM"
            t = w * WS + int(rng.integers(0, WS - 120))
            rows.append((t, user, user, host, "DC", "Kerberos", "Network", "LogOn", True, False))
            usual = [f"S{i % 3}", f"S{(i + 1) % 3}"]
            for s in rng.choice(usual, size=int(rng.integers(1, 3)), replace=False):
                ok = bool(rng.random() > 0.05)
                rows.append((t + 5, user, user, host, s, "Kerberos", "Network", "LogOn", ok, False))
            if rng.random() < 0.03:
                rows.append((t + 9, user, user, host, f"S{(i + 2) % 3}", "Kerberos", "Network",
                             "LogOn", True, False))  # fmt: skip
        if w == ATTACK_WINDOW:
            for k, victim in enumerate(VICTIMS):
                t = w * WS + 600 + 10 * k
                rows.append((t, "U0@DOM", "U0@DOM", "W0", victim, "NTLM", "Network", "LogOn",
                             True, True))  # fmt: skip
    return events_from_rows(sorted(rows))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> GraphStore:
    return GraphStore(make_dataset(tmp_path_factory.mktemp("ent"), enterprise()))


@pytest.fixture(scope="module")
def trained(store) -> XGBDetector:
    det = XGBDetector(device="cpu", n_estimators=60, seed=1, nthread=2)
    report = det.fit(store, TRAIN)
    assert report["positives"] > 0 and report["negatives"] > 0
    assert report["rows"] == report["positives"] + report["negatives"]
    return det


def test_registered_and_protocol(trained):
    assert detector_class("xgb") is XGBDetector
    assert isinstance(trained, Detector)
    assert trained.trained_windows == [0, TRAIN[-1]]
    assert trained.history.last_window == TRAIN[-1]


def test_lateral_edges_score_above_normal_ones(trained, store):
    scores = trained.score(store, [ATTACK_WINDOW])
    assert scores.columns == ["window", "src_host", "dst_host", "score"]
    assert scores.height == store.edges(windows=[ATTACK_WINDOW]).height
    assert scores["score"].is_between(0, 1).all()
    bad = scores.filter((pl.col("src_host") == "W0") & pl.col("dst_host").is_in(VICTIMS))
    good = scores.join(bad, on=["src_host", "dst_host"], how="anti")
    assert bad.height == len(VICTIMS)
    # every lateral edge outranks every ordinary edge of the window
    assert bad["score"].min() > good["score"].max()


def test_incremental_scores_equal_a_fresh_replay(trained, store, tmp_path):
    later = [28, 29]
    path = tmp_path / "m.xgb"
    trained.save(path)
    incremental = XGBDetector.load(path, device="cpu")
    assert TRAIN[-1] <= incremental.history.last_window < later[0]
    a = incremental.score(store, later)
    assert incremental.history.last_window == later[-1]  # history was continued
    replay = XGBDetector.load(path, device="cpu")
    replay.history = None  # forces a replay from the first window
    b = replay.score(store, later)
    assert a.equals(b)


def test_shap_is_additive_and_matches_shap_library(trained, store):
    import shap

    x = feature_matrix(trained.features(store, [ATTACK_WINDOW]))
    res = trained.shap_values(x)
    assert res.values.shape == (len(x), len(FEATURES))
    assert res.max_additivity_error() <= ADDITIVITY_TOL
    margin = np.log(trained.score(store, [ATTACK_WINDOW])["score"].to_numpy())
    margin -= np.log1p(-trained.score(store, [ATTACK_WINDOW])["score"].to_numpy())
    np.testing.assert_allclose(res.margin, margin, atol=1e-4)  # anomaly log-odds
    lib = shap.TreeExplainer(trained.booster).shap_values(x)
    np.testing.assert_allclose(res.values, -lib, atol=1e-4)  # label-free: negated p(edge)


def test_explanations_name_real_feature_values(trained, store):
    edges = [(ATTACK_WINDOW, "W0", VICTIMS[0]), (ATTACK_WINDOW, "W3", "DC")]
    exps = trained.explain(store, edges, top=4)
    feats = trained.features(store, [ATTACK_WINDOW])
    scores = trained.score(store, [ATTACK_WINDOW])
    for exp, (w, s, d) in zip(exps, edges, strict=True):
        assert (exp.window, exp.src_host, exp.dst_host) == (w, s, d)
        key = (pl.col("src_host") == s) & (pl.col("dst_host") == d)
        row = feats.filter(key).row(0, named=True)
        assert exp.score == pytest.approx(scores.filter(key)["score"][0], abs=1e-6)
        assert len(exp.contributions) == 4
        contribs = [c.contribution for c in exp.contributions]
        assert contribs == sorted(contribs, reverse=True)
        for c in exp.contributions:
            assert c.value == row[c.feature] or (np.isnan(c.value) and np.isnan(row[c.feature]))
            assert c.text
    assert exps[0].contributions[0].contribution > 0
    assert exps[0].score > exps[1].score
    with pytest.raises(KeyError, match="not in"):
        trained.explain(store, [(ATTACK_WINDOW, "W0", "NOPE")])


def test_save_load_round_trip(trained, store, tmp_path):
    path = tmp_path / "model.xgb"
    trained.save(path)
    assert path.is_file()
    loaded = XGBDetector.load(path, device="cpu")
    assert loaded.mode == trained.mode and loaded.window_seconds == WS
    assert loaded.trained_windows == trained.trained_windows
    assert loaded.score(store, [ATTACK_WINDOW]).equals(trained.score(store, [ATTACK_WINDOW]))
    (a,) = trained.explain(store, [(ATTACK_WINDOW, "W0", VICTIMS[1])])
    (b,) = loaded.explain(store, [(ATTACK_WINDOW, "W0", VICTIMS[1])])
    assert a.score == b.score and len(a.contributions) == len(b.contributions) == 5
    for ca, cb in zip(a.contributions, b.contributions, strict=True):
        assert (ca.feature, ca.contribution, ca.text) == (cb.feature, cb.contribution, cb.text)
    (tmp_path / "junk.xgb").write_text("not a model")
    with pytest.raises(ModelMismatch):
        XGBDetector.load(tmp_path / "junk.xgb")


def test_window_size_mismatch_is_refused(trained, tmp_path):
    other = GraphStore(make_dataset(tmp_path / "w900", enterprise().head(200), window_seconds=900))
    with pytest.raises(ModelMismatch, match="900s"):
        trained.score(other, other.windows[:1])


def test_supervised_mode_with_time_split(store):
    det = XGBDetector(mode="supervised", device="cpu", n_estimators=30, nthread=2)
    with pytest.raises(ValueError, match="no labelled edge"):
        det.fit(store, TRAIN)
    report = det.fit(store, list(range(WINDOWS)))
    assert report["positives"] == len(VICTIMS) and report["mode"] == "supervised"
    scores = det.score(store, [ATTACK_WINDOW]).sort("score", descending=True)
    assert set(scores.head(len(VICTIMS))["dst_host"]) == set(VICTIMS)


def test_shap_plots_write_png(trained, store, tmp_path):
    from models.xgb.plots import summary_plot, waterfall_plot

    x = feature_matrix(trained.features(store, [ATTACK_WINDOW]))
    res = trained.shap_values(x)
    for path in (
        summary_plot(res, x, tmp_path / "summary.png"),
        waterfall_plot(res, x, 0, tmp_path / "waterfall.png", title="W0 -> W5"),
    ):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_explain_command(trained, store, tmp_path):
    from service.cli import build_app

    model = tmp_path / "model.xgb"
    trained.save(model)
    app = build_app()
    runner = CliRunner()
    edge = f"{ATTACK_WINDOW},W0,{VICTIMS[2]}"
    args = ["explain", "--model", str(model), "--data", str(store.path), "--edge", edge]
    res = runner.invoke(
        app, [*args, "--json", "--device", "cpu", "--plot", str(tmp_path / "w.png")]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["src_host"] == "W0" and out["dst_host"] == VICTIMS[2]
    assert len(out["contributions"]) == 5 and all(c["text"] for c in out["contributions"])
    assert (tmp_path / "w.png").stat().st_size > 5000
    res = runner.invoke(app, [*args[:-1], "27,W0", "--device", "cpu"])
    assert res.exit_code != 0 and "WINDOW,SRC,DST" in res.output
    res = runner.invoke(app, [*args[:-1], "27,W0,NOPE", "--device", "cpu"])
    assert res.exit_code == 1
    res = runner.invoke(app, [*args, "--device", "cpu"])
    assert res.exit_code == 0 and "score" in res.output and "+" in res.output


@pytest.mark.gpu
def test_cuda_training_and_gpu_treeshap(store):
    det = XGBDetector(device="cuda", n_estimators=30, seed=1)
    assert det.fit(store, TRAIN)["device"] == "cuda"
    x = feature_matrix(det.features(store, [ATTACK_WINDOW]))
    gpu = det.shap_values(x)  # GPU TreeSHAP, additivity checked inside
    det.booster.set_param({"device": "cpu"})
    cpu = det.shap_values(x)
    np.testing.assert_allclose(gpu.values, cpu.values, atol=1e-4)
