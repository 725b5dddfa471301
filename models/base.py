"""The `Detector` protocol shared by the GNN and the XGBoost baseline.

A detector is trained on benign history and scores every observed
(window, src_host, dst_host) edge of later windows with an anomaly score in
[0, 1] (higher is more anomalous). Scores for window ``w`` use only history up
to window ``w - 1`` ("predictive" mode) unless a detector documents otherwise.

Inputs are the data directory written by ``hopwatch ingest`` (see
``docs/data-format.md``), opened as :class:`ingest.graphs.GraphStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ingest.errors import HopwatchError

if TYPE_CHECKING:
    import polars as pl

    from ingest.graphs import GraphStore

#: Columns of the frame returned by :meth:`Detector.score`.
SCORE_COLUMNS = ("window", "src_host", "dst_host", "score")


@dataclass
class Contribution:
    """One reason behind a score, in analyst words."""

    feature: str
    value: float | str
    contribution: float
    text: str = ""


@dataclass
class Explanation:
    """Why one edge got its score."""

    window: int
    src_host: str
    dst_host: str
    score: float
    contributions: list[Contribution] = field(default_factory=list)


@runtime_checkable
class Detector(Protocol):
    """What every detector implements.

    Attributes:
        name: registry name (``"gnn"``, ``"xgb"``).
        window_seconds: window size of the data it was trained on.
    """

    name: str
    window_seconds: int

    def fit(self, store: GraphStore, windows: Sequence[int]) -> dict[str, Any]:
        """Train on the given (benign) windows; return a small report (loss, timings)."""
        ...

    def score(self, store: GraphStore, windows: Sequence[int]) -> pl.DataFrame:
        """Score every edge of ``windows``: a frame with :data:`SCORE_COLUMNS`."""
        ...

    def explain(
        self, store: GraphStore, edges: Sequence[tuple[int, str, str]], top: int = 5
    ) -> list[Explanation]:
        """Explain the scores of the given (window, src_host, dst_host) edges."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the model with everything needed to load and check it."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> Detector:
        """Read a model written by :meth:`save`; raise ``ModelMismatch`` on incompatibility."""
        ...


class ModelMismatch(HopwatchError, ValueError):
    """A saved model does not fit the data it is asked to score."""
