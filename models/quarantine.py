"""What enters a detector's history: the quarantine of alerted pairs, and analysts' verdicts.

Every detector keeps a history (pairs seen, accounts per host, node state) that says
what is normal for the next window. An attacker who comes back over a pair it created
must not find that pair "known": an edge that alerted stays out of every detector's
history while its alert is open. :class:`Quarantine` is a timeline of held
``(src_host, dst_host)`` pairs; a detector asks it, each time it folds a scored window
into its history, which pairs of that window to leave out (``score(..., quarantine=q)``
and :meth:`models.base.Detector.score_windows`). Leaving a pair out leaves out its whole
edge in that window: its events, the accounts on it (their account-to-host history), its
messages in the GNN's graph. Everything else about the window is folded in as usual.

Timeline, in window ids: a pair held from window ``w`` is left out of windows ``w`` and
later (the alert on window ``w`` is decided after ``w`` is scored and before it is
folded) until it is released. Because holds and releases are kept with their windows, a
later replay of the same windows (an explanation, a re-score) sees exactly the history
the scores were computed from.

Verdicts (``PATCH /alerts/{id}`` with ``verdict``):

* ``false_positive``: the pair is released from the verdict's window on and never held
  again, so it enters the history and teaches the baseline (it stops scoring as new);
* ``true_positive``: the pair stays held for good, whatever releases follow (the
  attacker's pairs stay hot).

Batch scoring and evaluation run the same timeline with no verdicts; the live pipeline
builds one from the alert store (open alerts hold their pairs) and passes it per window.

    q = Quarantine()
    q.hold([("C17", "C42")], window=310)               # an alert opened at window 310
    frames = det.score(store, windows, quarantine=q)   # later visits stay "new"
    q.verdict(("C17", "C42"), "false_positive", window=400)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.errors import HopwatchError

if TYPE_CHECKING:
    import polars as pl

    from ingest.graphs import GraphStore

Pair = tuple[str, str]
VERDICTS = ("true_positive", "false_positive")


class QuarantineError(HopwatchError, ValueError):
    """A quarantine call with a bad verdict or window, or detectors out of step."""


@dataclass
class _Span:
    start: int
    end: int | None = None  # exclusive; None: open


@dataclass
class Quarantine:
    """Pairs left out of every detector's history, per window, and the analysts' verdicts.

    Attributes:
        spans: pair -> held spans of windows ``[start, end)`` (``end`` None: still held).
        benign: pairs with a ``false_positive`` verdict (never held again).
        confirmed: pairs with a ``true_positive`` verdict (never released).
    """

    spans: dict[Pair, list[_Span]] = field(default_factory=dict)
    benign: set[Pair] = field(default_factory=set)
    confirmed: set[Pair] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.spans)

    def hold(self, pairs: Iterable[Pair], *, window: int, until: int | None = None) -> list[Pair]:
        """Hold ``pairs`` from ``window`` on (until ``until``, exclusive, when given).

        A pair already held at ``window`` keeps its span (extended to ``until`` when that
        is later); a pair with a ``false_positive`` verdict is not held. Returns the
        pairs newly held.
        """
        window = int(window)
        if until is not None and until <= window:
            raise QuarantineError(f"hold until window {until} is not after window {window}")
        new = []
        for pair in pairs:
            pair = (str(pair[0]), str(pair[1]))
            if pair in self.benign:
                continue
            spans = self.spans.setdefault(pair, [])
            last = spans[-1] if spans else None
            if (
                last is not None
                and last.start <= window
                and (last.end is None or window < last.end)
            ):
                if last.end is not None and (until is None or until > last.end):
                    last.end = until
                continue
            spans.append(_Span(window, until))
            new.append(pair)
        return new

    def release(self, pairs: Iterable[Pair], *, window: int) -> None:
        """Stop holding ``pairs`` from ``window`` on (an alert closed without a verdict).

        Confirmed pairs (``true_positive``) stay held.
        """
        for pair in pairs:
            pair = (str(pair[0]), str(pair[1]))
            if pair in self.confirmed:
                continue
            for span in self.spans.get(pair, []):
                if span.end is None or span.end > window:
                    span.end = max(int(window), span.start)

    def verdict(self, pair: Pair, verdict: str, *, window: int) -> None:
        """Record an analyst verdict on ``pair`` given at ``window``.

        Raises:
            QuarantineError: an unknown verdict.
        """
        if verdict not in VERDICTS:
            raise QuarantineError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        pair = (str(pair[0]), str(pair[1]))
        if verdict == "false_positive":
            self.confirmed.discard(pair)
            self.release([pair], window=window)
            self.benign.add(pair)
        else:
            self.benign.discard(pair)
            self.confirmed.add(pair)
            spans = self.spans.setdefault(pair, [])
            if spans:
                spans[-1].end = None
            else:
                spans.append(_Span(int(window)))

    def held(self, window: int) -> frozenset[Pair]:
        """The pairs left out of the history when window ``window`` is folded in."""
        w = int(window)
        return frozenset(
            pair
            for pair, spans in self.spans.items()
            if any(s.start <= w and (s.end is None or w < s.end) for s in spans)
        )

    def is_held(self, pair: Pair, window: int) -> bool:
        """Whether ``pair`` is left out of window ``window``."""
        w = int(window)
        return any(
            s.start <= w and (s.end is None or w < s.end)
            for s in self.spans.get((str(pair[0]), str(pair[1])), ())
        )

    def first_held(self, pair: Pair) -> int | None:
        """The first window ``pair`` was held from, or None."""
        spans = self.spans.get((str(pair[0]), str(pair[1])))
        return spans[0].start if spans else None

    def mask(self, window: int, src: Sequence[str], dst: Sequence[str]) -> np.ndarray:
        """Per edge ``(src[i], dst[i])`` of window ``window``: whether it is left out."""
        held = self.held(window)
        if not held:
            return np.zeros(len(src), dtype=bool)
        return np.fromiter(
            ((s, d) in held for s, d in zip(src, dst, strict=True)), dtype=bool, count=len(src)
        )

    def held_ids(self, window: int, ids: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """The held pairs of ``window`` as node-id arrays ``(src, dst)`` (pairs naming a host
        missing from ``ids`` are skipped: they cannot be in the window)."""
        rows = [(ids[s], ids[d]) for s, d in self.held(window) if s in ids and d in ids]
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy()
        arr = np.asarray(rows, dtype=np.int64)
        return arr[:, 0], arr[:, 1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for checkpoints and reports)."""
        return {
            "spans": [
                {"src_host": s, "dst_host": d, "start": sp.start, "end": sp.end}
                for (s, d), spans in sorted(self.spans.items())
                for sp in spans
            ],
            "benign": sorted([list(p) for p in self.benign]),
            "confirmed": sorted([list(p) for p in self.confirmed]),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quarantine:
        """The inverse of :meth:`to_dict`."""
        out = cls()
        for row in data.get("spans", []):
            pair = (str(row["src_host"]), str(row["dst_host"]))
            end = row.get("end")
            out.spans.setdefault(pair, []).append(
                _Span(int(row["start"]), None if end is None else int(end))
            )
        out.benign = {(str(a), str(b)) for a, b in data.get("benign", [])}
        out.confirmed = {(str(a), str(b)) for a, b in data.get("confirmed", [])}
        return out


def score_in_step(
    detectors: Mapping[str, Any],
    store: GraphStore,
    windows: Sequence[int],
    *,
    quarantine: Quarantine,
    on_window: Callable[[int, dict[str, pl.DataFrame]], None],
) -> dict[str, list[pl.DataFrame]]:
    """Score ``windows`` with every detector in lockstep, one window at a time.

    For each window, every detector scores it (from its history before the window); then
    ``on_window(window, {name: scores})`` runs (the alerting stage: it decides which
    pairs to :meth:`Quarantine.hold`); then every detector folds the window into its
    history without the pairs held at that window. So a pair that alerted on any detector
    is withheld from all of them, as in the live service.

    Returns:
        detector name -> the per-window score frames, in window order.

    Raises:
        QuarantineError: detectors yielded different windows (a detector skipped one).
    """
    names = sorted(detectors)
    gens: dict[str, Iterator[tuple[int, pl.DataFrame]]] = {
        n: detectors[n].score_windows(store, windows, quarantine=quarantine) for n in names
    }
    out: dict[str, list[pl.DataFrame]] = {n: [] for n in names}
    sentinel = object()
    while True:
        step = {n: next(gens[n], sentinel) for n in names}
        done = [n for n, v in step.items() if v is sentinel]
        if done:
            if len(done) != len(names):
                raise QuarantineError(f"detector(s) {', '.join(done)} ended before the others")
            return out
        got = {n: int(v[0]) for n, v in step.items()}  # type: ignore[index]
        if len(set(got.values())) != 1:
            raise QuarantineError(f"detectors out of step: windows {got}")
        window = next(iter(got.values()))
        frames = {n: v[1] for n, v in step.items()}  # type: ignore[index]
        for n in names:
            out[n].append(frames[n])
        on_window(window, frames)
