"""The fast LANL engine gives the Polars path's data directory: events, edges, nodes, meta."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

pytest.importorskip("numba")

from ingest.graphs import GraphStore
from ingest.lanl import ingest_lanl
from ingest.simulate import SimConfig, simulate, write_lanl
from service.cli import build_app
from tests.builders import lanl_line
from tests.builders import write_lanl as write_lines

META_KEYS = (
    "events",
    "windows",
    "edges",
    "nodes",
    "first_time",
    "last_time",
    "first_window",
    "last_window",
    "has_labels",
    "labeled",
    "first_label_time",
    "bad_lines",
    "bad_line_reasons",
    "labeled_events",
    "redteam_lines",
    "user_aware",
)

#: Every bad-line reason, and the corner cases the Polars reader accepts.
ODD_LINES = [
    lanl_line(1, "U1@DOM1", "C1", "C2"),
    "",
    "7,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn",  # 8 columns
    "8,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success,extra",  # 10 columns
    "8,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success,",  # empty 10th: accepted
    "8,U1@DOM1,U1@DOM1,C1,C3,NTLM,Network,LogOn,Fail,,x",  # 11 columns, empty 10th
    "abc,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success",
    "99999999999999999999,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success",  # overflow
    "9,U1@DOM1,U1@DOM1,,C2,NTLM,Network,LogOn,Success",
    "-4,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success",
    "-0,U2@DOM1,U2@DOM1,C1,C2,NTLM,Network,LogOn,Success",  # time 0
    " 10 ,U2@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success",  # padded time
    "+11,U3@DOM1,U1@DOM1,C2,C1,?,?,TGS,Success",
    "12,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Maybe",
    "13,U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success\r",
    "\r",
    ",,,,,,,,Success",
    "   ",
    "\x1b[31m,evil",
    "14,U\u00e91@DOM1,U1@DOM1,C\u00e9,C2,Negotiate,RemoteInteractive,AuthMap,Fail",
    "15, U1@DOM1,U1@DOM1,C1 ,C2,NTLM,Batch,TGT,Success",
    "16,U1@DOM1,U1@DOM1,C1,C2,NTLM,Interactive,LogOff,Success",
    "17,U1@DOM1,U1@DOM1,C1,C2,Network,Kerberos,Service,Success",  # values in other fields
    # names over 16 bytes take the kernel's deferred (long string) path; 16 and 17 bytes
    "18,ANONYMOUS LOGON@C586,ANONYMOUS LOGON@C586,C1250,C586,NTLM,Network,LogOn,Success",
    "19,ANONYMOUS LOGON@C586,x,HOST-0123456789AB,HOST-0123456789ABC,NTLM,Network,LogOn,Fail",
    "19,ANONYMOUS LOGON@C587,x,HOST-0123456789ABC,HOST-0123456789ABC,NTLM,Network,LogOn,Fail",
    "20,SVC-ACCOUNT-0001@DOM1,x,HOST-0123456789ABD,HOST-0123456789AB,NTLM,Network,TGS,Success",
    # the events' own strings: a dst_user unlike the src_user (short and long), words
    # outside the vocabulary (short and long), vocabulary words in another field
    "21,U1@DOM1,ANONYMOUS LOGON@C999999,C1,C2,Kerberos,Network,LogOn,Success",
    "22,U1@DOM1,U2@DOM1,C1,C1,Wdigest,Unlock,LogOn,Fail",
    "23,U1@DOM1,U1@DOM1,C1,C2,MICROSOFT_AUTHENTICATION_PACKAGE_V1_0,CachedInteractive,TGT,Success",
    "24,U1@DOM1,U1@DOM1,C1,C2,A-VERY-LONG-AUTH-PACKAGE-NAME,NetworkCleartext,Elevate,Success",
    "25,U1@DOM1,U1@DOM1,C1,C2,Wdigest,Wdigest,Wdigest,Success",
    "26,U1@DOM1,U1@DOM1,C1,C2,LogOn,TGS,Kerberos,Success",
]


@pytest.fixture(autouse=True)
def split_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut every chunk of two or more lines between the two parse threads (the
    default leaves chunks under 1 MiB whole, i.e. every chunk of these small files)."""
    import ingest.lanl.fast.engine

    monkeypatch.setattr(ingest.lanl.fast.engine, "MIN_SPLIT_BYTES", 0)


