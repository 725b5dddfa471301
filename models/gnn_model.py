"""The temporal GNN: a graph encoder per snapshot, a GRU over time, a pair decoder."""

from __future__ import annotations

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
