"""Windows, edge tables, the node index, the data directory and PyG snapshots."""

from __future__ import annotations

import json

import polars as pl
import pytest
import torch

from ingest.graphs import (
    EDGE_ATTR_NAMES,
    EDGE_COLUMNS,
    EDGE_FEATURES,
    DatasetWriter,
    GraphStore,
    NodeIndex,
    to_pyg,
    window_edges,
)
from tests.builders import events_from_rows, make_dataset, make_events

# time, src_user, dst_user, src_host, dst_host, auth, logon, orientation, success, label
ROWS = [
    (0, "U1@D", "U1@D", "C1", "C2", "Kerberos", "Network", "LogOn", True, False),
    (10, "U2@D", "U2@D", "C1", "C2", "NTLM", "Network", "LogOn", False, False),
    (20, "U1@D", "U1@D", "C1", "C2", "Negotiate", "Interactive", "LogOff", True, True),
    (1799, "U1@D", "U1@D", "C1", "C2", "?", "Service", "TGS", True, False),
    (1800, "U3@D", "U3@D", "C1", "C2", "Kerberos", "Batch", "TGT", False, False),
    (1801, "U3@D", "U3@D", "C3", "C1", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", "?", "AuthMap",
     True, False),
]  # fmt: skip


def test_window_edges_counts_mixes_and_boundaries() -> None:
    edges = window_edges(events_from_rows(ROWS), 1800)
    assert edges.columns == [c for c in EDGE_COLUMNS if c not in ("src", "dst")]
    assert edges.select("window", "src_host", "dst_host").rows() == [
        (0, "C1", "C2"),
        (1, "C1", "C2"),
        (1, "C3", "C1"),
    ]
    w0 = edges.row(0, named=True)
    assert w0["count"] == 4  # time 1799 is still window 0
    assert w0["n_users"] == 2
    assert w0["failures"] == 1
    assert (w0["n_kerberos"], w0["n_ntlm"], w0["n_negotiate"], w0["n_other_auth"]) == (1, 1, 1, 1)
    assert (w0["n_network"], w0["n_interactive"], w0["n_service"], w0["n_other_logon"]) == (
        2,
        1,
        1,
        0,
    )
    assert (w0["n_logon"], w0["n_logoff"], w0["n_tgs"], w0["n_tgt"]) == (2, 1, 1, 0)
    assert (w0["first_time"], w0["last_time"]) == (0, 1799)
    assert (w0["n_labeled"], w0["label"]) == (1, True)
    w1 = edges.row(1, named=True)
    assert (w1["count"], w1["failures"], w1["n_batch"], w1["n_tgt"], w1["label"]) == (
        1,
        1,
        1,
        1,
        False,
    )
    w1b = edges.row(2, named=True)
    assert (w1b["n_other_auth"], w1b["n_other_logon"], w1b["n_authmap"]) == (1, 1, 1)
    # mixes of each family add up to count (orientation here has no unknowns)
    for row in edges.iter_rows(named=True):
        auth = row["n_kerberos"] + row["n_ntlm"] + row["n_negotiate"] + row["n_other_auth"]
        assert auth == row["count"]


def test_window_edges_without_labels_and_other_sizes() -> None:
    events = events_from_rows([r[:9] for r in ROWS])
    edges = window_edges(events, 3600)
    assert edges["window"].to_list() == [0, 0]
    assert edges["n_labeled"].to_list() == [0, 0]
    assert edges["label"].to_list() == [False, False]
    with pytest.raises(ValueError, match="window_seconds"):
        window_edges(events, 0)


@pytest.mark.parametrize("chunks", [1, 3, 17, 400])
def test_writer_exact_across_chunk_boundaries(tmp_path, chunks: int) -> None:
    events = make_events(400, hosts=6, users=9, span=9000, label=True)
    expected = window_edges(events, 900)
    store = GraphStore(make_dataset(tmp_path / "d", events, window_seconds=900, chunks=chunks))
    got = store.edges()
    assert got.columns == list(EDGE_COLUMNS)
    assert got.drop("src", "dst").equals(expected)
    assert store.meta["edges"] == expected.height
    assert store.windows == sorted(expected["window"].unique().to_list())
    assert store.meta["events"] == 400
    assert store.meta["labeled"] == 40


def test_writer_unsorted_input_falls_back_to_exact(tmp_path) -> None:
    events = make_events(300, hosts=5, users=7, span=9000, label=True)
    shuffled = events.sample(fraction=1.0, shuffle=True, seed=3)
    expected = window_edges(events, 900)
    sorted_store = GraphStore(make_dataset(tmp_path / "a", events, window_seconds=900, chunks=5))
    store = GraphStore(make_dataset(tmp_path / "b", shuffled, window_seconds=900, chunks=5))
    assert store.edges().drop("src", "dst").equals(expected)
    assert store.meta["windows"] == expected["window"].n_unique()
    # node ids depend on (first window, host), not on arrival order
    assert store.nodes.equals(sorted_store.nodes)


