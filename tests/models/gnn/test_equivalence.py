"""The fast scoring path of the GNN gives the scores of the original, plain numpy one.

The reference below is the code the scoring path had before the pair tables became
numba hash tables and a window's lookups were shared (two sorted tables searched with
``np.searchsorted``; window context from its own lookup; account pairs deduplicated
with ``np.unique``; every pair input built by the original general ``Replay.pairs``). Both
replays score the same trained model on a small simulated enterprise; the scores must
be bit-identical, on every window and in both modes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ingest.graphs import GraphStore
from models.evaluate import store_split
from models.gnn import GNNDetector
from models.gnn.batches import iter_batches
from models.gnn.history.graph import EDGE_FEATURES, edge_features
from models.gnn.history.pairs import PairHistory
from models.gnn.history.users import USER_FEATURES, EdgeUsers, UserHistory
from models.gnn.replay import Replay
from models.gnn.runtime import cpu_threads


class SortedPairHistory:
    """The original pair table: a large sorted table and a small one of recent pairs."""

    merge_at = 64  # small, so that the tests merge often

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.windows = np.zeros(0, dtype=np.int64)
        self.last = np.zeros(0, dtype=np.int64)
        self.dkeys = np.zeros(0, dtype=np.int64)
        self.dwindows = np.zeros(0, dtype=np.int64)
        self.dlast = np.zeros(0, dtype=np.int64)

    key = staticmethod(PairHistory.key)

    @staticmethod
    def _find(keys: np.ndarray, k: np.ndarray):
        pos = np.searchsorted(keys, k)
        if not len(keys):
            return pos, pos, np.zeros(k.shape, dtype=bool)
        pos_c = np.minimum(pos, len(keys) - 1)
        return pos, pos_c, keys[pos_c] == k

    def lookup(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.lookup_keys(self.key(src, dst))

    def lookup_keys(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = np.zeros(k.shape, dtype=np.int64)
        last = np.full(k.shape, -1, dtype=np.int64)
        for keys, wins, lasts in (
            (self.keys, self.windows, self.last),
            (self.dkeys, self.dwindows, self.dlast),
        ):
            if len(keys):
                _, pos_c, found = self._find(keys, k)
                n = np.where(found, wins[pos_c], n)
                last = np.where(found, lasts[pos_c], last)
        return n, last

    def add(self, src: np.ndarray, dst: np.ndarray, window: int) -> np.ndarray:
        k = self.key(src, dst)
        _, pos_c, in_main = self._find(self.keys, k)
        self.windows[pos_c[in_main]] += 1
        self.last[pos_c[in_main]] = window
        pos, pos_c, in_small = self._find(self.dkeys, k)
        in_small &= ~in_main
        self.dwindows[pos_c[in_small]] += 1
        self.dlast[pos_c[in_small]] = window
        new = ~(in_main | in_small)
        if new.any():
            order = np.argsort(k[new], kind="stable")
            nk = k[new][order]
            at = pos[new][order]
            self.dkeys = np.insert(self.dkeys, at, nk)
            self.dwindows = np.insert(self.dwindows, at, np.ones_like(nk))
            self.dlast = np.insert(self.dlast, at, np.full_like(nk, window))
            if len(self.dkeys) > self.merge_at:
                at = np.searchsorted(self.keys, self.dkeys)
                self.keys = np.insert(self.keys, at, self.dkeys)
                self.windows = np.insert(self.windows, at, self.dwindows)
                self.last = np.insert(self.last, at, self.dlast)
                self.dkeys, self.dwindows, self.dlast = (a[:0] for a in (self.dkeys,) * 3)
        return new

    def __len__(self) -> int:
        return len(self.keys) + len(self.dkeys)


class ReferenceUsers(UserHistory):
    """The original account history: per-window (account, host) pairs through ``np.unique``."""

    def __init__(self, window_seconds: int) -> None:
        super().__init__(window_seconds)
        self.from_src = SortedPairHistory()  # type: ignore[assignment]
        self.to_dst = SortedPairHistory()  # type: ignore[assignment]
        self.sessions = SortedPairHistory()  # type: ignore[assignment]

    def features(self, users, edge_index, src, dst, window=None):  # type: ignore[override]
        assert edge_index is not None
        plain = EdgeUsers(users.ptr, users.users, users.sessions)  # no cached rows
        return super().features(plain, edge_index, src, dst, window)

    def observe(self, users: EdgeUsers, src, dst, window: int) -> None:
        q, u = users.expand(np.arange(len(src)))
        if not len(q):
            return
        self._grow(int(u.max()) + 1)
        moved = src[q] != dst[q]
        for hist, host, counts, keep in (
            (self.from_src, src, self.n_src, moved),
            (self.to_dst, dst, self.n_dst, np.ones_like(moved)),
        ):
            keys = np.unique(PairHistory.key(u[keep], host[q][keep]))
            uu, hh = keys >> 32, keys & 0xFFFFFFFF
            new = hist.add(uu, hh, window)
            np.add.at(counts, uu[new], 1)
        su, sh = users.sessions
        if len(su):
            keys = np.unique(PairHistory.key(su, sh))
            self.sessions.add(keys >> 32, keys & 0xFFFFFFFF, window)


class ReferenceReplay(Replay):
    """A replay on the original tables whose scored pairs go through the general path."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.history.pairs = SortedPairHistory()  # type: ignore[assignment]
        self.users = ReferenceUsers(self.window_seconds)

    def edge_pairs(self, batch):  # type: ignore[override]
        return self.pairs(batch, batch.src, batch.dst, np.arange(batch.size))

    def pairs(self, batch, src, dst, edge_index):  # type: ignore[override]
        hist = self.history.pair_features(src, dst, batch.window)
        ctx = _window_context(self.history, batch, src, dst)
        valid = edge_index >= 0
        ei = np.where(valid, edge_index, 0)
        edge = edge_features(batch)
        if len(edge) and self.use_edge:
            edge = edge[ei] * valid[:, None]
        else:
            edge = np.zeros((len(src), len(EDGE_FEATURES)), dtype=np.float32)
        user = np.zeros((len(src), len(USER_FEATURES)), dtype=np.float32)
        if batch.users is not None and valid.any():
            user[valid] = self.users.features(
                batch.users, ei[valid], src[valid], dst[valid], window=batch.window
            )
        return torch.from_numpy(np.concatenate([hist, ctx, user, edge], axis=1)).float()


