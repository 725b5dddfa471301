"""XGBoost baseline on tabular history features, explained with exact TreeSHAP.

Two modes:

* ``label-free`` (default, the GNN's setting): positives are the observed edges
  of the training windows, negatives the same windows' edges moved to other
  hosts (:mod:`models.xgb.features.sampling`); the model learns p(edge | history) and
  the anomaly score is ``1 - p(edge)``.
* ``supervised``: the edge labels of the training windows (simulator labels,
  analyst verdicts) are the target; the score is p(attack).

In both, the last ``val_frac`` of the training windows (by time) are held out
for early stopping. Training uses ``device="cuda"`` when a GPU is present and
CPU ``hist`` otherwise; scoring keeps the feature history and continues it, so a
new window costs one window of feature work.
"""

from __future__ import annotations

import json
import tempfile
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from models.base import Contribution, Explanation, ModelMismatch
from models.xgb.features.history import History
from models.xgb.features.table import FEATURES, KEYS, empty_features, feature_matrix
from models.xgb.features.text import describe
from models.xgb.features.training import subsample, training_rows
from models.xgb.features.walk import FeatureWalker, store_fingerprint
from models.xgb.treeshap import ShapResult, dmatrix, resolve_device, tree_shap

if TYPE_CHECKING:
    from ingest.graphs import GraphStore
    from models.quarantine import Quarantine

FORMAT_VERSION = 1
#: Feature frames of this many recent windows are kept in memory (for explanations).
CACHE_WINDOWS = 96
MODES = ("label-free", "supervised")


def _held_frame(quarantine: Quarantine) -> Callable[[int, pl.DataFrame], pl.DataFrame | None]:
    """``withhold`` of :meth:`FeatureWalker.walk` for a quarantine: the held pairs as a frame."""

    def held(window: int, edges: pl.DataFrame) -> pl.DataFrame | None:
        pairs = quarantine.held(window)
        if not pairs:
            return None
        return pl.DataFrame(
            sorted(pairs), schema={"src_host": pl.String, "dst_host": pl.String}, orient="row"
        )

    return held


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