def edges_frame(path: Path) -> pl.DataFrame:
    return GraphStore(path).edges().sort("window", "src_host", "dst_host")


def events_frame(path: Path) -> pl.DataFrame:
    """Every event of a data directory, in file order (parts in name order)."""
    return pl.read_parquet(path / "events" / "*.parquet")


def assert_same_dirs(a: Path, b: Path) -> None:
    """Events, edge tables, node indexes and meta counts of two data directories are equal."""
    if any((a / "events").iterdir()) or any((b / "events").iterdir()):
        va, vb = events_frame(a), events_frame(b)
        assert va.schema == vb.schema
        assert va.equals(vb), (va, vb)
    ea, eb = edges_frame(a), edges_frame(b)
    assert ea.schema == eb.schema
    assert ea.equals(eb), (ea, eb)
    assert pl.read_parquet(a / "nodes.parquet").equals(pl.read_parquet(b / "nodes.parquet"))
    ma = json.loads((a / "meta.json").read_text())
    mb = json.loads((b / "meta.json").read_text())
    for key in META_KEYS:
        assert ma.get(key) == mb.get(key), key
    if (a / "redteam.parquet").exists():
        assert pl.read_parquet(a / "redteam.parquet").equals(pl.read_parquet(b / "redteam.parquet"))


def both(auth: Path, tmp: Path, *, write_events: bool = True, **kw: object) -> tuple:
    """Ingest with both engines; return both results after comparing their directories."""
    slow = ingest_lanl(auth, tmp / "polars", engine="polars", write_events=write_events, **kw)
    fast = ingest_lanl(auth, tmp / "fast", engine="fast", write_events=write_events, **kw)
    assert_same_dirs(tmp / "polars", tmp / "fast")
    assert (fast.bad.count, fast.bad.reasons, fast.bad.examples) == (
        slow.bad.count,
        slow.bad.reasons,
        slow.bad.examples,
    )
    same = {"seconds": 0, "engine": ""}
    assert fast.summary() | same == slow.summary() | same
    assert (fast.engine, slow.engine) == ("fast", "polars")
    assert fast.unmatched_redteam.equals(slow.unmatched_redteam)
    return slow, fast


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    result = simulate(SimConfig(days=5, hosts=120, users=90, seed=3, campaigns=2))
    return write_lanl(result, tmp_path_factory.mktemp("sim"))


@pytest.mark.parametrize(
    ("chunk_bytes", "write_events"),
    [(1, True), (97, True), (4096, False), (64 << 20, True), (64 << 20, False)],
)
def test_odd_lines_same_as_polars(tmp_path: Path, chunk_bytes: int, write_events: bool) -> None:
    lines = [*ODD_LINES, *(lanl_line(2000 + i, f"U{i % 3}@DOM1", f"C{i % 4}") for i in range(40))]
    auth = write_lines(tmp_path / "auth.txt", lines)
    _slow, fast = both(
        auth, tmp_path, window_seconds=60, chunk_bytes=chunk_bytes, write_events=write_events
    )
    assert fast.bad.count == 12 and fast.events == len(lines) - 12
    assert fast.bad.reasons["empty line"] == 3
    mix = edges_frame(tmp_path / "fast").filter(pl.col("window") == 0)
    assert mix["n_authmap"].sum() == 1 and mix["n_other_logon"].sum() >= 2
    if write_events:
        events = events_frame(tmp_path / "fast")
        assert events.height == fast.events and events["label"].null_count() == events.height
        odd = events.filter(pl.col("time").is_between(21, 26)).sort("time")
        assert odd["auth_type"].to_list() == [
            "Kerberos",
            "Wdigest",
            "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0",
            "A-VERY-LONG-AUTH-PACKAGE-NAME",
            "Wdigest",
            "LogOn",
        ]
        assert odd["dst_user"].to_list()[:2] == ["ANONYMOUS LOGON@C999999", "U2@DOM1"]
        assert odd["orientation"].to_list()[3:] == ["Elevate", "Wdigest", "Kerberos"]


