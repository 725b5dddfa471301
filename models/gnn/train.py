"""Training and scoring loops of the temporal GNN (plain functions over window batches).

Both loops walk the windows in time order, keeping a :class:`GraphHistory` and
the GRU node state. Before window ``t`` is folded in, its edges are decoded
from the state up to ``t - 1`` ("predictive" mode) or, in "detector" mode, from
the state after folding ``t`` in; pair and history features always come from
windows before ``t``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from models.gnn.batches import WindowBatch, Withhold
from models.gnn.history.graph import (
    EDGE_FEATURES,
    HISTORY_FEATURES,
    NODE_FEATURES,
    PAIR_FEATURES,
    TIME_FEATURES,
)
from models.gnn.history.users import USER_FEATURES
from models.gnn.network import COMBINES, EnsembleGNN, TemporalGNN, window_ranks
from models.gnn.replay import Replay, as_tensor

MODES = ("predictive", "detector")
#: Account features that mark an observed edge as account novelty (``novel_accounts``).
NEW_ACCOUNT_FEATURES = ("user_new_from_src", "user_new_to_dst")


@dataclass
class GNNConfig:
    """Hyper-parameters of the temporal GNN (saved with the model).

    Attributes:
        hidden: node state size.
        epochs: passes over the training windows.
        lr: Adam learning rate.
        bptt: windows per optimiser step (truncated back-propagation through time).
        negatives: negative pairs per observed edge and corrupted side (src and dst).
        warmup_windows: leading windows that build history but carry no loss;
            ``None`` means one day's worth.
        mode: ``"predictive"`` (state up to the previous window) or ``"detector"``.
        seed: seed of torch and of negative sampling.
        user_features: feed the accounts' history (new account for this source or
            destination) to the decoder; needs the data directory's events.
        edge_features: feed the kind of authentication (auth/logon mix) to the decoder.
        novel_weight: loss weight of observed edges whose pair is new, relative to
            repeated pairs (benign novelty is what separates attacks from noise).
        novel_accounts: also weigh ``novel_weight`` the observed edges of a known pair that
            carry an account new to the source or to the destination (a hot desk, an admin
            on a new host: benign account novelty, the thing a stolen credential must be
            told apart from).
        ensemble: number K (default 3) of independently initialised members trained on the same
            windows (member 0 uses ``seed``; see :func:`member_seed`).
        combine: how member scores are averaged: ``"prob"`` (mean probability) or
            ``"rank"`` (mean within-window rank).
    """

    hidden: int = 32
    epochs: int = 8
    lr: float = 3e-3
    bptt: int = 8
    negatives: int = 1
    warmup_windows: int | None = None
    mode: str = "predictive"
    seed: int = 0
    user_features: bool = True
    edge_features: bool = False
    novel_weight: float = 5.0
    novel_accounts: bool = True
    ensemble: int = 3
    combine: str = "prob"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {self.combine!r}")
        bad = self.ensemble < 1 or self.hidden < 1 or self.epochs < 0
        if bad or self.bptt < 1 or self.negatives < 1:
            raise ValueError(f"invalid GNN configuration: {asdict(self)}")

    def warmup(self, window_seconds: int) -> int:
        """Number of warm-up windows."""
        if self.warmup_windows is not None:
            return self.warmup_windows
        return max(1, math.ceil(86_400 / window_seconds))


def member_seed(seed: int, k: int) -> int:
    """Torch seed of ensemble member ``k`` (member 0: ``seed`` itself)."""
    return (int(seed) + 1_000_003 * k) % 2**63


def build_model(cfg: GNNConfig) -> EnsembleGNN:
    """A fresh model (``cfg.ensemble`` members) with the feature sizes of :mod:`models.gnn.history`.

    Member ``k`` is initialised from :func:`member_seed` (the global torch RNG is
    left as it was).
    """
    members = []
    for k in range(cfg.ensemble):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(member_seed(cfg.seed, k))
            members.append(
                TemporalGNN(
                    node_features=len(NODE_FEATURES),
                    history_features=len(HISTORY_FEATURES),
                    pair_features=len(PAIR_FEATURES) + len(USER_FEATURES) + len(EDGE_FEATURES),
                    time_features=len(TIME_FEATURES),
                    hidden=cfg.hidden,
                )
            )
    return EnsembleGNN(members)


def _negatives(
    batch: WindowBatch, known: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt each edge's dst and src ``k`` times with nodes seen so far (or in this window)."""
    cands = np.union1d(known, np.concatenate([batch.src, batch.dst]))
    e = batch.size
    src = np.concatenate([np.tile(batch.src, k), rng.choice(cands, e * k)])
    dst = np.concatenate([rng.choice(cands, e * k), np.tile(batch.dst, k)])
    return src, dst


