"""SHAP pictures of the XGBoost detector: a global summary (beeswarm) and a per-alert waterfall.

Both draw with the shap library on matplotlib's Agg backend (no display needed)
and write a PNG. Values are in the anomaly direction, as returned by
:meth:`models.xgb.detector.XGBDetector.shap_values`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.xgb.features.table import FEATURES
from models.xgb.treeshap import ShapResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def summary_plot(
    shap: ShapResult,
    x: np.ndarray,
    path: str | Path,
    *,
    feature_names: Sequence[str] = FEATURES,
    max_display: int = 15,
) -> Path:
    """Write the global beeswarm summary of many edges' contributions to ``path`` (PNG).

    Args:
        shap: contributions of ``n`` edges.
        x: their feature matrix ``[n, F]`` (colours the dots).
        path: output PNG.
        feature_names: column names of ``x``.
        max_display: features shown.
    """
    import shap as shap_lib

    plt = _pyplot()
    plt.figure()
    shap_lib.summary_plot(
        shap.values,
        x,
        feature_names=list(feature_names),
        max_display=max_display,
        show=False,
    )
    path = Path(path)
    plt.gcf().savefig(path, dpi=110, bbox_inches="tight")
    plt.close("all")
    return path


def waterfall_plot(
    shap: ShapResult,
    x: np.ndarray,
    row: int,
    path: str | Path,
    *,
    feature_names: Sequence[str] = FEATURES,
    title: str | None = None,
    max_display: int = 12,
) -> Path:
    """Write the waterfall of one edge (row ``row``) from the base value to its margin.

    Args:
        shap: contributions (anomaly log-odds).
        x: feature matrix; ``x[row]`` labels the bars with the real values.
        row: which edge.
        path: output PNG.
        feature_names: column names of ``x``.
        title: optional title (e.g. window and hosts; shown as given).
        max_display: bars shown (the rest are summed into one).
    """
    import shap as shap_lib

    plt = _pyplot()
    explanation = shap_lib.Explanation(
        values=np.asarray(shap.values[row], dtype=float),
        base_values=float(shap.bias[row]),
        data=np.asarray(x[row], dtype=float),
        feature_names=list(feature_names),
    )
    plt.figure()
    shap_lib.plots.waterfall(explanation, max_display=max_display, show=False)
    if title:
        plt.title(title)
    path = Path(path)
    plt.gcf().savefig(path, dpi=110, bbox_inches="tight")
    plt.close("all")
    return path
