"""End-to-end tests of `hopwatch train`, `hopwatch score` and `hopwatch evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from service.cli import build_app
from service.cli.detect import detector_options

GNN_FLAGS = ["--detector", "gnn", "--device", "cpu", "--epochs", "1", "--hidden", "8"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small enterprise, freshly simulated and ingested through the real commands."""
    root = tmp_path_factory.mktemp("cli")
    app = build_app()
    runner = CliRunner()
    sim = root / "sim"
    out = runner.invoke(
        app,
        [
            "simulate",
            "--out",
            str(sim),
            "--days",
            "6",
            "--hosts",
            "60",
            "--users",
            "40",
            "--seed",
            "5",
            "--campaigns",
            "2",
        ],
    )
    assert out.exit_code == 0, out.output
    data = root / "data"
    out = runner.invoke(
        app,
        [
            "ingest",
            "lanl",
            "--auth",
            str(sim / "auth.txt"),
            "--redteam",
            str(sim / "redteam.txt"),
            "--out",
            str(data),
        ],
    )
    assert out.exit_code == 0, out.output
    return data


def test_train_score_evaluate(tmp_path: Path, data: Path) -> None:
    app = build_app()
    runner = CliRunner()
    model = tmp_path / "gnn.pt"
    out = runner.invoke(
        app, ["train", "--data", str(data), "--model", str(model), "--seed", "2", *GNN_FLAGS]
    )
    assert out.exit_code == 0, out.output
    assert model.is_file()

    scores = tmp_path / "scores.parquet"
    out = runner.invoke(
        app, ["score", "--model", str(model), "--data", str(data), "--out", str(scores)]
    )
    assert out.exit_code == 0, out.output
    frame = pl.read_parquet(scores)
    assert frame.columns == ["window", "src_host", "dst_host", "score"]
    assert frame.height == pl.read_parquet(data / "edges").height
    assert frame["score"].is_between(0, 1).all()

    out = runner.invoke(
        app, ["evaluate", "--model", str(model), "--data", str(data), "--json", *GNN_FLAGS]
    )
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("auc", "ap", "tpr", "fpr", "precision", "threshold", "fp_per_day_at_recall_0_5"):
        assert key in result
    assert result["edges"] > 0 and result["positives"] > 0
    assert 0.5 <= result["auc"] <= 1.0
    assert set(result["baseline"]["unknown_auth"]) >= {"auc", "ap", "tpr", "fpr"}
    assert result["split"]["fit_windows"][1] < result["split"]["cut_window"]


def test_evaluate_trains_when_no_model_and_rejects_bad_input(tmp_path: Path, data: Path) -> None:
    app = build_app()
    runner = CliRunner()
    model = tmp_path / "fresh.pt"
    out = runner.invoke(
        app,
        [
            "evaluate",
            "--data",
            str(data),
            "--model",
            str(model),
            "--protocol",
            "argus",
            "--json",
            *GNN_FLAGS,
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.strip().splitlines()[-1])["split"]["protocol"] == "argus"
    assert model.is_file()  # the model trained for the evaluation is kept
    out = runner.invoke(app, ["evaluate", "--data", str(data), "--detector", "nope"])
    assert out.exit_code != 0 and "unknown detector" in out.output
    out = runner.invoke(app, ["evaluate", "--data", str(tmp_path / "missing")])
    assert out.exit_code != 0
    out = runner.invoke(
        app, ["score", "--model", str(tmp_path / "none.pt"), "--data", str(data), "--out", "x"]
    )
    assert out.exit_code != 0 and "no model file" in out.output


def test_detector_options_are_filtered_by_constructor() -> None:
    class OnlySeed:
        def __init__(self, *, seed: int = 0) -> None:
            self.seed = seed

    opts = {"seed": 3, "device": "cpu", "hidden": None}
    assert detector_options(OnlySeed, opts) == {"seed": 3}

    class Anything:
        def __init__(self, **kwargs: object) -> None:
            self.kwargs = kwargs

    assert detector_options(Anything, opts) == {"seed": 3, "device": "cpu"}