def train(
    model: EnsembleGNN,
    batches: Sequence[WindowBatch],
    train_windows: Iterable[int],
    *,
    num_nodes: int,
    window_seconds: int,
    cfg: GNNConfig,
    device: torch.device,
    log: Any = None,
) -> dict[str, Any]:
    """Train on ``train_windows`` (a subset of ``batches``' windows) with negative sampling.

    Returns:
        ``{"loss": [per-epoch mean loss of a member], "seconds": total, "prepare_seconds": history
        pass, "windows": int}``
    """
    targets = set(int(w) for w in train_windows)
    warm = cfg.warmup(window_seconds)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    losses: list[float] = []
    t0 = time.perf_counter()
    model.train()
    # The history and its features do not depend on the weights: the first epoch
    # computes every window's inputs (negatives included) once, later epochs reuse them.
    run = Replay(model, num_nodes, window_seconds, device, use_edge=cfg.edge_features)
    items = []
    for i, batch in enumerate(batches):
        scored = i >= warm and batch.window in targets and batch.size > 0
        items.append(_prepare(run, batch, scored, cfg, rng))
    prepare_s = time.perf_counter() - t0
    for epoch in range(cfg.epochs):
        h = model.initial_state(num_nodes, device)
        pending: list[Tensor] = []
        step_losses: list[float] = []
        for i, item in enumerate(items):
            loss, h = _item_step(model, item, h, cfg.mode)
            if loss is not None:
                pending.append(loss)
            if (i + 1) % cfg.bptt == 0 or i == len(items) - 1:
                if pending:
                    total = torch.stack(pending).mean()
                    opt.zero_grad()
                    total.backward()
                    opt.step()
                    step_losses.append(float(total.detach()) / model.size)  # per member
                    pending = []
                h = h.detach()
        losses.append(float(np.mean(step_losses)) if step_losses else float("nan"))
        if log is not None:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {losses[-1]:.4f}")
    # The state after the last window, with the final weights: saved with the model so
    # scoring a later window resumes from it instead of replaying the history.
    model.eval()
    with torch.no_grad():
        h = model.initial_state(num_nodes, device)
        for item in items:
            h = model.step(item["x"], item["ei"], item["ew"], h)
    run.h = h
    return {
        "loss": losses,
        "seconds": time.perf_counter() - t0,
        "prepare_seconds": prepare_s,
        "windows": len(targets),
        "replay": run,
    }