class XGBDetector:
    """Gradient-boosted edge scorer implementing :class:`models.base.Detector`.

    Args:
        mode: ``"label-free"`` or ``"supervised"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        n_estimators: most boosting rounds (early stopping may use fewer).
        max_depth: tree depth.
        learning_rate: shrinkage.
        neg_frac: share of a window's edges corrupted per negative pass (label-free).
        neg_passes: negative passes per training window (label-free).
        max_rows: training rows kept (uniform subsample beyond; rare positives all kept).
        val_frac: share of the training windows (the latest) held out for early stopping.
        seed: seed of the negative sampler and of XGBoost.
        nthread: CPU threads (``None``: all).
        window_seconds: window size of the training data (set again by :meth:`fit`).
        epochs: alias of ``n_estimators`` (the command line's ``--epochs``).
        log: progress callback (one line per message), e.g. ``typer.echo``.
    """

    name = "xgb"

    def __init__(
        self,
        *,
        mode: str = "label-free",
        device: str = "auto",
        n_estimators: int = 200,
        max_depth: int = 6,
        learning_rate: float = 0.15,
        neg_frac: float = 0.5,
        neg_passes: int = 1,
        max_rows: int = 100_000,
        val_frac: float = 0.2,
        seed: int = 0,
        nthread: int | None = None,
        window_seconds: int = 1800,
        epochs: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.device = device
        self.params = {
            "n_estimators": epochs or n_estimators,
            "max_depth": max_depth,
            "learning_rate": learning_rate,
            "neg_frac": neg_frac,
            "neg_passes": neg_passes,
            "max_rows": max_rows,
            "val_frac": val_frac,
            "seed": seed,
        }
        self.nthread = nthread
        self.log = log
        self.window_seconds = window_seconds
        self.booster = None
        self.history: History | None = None
        self.fingerprint: str | None = None
        self.report: dict[str, Any] = {}
        self.trained_windows: list[int] | None = None
        self._cache: OrderedDict[tuple[str | None, int, int | None], pl.DataFrame] = OrderedDict()

    # -- training ------------------------------------------------------------------
    def fit(self, store: GraphStore, windows: Sequence[int]) -> dict[str, Any]:
        """Train on ``windows`` of ``store``; return a report (rows, AUC on held-out windows, s).

        Raises:
            ValueError: no windows, no edges, or (supervised) no positive labels.
        """
        import xgboost as xgb
        from sklearn.metrics import roc_auc_score

        windows = sorted({int(w) for w in windows})
        if not windows:
            raise ValueError("fit needs at least one training window")
        self.window_seconds = store.window_seconds
        t0 = time.perf_counter()
        rows = training_rows(
            store,
            windows,
            supervised=self.mode == "supervised",
            neg_frac=self.params["neg_frac"],
            neg_passes=self.params["neg_passes"],
            seed=self.params["seed"],
        )
        self.history = rows.history
        n_rows = len(rows.y)
        if self.log:
            self.log(f"xgb: {n_rows} training rows from {len(windows)} windows")
        rows = subsample(rows, self.params["max_rows"], self.params["seed"])
        x, y, w = rows.x, rows.y, rows.window
        self.fingerprint = store_fingerprint(store)
        self.trained_windows = [windows[0], windows[-1]]
        t_feat = time.perf_counter() - t0
        if self.mode == "supervised" and y.sum() == 0:
            raise ValueError(
                f"supervised mode: no labelled edge in the training windows of {store.path}"
            )
        n_val = round(self.params["val_frac"] * len(windows)) if len(windows) >= 5 else 0
        cut = windows[-n_val] if n_val else windows[-1] + 1
        tr, va = w < cut, w >= cut
        if self.mode == "supervised" and (y[tr].sum() == 0 or y[va].sum() == 0):
            tr, va = np.ones(len(y), bool), np.zeros(len(y), bool)
        device = resolve_device(self.device)
        params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "device": device,
            "max_depth": self.params["max_depth"],
            "eta": self.params["learning_rate"],
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 2,
            "max_bin": 128,
            "seed": self.params["seed"],
        }
        if self.nthread:
            params["nthread"] = self.nthread
        dtrain = dmatrix(x[tr], y[tr])
        evals, stop = [], None
        if va.any():
            dval = dmatrix(x[va], y[va])
            evals, stop = [(dval, "val")], 20
        t1 = time.perf_counter()
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=self.params["n_estimators"],
            evals=evals,
            early_stopping_rounds=stop,
            verbose_eval=False,
        )
        if stop is not None:
            booster = booster[: booster.best_iteration + 1]
        t_train = time.perf_counter() - t1
        if self.log:
            self.log(f"xgb: {booster.num_boosted_rounds()} rounds on {device} in {t_train:.1f}s")
        self.booster = booster
        val_auc = None
        if va.any() and 0 < y[va].sum() < va.sum():
            val_auc = float(roc_auc_score(y[va], booster.predict(dval)))
        self.report = {
            "detector": self.name,
            "mode": self.mode,
            "device": device,
            "windows": len(windows),
            "rows": len(y),
            "rows_before_subsample": n_rows,
            "positives": int(y.sum()),
            "negatives": int(len(y) - y.sum()),
            "rounds": int(booster.num_boosted_rounds()),
            "val_auc": val_auc,
            "seconds_features": round(t_feat, 2),
            "seconds_train": round(t_train, 2),
        }
        return dict(self.report)

    # -- scoring -------------------------------------------------------------------
    def _check(self, store: GraphStore) -> None:
        if self.booster is None:
            raise RuntimeError("XGBDetector is not trained; call fit() or load()")
        if store.window_seconds != self.window_seconds:
            raise ModelMismatch(
                f"model was trained on {self.window_seconds}s windows, "
                f"{store.path} has {store.window_seconds}s windows"
            )

    def features(
        self, store: GraphStore, windows: Sequence[int], *, quarantine: Quarantine | None = None
    ) -> pl.DataFrame:
        """Feature frame (keys + :data:`FEATURES`) of every edge of ``windows``.

        Windows featurized recently (by :meth:`score`, say) come from a small cache, so
        explaining a just-scored alert costs no feature work. Otherwise the saved
        history is continued when ``store`` is the directory it came from and every
        window is newer, and the directory is replayed from its start when not.
        ``quarantine`` (:mod:`models.quarantine`): pairs it holds are left out of the
        history as each window is folded in (cached frames are reused only when they were
        computed with the same quarantine).
        """
        frames = [f for _, f in self._feature_steps(store, windows, quarantine)]
        return pl.concat(frames) if frames else empty_features()

    def _feature_steps(
        self, store: GraphStore, windows: Sequence[int], quarantine: Quarantine | None
    ) -> Iterator[tuple[int, pl.DataFrame]]:
        wanted = sorted({int(w) for w in windows})
        if not wanted:
            return
        fp = store_fingerprint(store)
        tag = None if quarantine is None else id(quarantine)
        got = {w: self._cache[(fp, w, tag)] for w in wanted if (fp, w, tag) in self._cache}
        if quarantine is not None and len(got) < len(wanted):
            got = {}  # a quarantined walk must fold every window in order, from the history
        todo = [w for w in wanted if w not in got]
        if not todo:
            yield from ((w, got[w]) for w in wanted)
            return
        h = self.history
        last = -1 if h is None or h.last_window is None else h.last_window
        resume = h is not None and fp == self.fingerprint and todo[0] > last
        walker = FeatureWalker(store, h if resume else None)
        withhold = None if quarantine is None else _held_frame(quarantine)
        if quarantine is not None:
            for step in walker.walk(todo, withhold=withhold):
                self._remember((fp, step.window, tag), step.features)
                yield step.window, step.features
        else:
            for step in walker.walk(todo):
                got[step.window] = step.features
                self._remember((fp, step.window, tag), step.features)
        new_last = walker.history.last_window
        if fp != self.fingerprint or (new_last is not None and new_last >= last):
            self.history, self.fingerprint = walker.history, fp
        if quarantine is None:
            yield from ((w, got[w]) for w in wanted if w in got)

    def _remember(self, key: tuple[str | None, int, int | None], frame: pl.DataFrame) -> None:
        self._cache[key] = frame
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_WINDOWS:
            self._cache.popitem(last=False)

    def _anomaly_margin(self, x: np.ndarray) -> np.ndarray:
        margin = self.booster.predict(dmatrix(x), output_margin=True)
        return -margin if self.mode == "label-free" else margin

    def score(
        self, store: GraphStore, windows: Sequence[int], *, quarantine: Quarantine | None = None
    ) -> pl.DataFrame:
        """Anomaly score in [0, 1] for every edge of ``windows`` (columns ``SCORE_COLUMNS``);
        ``quarantine``: pairs it holds are left out of the feature history."""
        self._check(store)
        feats = self.features(store, windows, quarantine=quarantine)
        return self._scored(feats)

    def score_windows(
        self, store: GraphStore, windows: Sequence[int], *, quarantine: Quarantine | None = None
    ) -> Iterator[tuple[int, pl.DataFrame]]:
        """(window, scores) for each of ``windows`` with edges, in order; the window is
        folded into the feature history (without the pairs ``quarantine`` holds at it)
        when the next one is asked for."""
        self._check(store)
        for w, feats in self._feature_steps(store, windows, quarantine):
            yield w, self._scored(feats)

    def _scored(self, feats: pl.DataFrame) -> pl.DataFrame:
        margin = self._anomaly_margin(feature_matrix(feats)) if feats.height else np.zeros(0)
        return feats.select(KEYS).with_columns(pl.Series("score", _sigmoid(margin)))

    # -- explanations --------------------------------------------------------------
    def shap_values(self, x: np.ndarray) -> ShapResult:
        """TreeSHAP of rows ``x`` in the anomaly direction (checked additive)."""
        res = tree_shap(self.booster, x)
        return res.negated() if self.mode == "label-free" else res

    def explain_frame(
        self,
        store: GraphStore,
        edges: Sequence[tuple[int, str, str]],
        *,
        quarantine: Quarantine | None = None,
    ) -> tuple[pl.DataFrame, ShapResult]:
        """Feature rows of ``edges`` (in the given order) and their SHAP values.

        Raises:
            KeyError: an edge is not in the data directory (names it).
        """
        self._check(store)
        want = pl.DataFrame(
            [(int(w), str(s), str(d)) for w, s, d in edges],
            schema={"window": pl.Int64, "src_host": pl.String, "dst_host": pl.String},
            orient="row",
        ).with_row_index("_i")
        feats = self.features(store, want["window"].unique().to_list(), quarantine=quarantine)
        rows = want.join(feats, on=list(KEYS), how="left").sort("_i")
        missing = rows.filter(pl.col(FEATURES[0]).is_null())
        if missing.height:
            w, s, d = missing.row(0)[1:4]
            raise KeyError(f"edge ({w}, {s!r}, {d!r}) is not in {store.path}")
        rows = rows.drop("_i")
        return rows, self.shap_values(feature_matrix(rows))

    def explain(
        self,
        store: GraphStore,
        edges: Sequence[tuple[int, str, str]],
        top: int = 5,
        *,
        quarantine: Quarantine | None = None,
    ) -> list[Explanation]:
        """The ``top`` contributions towards anomalous for each edge, in analyst words
        (``quarantine``: the one the scores were computed with)."""
        rows, shap = self.explain_frame(store, edges, quarantine=quarantine)
        out = []
        for i, row in enumerate(rows.iter_rows(named=True)):
            order = np.argsort(-shap.values[i])[:top]
            contribs = [
                Contribution(
                    feature=FEATURES[j],
                    value=float(row[FEATURES[j]]),
                    contribution=float(shap.values[i, j]),
                    text=describe(FEATURES[j], row),
                )
                for j in order
            ]
            score = float(_sigmoid(np.array([shap.margin[i]]))[0])
            out.append(
                Explanation(row["window"], row["src_host"], row["dst_host"], score, contribs)
            )
        return out

    # -- persistence ---------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write one file (a zip): ``model.ubj``, ``detector.json`` and the feature history."""
        if self.booster is None:
            raise RuntimeError("nothing to save: XGBDetector is not trained")
        meta = {
            "detector": self.name,
            "format_version": FORMAT_VERSION,
            "mode": self.mode,
            "window_seconds": self.window_seconds,
            "features": list(FEATURES),
            "params": self.params,
            "fingerprint": self.fingerprint,
            "report": self.report,
            "trained_windows": self.trained_windows,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            if self.history is not None:
                self.history.save(Path(tmp) / "history")
            tmp_zip = path.with_name(path.name + ".tmp")
            with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("detector.json", json.dumps(meta, indent=2))
                z.writestr("model.ubj", bytes(self.booster.save_raw("ubj")))
                for f in sorted((Path(tmp) / "history").glob("*")):
                    z.write(f, f"history/{f.name}")
            tmp_zip.replace(path)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> XGBDetector:
        """Read a model written by :meth:`save`.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ModelMismatch: not an xgb model, other format version or feature list.
        """
        import xgboost as xgb

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no model file at {path}")
        if not zipfile.is_zipfile(path):
            raise ModelMismatch(f"{path} is not a saved xgb detector (not a zip file)")
        with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as tmp:
            names = set(z.namelist())
            if "detector.json" not in names or "model.ubj" not in names:
                raise ModelMismatch(f"{path} is not a saved xgb detector (no detector.json)")
            meta = json.loads(z.read("detector.json"))
            if meta.get("detector") != cls.name or meta.get("format_version") != FORMAT_VERSION:
                raise ModelMismatch(
                    f"{path}: detector {meta.get('detector')!r} format "
                    f"{meta.get('format_version')!r}, expected {cls.name!r} format {FORMAT_VERSION}"
                )
            if meta.get("features") != list(FEATURES):
                raise ModelMismatch(f"{path}: feature list differs from this version's")
            booster = xgb.Booster()
            booster.load_model(bytearray(z.read("model.ubj")))
            history = None
            if any(n.startswith("history/") for n in names):
                z.extractall(tmp, members=[n for n in names if n.startswith("history/")])
                history = History.load(Path(tmp) / "history")
        p = meta["params"]
        det = cls(mode=meta["mode"], device=device, window_seconds=meta["window_seconds"], **p)
        booster.set_param({"device": resolve_device(device)})
        det.booster = booster
        det.history = history
        det.fingerprint = meta.get("fingerprint")
        det.report = meta.get("report", {})
        det.trained_windows = meta.get("trained_windows")
        return det
