"""The temporal GNN detector: the :class:`models.base.Detector` face of the GNN.

The network lives in :mod:`models.gnn.network`, its features in
:mod:`models.gnn.history.graph`, the training and scoring loops in
:mod:`models.gnn.train` and the explanations in :mod:`models.gnn.explain`.
Scores for window ``w`` use only history up to ``w - 1`` in the default
"predictive" mode. The model keeps (and saves) its state after the last
training window (node state, graph and account history, :mod:`models.gnn.state`):
scoring windows after it resumes from that state and reads only the windows in
between; scoring earlier windows, or a data directory whose node index does not
extend the model's, replays the directory from its first window.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import torch

from models.base import Explanation, ModelMismatch
from models.gnn.batches import Withhold, held_mask, iter_batches
from models.gnn.explain import reference_inputs
from models.gnn.history import hashtable as gnn_hash
from models.gnn.network import warm_up_network
from models.gnn.runtime import (
    cpu_threads,
    feature_schema,
    library_versions,
    resolve_device,
    schema_difference,
)
from models.gnn.state import ResumeState, export_state, import_state
from models.gnn.train import GNNConfig, build_model, score, train

if TYPE_CHECKING:
    from ingest.graphs import GraphStore
    from models.gnn.batches import WindowBatch
    from models.gnn.replay import Replay
    from models.quarantine import Quarantine

FORMAT = "hopwatch-gnn"
FORMAT_VERSION = 3  # 3: ensemble of K members (state_dict "members.<k>.*", state [N, K * D])
#: Edge counts of :meth:`GNNDetector.warm_up`'s dummy windows (a quiet and a busy window).
WARM_UP_EDGES: tuple[int, ...] = (1_024, 16_384)


class GNNDetector:
    """Temporal GNN link-prediction detector (snapshot encoder + GRU + pair decoder).

    Args:
        hidden: node state size.
        epochs: training passes over the windows.
        lr: learning rate.
        seed: seed of torch and negative sampling.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        mode: ``predictive`` (state up to the previous window) or ``detector``.
        bptt: windows per optimiser step.
        negatives: negative pairs per edge and corrupted side.
        warmup_windows: leading windows with no loss (default: one day).
        user_features: give the decoder the accounts' history (needs events).
        edge_features: give the decoder the edge's auth/logon mix.
        novel_weight: loss weight of never-seen-before pairs among observed edges.
        novel_accounts: also give that weight to observed edges whose accounts are new
            to the source or destination.
        ensemble: K independently initialised members trained on the same windows
            (one shared history pass); their scores are averaged.
        combine: ``prob`` (mean probability) or ``rank`` (mean within-window rank).
        threads: torch CPU threads while training/scoring on CPU (``None``: torch's default).
        log: optional callable receiving progress lines.
    """

    name = "gnn"

    def __init__(
        self,
        *,
        hidden: int = 32,
        epochs: int = 8,
        lr: float = 3e-3,
        seed: int = 0,
        device: str = "auto",
        mode: str = "predictive",
        bptt: int = 8,
        negatives: int = 1,
        warmup_windows: int | None = None,
        user_features: bool = True,
        edge_features: bool = False,
        novel_weight: float = 5.0,
        novel_accounts: bool = True,
        ensemble: int = 3,
        combine: str = "prob",
        threads: int | None = 1,
        log: Any = None,
    ) -> None:
        self.config = GNNConfig(
            hidden=hidden,
            epochs=epochs,
            lr=lr,
            bptt=bptt,
            negatives=negatives,
            warmup_windows=warmup_windows,
            mode=mode,
            seed=seed,
            user_features=user_features,
            edge_features=edge_features,
            novel_weight=novel_weight,
            novel_accounts=novel_accounts,
            ensemble=ensemble,
            combine=combine,
        )
        self.device_name = device
        self.device = resolve_device(device)
        self.threads = threads
        self.log = log
        self.window_seconds: int = 0
        self.model = build_model(self.config).to(self.device)
        self.nodes: list[str] = []
        self.trained_windows: tuple[int, int] | None = None
        self.data_format_version: int | None = None
        self.reference: dict[str, torch.Tensor] = {}
        self.state: ResumeState | None = None
        self.fitted = False

    # -- training ----------------------------------------------------------------------
    def _seed(self) -> None:
        torch.manual_seed(self.config.seed)
        np.random.seed(self.config.seed % 2**32)

    def fit(self, store: GraphStore, windows: Sequence[int]) -> dict[str, Any]:
        """Train on ``windows`` (benign history); the state is replayed from the first window.

        Raises:
            ValueError: no windows to train on.
        """
        windows = sorted(int(w) for w in windows)
        if not windows:
            raise ValueError(f"{store.path}: no windows to train the GNN on")
        self.window_seconds = store.window_seconds
        self.data_format_version = store.meta.get("format_version")
        self.nodes = store.nodes.sort("node_id")["host"].to_list()
        self._seed()
        self.model = build_model(self.config).to(self.device)
        deterministic = torch.are_deterministic_algorithms_enabled()
        if self.device.type == "cpu":
            torch.use_deterministic_algorithms(True)
        t0 = time.perf_counter()
        try:
            with cpu_threads(self.device, self.threads):
                user_ids: dict[str, int] = {}
                batches = list(
                    iter_batches(
                        store, windows[-1], users=self.config.user_features, user_ids=user_ids
                    )
                )
                load_s = time.perf_counter() - t0
                report = train(
                    self.model,
                    batches,
                    windows,
                    num_nodes=store.num_nodes,
                    window_seconds=store.window_seconds,
                    cfg=self.config,
                    device=self.device,
                    log=self.log,
                )
                self.trained_windows = (windows[0], windows[-1])
                last = max(b.window for b in batches)
                self.state = ResumeState(last, report.pop("replay"), user_ids)
                self.fitted = True
                self.reference = reference_inputs(
                    self.model, self.config, self.device, batches, windows, self.window_seconds
                )
        finally:
            torch.use_deterministic_algorithms(deterministic)
        report.update(
            load_seconds=load_s, device=str(self.device), edges=sum(b.size for b in batches)
        )
        self.warm_up()
        return report

    def warm_up(self, edges: tuple[int, ...] = WARM_UP_EDGES) -> None:
        """Pay now the one-time costs the first scored window would otherwise pay.

        Compiles (or loads from numba's cache) the pair-table kernels and runs the
        network's scoring path (:meth:`EnsembleGNN.step` and ``decode``, no gradients)
        on zero inputs with the node count of the saved state and ``edges`` edges
        each: on CUDA that creates the cuBLAS handle, loads the kernels (loaded
        lazily, on first launch) and grows the caching allocator. No state changes.
        Called by :meth:`load` and at the end of :meth:`fit`.
        """
        gnn_hash.warm_up()
        n = self.state.run.h.shape[0] if self.state is not None else max(len(self.nodes), 2)
        with cpu_threads(self.device, self.threads):
            warm_up_network(self.model, n, self.device, edges)

    # -- scoring -----------------------------------------------------------------------
    def check_store(self, store: GraphStore) -> None:
        """Raise :class:`ModelMismatch` if ``store`` cannot be scored by this model."""
        if not self.fitted:
            raise ModelMismatch("the GNN model is not trained: call fit() or load() first")
        if store.window_seconds != self.window_seconds:
            raise ModelMismatch(
                f"model was trained with {self.window_seconds}-second windows but "
                f"{store.path} has {store.window_seconds}-second windows; re-ingest with "
                f"--window {self.window_seconds}s or retrain"
            )
        version = store.meta.get("format_version")
        if self.data_format_version is not None and version != self.data_format_version:
            raise ModelMismatch(
                f"model was trained on data format {self.data_format_version}, "
                f"{store.path} is format {version}"
            )

    def score(
        self, store: GraphStore, windows: Sequence[int], *, quarantine: Quarantine | None = None
    ) -> pl.DataFrame:
        """Anomaly score in [0, 1] of every edge of ``windows`` (columns SCORE_COLUMNS).

        ``quarantine`` (:mod:`models.quarantine`): pairs it holds are left out of the
        history as each window is folded in.
        """
        parts = [frame for _, frame in self.score_windows(store, windows, quarantine=quarantine)]
        return pl.concat(parts) if parts else _empty_scores()

    def score_windows(
        self, store: GraphStore, windows: Sequence[int], *, quarantine: Quarantine | None = None
    ) -> Iterator[tuple[int, pl.DataFrame]]:
        """(window, scores) for each of ``windows`` with edges, in order.

        The window is folded into the history when the next one is asked for, without the
        pairs ``quarantine`` holds at that window (so the consumer may hold pairs of the
        window it was just given).
        """
        self.check_store(store)
        wanted = sorted(int(w) for w in windows)
        if not wanted:
            return
        hosts = np.asarray(store.nodes.sort("node_id")["host"].to_list(), dtype=object)
        with cpu_threads(self.device, self.threads):
            yield from self._score_parts(store, wanted, hosts, self._withhold(store, quarantine))

    def _withhold(self, store: GraphStore, quarantine: Quarantine | None) -> Withhold | None:
        if quarantine is None:
            return None
        ids = dict(
            zip(store.nodes["host"].to_list(), store.nodes["node_id"].to_list(), strict=True)
        )
        return lambda batch: held_mask(batch, quarantine.held_ids(batch.window, ids))

    def resumes(self, store: GraphStore, first_window: int) -> bool:
        """Whether scoring ``store`` from ``first_window`` resumes from the saved state.

        It does when the state ends before ``first_window`` and the store's node
        index extends the model's (same ids for the same hosts).
        """
        if self.state is None or first_window <= self.state.window:
            return False
        hosts = store.nodes.sort("node_id")["host"].to_list()
        return hosts[: len(self.nodes)] == self.nodes

    def iter_scores(
        self,
        store: GraphStore,
        batches: Iterable[WindowBatch],
        windows: Iterable[int],
        run: Replay | None = None,
        withhold: Withhold | None = None,
    ) -> Iterator[tuple[WindowBatch, np.ndarray]]:
        """:func:`models.gnn.train.score` with this detector's network and options:
        (batch, anomaly scores) for ``windows``, replaying ``batches`` (from ``run``,
        a resumed replay, when given; ``withhold``: the quarantine's edges to leave out)."""
        return score(
            self.model,
            batches,
            windows,
            num_nodes=store.num_nodes,
            window_seconds=store.window_seconds,
            mode=self.config.mode,
            device=self.device,
            edge_features=self.config.edge_features,
            run=run,
            combine=self.config.combine,
            withhold=withhold,
        )

    def _score_parts(
        self, store: GraphStore, wanted: list[int], hosts: np.ndarray, withhold: Withhold | None
    ) -> Iterator[tuple[int, pl.DataFrame]]:
        run, first, user_ids = None, None, None
        if self.resumes(store, wanted[0]):
            assert self.state is not None
            run, user_ids = self.state.fork()
            first = self.state.window + 1
        batches = iter_batches(
            store,
            wanted[-1],
            users=self.config.user_features,
            first_window=first,
            user_ids=user_ids,
        )
        for batch, s in self.iter_scores(store, batches, wanted, run, withhold):
            yield (
                batch.window,
                pl.DataFrame(
                    {
                        "window": np.full(batch.size, batch.window, dtype=np.int64),
                        "src_host": hosts[batch.src].tolist(),
                        "dst_host": hosts[batch.dst].tolist(),
                        "score": s,
                    },
                    schema=_SCORE_SCHEMA,
                ),
            )

    def explain(
        self,
        store: GraphStore,
        edges: Sequence[tuple[int, str, str]],
        top: int = 5,
        *,
        quarantine: Quarantine | None = None,
    ) -> list[Explanation]:
        """Which inputs (pair history, accounts, host histories, neighbourhoods) drive each
        edge's score, each said as a fact about the logs (``quarantine``: the one the
        scores were computed with, so the replay sees the same history)."""
        from models.gnn.explain import explain_edges

        self.check_store(store)
        with cpu_threads(self.device, self.threads):
            return explain_edges(
                self.model,
                self.config,
                self.device,
                self.reference,
                store,
                edges,
                top=top,
                withhold=self._withhold(store, quarantine),
            )

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write weights, configuration, node index, window size and library versions."""
        if not self.fitted:
            raise ModelMismatch("refusing to save an untrained GNN model")
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "detector": self.name,
            "config": asdict(self.config),
            "window_seconds": self.window_seconds,
            "data_format_version": self.data_format_version,
            "features": feature_schema(),
            "nodes": self.nodes,
            "trained_windows": list(self.trained_windows or ()),
            "versions": library_versions(),
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "reference": {k: v.detach().cpu() for k, v in self.reference.items()},
            "state": export_state(self.state) if self.state is not None else None,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> GNNDetector:
        """Read a model written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            ModelMismatch: not a hopwatch GNN model, or another feature schema/version.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no model file at {path}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a pickle of something else, or a truncated file
            raise ModelMismatch(f"{path} is not a hopwatch GNN model: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ModelMismatch(f"{path} is not a hopwatch GNN model")
        if payload.get("format_version") != FORMAT_VERSION:
            raise ModelMismatch(
                f"{path}: GNN model format {payload.get('format_version')} is not supported "
                f"(this hopwatch reads format {FORMAT_VERSION}, ensemble models); "
                "retrain it with this hopwatch"
            )
        if payload.get("features") != feature_schema():
            raise ModelMismatch(
                f"{path} was trained with another feature schema "
                f"({schema_difference(payload.get('features'))}); retrain it with this hopwatch"
            )
        known = {f.name for f in fields(GNNConfig)}
        cfg = {k: v for k, v in payload["config"].items() if k in known}
        det = cls(device=device, **{k: v for k, v in cfg.items()})
        det.model.load_state_dict(payload["state_dict"])
        det.model.to(det.device)
        det.window_seconds = int(payload["window_seconds"])
        det.data_format_version = payload.get("data_format_version")
        det.nodes = list(payload["nodes"])
        tw = payload.get("trained_windows") or []
        det.trained_windows = (int(tw[0]), int(tw[1])) if len(tw) == 2 else None
        det.reference = {k: v.to(det.device) for k, v in payload.get("reference", {}).items()}
        det.versions = payload.get("versions", {})
        if payload.get("state") is not None:
            det.state = import_state(
                payload["state"], det.model, det.device, use_edge=det.config.edge_features
            )
        det.fitted = True
        det.warm_up()
        return det


_SCORE_SCHEMA = pl.Schema(
    {"window": pl.Int64(), "src_host": pl.String(), "dst_host": pl.String(), "score": pl.Float64()}
)


def _empty_scores() -> pl.DataFrame:
    return pl.DataFrame(schema=_SCORE_SCHEMA)
