"""The `Detector` protocol shared by the GNN and the XGBoost baseline.

A detector is trained on benign history and scores every observed
(window, src_host, dst_host) edge of later windows with an anomaly score in
[0, 1] (higher is more anomalous). Scores for window ``w`` use only history up
to window ``w - 1`` ("predictive" mode) unless a detector documents otherwise.

Inputs are the data directory written by ``hopwatch ingest`` (see
``docs/data-format.md``), opened as :class:`ingest.graphs.GraphStore`.

What enters the history is not the detector's choice alone: scoring takes a
:class:`models.quarantine.Quarantine`, the timeline of (src_host, dst_host) pairs to
leave out of the history as each window is folded in (pairs with an open alert, kept
hot by a ``true_positive`` verdict, released for good by a ``false_positive`` one).
:meth:`Detector.score_windows` yields one window at a time and folds it in only when
the next is asked for, so a caller can hold pairs of the window it was just given:
:func:`models.quarantine.score_in_step` runs every detector that way in lockstep (the
batch form of the live pipeline, which passes the quarantine per window).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ingest.errors import HopwatchError

if TYPE_CHECKING:
    import polars as pl

    from ingest.graphs import GraphStore
    from models.quarantine import Quarantine

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

    def score(
        self, store: GraphStore, windows: Sequence[int], *, quarantine: Quarantine | None = None
    ) -> pl.DataFrame:
        """Score every edge of ``windows``: a frame with :data:`SCORE_COLUMNS`.

        ``quarantine``: the pairs it holds at a window are left out of the history when
        that window is folded in (``None``: every edge is folded in).
        """
        ...

    def score_windows(
        self, store: GraphStore, windows: Sequence[int], *, quarantine: Quarantine | None = None
    ) -> Iterator[tuple[int, pl.DataFrame]]:
        """``(window, scores)`` for each of ``windows`` that has edges, in window order.

        A window is folded into the history (without the pairs ``quarantine`` holds at it)
        when the next one is asked for, so the consumer may hold pairs of the window it
        was just given; :meth:`score` is this, concatenated.
        """
        ...

    def explain(
        self,
        store: GraphStore,
        edges: Sequence[tuple[int, str, str]],
        top: int = 5,
        *,
        quarantine: Quarantine | None = None,
    ) -> list[Explanation]:
        """Explain the scores of the given (window, src_host, dst_host) edges, from the
        history ``quarantine`` gave them (the same one they were scored with)."""
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