def _window_context(history, batch, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The original window context: its own lookup of the window's edges."""
    n = max(history.num_nodes, int(max(src.max(initial=0), dst.max(initial=0))) + 1)
    seen, _ = history.pairs.lookup(batch.src, batch.dst)
    new = (seen == 0) & (batch.src != batch.dst)
    new_out = np.bincount(batch.src[new], minlength=n).astype(np.float64)
    new_in = np.bincount(batch.dst[new], minlength=n).astype(np.float64)
    own = np.zeros(len(src))
    if new.any():
        keys = np.sort(PairHistory.key(batch.src[new], batch.dst[new]))
        k = PairHistory.key(src, dst)
        pos = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
        own = (keys[pos] == k).astype(np.float64)
    out = np.stack(
        [
            np.log1p(new_out[src] - own),
            np.log1p(new_in[dst] - own),
            np.log1p(new_in[src]),
            np.log1p(new_out[dst]),
        ],
        axis=1,
    )
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    from ingest.lanl import ingest_lanl
    from ingest.simulate import simulate, write_lanl
    from ingest.simulate.config import SimConfig

    work = Path(tmp_path_factory.mktemp("gnn_eq"))
    paths = write_lanl(simulate(SimConfig(days=4, hosts=150, users=120, seed=5)), work / "raw")
    ingest_lanl(paths["auth"], work / "data", redteam=paths["redteam"])
    return GraphStore(work / "data")


def _scores(det: GNNDetector, store: GraphStore, run: Replay | None) -> dict[int, np.ndarray]:
    batches = iter_batches(store, store.windows[-1], users=det.config.user_features)
    with cpu_threads(det.device, det.threads):
        return _score(det, store, run, batches)


def _score(det: GNNDetector, store: GraphStore, run: Replay | None, batches) -> dict:
    return {b.window: s for b, s in det.iter_scores(store, batches, store.windows, run)}


@pytest.mark.parametrize(
    "options",
    [{}, {"ensemble": 1, "edge_features": True, "mode": "detector", "hidden": 8}],
    ids=["default", "single-edge-detector"],
)
def test_fast_scoring_equals_the_reference_path(sim_store: GraphStore, options: dict) -> None:
    split = store_split(sim_store)
    det = GNNDetector(device="cpu", epochs=1, seed=2, **options)
    det.fit(sim_store, split.fit_windows)
    with torch.no_grad():
        fast = _scores(det, sim_store, None)
        ref_run = ReferenceReplay(
            det.model,
            sim_store.num_nodes,
            sim_store.window_seconds,
            det.device,
            use_edge=det.config.edge_features,
        )
        ref = _scores(det, sim_store, ref_run)
    assert fast.keys() == ref.keys() and len(fast) > 100
    assert sum(len(s) for s in fast.values()) > 10_000
    for w in fast:
        np.testing.assert_array_equal(fast[w], ref[w], err_msg=f"window {w}")
    # The reference replay's tables hold the same pairs as the hash tables.
    assert len(ref_run.history.pairs) > 1_000 and len(ref_run.users.to_dst) > 1_000


def test_resumed_scores_equal_the_reference_replay(tmp_path, sim_store: GraphStore) -> None:
    """A saved and loaded model (state in the sorted export layout) scores like a replay."""
    split = store_split(sim_store)
    det = GNNDetector(device="cpu", epochs=1, seed=3, hidden=8, ensemble=2)
    det.fit(sim_store, split.fit_windows)
    det.save(tmp_path / "m.pt")
    later = [*split.threshold_windows, *split.test_windows]
    resumed = GNNDetector.load(tmp_path / "m.pt", device="cpu").score(sim_store, later)
    ref_run = ReferenceReplay(
        det.model, sim_store.num_nodes, sim_store.window_seconds, det.device, use_edge=False
    )
    with torch.no_grad():
        ref = _scores(det, sim_store, ref_run)
    want = np.concatenate([ref[w] for w in later if w in ref])
    np.testing.assert_array_equal(resumed["score"].to_numpy(), want)