def test_invalid_utf8_replaced_as_polars_does(tmp_path: Path) -> None:
    raw = [
        b"1,U\xff@DOM1,U\xff@DOM1,C\xe9\xe9,C2,NTLM,Network,LogOn,Success",
        b"2,U1@DOM1,U1@DOM1,C2,C\xc3,Negotiate\xf0,Network,LogOn,Success",
        *(lanl_line(3 + i, "U1@DOM1", "C1", "C2").encode() for i in range(5)),
    ]
    auth = tmp_path / "auth.txt"
    auth.write_bytes(b"\n".join(raw) + b"\n")
    _slow, _fast = both(auth, tmp_path, window_seconds=60)
    assert "\ufffd" in "".join(events_frame(tmp_path / "fast")["src_host"].to_list())


@pytest.mark.parametrize("whole_table_max", [0, 1 << 15])
def test_row_groups_and_parts(
    sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_table_max: int
) -> None:
    """Events cut into many row groups and files read back as one table, in order, with
    dictionaries of the strings each row group uses (0) or of whole tables (default)."""
    import ingest.lanl.fast.events

    monkeypatch.setattr(ingest.lanl.fast.events, "WHOLE_TABLE_MAX", whole_table_max)
    monkeypatch.setattr(ingest.lanl.fast.events, "ROW_GROUP_ROWS", 1000)
    monkeypatch.setattr(ingest.lanl.fast.events, "PART_ROWS", 2500)
    _slow, fast = both(sim["auth"], tmp_path, redteam=sim["redteam"], chunk_bytes=50_000)
    parts = sorted((tmp_path / "fast" / "events").glob("*.parquet"))
    assert len(parts) == -(-fast.events // 3000)  # a file closes at the first row group past
    assert events_frame(tmp_path / "fast")["label"].sum() == fast.meta["labeled"] > 0
    import pyarrow.parquet as pq

    file = pq.ParquetFile(parts[0], read_dictionary=["src_user", "dst_user"])
    sizes, used = [], []
    for i in range(file.num_row_groups):
        group = file.read_row_group(i, columns=["src_user", "dst_user"])
        src, dst = group["src_user"].chunk(0), group["dst_user"].chunk(0)
        assert src.dictionary.equals(dst.dictionary)  # one dictionary for the pair
        sizes.append(len(src.dictionary))
        used.append(len(set(src.to_pylist()) | set(dst.to_pylist())))
    if whole_table_max == 0:  # the strings each row group uses
        assert sizes == used
    else:  # the whole table so far: it only grows
        assert sizes == sorted(sizes) and all(s >= u for s, u in zip(sizes, used, strict=True))


@pytest.mark.parametrize("user_aware", [False, True])
@pytest.mark.parametrize("chunk_bytes", [300_000, 64 << 20])
def test_simulated_with_labels(sim, tmp_path: Path, user_aware: bool, chunk_bytes: int) -> None:
    _slow, fast = both(
        sim["auth"],
        tmp_path,
        redteam=sim["redteam"],
        user_aware=user_aware,
        window_seconds=1800,
        chunk_bytes=chunk_bytes,
    )
    assert fast.events > 10_000 and fast.labeled_events > 0
    edges = edges_frame(tmp_path / "fast")
    assert edges["n_labeled"].sum() == fast.meta["labeled"] > 0
    assert edges["count"].sum() == fast.events


def test_simulated_time_range_stops_early(sim, tmp_path: Path) -> None:
    seen: list[int] = []
    slow, fast = both(
        sim["auth"],
        tmp_path,
        redteam=sim["redteam"],
        start=86_400,
        end=3 * 86_400,
        chunk_bytes=200_000,
        progress=seen.append,
    )
    assert 0 < fast.events < slow.events + 1
    assert fast.meta["first_time"] >= 86_400 and fast.meta["last_time"] < 3 * 86_400
    assert seen[-1] < sim["auth"].stat().st_size


def test_gz_and_folder_of_parts(sim, tmp_path: Path) -> None:
    import gzip

    lines = sim["auth"].read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "auth_1.txt").write_bytes(b"".join(lines[:third]))
    (folder / "auth_2.txt.gz").write_bytes(gzip.compress(b"".join(lines[third : 2 * third])))
    (folder / "auth_10.txt").write_bytes(b"".join(lines[2 * third :]) + b"broken\n")
    _slow, fast = both(folder, tmp_path, redteam=sim["redteam"], chunk_bytes=100_000)
    assert fast.bad.examples[0][:2] == ("auth_10.txt", len(lines) - 2 * third + 1)
    whole = ingest_lanl(sim["auth"], tmp_path / "whole", write_events=False)
    assert whole.edges == fast.edges and whole.events == fast.events


