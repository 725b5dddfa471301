"""Tests of the GNN score ensemble (K members behind one GNNDetector)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ingest.graphs import GraphStore
from models.base import ModelMismatch
from models.gnn import GNNDetector
from models.gnn.network import mean_prob_logit, window_ranks
from models.gnn.train import GNNConfig, build_model, member_seed
from tests.models.gnn.builders import office_dataset

WS = 1800
PLANT_WINDOW = 130
PLANT = [(PLANT_WINDOW * WS + 100, "W3", "W9")]
KW = {"hidden": 8, "epochs": 2, "device": "cpu", "seed": 5, "warmup_windows": 4, "lr": 1e-2}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    return GraphStore(office_dataset(tmp_path_factory.mktemp("office") / "d", days=3, plant=PLANT))


@pytest.fixture(scope="module")
def pair(store: GraphStore) -> tuple[GNNDetector, GNNDetector]:
    """(K=2 ensemble, K=1 model with the same seed), trained on the same windows."""
    train = [w for w in store.windows if w < 120]
    two = GNNDetector(ensemble=2, **KW)
    two.fit(store, train)
    one = GNNDetector(ensemble=1, **KW)
    one.fit(store, train)
    return two, one


def test_config_and_member_seeds() -> None:
    with pytest.raises(ValueError):
        GNNConfig(ensemble=0)
    with pytest.raises(ValueError, match="combine"):
        GNNConfig(combine="median")
    assert member_seed(7, 0) == 7 and len({member_seed(7, k) for k in range(4)}) == 4
    model = build_model(GNNConfig(hidden=4, ensemble=3))
    weights = [m.inp.weight for m in model.members]
    assert model.size == 3 and not torch.equal(weights[0], weights[1])
    assert model.initial_state(5).shape == (5, 12)
    # member 0 is initialised exactly as a single model with the same seed
    single = build_model(GNNConfig(hidden=4, ensemble=1))
    assert torch.equal(single.members[0].inp.weight, weights[0])


def test_mean_prob_logit_and_ranks() -> None:
    logits = torch.tensor([[2.0, -1.0, 30.0], [0.0, -3.0, -30.0]])
    want = torch.logit(torch.sigmoid(logits).mean(0))
    torch.testing.assert_close(mean_prob_logit(logits), want)
    anomaly = torch.tensor([[0.1, 0.9, 0.5, 0.5], [0.2, 0.1, 0.8, 0.3]])
    # member 0 ranks: 0, 3/3, 1/3 (tie), 1/3; member 1: 1/3, 0, 1, 2/3
    expect = np.array([1 / 6, 1 / 2, 2 / 3, 1 / 2])
    np.testing.assert_allclose(window_ranks(anomaly).numpy(), expect)
    assert window_ranks(torch.tensor([[0.3]])).tolist() == [1.0]


def test_ensemble_scores_are_the_mean_of_member_probabilities(store, pair) -> None:
    two, one = pair
    assert two.model.size == 2
    windows = store.windows[120:132]
    a = two.score(store, windows)
    assert a.height == store.edges(windows=windows).height
    s = a["score"].to_numpy()
    assert np.all((s >= 0) & (s <= 1))
    # member 0 of the ensemble is trained exactly like the single model (same seed, same
    # inputs, independent losses), so its weights match; the ensemble's scores differ
    for (name, p), q in zip(
        two.model.members[0].state_dict().items(), one.model.state_dict().values(), strict=False
    ):
        torch.testing.assert_close(p, q, msg=name)
    b = one.score(store, windows)["score"].to_numpy()
    assert not np.allclose(s, b)
    planted = a.filter((a["src_host"] == "W3") & (a["dst_host"] == "W9"))
    assert planted.height == 1 and planted["score"][0] > np.quantile(s, 0.9)


def test_ensemble_training_is_deterministic_and_round_trips(tmp_path, store, pair) -> None:
    two, _ = pair
    again = GNNDetector(ensemble=2, **KW)
    again.fit(store, [w for w in store.windows if w < 120])
    windows = store.windows[118:126]
    a = two.score(store, windows)
    assert a.equals(again.score(store, windows))
    path = tmp_path / "ens.pt"
    two.save(path)
    loaded = GNNDetector.load(path, device="cpu")
    assert loaded.config.ensemble == 2 and loaded.model.size == 2
    assert loaded.score(store, windows).equals(a)  # resumes from the saved state
    assert loaded.score(store, store.windows[100:110]).equals(
        two.score(store, store.windows[100:110])
    )
    (exp,) = loaded.explain(store, [(PLANT_WINDOW, "W3", "W9")], top=3)
    assert exp.contributions


def test_rank_combination_and_old_format(tmp_path, store, pair) -> None:
    two, _ = pair
    two.config.combine = "rank"
    try:
        ranked = two.score(store, store.windows[120:124])
    finally:
        two.config.combine = "prob"
    for _, part in ranked.group_by("window"):
        s = part["score"].to_numpy()
        # the mean of two members' within-window ranks k / (n - 1): in [0, 1], on a grid of
        # 1 / (2 (n - 1)), and the top edge is some member's rank 1 (the members need not agree)
        steps = s * 2 * (len(s) - 1)
        assert s.min() >= 0.0 and s.max() <= 1.0 and s.max() >= 0.5
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    path = tmp_path / "ens.pt"
    two.save(path)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 2
    torch.save(payload, path)
    with pytest.raises(ModelMismatch, match=r"format 2 is not supported.*retrain"):
        GNNDetector.load(path)
