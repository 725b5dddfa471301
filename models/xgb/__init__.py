"""XGBoost baseline on tabular history features, explained with exact TreeSHAP.

:class:`XGBDetector` (:mod:`~models.xgb.detector`) is the detector;
:mod:`models.xgb.features` builds its tabular features; :mod:`~models.xgb.treeshap` holds
the XGBoost plumbing (device, DMatrix, exact TreeSHAP); :mod:`~models.xgb.plots` draws
SHAP summary and waterfall plots.
"""

from models.xgb.detector import XGBDetector

__all__ = ["XGBDetector"]
