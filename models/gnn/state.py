"""The GNN's state at the end of training, saved with the model so scoring resumes from it.

A :class:`models.gnn.train.Replay` holds everything the GNN carries across
windows: the GRU node state, the graph history (per node and per pair), the
accounts' history and the account-name index. :func:`export_state` turns it
into tensors and plain values (what ``torch.load(weights_only=True)`` reads
back) and :func:`import_state` rebuilds it, so a saved model scores a later
window without replaying the history it was trained on.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from models.gnn.history.graph import GraphHistory
from models.gnn.history.pairs import PairHistory
from models.gnn.history.users import UserHistory

if TYPE_CHECKING:
    from models.gnn.network import EnsembleGNN
    from models.gnn.replay import Replay


def _pack(obj: Any) -> dict[str, Any]:
    """Attributes of a history object: arrays -> tensors, pair tables -> nested dicts."""
    out: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if name.startswith("_"):  # caches
            continue
        if isinstance(value, np.ndarray):
            out[name] = torch.from_numpy(value.copy())
        elif isinstance(value, PairHistory):
            out[name] = _pack_pairs(value)
        elif value is None or isinstance(value, (int, float)):
            out[name] = value
    return out


def _pack_pairs(pairs: PairHistory) -> dict[str, Any]:
    """A pair table as sorted key arrays (the small table of earlier models left empty)."""
    out = {k: torch.from_numpy(v) for k, v in pairs.export().items()}
    empty = torch.zeros(0, dtype=torch.int64)
    out.update(dkeys=empty, dwindows=empty.clone(), dlast=empty.clone())
    return out


def _unpack_pairs(packed: dict[str, Any]) -> PairHistory:
    return PairHistory.from_export({k: v.numpy() for k, v in packed.items()})


def _unpack(obj: Any, packed: dict[str, Any]) -> Any:
    for name, value in packed.items():
        if isinstance(value, torch.Tensor):
            setattr(obj, name, value.numpy().copy())
        elif isinstance(value, dict):
            setattr(obj, name, _unpack_pairs(value))
        else:
            setattr(obj, name, value)
    return obj


class ResumeState:
    """A replay frozen after window ``window`` (node state, histories, account ids).

    Attributes:
        window: last window folded into the state.
        run: the replay (its model is the detector's).
        user_ids: account name -> id used by the account history.
    """

    def __init__(self, window: int, run: Replay, user_ids: dict[str, int]) -> None:
        self.window = int(window)
        self.run = run
        self.user_ids = user_ids
        # Room for as many new pairs as there are pairs now: scoring after this window
        # does not stop to grow (rehash) a table until the history has doubled.
        for table in (run.history.pairs, run.users.from_src, run.users.to_dst, run.users.sessions):
            table.reserve(len(table))

    def fork(self) -> tuple[Replay, dict[str, int]]:
        """A copy of the replay and account ids that scoring can advance freely."""
        run = copy.copy(self.run)
        run.history = copy.deepcopy(self.run.history)
        run.users = copy.deepcopy(self.run.users)
        run.h = self.run.h.clone()
        return run, dict(self.user_ids)


def export_state(state: ResumeState) -> dict[str, Any]:
    """The state as tensors and plain values (for ``torch.save``)."""
    run = state.run
    return {
        "window": state.window,
        "h": run.h.detach().cpu(),
        "history": _pack(run.history),
        "users": {
            "from_src": _pack_pairs(run.users.from_src),
            "to_dst": _pack_pairs(run.users.to_dst),
            "n_src": torch.from_numpy(run.users.n_src.copy()),
            "n_dst": torch.from_numpy(run.users.n_dst.copy()),
            "sessions": _pack_pairs(run.users.sessions),
        },
        "user_names": sorted(state.user_ids, key=state.user_ids.__getitem__),
    }


def import_state(
    packed: dict[str, Any], model: EnsembleGNN, device: torch.device, *, use_edge: bool
) -> ResumeState:
    """Rebuild a :class:`ResumeState` written by :func:`export_state`."""
    from models.gnn.replay import Replay

    hist = packed["history"]
    num_nodes = int(hist["num_nodes"])
    run = Replay(model, num_nodes, int(hist["window_seconds"]), device, use_edge=use_edge)
    run.history = _unpack(GraphHistory(num_nodes, int(hist["window_seconds"])), hist)
    users = UserHistory(int(hist["window_seconds"]))
    users.from_src = _unpack_pairs(packed["users"]["from_src"])
    users.to_dst = _unpack_pairs(packed["users"]["to_dst"])
    users.n_src = packed["users"]["n_src"].numpy().copy()
    users.n_dst = packed["users"]["n_dst"].numpy().copy()
    users.sessions = _unpack_pairs(packed["users"]["sessions"])
    run.users = users
    run.h = packed["h"].to(device)
    user_ids = {name: i for i, name in enumerate(packed["user_names"])}
    return ResumeState(int(packed["window"]), run, user_ids)
