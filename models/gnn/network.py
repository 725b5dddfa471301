"""The temporal GNN: a graph encoder per snapshot, a GRU over time, a pair decoder."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv


def _mean_weights(weight: Tensor, target: Tensor, num_nodes: int) -> Tensor:
    """Edge weights normalised to sum to one over each target node's incoming edges."""
    total = torch.zeros(num_nodes, dtype=weight.dtype, device=weight.device)
    total.index_add_(0, target, weight)
    return weight / total[target].clamp_min(1e-12)


class TemporalGNN(nn.Module):
    r"""Snapshot encoder (two weighted-mean GCNs, one per edge direction) + GRU + link decoder.

    For window :math:`t` the encoder mixes each node's features with its in- and
    out-neighbours' (edge weights :math:`\log(1 + \text{count})`), and a GRU cell
    folds the result into the node state :math:`h_t`. The decoder scores a pair
    (src, dst) from :math:`h` of both ends, their long-term history features and
    the pair's own history, and returns the logit of "this edge is normal".

    Args:
        node_features: per-window node feature size F.
        history_features: long-term node history feature size H.
        pair_features: pair history feature size P.
        time_features: time-of-window feature size T.
        hidden: node state size D.

    Shapes:
        - step: x [N, F + H], edge_index [2, E], edge_weight [E], h [N, D] -> h' [N, D]
        - decode: h [N, D], hist [N, H], src/dst [B], pair [B, P], time [T] -> logit [B]
    """

    def __init__(
        self,
        node_features: int,
        history_features: int,
        pair_features: int,
        time_features: int,
        hidden: int = 32,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.sizes = (node_features, history_features, pair_features, time_features)
        self.inp = nn.Linear(node_features + history_features, hidden)
        self.conv_out = GCNConv(hidden, hidden, add_self_loops=False, normalize=False)
        self.conv_in = GCNConv(hidden, hidden, add_self_loops=False, normalize=False)
        self.gru = nn.GRUCell(3 * hidden, hidden)
        dec_in = 3 * hidden + 2 * history_features + pair_features + time_features
        self.decoder = nn.Sequential(
            nn.Linear(dec_in, 2 * hidden),
            nn.ReLU(),
            nn.Linear(2 * hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def initial_state(self, num_nodes: int, device: torch.device | str = "cpu") -> Tensor:
        """All-zero node state, shape [N, D]."""
        return torch.zeros(num_nodes, self.hidden, device=device)

    def step(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor, h: Tensor) -> Tensor:
        """Fold one snapshot into the node state."""
        z = torch.relu(self.inp(x))
        n = x.shape[0]
        a = self.conv_out(z, edge_index, _mean_weights(edge_weight, edge_index[1], n))
        b = self.conv_in(z, edge_index.flip(0), _mean_weights(edge_weight, edge_index[0], n))
        return self.gru(torch.relu(torch.cat([z, a, b], dim=1)), h)

    def decode(
        self, h: Tensor, hist: Tensor, src: Tensor, dst: Tensor, pair: Tensor, time: Tensor
    ) -> Tensor:
        """Logit that each (src, dst) pair is a normal edge of the window."""
        return self.decode_parts(h[src], h[dst], hist[src], hist[dst], pair, time)

    def decode_parts(
        self,
        h_src: Tensor,
        h_dst: Tensor,
        hist_src: Tensor,
        hist_dst: Tensor,
        pair: Tensor,
        time: Tensor,
    ) -> Tensor:
        """:meth:`decode` from per-pair inputs (used to explain scores by occlusion)."""
        t = time.expand(h_src.shape[0], -1)
        feats = torch.cat([h_src, h_dst, h_src * h_dst, hist_src, hist_dst, pair, t], dim=1)
        return self.decoder(feats).squeeze(-1)


COMBINES = ("prob", "rank")


class EnsembleGNN(nn.Module):
    """K independently initialised :class:`TemporalGNN` members behind one model face.

    The node state is the members' states side by side ([N, K * D]); ``step``
    folds a snapshot into each member's slice; ``decode`` / ``decode_parts``
    return the logit of the members' mean "normal" probability (``K = 1``: the
    member's logit itself). :meth:`decode_members` gives the per-member logits
    (training loss and rank combination).

    Args:
        members: the K networks (same sizes).
    """

    def __init__(self, members: list[TemporalGNN]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.hidden = members[0].hidden

    @property
    def size(self) -> int:
        return len(self.members)

    def initial_state(self, num_nodes: int, device: torch.device | str = "cpu") -> Tensor:
        """All-zero node state, shape [N, K * D]."""
        return torch.zeros(num_nodes, self.size * self.hidden, device=device)

    def _split(self, h: Tensor) -> tuple[Tensor, ...]:
        return torch.split(h, self.hidden, dim=-1)

    def step(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor, h: Tensor) -> Tensor:
        """Fold one snapshot into every member's node state."""
        if self.size == 1:
            return self.members[0].step(x, edge_index, edge_weight, h)
        parts = self._split(h)
        steps = [
            m.step(x, edge_index, edge_weight, hk)
            for m, hk in zip(self.members, parts, strict=True)
        ]
        return torch.cat(steps, dim=1)

    def decode_members(
        self, h: Tensor, hist: Tensor, src: Tensor, dst: Tensor, pair: Tensor, time: Tensor
    ) -> Tensor:
        """Per-member logits [K, B] of (src, dst) being a normal edge."""
        return self.parts_members(h[src], h[dst], hist[src], hist[dst], pair, time)

    def parts_members(
        self,
        h_src: Tensor,
        h_dst: Tensor,
        hist_src: Tensor,
        hist_dst: Tensor,
        pair: Tensor,
        time: Tensor,
    ) -> Tensor:
        """:meth:`decode_members` from per-pair inputs."""
        hs, hd = self._split(h_src), self._split(h_dst)
        return torch.stack(
            [
                m.decode_parts(a, b, hist_src, hist_dst, pair, time)
                for m, a, b in zip(self.members, hs, hd, strict=True)
            ]
        )

    def decode(
        self, h: Tensor, hist: Tensor, src: Tensor, dst: Tensor, pair: Tensor, time: Tensor
    ) -> Tensor:
        """Logit of the members' mean probability that each pair is a normal edge."""
        return self.decode_parts(h[src], h[dst], hist[src], hist[dst], pair, time)

    def decode_parts(
        self,
        h_src: Tensor,
        h_dst: Tensor,
        hist_src: Tensor,
        hist_dst: Tensor,
        pair: Tensor,
        time: Tensor,
    ) -> Tensor:
        """:meth:`decode` from per-pair inputs (used to explain scores by occlusion)."""
        logits = self.parts_members(h_src, h_dst, hist_src, hist_dst, pair, time)
        return logits[0] if self.size == 1 else mean_prob_logit(logits)


def mean_prob_logit(logits: Tensor) -> Tensor:
    """Logit of the mean of sigmoid(logits) over the first dimension (numerically safe)."""
    k = logits.shape[0]
    log_p = torch.logsumexp(nn.functional.logsigmoid(logits), dim=0) - math.log(k)
    log_q = torch.logsumexp(nn.functional.logsigmoid(-logits), dim=0) - math.log(k)
    return log_p - log_q


def window_ranks(anomaly: Tensor) -> Tensor:
    """Mean over members of each edge's within-window rank in [0, 1] ([K, B] -> [B]).

    Rank 1 is the most anomalous edge of the window for that member; ties get
    the same (lowest) rank so the result is deterministic.
    """
    b = anomaly.shape[1]
    if b <= 1:
        return torch.ones(b, dtype=torch.float64, device=anomaly.device)
    a = anomaly.double()
    # number of edges with a strictly smaller score, per member
    below = torch.stack([torch.searchsorted(torch.sort(r).values, r) for r in a])
    return (below.double() / (b - 1)).mean(dim=0)


def warm_up_network(
    model: EnsembleGNN, num_nodes: int, device: torch.device, edges: tuple[int, ...]
) -> None:
    """Run the scoring path (``step``, ``decode``, no gradients) once per edge count.

    On zero inputs with ``num_nodes`` nodes: on CUDA this creates the cuBLAS handle,
    loads the kernels (CUDA loads them lazily, on first launch) and grows the caching
    allocator, so the first real window does not pay for it. Nothing is kept.
    """
    node_w, hist_w, pair_w, time_w = model.members[0].sizes
    was_training = model.training
    model.eval()
    with torch.no_grad():
        h = model.initial_state(num_nodes, device)
        x = torch.zeros(num_nodes, node_w + hist_w, device=device)
        hist = torch.zeros(num_nodes, hist_w, device=device)
        tf = torch.zeros(time_w, device=device)
        for e in edges:
            idx = torch.arange(e, device=device) % num_nodes
            ei = torch.stack([idx, idx.flip(0)])
            h2 = model.step(x, ei, torch.ones(e, device=device), h)
            pair = torch.zeros(e, pair_w, device=device)
            logits = model.decode(h2, hist, ei[0], ei[1], pair, tf)
            (1.0 - torch.sigmoid(logits)).double().cpu()
    model.train(was_training)
