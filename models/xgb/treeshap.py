"""XGBoost plumbing of the detector: device choice, DMatrix, exact TreeSHAP.

TreeSHAP goes through XGBoost's ``pred_contribs`` (GPU TreeSHAP when the booster
is on CUDA). Contributions are returned in the *anomaly* direction when asked: the
label-free model predicts p(edge), and anomaly = 1 - p(edge), so its log-odds
contributions are negated to read "pushes towards anomalous".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.errors import HopwatchError
from models.xgb.features.table import FEATURES

#: Largest allowed |sum(contributions) + bias - margin| (float32 arithmetic).
ADDITIVITY_TOL = 1e-4


class AdditivityError(HopwatchError, RuntimeError):
    """SHAP contributions do not add up to the model's margin."""


@dataclass
class ShapResult:
    """TreeSHAP values of ``n`` rows.

    Attributes:
        values: ``[n, F]`` per-feature contributions (log-odds).
        bias: ``[n]`` expected value (same for every row).
        margin: ``[n]`` the model's raw margin (log-odds).
    """

    values: np.ndarray
    bias: np.ndarray
    margin: np.ndarray

    def max_additivity_error(self) -> float:
        """Largest |sum(values) + bias - margin| over rows (0 for no rows)."""
        if len(self.margin) == 0:
            return 0.0
        total = self.values.astype(np.float64).sum(axis=1) + self.bias
        return float(np.abs(total - self.margin).max())

    def negated(self) -> ShapResult:
        """The same decomposition of the negated margin (p(edge) -> anomaly)."""
        return ShapResult(-self.values, -self.bias, -self.margin)


def resolve_device(device: str = "auto") -> str:
    """``"cuda"`` when asked or when ``"auto"`` finds a GPU xgboost can use, else ``"cpu"``."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device != "auto":
        return device
    import xgboost as xgb

    if not xgb.build_info().get("USE_CUDA"):
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def dmatrix(x: np.ndarray, label: np.ndarray | None = None):
    """An ``xgboost.DMatrix`` of feature rows, NaN as missing, named by :data:`FEATURES`."""
    import xgboost as xgb

    return xgb.DMatrix(x, label=label, missing=np.nan, feature_names=list(FEATURES))


def tree_shap(booster, x: np.ndarray, check: bool = True) -> ShapResult:
    """Exact TreeSHAP contributions of ``booster`` on ``x`` (``[n, F]`` float32).

    Args:
        booster: a trained ``xgboost.Booster`` (its ``device`` parameter picks CPU/GPU).
        x: feature matrix with NaN for missing values.
        check: verify additivity within :data:`ADDITIVITY_TOL`.

    Raises:
        AdditivityError: ``check`` and the contributions do not add up.
    """
    dm = dmatrix(x)
    contribs = booster.predict(dm, pred_contribs=True)
    margin = booster.predict(dm, output_margin=True)
    result = ShapResult(contribs[:, :-1], contribs[:, -1].astype(np.float64), margin)
    if check:
        err = result.max_additivity_error()
        if err > ADDITIVITY_TOL:
            raise AdditivityError(
                f"TreeSHAP contributions miss the margin by {err:.2e} (> {ADDITIVITY_TOL})"
            )
    return result
