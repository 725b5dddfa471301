"""Tests of the temporal GNN detector (models/gnn*.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ingest.graphs import GraphStore
from models.base import SCORE_COLUMNS, Detector, ModelMismatch
from models.gnn import GNNDetector
from models.gnn.batches import BATCH_COLUMNS, WindowBatch
from models.gnn.history import GraphHistory, PairHistory
from models.gnn.history.users import USER_FEATURES, EdgeUsers, UserHistory
from models.gnn.runtime import resolve_device
from models.gnn.train import GNNConfig
from tests.models.gnn.builders import office_dataset

WS = 1800
# The planted hop: workstation W3 -> workstation W9 (never seen), NTLM, in window 130.
PLANT_WINDOW = 130
PLANT = [(PLANT_WINDOW * WS + 100, "W3", "W9")]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    return GraphStore(office_dataset(tmp_path_factory.mktemp("office") / "d", days=3, plant=PLANT))


@pytest.fixture(scope="module")
def trained(store: GraphStore) -> tuple[GNNDetector, dict]:
    det = GNNDetector(hidden=16, epochs=3, device="cpu", seed=1, warmup_windows=4, lr=1e-2)
    report = det.fit(store, [w for w in store.windows if w < 120])
    return det, report


def test_pair_history_add_and_lookup() -> None:
    ph = PairHistory()
    n, last = ph.lookup(np.array([1]), np.array([2]))
    assert n.tolist() == [0] and last.tolist() == [-1]
    new = ph.add(np.array([1, 3, 0]), np.array([2, 1, 5]), window=7)
    assert new.tolist() == [True, True, True]
    new = ph.add(np.array([3, 2]), np.array([1, 1]), window=9)
    assert new.tolist() == [False, True]
    n, last = ph.lookup(np.array([3, 1, 0, 2, 5]), np.array([1, 2, 5, 1, 5]))
    assert n.tolist() == [2, 1, 1, 1, 0]
    assert last.tolist() == [9, 7, 7, 9, -1]
    assert len(ph) == 4
    saved = ph.export()
    assert np.all(np.diff(saved["keys"]) > 0)
    assert saved["windows"].tolist() == [1, 1, 1, 2]  # keys (0,5), (1,2), (2,1), (3,1)


def test_history_features_only_use_the_past() -> None:
    hist = GraphHistory(num_nodes=4, window_seconds=WS)
    cols = {c: np.ones(1) for c in ("count", "n_users", "failures", "n_kerberos", "n_ntlm")}
    cols.update({c: np.zeros(1) for c in ("n_network", "n_interactive", "n_remote_interactive")})
    cols.update({c: np.zeros(1) for c in ("n_service", "n_batch", "n_tgs", "n_tgt")})
    batch = WindowBatch(5, np.array([0]), np.array([1]), cols, np.zeros(1, dtype=bool))
    before = hist.pair_features(np.array([0]), np.array([1]), 5)
    assert before[0, 0] == 0  # pair not seen before its own window
    x = hist.observe(batch)
    assert x.shape == (4, 17) and x[0, 0] == 1 and x[2, 0] == 0
    after = hist.pair_features(np.array([0, 1]), np.array([1, 0]), 6)
    assert after[0, 0] == 1 and after[1, 0] == 0 and after[1, 3] == 1  # reverse seen
    assert hist.known_nodes().tolist() == [0, 1]


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="mode"):
        GNNConfig(mode="oracle")
    with pytest.raises(ValueError):
        GNNConfig(hidden=0)
    assert GNNConfig().warmup(1800) == 48


def test_is_a_detector_and_resolves_devices() -> None:
    assert isinstance(GNNDetector(device="cpu"), Detector)
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_loss_decreases(trained: tuple[GNNDetector, dict]) -> None:
    _, report = trained
    assert len(report["loss"]) == 3
    assert report["loss"][-1] < report["loss"][0]
    assert report["loss"][-1] < 0.6  # well below chance (ln 2 = 0.693)


def test_scores_cover_every_edge_in_range(store: GraphStore, trained) -> None:
    det, _ = trained
    windows = [w for w in store.windows if w >= 120]
    scores = det.score(store, windows)
    edges = store.edges(windows=windows)
    assert tuple(scores.columns) == SCORE_COLUMNS
    assert scores.height == edges.height
    assert scores["score"].min() >= 0.0 and scores["score"].max() <= 1.0
    assert sorted(scores["window"].unique().to_list()) == windows


def test_planted_edge_outranks_normal_edges(store: GraphStore, trained) -> None:
    det, _ = trained
    scores = det.score(store, [w for w in store.windows if w >= 120])
    planted = scores.filter((scores["src_host"] == "W3") & (scores["dst_host"] == "W9"))
    assert planted.height == 1
    normal = scores.filter(~((scores["src_host"] == "W3") & (scores["dst_host"] == "W9")))
    assert planted["score"][0] > normal["score"].max()


def test_detector_mode_scores(store: GraphStore) -> None:
    det = GNNDetector(hidden=8, epochs=1, device="cpu", mode="detector", warmup_windows=4)
    det.fit(store, store.windows[:60])
    scores = det.score(store, store.windows[60:64])
    assert scores.height == store.edges(windows=store.windows[60:64]).height


def test_training_is_deterministic_on_cpu(store: GraphStore) -> None:
    runs = []
    for _ in range(2):
        det = GNNDetector(hidden=8, epochs=1, device="cpu", seed=3, warmup_windows=4)
        det.fit(store, store.windows[:40])
        runs.append(det.score(store, store.windows[40:44])["score"].to_numpy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_save_load_round_trip(tmp_path, store: GraphStore, trained) -> None:
    det, _ = trained
    path = tmp_path / "gnn.pt"
    det.save(path)
    loaded = GNNDetector.load(path, device="cpu")
    assert loaded.window_seconds == WS
    assert loaded.nodes == store.nodes.sort("node_id")["host"].to_list()
    assert loaded.trained_windows == det.trained_windows
    windows = store.windows[118:124]
    a = det.score(store, windows)
    b = loaded.score(store, windows)
    assert a.equals(b)


def test_load_refuses_other_window_size_and_junk(tmp_path, trained) -> None:
    det, _ = trained
    path = tmp_path / "gnn.pt"
    det.save(path)
    other = GraphStore(office_dataset(tmp_path / "hourly", days=1, window_seconds=3600))
    loaded = GNNDetector.load(path, device="cpu")
    with pytest.raises(ModelMismatch, match="1800-second windows"):
        loaded.score(other, other.windows)
    junk = tmp_path / "junk.pt"
    torch.save({"format": "something-else"}, junk)
    with pytest.raises(ModelMismatch, match="not a hopwatch GNN model"):
        GNNDetector.load(junk)
    payload = torch.load(path, weights_only=True)
    payload["features"]["pair"] = ["pair_seen"]
    torch.save(payload, junk)
    with pytest.raises(ModelMismatch, match="feature schema"):
        GNNDetector.load(junk)
    # a model saved before the account-session feature: refused, naming what is new
    payload = torch.load(path, weights_only=True)
    payload["features"]["user"] = [n for n in USER_FEATURES if n != "user_session_src"]
    torch.save(payload, junk)
    with pytest.raises(ModelMismatch, match=r"user: this hopwatch adds user_session_src.*retrain"):
        GNNDetector.load(junk)
    with pytest.raises(ModelMismatch, match="not trained"):
        GNNDetector(device="cpu").score(other, other.windows)


def test_explain_names_the_novel_pair(store: GraphStore, trained) -> None:
    det, _ = trained
    (exp,) = det.explain(store, [(PLANT_WINDOW, "W3", "W9")], top=5)
    assert exp.src_host == "W3" and 0 <= exp.score <= 1
    assert {c.feature for c in exp.contributions} <= {
        "pair",
        "user",
        "hist_src",
        "hist_dst",
        "h_src",
        "h_dst",
    }
    pair = next(c for c in exp.contributions if c.feature == "pair")
    assert pair.text.startswith("first time W3 reached W9")
    assert pair.contribution > 0  # a never-seen pair pushes towards anomalous
    # Every group is said as a fact of the logs, never as a hidden state's numbers.
    assert not any("norm" in c.text or "state" in c.text for c in exp.contributions)
    for c in exp.contributions:
        if c.feature in ("h_src", "h_dst"):
            assert "never-seen connections" in c.text
    with pytest.raises(KeyError, match="NOPE"):
        det.explain(store, [(PLANT_WINDOW, "NOPE", "W9")])


def test_scoring_resumes_from_the_saved_state(tmp_path, store: GraphStore, trained) -> None:
    det, _ = trained
    later = [w for w in store.windows if w >= 125]
    assert det.state is not None and det.state.window == 119
    assert det.resumes(store, later[0]) and not det.resumes(store, 119)
    resumed = det.score(store, later)
    state, det.state = det.state, None  # force a replay from the first window
    try:
        replayed = det.score(store, later)
    finally:
        det.state = state
    assert resumed.height == replayed.height == store.edges(windows=later).height
    np.testing.assert_allclose(resumed["score"], replayed["score"], rtol=0, atol=1e-6)
    path = tmp_path / "gnn.pt"
    det.save(path)
    loaded = GNNDetector.load(path, device="cpu")
    assert loaded.state is not None and loaded.state.window == 119
    assert loaded.score(store, later).equals(resumed)
    # Scoring twice from the state gives the same scores (the saved state is not advanced).
    assert det.score(store, later).equals(resumed)


def _cols(n: int) -> dict[str, np.ndarray]:
    return {c: np.ones(n) for c in BATCH_COLUMNS[2:]}


def test_window_context_leaves_the_pair_itself_out() -> None:
    hist = GraphHistory(num_nodes=6, window_seconds=WS)
    hist.observe(WindowBatch(1, np.array([0]), np.array([1]), _cols(1), np.zeros(1, bool)))
    # Window 2: 2 -> 3 and 2 -> 4 are new, 0 -> 1 is known, 5 -> 5 is a self-loop.
    src, dst = np.array([2, 2, 0, 5]), np.array([3, 4, 1, 5])
    batch = WindowBatch(2, src, dst, _cols(4), np.zeros(4, bool))
    ctx = np.expm1(hist.window_context(batch, np.array([2, 0, 2]), np.array([3, 3, 1])))
    # (2, 3): one *other* new out-pair at 2, no other new in-pair at 3.
    np.testing.assert_allclose(ctx[0, :2], [1, 0], atol=1e-6)
    # (0, 3), a non-edge: no new out-pair at 0, one new in-pair at 3 (from 2).
    np.testing.assert_allclose(ctx[1, :2], [0, 1], atol=1e-6)
    # (2, 1): two new out-pairs at 2 (neither is this pair).
    np.testing.assert_allclose(ctx[2, 0], 2, atol=1e-6)


def test_account_history_ignores_self_loops_and_new_accounts() -> None:
    users = UserHistory()
    # Window 1: account 0 logs off on host 7 (self-loop), account 1 goes 1 -> 2.
    src, dst = np.array([7, 1]), np.array([7, 2])
    users.observe(EdgeUsers.build(src, dst, src, dst, np.array([0, 1])), src, dst, 1)
    # Window 2: account 0 from host 7 to host 3; a brand-new account 2 from 4 to 5.
    src, dst = np.array([7, 4]), np.array([3, 5])
    eu = EdgeUsers.build(src, dst, src, dst, np.array([0, 2]))
    f = dict(zip(USER_FEATURES, users.features(eu, np.arange(2), src, dst).T, strict=True))
    assert f["user_new_from_src"].tolist() == [1.0, 0.0]  # the logoff on 7 does not count
    assert f["user_new_both"].tolist() == [1.0, 0.0]  # new account: not a stolen credential
    assert f["user_new_anywhere"].tolist() == [0.0, 1.0]


def test_pair_history_matches_a_dict_across_growth_and_repeats():
    """Lookups and new-pair masks equal a plain dict's, through many table doublings.

    A pair repeated within one window counts once, and only its first occurrence is new.
    """
    from models.gnn.history.pairs import PairHistory

    rng = np.random.default_rng(0)
    table, ref = PairHistory(capacity=4), {}
    for w in range(200):
        pairs = rng.integers(0, 60, size=(int(rng.integers(1, 200)), 2))  # repeats included
        q = rng.integers(0, 70, size=(100, 2))
        n, last = table.lookup(q[:, 0], q[:, 1])
        want = [ref.get((x, y), (0, -1)) for x, y in q.tolist()]
        assert list(zip(n.tolist(), last.tolist(), strict=True)) == want
        new = table.add(pairs[:, 0], pairs[:, 1], w)
        first = set()
        expected = []
        for x, y in pairs.tolist():
            expected.append((x, y) not in ref and (x, y) not in first)
            first.add((x, y))
        assert new.tolist() == expected
        for x, y in first:
            ref[(x, y)] = (ref.get((x, y), (0, -1))[0] + 1, w)
        assert 2 * len(table) <= len(table.table)  # at most half full
    assert len(table) == len(ref)


def test_pair_history_export_round_trip_and_two_table_layout():
    """Export gives sorted arrays; they (and the two-table layout of older models) load back."""
    from models.gnn.history.pairs import PairHistory

    rng = np.random.default_rng(1)
    table = PairHistory()
    for w in range(20):
        pairs = rng.integers(0, 300, size=(50, 2))
        table.add(pairs[:, 0], pairs[:, 1], w)
    saved = table.export()
    q = rng.integers(0, 300, size=(2000, 2))
    want = table.lookup(q[:, 0], q[:, 1])
    back = PairHistory.from_export(saved)
    assert len(back) == len(table)
    np.testing.assert_array_equal(np.stack(back.lookup(q[:, 0], q[:, 1])), np.stack(want))
    # The older layout: a main table plus a small one of recent pairs (disjoint, sorted).
    cut = np.arange(len(saved["keys"])) % 3 == 0
    old = {k: v[~cut] for k, v in saved.items()}
    old.update(dkeys=saved["keys"][cut], dwindows=saved["windows"][cut], dlast=saved["last"][cut])
    back = PairHistory.from_export(old)
    np.testing.assert_array_equal(np.stack(back.lookup(q[:, 0], q[:, 1])), np.stack(want))


def test_session_rows_keep_successful_interactive_logons_on_the_destination() -> None:
    import polars as pl

    from models.gnn.history.users import session_rows

    nodes = pl.DataFrame({"host": ["A", "B", "C"], "node_id": [0, 1, 2]})
    events = pl.DataFrame(
        {
            "window": [3, 3, 3, 3, 4],
            "src_user": ["u1", "u2", "u3", "u1", "u4"],
            "src_host": ["A", "A", "C", "A", "B"],
            "dst_host": ["A", "B", "C", "A", "C"],
            "logon_type": [
                "Interactive",
                "RemoteInteractive",
                "Interactive",
                "Interactive",
                "Network",
            ],
            "orientation": ["LogOn", "LogOn", "LogOn", "LogOff", "LogOn"],
            "success": [True, True, False, True, True],
        }
    )
    ids: dict[str, int] = {}
    window, host, user = session_rows(events, nodes, ids)
    got = sorted(zip(window.tolist(), host.tolist(), user.tolist(), strict=True))
    # u1 at its console on A, u2's RDP session on B; not the failed logon, logoff or network logon
    assert got == [(3, 0, ids["u1"]), (3, 1, ids["u2"])]


def test_session_on_the_source_decays_and_counts_the_current_window() -> None:
    from models.gnn.history.users import SESSION_HALF_LIFE_SECONDS

    users = UserHistory(window_seconds=WS)
    # Window 1: account 0 logs on interactively at host 7 (a self-loop and a session).
    src, dst = np.array([7]), np.array([7])
    eu = EdgeUsers.build(src, dst, src, dst, np.array([0]), sessions=(np.array([0]), np.array([7])))
    users.observe(eu, src, dst, 1)
    # Window 5: account 0 from 7 to 3; account 1 from 4 to 3 (no session on 4); account 2
    # from 5 to 6 with a session opened on 5 in this very window.
    src, dst = np.array([7, 4, 5]), np.array([3, 3, 6])
    eu = EdgeUsers.build(
        src, dst, src, dst, np.array([0, 1, 2]), sessions=(np.array([2]), np.array([5]))
    )
    f = dict(
        zip(USER_FEATURES, users.features(eu, np.arange(3), src, dst, window=5).T, strict=True)
    )
    decayed = 0.5 ** (4 * WS / SESSION_HALF_LIFE_SECONDS)
    np.testing.assert_allclose(f["user_session_src"], [decayed, 0.0, 1.0], rtol=1e-6)
    # the same accounts carried to another source (a corrupted pair): no session there
    other = users.features(eu, np.arange(3), np.array([9, 9, 9]), dst, window=5)
    assert other[:, USER_FEATURES.index("user_session_src")].tolist() == [0.0, 0.0, 0.0]