def _prepare(
    run: Replay, batch: WindowBatch, scored: bool, cfg: GNNConfig, rng: np.random.Generator
) -> dict[str, Tensor]:
    """Model inputs of one training window (and its loss targets when ``scored``)."""
    device = run.device
    hist, tf = run.before(batch)
    item: dict[str, Tensor] = {"hist": hist, "tf": tf}
    if scored:
        ns, nd = _negatives(batch, run.history.known_nodes(), cfg.negatives, rng)
        edge_index = np.tile(np.arange(batch.size), 1 + 2 * cfg.negatives)
        if cfg.user_features and batch.users is not None and batch.size > 1:
            # Account negatives: the real pair carrying another edge's accounts, so the
            # decoder learns which accounts belong where (a credential used from and to
            # hosts it never touched is what a stolen one looks like).
            ns = np.concatenate([ns, batch.src])
            nd = np.concatenate([nd, batch.dst])
            other = rng.integers(0, batch.size - 1, batch.size)
            other = other + (other >= np.arange(batch.size))
            edge_index = np.concatenate([edge_index, other])
        src = np.concatenate([batch.src, ns])
        dst = np.concatenate([batch.dst, nd])
        y = torch.zeros(len(src), device=device)
        y[: batch.size] = 1.0
        w = torch.full((len(src),), 0.5 / len(ns), device=device)
        # Benign novelty is what the decoder must learn to tell from attacks: weight
        # edges between hosts that never met before ``novel_weight`` times as much.
        seen = run.history.novelty(batch).n
        pair = run.pairs(batch, src, dst, edge_index)
        novel = seen == 0
        if cfg.novel_accounts:
            cols = [len(PAIR_FEATURES) + USER_FEATURES.index(n) for n in NEW_ACCOUNT_FEATURES]
            acct = pair[: batch.size, cols].amax(dim=1) > 0
            novel = novel | acct.cpu().numpy()
        wp = np.where(novel, cfg.novel_weight, 1.0)
        w[: batch.size] = as_tensor(0.5 * wp / wp.sum(), device)
        item.update(
            src=as_tensor(src, device, torch.long),
            dst=as_tensor(dst, device, torch.long),
            pair=pair,
            y=y,
            w=w,
        )
    item["x"], item["ei"], item["ew"] = run.snapshot(batch)
    return item


def _item_step(
    model: EnsembleGNN, item: dict[str, Tensor], h: Tensor, mode: str
) -> tuple[Tensor | None, Tensor]:
    """(weighted BCE of the window or None, node state after the window)."""
    if "y" not in item:
        return None, model.step(item["x"], item["ei"], item["ew"], h)
    h_in = h
    h = model.step(item["x"], item["ei"], item["ew"], h)
    if mode == "detector":
        h_in = h
    # Members are independent: the sum of their losses trains each on its own loss
    # (Adam's update is per parameter), as K separate runs over the same inputs would.
    logits = model.decode_members(
        h_in, item["hist"], item["src"], item["dst"], item["pair"], item["tf"]
    )
    y = item["y"].expand_as(logits)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return (bce * item["w"]).sum(), h


@torch.no_grad()
def score(
    model: EnsembleGNN,
    batches: Iterable[WindowBatch],
    score_windows: Iterable[int],
    *,
    num_nodes: int,
    window_seconds: int,
    mode: str,
    device: torch.device,
    edge_features: bool = False,
    run: Replay | None = None,
    combine: str = "prob",
    withhold: Withhold | None = None,
) -> Iterator[tuple[WindowBatch, np.ndarray]]:
    """Replay ``batches`` and yield (batch, anomaly scores in [0, 1]) for ``score_windows``.

    ``run`` resumes from a saved replay (``batches`` then start after its last window).
    ``combine="rank"`` averages the members' within-window ranks instead of their
    probabilities. ``withhold(batch)`` (the quarantine, :mod:`models.quarantine`) marks
    edges to leave out of the history; it is asked after the window's scores were
    yielded, so a consumer can decide from them (in ``detector`` mode the window is
    folded before it is scored, so only pairs held before it are left out).
    """
    targets = set(int(w) for w in score_windows)
    model.eval()
    if run is None:
        run = Replay(model, num_nodes, window_seconds, device, use_edge=edge_features)

    def fold(batch: WindowBatch) -> None:
        run.advance(batch.without(withhold(batch)) if withhold is not None else batch)

    for batch in batches:
        if batch.window not in targets or batch.size == 0:
            run.before(batch)
            fold(batch)
            continue
        hist, tf = run.before(batch)
        pair = run.edge_pairs(batch)
        if mode == "detector":
            fold(batch)
        h_in = run.h
        s, d = as_tensor(batch.src, device, torch.long), as_tensor(batch.dst, device, torch.long)
        if combine == "rank" and model.size > 1:
            anomaly = 1.0 - torch.sigmoid(model.decode_members(h_in, hist, s, d, pair, tf))
            out = window_ranks(anomaly).cpu().numpy()
        else:
            logits = model.decode(h_in, hist, s, d, pair, tf)
            out = (1.0 - torch.sigmoid(logits)).double().cpu().numpy()
        yield batch, out
        if mode != "detector":
            fold(batch)
