"""Tabular history features: values on hand-built windows, no leakage, incremental history."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from ingest.graphs import GraphStore
from ingest.graphs.edges import window_edges
from models.xgb.features.history import History, advance
from models.xgb.features.sampling import corrupt_window
from models.xgb.features.table import FEATURES, edge_features, feature_matrix
from models.xgb.features.text import TEXTS, describe
from models.xgb.features.walk import FeatureWalker
from tests.builders import events_from_rows, make_dataset, make_events

WS = 1800


def ev(t, user, src, dst, auth="Kerberos", logon="Network", ok=True):
    return (t, user, user, src, dst, auth, logon, "LogOn", ok)


def windowed(rows) -> pl.DataFrame:
    return events_from_rows(rows).with_columns((pl.col("time") // WS).alias("window"))


def run(events: pl.DataFrame) -> dict[int, pl.DataFrame]:
    """Features of every window, advancing the history window by window."""
    edges = window_edges(events, WS)
    history, out = History.empty(), {}
    for w in sorted(edges["window"].unique().to_list()):
        feats, summary = edge_features(
            history, edges.filter(pl.col("window") == w), events.filter(pl.col("window") == w)
        )
        history = advance(history, summary)
        out[w] = feats
    return out


def row(feats: pl.DataFrame, src: str, dst: str) -> dict:
    sel = feats.filter((pl.col("src_host") == src) & (pl.col("dst_host") == dst))
    assert sel.height == 1, (src, dst)
    return sel.row(0, named=True)


@pytest.fixture
def story() -> dict[int, pl.DataFrame]:
    # window 0: A->B twice (u1), A->C fails (u1); window 1: A->B again; D->B (u2);
    # window 3 (03:xx on day 0 is window 6): A->E with NTLM by u1, A->B.
    return run(
        windowed(
            [
                ev(10, "u1", "A", "B"),
                ev(20, "u1", "A", "B"),
                ev(30, "u1", "A", "C", ok=False),
                ev(1810, "u1", "A", "B"),
                ev(1820, "u2", "D", "B"),
                ev(3 * 3600 + 5, "u1", "A", "E", auth="NTLM"),
                ev(3 * 3600 + 9, "u1", "A", "F", auth="NTLM", logon="RemoteInteractive"),
                ev(3 * 3600 + 20, "u1", "A", "B"),
            ]
        )
    )


def test_first_window_has_no_history(story):
    r = row(story[0], "A", "B")
    assert r["count"] == 2 and r["pair_seen"] == 0 and r["pair_windows"] == 0
    assert math.isnan(r["windows_since_pair"]) and math.isnan(r["src_out_degree_usual"])
    assert r["src_out_degree"] == 2 and r["src_new_dsts"] == 2 and r["src_hist_windows"] == 0
    assert row(story[0], "A", "C")["failure_ratio"] == 1.0


def test_pair_and_host_history(story):
    r = row(story[1], "A", "B")
    assert r["pair_seen"] == 1 and r["pair_windows"] == 1 and r["pair_events"] == 2
    assert r["windows_since_pair"] == 1
    assert r["src_out_degree_usual"] == 2.0 and r["src_hist_dsts"] == 2
    assert r["src_failure_ratio_hist"] == pytest.approx(1 / 3)
    assert r["src_server_role"] == 0.0  # A only ever initiated: workstation-like
    d = row(story[1], "D", "B")
    assert d["pair_seen"] == 0 and d["dst_hist_srcs"] == 1 and d["dst_new_srcs"] == 1
    assert d["dst_server_role"] == 1.0 and d["dst_in_degree"] == 2
    assert d["users_new_to_dst"] == 1 and d["user_dst_windows"] == 0


def test_lateral_burst_window(story):
    e = row(story[6], "A", "E")
    assert e["hour"] == 3 and e["frac_ntlm"] == 1.0 and e["pair_seen"] == 0
    assert e["src_new_dsts"] == 2 and e["src_out_degree"] == 3
    assert e["user_new_dsts"] == 2 and e["user_dsts_now"] == 3
    assert e["user_dsts_usual"] == pytest.approx(1.5)  # u1: 2 dsts in w0, 1 in w1
    assert e["windows_since_pair"] != e["windows_since_pair"]  # NaN: never seen
    b = row(story[6], "A", "B")
    assert b["windows_since_pair"] == 5 and b["pair_windows"] == 2
    assert row(story[6], "A", "F")["frac_remote_interactive"] == 1.0


def test_analyst_words_use_real_values(story):
    e = row(story[6], "A", "E")
    assert describe("pair_seen", e) == "source never authenticated to this destination before"
    assert describe("src_new_dsts", e) == (
        "2 new destinations from the source this window vs 1.5 usual destinations"
    )
    assert describe("frac_ntlm", e) == "NTLM on 100% of the edge's events, at 03:00"
    assert set(TEXTS) == set(FEATURES)
    for f in FEATURES:  # every feature has words, also with missing history
        assert describe(f, row(story[0], "A", "B"))


def test_rejects_bad_input():
    events = windowed([ev(10, "u1", "A", "B"), ev(1810, "u1", "A", "B")])
    edges = window_edges(events, WS)
    with pytest.raises(ValueError, match="exactly one window"):
        edge_features(History.empty(), edges, events)
    with pytest.raises(ValueError, match="lacks column"):
        edge_features(History.empty(), edges.drop("n_ntlm").head(1), events)
    h = advance(History.empty(), edge_features(History.empty(), edges.head(1), events)[1])
    with pytest.raises(ValueError, match="cannot fold"):
        advance(h, edge_features(h, edges.head(1), events)[1])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[pl.DataFrame, GraphStore]:
    events = make_events(1500, hosts=12, users=6, span=12 * WS, seed=3, label=False)
    return events, GraphStore(make_dataset(tmp_path_factory.mktemp("full"), events))


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.select("window", "src_host", "dst_host").equals(
        b.select("window", "src_host", "dst_host")
    )
    np.testing.assert_array_equal(feature_matrix(a), feature_matrix(b))  # NaN == NaN here


def test_no_leakage_later_windows_change_nothing(dataset, tmp_path):
    events, full = dataset
    t = 6
    cut = GraphStore(make_dataset(tmp_path / "cut", events.filter(pl.col("time") < (t + 1) * WS)))
    assert max(cut.windows) == t and max(full.windows) > t + 3
    (a,) = [s.features for s in FeatureWalker(full).walk([t])]
    (b,) = [s.features for s in FeatureWalker(cut).walk([t])]
    _same(a, b)
    assert a.height > 10


def test_incremental_equals_replay_and_history_round_trip(dataset, tmp_path):
    _, store = dataset
    ws = store.windows
    first = FeatureWalker(store)
    list(first.walk(ws[:5]))
    first.history.save(tmp_path / "h")
    loaded = History.load(tmp_path / "h")
    assert loaded.last_window == ws[4] and loaded.windows == 5
    assert loaded.pairs.sort("src_host", "dst_host").equals(
        first.history.pairs.sort("src_host", "dst_host")
    )
    resumed = [s.features for s in FeatureWalker(store, loaded).walk(ws[5:9])]
    replay = [s.features for s in FeatureWalker(store).walk(ws[5:9])]
    for a, b in zip(resumed, replay, strict=True):
        _same(a, b)
    with pytest.raises(ValueError, match="not after"):
        list(FeatureWalker(store, loaded).walk([ws[2]]))


def test_negatives_move_whole_edges_to_new_pairs(dataset):
    _, store = dataset
    w = store.windows[5]
    events = store.events(windows=[w]).collect()
    history = History.empty()
    edges_c, events_c, fake = corrupt_window(events, history, WS, np.random.default_rng(0), 0.5)
    real = set(events.select("src_host", "dst_host").iter_rows())
    moved = set(fake.iter_rows())
    assert moved and not (moved & real)
    assert all(s != d for s, d in moved)
    assert events_c.height == events.height  # events are moved, not invented
    assert edges_c["count"].sum() == events.height
    feats, _ = edge_features(history, edges_c, events_c)
    neg = feats.join(fake, on=["src_host", "dst_host"], how="semi")
    assert neg.height == len(moved) and (neg["pair_seen"] == 0).all()


def test_accounts_never_used_from_the_source_and_without_a_session_there():
    feats = run(
        windowed(
            [
                ev(10, "u1@D", "W1", "W1", logon="Interactive"),  # u1 sits at W1
                ev(20, "u1@D", "W1", "S1"),  # ... and uses it to reach S1
                ev(1810, "u1@D", "W1", "S2"),  # window 1: known source, session
                ev(1820, "u2@D", "W1", "S2"),  # never from W1, no session: stolen-like
                ev(1830, "u3@D", "W1", "W1", logon="Interactive"),  # u3 logs on at W1 now
                ev(1840, "u3@D", "W1", "S3"),  # never from W1, but logged on there
                ev(1850, "C9$@D", "W1", "S3"),  # machine accounts are not people
                ev(1860, "ANONYMOUS LOGON@S4", "W1", "S4"),  # nor null sessions
            ]
        )
    )[1]
    s2, s3, s4 = row(feats, "W1", "S2"), row(feats, "W1", "S3"), row(feats, "W1", "S4")
    assert (s2["users_new_from_src"], s2["users_new_from_src_no_session"]) == (1, 1)
    assert (s3["users_new_from_src"], s3["users_new_from_src_no_session"]) == (1, 0)
    assert (s4["users_new_from_src"], s4["users_new_from_src_no_session"]) == (0, 0)
    assert "no logon session" in describe("users_new_from_src_no_session", s2)
