"""The quarantine: alerted pairs stay out of every detector's history; verdicts teach it."""

from __future__ import annotations

import polars as pl
import pytest

from ingest.graphs import GraphStore
from models.gnn import GNNDetector
from models.quarantine import Quarantine, QuarantineError, score_in_step
from models.xgb import XGBDetector
from tests.models.gnn.builders import office_dataset

WS = 1800
# An attacker on W3 reaches server S2 (W3 never used it) and comes back three times.
PAIR = ("W3", "S2")
VISITS = (130, 134, 139, 141)


def test_timeline_hold_release_and_verdicts() -> None:
    q = Quarantine()
    assert q.hold([PAIR, ("A", "B")], window=10) == [PAIR, ("A", "B")]
    assert q.hold([PAIR], window=12) == []  # already held
    assert not q.is_held(PAIR, 9) and q.is_held(PAIR, 10) and q.is_held(PAIR, 500)
    q.release([("A", "B")], window=15)
    assert q.held(14) == {PAIR, ("A", "B")} and q.held(15) == {PAIR}
    assert q.mask(16, ["W3", "A", "W3"], ["S2", "B", "S1"]).tolist() == [True, False, False]
    q.verdict(PAIR, "false_positive", window=20)
    assert q.is_held(PAIR, 19) and not q.is_held(PAIR, 20)
    assert q.hold([PAIR], window=30) == []  # judged benign: never held again
    q.verdict(("A", "B"), "true_positive", window=40)
    q.release([("A", "B")], window=50)
    assert q.is_held(("A", "B"), 60)  # confirmed attacks stay hot
    again = Quarantine.from_dict(q.to_dict())
    assert all(again.held(w) == q.held(w) for w in (9, 10, 14, 15, 19, 20, 45, 60))
    with pytest.raises(QuarantineError, match="verdict"):
        q.verdict(PAIR, "maybe", window=1)
    with pytest.raises(QuarantineError, match="until"):
        q.hold([PAIR], window=5, until=5)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    plant = [(w * WS + 100, *PAIR) for w in VISITS]
    return GraphStore(office_dataset(tmp_path_factory.mktemp("revisits") / "d", plant=plant))


@pytest.fixture(scope="module")
def detectors(store: GraphStore) -> dict:
    train = [w for w in store.windows if w < 120]
    gnn = GNNDetector(
        hidden=16, epochs=3, device="cpu", seed=1, warmup_windows=4, lr=1e-2, ensemble=1
    )
    gnn.fit(store, train)
    xgb = XGBDetector(device="cpu", n_estimators=60, seed=1, nthread=2)
    xgb.fit(store, train)
    return {"gnn": gnn, "xgb": xgb}


def _test_windows(store: GraphStore) -> list[int]:
    return [w for w in store.windows if w >= 120]


def _visits(scores: pl.DataFrame) -> list[float]:
    rows = scores.filter(pl.col("src_host") == PAIR[0], pl.col("dst_host") == PAIR[1])
    return rows.sort("window")["score"].to_list()


def _normal(scores: pl.DataFrame) -> pl.Series:
    return scores.filter(~((pl.col("src_host") == PAIR[0]) & (pl.col("dst_host") == PAIR[1])))[
        "score"
    ]


@pytest.mark.parametrize("name", ["gnn", "xgb"])
def test_an_attackers_second_visit_scores_as_high_as_the_first(store, detectors, name) -> None:
    det = detectors[name]
    plain = _visits(det.score(store, _test_windows(store)))
    assert len(plain) == len(VISITS)
    # Without the quarantine the first visit teaches the detector: the next look known.
    assert max(plain[1:]) < plain[0] - 0.1
    q = Quarantine()
    q.hold([PAIR], window=VISITS[0])
    scores = det.score(store, _test_windows(store), quarantine=q)
    held = _visits(scores)
    assert held[0] == pytest.approx(plain[0])
    assert min(held[1:]) >= held[0] - 0.05
    assert min(held[1:]) > _normal(scores).quantile(0.99)


def test_lockstep_holds_a_pair_that_alerted_on_any_detector(store, detectors) -> None:
    q = Quarantine()
    seen: list[int] = []

    def alert(window: int, frames: dict[str, pl.DataFrame]) -> None:
        seen.append(window)
        hot = pl.concat([f.filter(pl.col("score") >= 0.9) for f in frames.values()])
        q.hold(hot.select("src_host", "dst_host").unique().rows(), window=window)

    out = score_in_step(detectors, store, _test_windows(store), quarantine=q, on_window=alert)
    assert seen == _test_windows(store)
    assert q.first_held(PAIR) == VISITS[0]
    for name in ("gnn", "xgb"):
        visits = _visits(pl.concat(out[name]))
        assert min(visits[1:]) >= visits[0] - 0.05, name


@pytest.mark.parametrize("verdict", ["false_positive", "true_positive"])
def test_verdicts_teach_the_baseline_or_keep_the_pair_hot(store, detectors, verdict) -> None:
    det = detectors["xgb"]
    q = Quarantine()
    q.hold([PAIR], window=VISITS[0])
    q.verdict(PAIR, verdict, window=VISITS[1] + 1)
    q.release([PAIR], window=VISITS[1] + 2)  # the alert is closed
    first, second, third, fourth = _visits(det.score(store, _test_windows(store), quarantine=q))
    assert second >= first - 0.05  # held until the verdict
    assert third >= first - 0.05  # not seen since: still new when it comes back
    if verdict == "false_positive":
        assert fourth < first - 0.5  # the third visit was folded in: now known
    else:
        assert fourth >= first - 0.05
