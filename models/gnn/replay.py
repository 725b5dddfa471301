"""Replay of the temporal GNN over windows in time order: history, accounts, GRU state.

:class:`Replay` is shared by the training and scoring loops of
:mod:`models.gnn.train` and by the saved resume state (:mod:`models.gnn.state`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from models.gnn.batches import WindowBatch
from models.gnn.history.graph import EDGE_FEATURES, GraphHistory, edge_features, time_features
from models.gnn.history.users import USER_FEATURES, UserHistory
from models.gnn.network import EnsembleGNN


def as_tensor(a: np.ndarray, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """``a`` as a contiguous tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)


class Replay:
    """Walks windows in order, owning the history and the GRU state.

    Args:
        model: the network.
        num_nodes: node index size.
        window_seconds: window size.
        device: torch device of the model.
    """

    def __init__(
        self,
        model: EnsembleGNN,
        num_nodes: int,
        window_seconds: int,
        device: torch.device,
        *,
        use_edge: bool = True,
    ) -> None:
        self.model = model
        self.device = device
        self.window_seconds = window_seconds
        self.history = GraphHistory(num_nodes, window_seconds)
        self.users = UserHistory(window_seconds)
        self.use_edge = use_edge
        self.h = model.initial_state(num_nodes, device)

    def before(self, batch: WindowBatch) -> tuple[Tensor, Tensor]:
        """History features [N, H] and time features [T] as of the start of the window."""
        if batch.size and int(max(batch.src.max(), batch.dst.max())) >= self.history.num_nodes:
            self._grow(int(max(batch.src.max(), batch.dst.max())) + 1)
        hist = as_tensor(self.history.history_features(batch.window), self.device)
        tf = as_tensor(time_features(batch.window, self.window_seconds), self.device)
        return hist, tf

    def _grow(self, n: int) -> None:
        self.history.grow(n)
        extra = n - self.h.shape[0]
        if extra > 0:
            pad = self.model.initial_state(extra, self.device)
            self.h = torch.cat([self.h, pad], dim=0)

    def pairs(
        self, batch: WindowBatch, src: np.ndarray, dst: np.ndarray, edge_index: np.ndarray
    ) -> Tensor:
        """Decoder pair inputs [B, P + U + A] as of the start of the window.

        Pair ``i`` is (src[i], dst[i]) carrying the accounts and edge features of
        ``batch``'s edge ``edge_index[i]`` (``-1``: none, all zeros).
        """
        hist = self.history.pair_features(src, dst, batch.window)
        ctx = self.history.window_context(batch, src, dst)
        valid = edge_index >= 0
        ei = np.where(valid, edge_index, 0)
        if batch.size and self.use_edge:
            edge = edge_features(batch)[ei] * valid[:, None]
        else:
            edge = np.zeros((len(src), len(EDGE_FEATURES)), dtype=np.float32)
        user = np.zeros((len(src), len(USER_FEATURES)), dtype=np.float32)
        if batch.users is not None and valid.any():
            user[valid] = self.users.features(
                batch.users, ei[valid], src[valid], dst[valid], window=batch.window
            )
        return as_tensor(np.concatenate([hist, ctx, user, edge], axis=1), self.device)

    def edge_pairs(self, batch: WindowBatch) -> Tensor:
        """:meth:`pairs` of the window's own edges, each carrying its own accounts.

        The same values as ``pairs(batch, batch.src, batch.dst, arange(E))``, from the
        window's cached lookups (:meth:`GraphHistory.novelty`, :meth:`EdgeUsers.edge_rows`).
        """
        src, dst = batch.src, batch.dst
        nov = self.history.novelty(batch)
        hist = self.history.pair_features(src, dst, batch.window, forward=(nov.n, nov.last))
        ctx = self.history.window_context(batch, src, dst, own=True)
        if batch.size and self.use_edge:
            edge = edge_features(batch)
        else:
            edge = np.zeros((len(src), len(EDGE_FEATURES)), dtype=np.float32)
        if batch.users is not None and batch.size:
            user = self.users.features(batch.users, None, src, dst, window=batch.window)
        else:
            user = np.zeros((len(src), len(USER_FEATURES)), dtype=np.float32)
        return as_tensor(np.concatenate([hist, ctx, user, edge], axis=1), self.device)

    def snapshot(self, batch: WindowBatch) -> tuple[Tensor, Tensor, Tensor]:
        """Fold the window into the history; return the encoder inputs (x, edge_index, weight)."""
        x = self.history.observe(batch)
        if batch.users is not None:
            self.users.observe(batch.users, batch.src, batch.dst, batch.window)
        hist = self.history.history_features(batch.window)
        xx = as_tensor(np.concatenate([x, hist], axis=1), self.device)
        ei = as_tensor(np.stack([batch.src, batch.dst]), self.device, torch.long)
        ew = as_tensor(np.log1p(batch.cols["count"]), self.device)
        return xx, ei, ew

    def advance(self, batch: WindowBatch) -> None:
        """Fold the window into the history and the node state."""
        self.h = self.model.step(*self.snapshot(batch), self.h)

    def decode(
        self,
        hist: Tensor,
        tf: Tensor,
        batch: WindowBatch,
        src: np.ndarray,
        dst: np.ndarray,
        edge_index: np.ndarray,
    ) -> Tensor:
        """Logits of (src, dst) pairs (see :meth:`pairs`) from the current state."""
        s = as_tensor(src, self.device, torch.long)
        d = as_tensor(dst, self.device, torch.long)
        pair = self.pairs(batch, src, dst, edge_index)
        return self.model.decode(self.h, hist, s, d, pair, tf)