def test_unsorted_input_exact(tmp_path: Path) -> None:
    times = [5, 100, 300, 7, 4000, 3, 100, 2500]
    auth = write_lines(
        tmp_path / "u.txt", [lanl_line(t, f"U{t % 3}@DOM1", f"C{t % 5}") for t in times]
    )
    # with events (the default): events as read, edges rebuilt from them at the end
    _slow, fast = both(auth, tmp_path, window_seconds=30, chunk_bytes=30)
    assert fast.events == len(times)
    assert events_frame(tmp_path / "fast")["time"].to_list() == times
    # without events: "fast" reads again holding every window (Polars has no such path)
    again = ingest_lanl(
        auth,
        tmp_path / "no-events",
        window_seconds=30,
        chunk_bytes=30,
        engine="fast",
        write_events=False,
    )
    assert again.events == len(times)
    assert edges_frame(tmp_path / "no-events").equals(edges_frame(tmp_path / "polars"))
    # auto keeps the Polars behaviour for unsorted input without events: a clear error
    with pytest.raises(ValueError, match="time-sorted"):
        ingest_lanl(auth, tmp_path / "auto", window_seconds=30, write_events=False, chunk_bytes=30)


def test_mostly_sorted_simulated_input(sim, tmp_path: Path) -> None:
    """A day moved to the end (unsorted late in the file): still the Polars path's output."""
    lines = sim["auth"].read_bytes().splitlines(keepends=True)
    day = [x for x in lines if 86_400 <= int(x.split(b",")[0]) < 2 * 86_400]
    rest = [x for x in lines if not 86_400 <= int(x.split(b",")[0]) < 2 * 86_400]
    auth = tmp_path / "auth.txt"
    auth.write_bytes(b"".join(rest + day))
    _slow, fast = both(auth, tmp_path, redteam=sim["redteam"], chunk_bytes=200_000)
    assert fast.events == len(lines) and fast.labeled_events > 0


def test_nodes_from_and_engine_errors(sim, tmp_path: Path) -> None:
    base = tmp_path / "base"
    ingest_lanl(sim["auth"], base, end=86_400, write_events=False)
    _slow, _fast = both(sim["auth"], tmp_path, nodes_from=base, start=86_400)
    seed = pl.read_parquet(base / "nodes.parquet")
    assert pl.read_parquet(tmp_path / "fast" / "nodes.parquet").head(seed.height).equals(seed)
    with pytest.raises(ValueError, match="engine"):
        ingest_lanl(sim["auth"], tmp_path / "x", engine="rust")


@pytest.mark.parametrize("no_events", [False, True])
def test_cli_default_is_the_fast_engine(sim, tmp_path: Path, no_events: bool) -> None:
    app = build_app()
    outs = {}
    for engine in ("auto", "polars"):
        args = ["ingest", "lanl", "--auth", str(sim["auth"]), "--redteam", str(sim["redteam"])]
        args += ["--out", str(tmp_path / engine), "--json"]
        args += ["--no-events"] if no_events else []
        args += ["--engine", "polars"] if engine == "polars" else []  # auto: the default
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        outs[engine] = json.loads(res.stdout.strip().splitlines()[-1])
    same = {"seconds": 0, "engine": ""}
    assert outs["auto"] | same == outs["polars"] | same
    assert outs["auto"]["engine"] == "fast" and outs["polars"]["engine"] == "polars"
    assert_same_dirs(tmp_path / "polars", tmp_path / "auto")


def test_many_long_names_grow_tables(tmp_path: Path) -> None:
    """Thousands of names over 16 bytes: the deferred-string buffer and tables grow."""
    lines = [
        lanl_line(
            i // 4,
            f"A-VERY-LONG-USER-NAME-{i % 3000}@DOM1",
            f"LONG-HOST-NAME-{i % 2500:05d}",
            f"LONG-HOST-NAME-{(7 * i) % 2600:05d}",
        )
        for i in range(9000)
    ]
    auth = write_lines(tmp_path / "auth.txt", lines)
    _slow, fast = both(auth, tmp_path, window_seconds=300)
    assert fast.events == 9000 and fast.meta["nodes"] == 2600
