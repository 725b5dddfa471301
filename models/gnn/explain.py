"""Explanations of GNN scores by occlusion of the decoder's input groups.

The decoder reads seven groups of inputs per pair: the pair's own history, the
accounts' history, the kind of authentication, the long-term history of each end, and the
GRU state of each end. The contribution of a group is how much the anomaly score drops
when that group is replaced by its average over normal (training) edges; a positive
contribution pushes the edge towards "anomalous". Each group is said as a fact of the
logs ("first time C17 reached C42", "account never used from C17 before and has no
logon session there", "C17 opened about 3 never-seen connections in the last 3 hours");
a host's GRU state is described by its recent neighbourhood, never by its numbers. The
alerting stage maps the groups to its own facts (:mod:`detections.alerting.facts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from models.base import Contribution, Explanation
from models.gnn.batches import WindowBatch, Withhold, iter_batches
from models.gnn.history.graph import EDGE_FEATURES, HISTORY_FEATURES, PAIR_FEATURES
from models.gnn.history.pairs import PairHistory
from models.gnn.history.users import USER_FEATURES
from models.gnn.replay import Replay, as_tensor

if TYPE_CHECKING:
    from ingest.graphs import GraphStore
    from models.gnn.network import EnsembleGNN
    from models.gnn.train import GNNConfig

GROUPS = ("pair", "user", "edge", "hist_src", "hist_dst", "h_src", "h_dst")
#: What each group is about, in analyst words (the explanation's text says it as a fact
#: of the logs: the GRU state of a host is described by the host's recent neighbourhood,
#: the never-seen connections it opened or received, never by the state's numbers).
GROUP_TEXT = {
    "pair": "history of this host pair",
    "user": "history of the accounts on this edge",
    "edge": "kind of authentication (auth and logon types, volume)",
    "hist_src": "what the source host reached before",
    "hist_dst": "what reached the destination host before",
    "h_src": "the source host's recent neighbourhood (new connections in the last hours)",
    "h_dst": "the destination host's recent neighbourhood (new connections in the last hours)",
}


@torch.no_grad()
def decoder_parts(
    model: EnsembleGNN,
    config: GNNConfig,
    device: torch.device,
    batches: Iterable[WindowBatch],
    wanted: dict[int, tuple[np.ndarray, np.ndarray]],
    num_nodes: int,
    window_seconds: int,
    withhold: Withhold | None = None,
) -> Iterator[tuple[int, dict[str, torch.Tensor], torch.Tensor]]:
    """Replay and yield (window, decoder input groups, time features) for wanted pairs
    (``withhold``: the quarantine's edges left out of the history, as when scoring)."""
    model.eval()
    run = Replay(model, num_nodes, window_seconds, device, use_edge=config.edge_features)

    def fold(batch: WindowBatch) -> None:
        run.advance(batch.without(withhold(batch)) if withhold is not None else batch)

    for batch in batches:
        hist, tf = run.before(batch)
        if batch.window not in wanted:
            fold(batch)
            continue
        src, dst = wanted[batch.window]
        p, u = len(PAIR_FEATURES), len(USER_FEATURES)
        pair = run.pairs(batch, src, dst, _edge_rows(batch, src, dst))
        if config.mode == "detector":
            fold(batch)
        s, d = as_tensor(src, device, torch.long), as_tensor(dst, device, torch.long)
        parts = {
            "pair": pair[:, :p],
            "user": pair[:, p : p + u],
            "edge": pair[:, p + u :],
            "hist_src": hist[s],
            "hist_dst": hist[d],
            "h_src": run.h[s],
            "h_dst": run.h[d],
        }
        yield batch.window, parts, tf
        if config.mode == "predictive":
            fold(batch)


def _edge_rows(batch: WindowBatch, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Index in ``batch`` of each (src, dst) pair, ``-1`` for pairs not observed there."""
    index = {k: i for i, k in enumerate(PairHistory.key(batch.src, batch.dst).tolist())}
    return np.array([index.get(k, -1) for k in PairHistory.key(src, dst).tolist()], dtype=np.int64)


def _decode(model: EnsembleGNN, parts: dict[str, torch.Tensor], tf: torch.Tensor) -> torch.Tensor:
    """Anomaly scores from decoder input groups."""
    logits = model.decode_parts(
        h_src=parts["h_src"],
        h_dst=parts["h_dst"],
        hist_src=parts["hist_src"],
        hist_dst=parts["hist_dst"],
        pair=torch.cat([parts["pair"], parts["user"], parts["edge"]], dim=1),
        time=tf,
    )
    return 1 - torch.sigmoid(logits)


def reference_inputs(
    model: EnsembleGNN,
    config: GNNConfig,
    device: torch.device,
    batches: Sequence[WindowBatch],
    windows: Sequence[int],
    window_seconds: int,
) -> dict[str, torch.Tensor]:
    """Mean decoder input groups over observed edges of the last tenth of ``windows``."""
    tail = sorted(windows)[-max(1, len(windows) // 10) :]
    wanted = {b.window: (b.src, b.dst) for b in batches if b.window in set(tail) and b.size}
    sums: dict[str, torch.Tensor] = {}
    n = 0
    n_nodes = max((int(max(b.src.max(), b.dst.max())) + 1 for b in batches if b.size), default=1)
    for _, parts, _ in decoder_parts(
        model, config, device, batches, wanted, n_nodes, window_seconds
    ):
        for k, v in parts.items():
            sums[k] = sums.get(k, 0) + v.sum(dim=0)
        n += next(iter(parts.values())).shape[0]
    return {k: v / max(n, 1) for k, v in sums.items()}


def _count(log_value: float) -> int:
    return round(float(np.expm1(log_value)))


def _describe(
    group: str, parts: dict[str, torch.Tensor], i: int, src: str, dst: str
) -> tuple[float | str, str]:
    """(value, a fact of the logs) for one group of one pair: first contact, accounts
    never used from the source, hosts reached before, new connections in the last hours."""
    p = dict(zip(PAIR_FEATURES, parts["pair"][i].tolist(), strict=True))
    if group == "pair":
        if p["pair_seen"] < 0.5:
            return 0.0, f"first time {src} reached {dst} (never authenticated to it before)"
        windows = _count(p["pair_windows"])
        ago = _count(p["pair_recency"])
        return float(windows), f"{src} reached {dst} in {windows} earlier windows, last {ago} ago"
    if group == "user":
        u = dict(zip(USER_FEATURES, parts["user"][i].tolist(), strict=True))
        if u["user_new_from_src"] > 0.5:
            where = (
                "but a person with it is logged on there"
                if u["user_session_src"] > 0.5
                else "and has no logon session there"
            )
            return u["user_new_from_src"], f"account never used from {src} before {where}"
        if u["user_new_to_dst"] > 0.5:
            return u["user_new_to_dst"], f"account never logged on to {dst} before"
        if u["user_new_anywhere"] > 0.5:
            return u["user_new_anywhere"], "account never seen before (a new account)"
        return u["user_new_to_dst"], f"the accounts authenticated from {src} and to {dst} before"
    if group == "edge":
        e = dict(zip(EDGE_FEATURES, parts["edge"][i].tolist(), strict=True))
        kinds = [k[:-5] for k in ("ntlm_frac", "kerberos_frac", "negotiate_frac") if e[k] > 0.5]
        logon = [
            k[:-5]
            for k in ("network_frac", "interactive_frac", "service_batch_frac", "tgs_frac")
            if e[k] > 0.5
        ]
        n = _count(e["log_count"])
        what = "/".join(kinds + logon) or "mixed"
        return float(n), f"{n} {what} authentication(s) from {src} to {dst} in the window"
    host = src if group.endswith("src") else dst
    h = dict(zip(HISTORY_FEATURES, parts["hist_" + group[-3:]][i].tolist(), strict=True))
    if group.startswith("hist"):
        if h["known"] < 0.5:
            return 0.0, f"{host} never seen before"
        out_n, in_n = _count(h["hist_out_neighbors"]), _count(h["hist_in_neighbors"])
        return float(out_n), f"{host} reached {out_n} hosts and was reached from {in_n} before"
    if group == "h_src":
        fast, other = _count(h["fast_new_out"]), _count(p["src_other_new_out"])
        text = (
            f"{src} opened about {fast} never-seen connections in the last 3 hours and "
            f"{other} more this window"
        )
        return float(fast + other), text
    fast, other = _count(h["fast_new_in"]), _count(p["dst_other_new_in"])
    text = (
        f"{dst} received about {fast} never-seen connections in the last 3 hours and "
        f"{other} more this window"
    )
    return float(fast + other), text


def explain_edges(
    model: EnsembleGNN,
    config: GNNConfig,
    device: torch.device,
    reference: dict[str, torch.Tensor],
    store: GraphStore,
    edges: Sequence[tuple[int, str, str]],
    top: int = 5,
    withhold: Withhold | None = None,
) -> list[Explanation]:
    """Occlusion explanations of the given (window, src_host, dst_host) edges.

    Each decoder input group is swapped for its ``reference`` mean (from
    :func:`reference_inputs`) and the change of the anomaly score is its contribution.

    Raises:
        KeyError: an edge names a host that is not in the data directory's node index.
    """
    if not edges:
        return []
    ids = dict(zip(store.nodes["host"].to_list(), store.nodes["node_id"].to_list(), strict=True))
    wanted: dict[int, list[tuple[int, int, int]]] = {}
    for k, (w, s, d) in enumerate(edges):
        for host in (s, d):
            if host not in ids:
                raise KeyError(f"host {host!r} is not in {store.path}/nodes.parquet")
        wanted.setdefault(int(w), []).append((k, ids[s], ids[d]))
    arrays = {
        w: (np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
        for w, rows in wanted.items()
    }
    out: list[Explanation | None] = [None] * len(edges)
    batches = iter_batches(store, max(wanted), users=config.user_features)
    with torch.no_grad():
        for w, parts, tf in decoder_parts(
            model, config, device, batches, arrays, store.num_nodes, store.window_seconds, withhold
        ):
            base = _decode(model, parts, tf)
            contrib = {}
            off = {"edge": not config.edge_features, "user": not config.user_features}
            for g in GROUPS:
                if g not in reference or off.get(g, False):
                    continue
                swapped = dict(parts)
                swapped[g] = reference[g].expand_as(parts[g])
                alt = _decode(model, swapped, tf)
                contrib[g] = (base - alt).cpu().numpy()
            for i, (k, _, _) in enumerate(wanted[w]):
                cs = []
                ew, es, ed = edges[k]
                for g, c in contrib.items():
                    value, text = _describe(g, parts, i, es, ed)
                    cs.append(
                        Contribution(feature=g, value=value, contribution=float(c[i]), text=text)
                    )
                cs.sort(key=lambda c: -abs(c.contribution))
                out[k] = Explanation(int(ew), es, ed, float(base[i]), cs[:top])
    for k, e in enumerate(out):
        if e is None:
            w, s, d = edges[k]
            out[k] = Explanation(int(w), s, d, float("nan"), [])
    return [e for e in out if e is not None]
