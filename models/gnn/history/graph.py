"""Streaming history of an authentication graph, and the features the GNN reads from it.

The temporal GNN walks windows in time order. Before a window is scored, this
state holds only what happened in *earlier* windows; :meth:`GraphHistory.observe`
then folds the window in. Everything is plain numpy keyed by node id, so a
replay over thousands of windows costs milliseconds per window.

Features need no identity one-hot: an unseen host gets all-zero history and is
still scored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from models.gnn.history.context import WindowNovelty, window_context, window_novelty
from models.gnn.history.pairs import PairHistory

if TYPE_CHECKING:
    from models.gnn.batches import WindowBatch


#: Names of the per-window node features (input of the encoder).
NODE_FEATURES: tuple[str, ...] = (
    "active",
    "out_count",
    "in_count",
    "out_degree",
    "in_degree",
    "out_users",
    "in_users",
    "out_fail_frac",
    "out_ntlm_frac",
    "in_ntlm_frac",
    "in_kerberos_frac",
    "in_network_frac",
    "in_interactive_frac",
    "in_service_batch_frac",
    "in_tgs_tgt_frac",
    "new_out_pairs",
    "new_in_pairs",
)

#: Names of the long-term node history features (encoder input and decoder skip input).
HISTORY_FEATURES: tuple[str, ...] = (
    "known",
    "hist_out_neighbors",
    "hist_in_neighbors",
    "hist_active_windows",
    "hist_age_windows",
    "hist_out_count",
    "hist_in_count",
    "recent_new_out",
    "recent_new_in",
    "server_like",
    "fast_new_in",
    "fast_new_out",
)

#: Names of the pair history features (history strictly before the window).
PAIR_HISTORY_FEATURES: tuple[str, ...] = (
    "pair_seen",
    "pair_windows",
    "pair_recency",
    "reverse_seen",
    "reverse_windows",
)

#: Names of the window-context features of a pair: never-seen pairs of the window at
#: each end, *other* than the pair itself (a new server that many users reach for the
#: first time, an admin opening many sessions; an attacker makes one hop at a time).
WINDOW_PAIR_FEATURES: tuple[str, ...] = (
    "src_other_new_out",
    "dst_other_new_in",
    "src_new_in",
    "dst_new_out",
)

#: Names of the pair features given to the decoder.
PAIR_FEATURES: tuple[str, ...] = PAIR_HISTORY_FEATURES + WINDOW_PAIR_FEATURES

#: Names of the features of the authentication itself (decoder input; negatives copy them
#: from the edge they corrupt, so the decoder learns which endpoints fit which kind of logon).
EDGE_FEATURES: tuple[str, ...] = (
    "log_count",
    "log_users",
    "fail_frac",
    "ntlm_frac",
    "kerberos_frac",
    "negotiate_frac",
    "network_frac",
    "interactive_frac",
    "service_batch_frac",
    "tgs_frac",
    "tgt_frac",
    "logon_frac",
    "logoff_frac",
    "authmap_frac",
)

#: Names of the time-of-window features given to the decoder.
TIME_FEATURES: tuple[str, ...] = ("hour_sin", "hour_cos", "weekend")

#: Half-life of the "recent novelty" counters (a day).
RECENT_HALF_LIFE_SECONDS = 86_400
#: Half-life of the "fast novelty" counters (three hours): a host that was just reached
#: over a never-seen pair and now opens never-seen pairs itself is what a hop chain looks like.
FAST_HALF_LIFE_SECONDS = 3 * 3_600


def _frac(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def time_features(window: int, window_seconds: int) -> np.ndarray:
    """Hour-of-day (sin, cos) and weekend flag of a window; time 0 is a Monday 00:00."""
    t = (window + 0.5) * window_seconds
    hour = (t % 86_400) / 86_400 * 2 * np.pi
    day = int(t // 86_400) % 7
    return np.array([np.sin(hour), np.cos(hour), float(day >= 5)], dtype=np.float32)


def edge_features(batch: WindowBatch) -> np.ndarray:
    """What kind of authentication each edge of the window is, shape [E, A] float32."""
    c = batch.cols
    n = c["count"]
    out = np.stack(
        [
            np.log1p(n),
            np.log1p(c["n_users"]),
            _frac(c["failures"], n),
            _frac(c["n_ntlm"], n),
            _frac(c["n_kerberos"], n),
            _frac(c["n_negotiate"], n),
            _frac(c["n_network"], n),
            _frac(c["n_interactive"] + c["n_remote_interactive"], n),
            _frac(c["n_service"] + c["n_batch"], n),
            _frac(c["n_tgs"], n),
            _frac(c["n_tgt"], n),
            _frac(c["n_logon"], n),
            _frac(c["n_logoff"], n),
            _frac(c["n_authmap"], n),
        ],
        axis=1,
    )
    return out.reshape(len(n), len(EDGE_FEATURES)).astype(np.float32)


class GraphHistory:
    """Everything the GNN remembers about earlier windows, per node and per pair.

    Args:
        num_nodes: size of the node index (ids are ``0 .. num_nodes - 1``).
        window_seconds: window size, for time features and decay.
    """

    def __init__(self, num_nodes: int, window_seconds: int) -> None:
        self.num_nodes = num_nodes
        self.window_seconds = window_seconds
        self.pairs = PairHistory()
        n = num_nodes
        self.first = np.full(n, -1, dtype=np.int64)
        self.active = np.zeros(n, dtype=np.float64)
        self.out_neighbors = np.zeros(n, dtype=np.float64)
        self.in_neighbors = np.zeros(n, dtype=np.float64)
        self.out_count = np.zeros(n, dtype=np.float64)
        self.in_count = np.zeros(n, dtype=np.float64)
        self.in_service_like = np.zeros(n, dtype=np.float64)
        self.recent_new_out = np.zeros(n, dtype=np.float64)
        self.recent_new_in = np.zeros(n, dtype=np.float64)
        self.fast_new_in = np.zeros(n, dtype=np.float64)
        self.fast_new_out = np.zeros(n, dtype=np.float64)
        self.last_window: int | None = None
        self._novelty: WindowNovelty | None = None
        self.decay_per_window = 0.5 ** (window_seconds / RECENT_HALF_LIFE_SECONDS)
        self.fast_decay_per_window = 0.5 ** (window_seconds / FAST_HALF_LIFE_SECONDS)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        state["_novelty"] = None  # a cache of the current window, not history
        return state

    def grow(self, num_nodes: int) -> None:
        """Extend the node arrays to a larger (append-only) node index."""
        extra = num_nodes - self.num_nodes
        if extra <= 0:
            return
        for name in (
            "active",
            "out_neighbors",
            "in_neighbors",
            "out_count",
            "in_count",
            "in_service_like",
            "recent_new_out",
            "recent_new_in",
            "fast_new_in",
            "fast_new_out",
        ):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(extra)]))
        self.first = np.concatenate([self.first, np.full(extra, -1, dtype=np.int64)])
        self.num_nodes = num_nodes

    def known_nodes(self) -> np.ndarray:
        """Ids of nodes seen in any earlier window."""
        return np.flatnonzero(self.first >= 0)

    def history_features(self, window: int) -> np.ndarray:
        """Node history features as of the start of ``window``, shape [N, H] float32."""
        known = self.first >= 0
        age = np.where(known, window - self.first, 0)
        decay = self._decay_to(window)
        fast = self._decay_to(window, self.fast_decay_per_window)
        out = np.stack(
            [
                known.astype(np.float64),
                np.log1p(self.out_neighbors),
                np.log1p(self.in_neighbors),
                np.log1p(self.active),
                np.log1p(age),
                np.log1p(self.out_count),
                np.log1p(self.in_count),
                np.log1p(self.recent_new_out * decay),
                np.log1p(self.recent_new_in * decay),
                _frac(self.in_service_like, self.in_count),
                np.log1p(self.fast_new_in * fast),
                np.log1p(self.fast_new_out * fast),
            ],
            axis=1,
        )
        return out.astype(np.float32)

    def pair_features(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        window: int,
        forward: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Pair history features of (src, dst) as of the start of ``window``, [E, P] float32.

        ``forward``: the pairs' :meth:`PairHistory.lookup` when the caller has it.
        """
        n, last = self.pairs.lookup(src, dst) if forward is None else forward
        rn, _ = self.pairs.lookup(dst, src)
        seen = n > 0
        recency = np.where(seen, np.log1p(np.maximum(window - last, 0)), 0.0)
        out = np.stack(
            [
                seen.astype(np.float64),
                np.log1p(n),
                recency,
                (rn > 0).astype(np.float64),
                np.log1p(rn),
            ],
            axis=1,
        )
        return out.astype(np.float32)

    def novelty(self, batch: WindowBatch) -> WindowNovelty:
        """The never-seen pairs of ``batch``'s window w.r.t. the history before it.

        Computed once per window (cached until :meth:`observe` folds a window in).
        """
        cached = self._novelty
        if cached is None or cached.batch is not batch:
            cached = self._novelty = window_novelty(self.pairs, batch, self.num_nodes)
        return cached

    def window_context(
        self, batch: WindowBatch, src: np.ndarray, dst: np.ndarray, *, own: bool = False
    ) -> np.ndarray:
        """Window-context features of pairs (src, dst) in ``batch``'s window, [B, W] float32.

        See :func:`models.gnn.history.context.window_context` (``own``: the pairs are the
        window's own edges, in order).
        """
        return window_context(self.novelty(batch), src, dst, own=own)

    def _decay_to(self, window: int, per_window: float | None = None) -> float:
        if self.last_window is None:
            return 1.0
        rate = self.decay_per_window if per_window is None else per_window
        return float(rate ** max(window - self.last_window, 0))

    def observe(self, batch: WindowBatch) -> np.ndarray:
        """Fold one window into the history; return its node features [N, F] float32.

        The features describe the window itself plus how novel its pairs are with
        respect to the history *before* it (so call this after scoring the window).
        """
        if batch.src.size and int(max(batch.src.max(), batch.dst.max())) >= self.num_nodes:
            self.grow(int(max(batch.src.max(), batch.dst.max())) + 1)
        self._novelty = None
        n = self.num_nodes
        s, d, c = batch.src, batch.dst, batch.cols
        count = c["count"]

        def out_sum(v: np.ndarray) -> np.ndarray:
            return np.bincount(s, weights=v, minlength=n)

        def in_sum(v: np.ndarray) -> np.ndarray:
            return np.bincount(d, weights=v, minlength=n)

        ones = np.ones_like(count)
        out_count, in_count = out_sum(count), in_sum(count)
        svc = c["n_service"] + c["n_batch"]
        new = self.pairs.add(s, d, batch.window)
        new_out, new_in = out_sum(new.astype(np.float64)), in_sum(new.astype(np.float64))
        x = np.stack(
            [
                ((out_count + in_count) > 0).astype(np.float64),
                np.log1p(out_count),
                np.log1p(in_count),
                np.log1p(out_sum(ones)),
                np.log1p(in_sum(ones)),
                np.log1p(out_sum(c["n_users"])),
                np.log1p(in_sum(c["n_users"])),
                _frac(out_sum(c["failures"]), out_count),
                _frac(out_sum(c["n_ntlm"]), out_count),
                _frac(in_sum(c["n_ntlm"]), in_count),
                _frac(in_sum(c["n_kerberos"]), in_count),
                _frac(in_sum(c["n_network"]), in_count),
                _frac(in_sum(c["n_interactive"] + c["n_remote_interactive"]), in_count),
                _frac(in_sum(svc), in_count),
                _frac(in_sum(c["n_tgs"] + c["n_tgt"]), in_count),
                np.log1p(new_out),
                np.log1p(new_in),
            ],
            axis=1,
        ).astype(np.float32)
        # Long-term history.
        decay = self._decay_to(batch.window)
        self.recent_new_out = self.recent_new_out * decay + new_out
        self.recent_new_in = self.recent_new_in * decay + new_in
        # Hop chains: never-seen pairs between two different hosts (self-loops are
        # local logons/logoffs, not movement).
        moved = (new & (s != d)).astype(np.float64)
        fast = self._decay_to(batch.window, self.fast_decay_per_window)
        self.fast_new_in = self.fast_new_in * fast + in_sum(moved)
        self.fast_new_out = self.fast_new_out * fast + out_sum(moved)
        self.last_window = batch.window
        seen_now = (out_count + in_count) > 0
        self.first[seen_now & (self.first < 0)] = batch.window
        self.active += seen_now
        self.out_neighbors += new_out
        self.in_neighbors += new_in
        self.out_count += out_count
        self.in_count += in_count
        self.in_service_like += in_sum(svc + c["n_tgs"] + c["n_tgt"])
        return x