def test_events_and_meta_written(tmp_path) -> None:
    events = make_events(50, label=False)
    d = make_dataset(tmp_path / "d", events, window_seconds=600)
    meta = json.loads((d / "meta.json").read_text())
    store = GraphStore(d)
    assert meta["window_seconds"] == 600 and meta["format_version"] == 1
    assert meta["first_time"] == events["time"].min()
    assert meta["last_window"] == events["time"].max() // 600
    back = store.events().collect()
    assert back.height == 50
    assert back["window"].to_list() == (back["time"] // 600).to_list()
    assert back["label"].null_count() == 0 and not back["label"].any()
    one = store.windows[0]
    assert store.events(windows=[one]).collect()["window"].unique().to_list() == [one]
    assert store.redteam() is None


def test_node_index_order_and_stability(tmp_path) -> None:
    first = events_from_rows(
        [
            (0, "U1@D", "U1@D", "B", "A", "NTLM", "Network", "LogOn", True),
            (1900, "U1@D", "U1@D", "Z", "C", "NTLM", "Network", "LogOn", True),
        ]
    )
    store = GraphStore(make_dataset(tmp_path / "one", first))
    assert store.nodes["host"].to_list() == ["A", "B", "C", "Z"]
    assert store.nodes["node_id"].to_list() == [0, 1, 2, 3]
    assert store.nodes["first_window"].to_list() == [0, 0, 1, 1]

    second = events_from_rows([(5, "U1@D", "U1@D", "Y", "Z", "NTLM", "Network", "LogOn", True)])
    with DatasetWriter(tmp_path / "two", nodes_from=tmp_path / "one") as w:
        w.add(second)
    two = GraphStore(tmp_path / "two")
    assert two.nodes["host"].to_list() == ["A", "B", "C", "Z", "Y"]
    edge = two.edges().row(0, named=True)
    assert (edge["src"], edge["dst"]) == (4, 3)
    # re-ingesting into the same directory keeps and extends its index
    with DatasetWriter(tmp_path / "two") as w:
        w.add(first)
    again = GraphStore(tmp_path / "two")
    assert again.nodes["host"].to_list() == ["A", "B", "C", "Z", "Y"]
    assert again.meta["events"] == 2


def test_node_index_rejects_bad_frames() -> None:
    bad = pl.DataFrame({"host": ["a", "b"], "node_id": [0, 2], "first_window": [0, 0]})
    with pytest.raises(ValueError, match="dense"):
        NodeIndex(bad)
    with pytest.raises(ValueError, match="column"):
        NodeIndex(pl.DataFrame({"host": ["a"]}))
    idx = NodeIndex()
    idx.update(pl.DataFrame({"window": [3], "src_host": ["x"], "dst_host": ["y"]}))
    assert idx.ids(["y", "nope", "x"]).to_list() == [1, None, 0]


def test_snapshot_shapes_and_dtypes(tmp_path) -> None:
    store = GraphStore(make_dataset(tmp_path / "d", make_events(500, hosts=10, label=True)))
    w = store.windows[0]
    rows = store.edges(windows=[w])
    snap = store.snapshot(w)
    e = rows.height
    assert snap.edge_index.shape == (2, e) and snap.edge_index.dtype == torch.long
    assert snap.edge_attr.shape == (e, len(EDGE_ATTR_NAMES))
    assert snap.edge_attr.dtype == torch.float32
    assert snap.edge_weight.tolist() == [float(c) for c in rows["count"]]
    assert snap.y.tolist() == [float(v) for v in rows["label"]]
    assert snap.num_nodes == store.num_nodes and snap.window == w
    assert int(snap.edge_index.max()) < store.num_nodes
    assert torch.allclose(snap.edge_attr[:, 0], torch.log1p(snap.edge_weight))
    assert torch.all((snap.edge_attr[:, 3:] >= 0) & (snap.edge_attr[:, 3:] <= 1))
    assert set(EDGE_FEATURES) <= set(EDGE_COLUMNS)


def test_snapshot_unlabelled_and_bad_ids(tmp_path) -> None:
    store = GraphStore(make_dataset(tmp_path / "d", make_events(100, label=None)))
    snap = store.snapshot(store.windows[-1])
    assert snap.y is None
    empty = store.snapshot(10_000)
    assert empty.edge_index.shape == (2, 0) and empty.edge_attr.shape == (0, len(EDGE_ATTR_NAMES))
    rows = store.edges(windows=[store.windows[0]])
    with pytest.raises(ValueError, match="node ids"):
        to_pyg(rows, num_nodes=1)


def test_store_edges_filters_and_iter_windows(tmp_path) -> None:
    store = GraphStore(
        make_dataset(tmp_path / "d", make_events(600, span=6 * 1800), window_seconds=1800, chunks=4)
    )
    assert store.windows == [0, 1, 2, 3, 4, 5]
    assert store.edges(start=2, end=4)["window"].unique().sort().to_list() == [2, 3]
    seen = [(w, rows["window"].unique().to_list()) for w, rows in store.iter_windows()]
    assert [w for w, _ in seen] == store.windows
    assert all(ws == [w] for w, ws in seen)
    assert (
        sum(r.height for _, r in store.iter_windows([1, 5])) == store.edges(windows=[1, 5]).height
    )


def test_store_rejects_missing_dir(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"meta\.json"):
        GraphStore(tmp_path)


def test_writer_rejects_frames_missing_columns(tmp_path) -> None:
    from ingest.schema import SchemaError

    with pytest.raises(SchemaError, match="src_host"), DatasetWriter(tmp_path / "d") as w:
        w.add(pl.DataFrame({"time": [1], "src_user": ["u"]}))
    with DatasetWriter(tmp_path / "e", window_seconds=60) as w:
        w.add(make_events(0))
    assert GraphStore(tmp_path / "e").meta["events"] == 0
    assert GraphStore(tmp_path / "e").windows == []
