"""LANL reader, malformed lines, red-team labels, the ingest pipeline and its CLI."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from ingest.graphs import GraphStore, label_events, window_edges
from ingest.lanl import (
    BadLines,
    auth_files,
    ingest_lanl,
    natural_key,
    read_auth,
    read_redteam,
)
from ingest.schema import AUTH_SCHEMA, validate
from service.cli import build_app
from tests.builders import lanl_line, write_lanl

LINES = [
    "1,ANONYMOUS LOGON@C586,ANONYMOUS LOGON@C586,C1250,C586,NTLM,Network,LogOn,Success",
    "1,C101$@DOM1,C101$@DOM1,C988,C988,?,?,LogOff,Success",
    lanl_line(2, "U1@DOM1", "C1", "C2", auth_type="Kerberos"),
    lanl_line(1799, "U2@DOM1", "C1", "C2", success=False),
    lanl_line(1800, "U3@DOM1", "C3", "C2", orientation="TGS"),
    lanl_line(3700, "U1@DOM1", "C2", "C4", logon_type="Interactive"),
]


def read_all(path, **kw) -> pl.DataFrame:
    frames = list(read_auth(path, **kw))
    return pl.concat(frames) if frames else pl.DataFrame(schema=AUTH_SCHEMA)


def test_plain_and_gz_parse_to_canonical(tmp_path) -> None:
    plain = read_all(write_lanl(tmp_path / "auth.txt", LINES))
    gz = read_all(write_lanl(tmp_path / "auth.txt.gz", LINES, gz=True))
    assert plain.schema == AUTH_SCHEMA
    assert plain.height == len(LINES)
    assert plain.drop("source").equals(gz.drop("source"))
    assert gz["source"].unique().to_list() == ["auth.txt.gz"]
    row = plain.row(0, named=True)
    assert row["src_user"] == "ANONYMOUS LOGON@C586"
    assert (row["src_host"], row["dst_host"], row["auth_type"]) == ("C1250", "C586", "NTLM")
    assert row["success"] is True and row["record"] == 1
    assert plain["success"].to_list() == [True, True, True, False, True, True]
    assert plain["auth_type"][1] == "?"
    assert plain["record"].to_list() == [1, 2, 3, 4, 5, 6]
    assert validate(plain).bad_rows == 0


def test_gz_detected_by_magic_and_no_trailing_newline(tmp_path) -> None:
    path = tmp_path / "auth-compressed"
    path.write_bytes(gzip.compress("\n".join(LINES).encode()))  # no final newline
    assert read_all(path).height == len(LINES)


def test_folder_of_split_files_in_natural_order(tmp_path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    write_lanl(folder / "auth_10.txt", LINES[4:])
    write_lanl(folder / "auth_2.txt.gz", LINES[2:4], gz=True)
    write_lanl(folder / "auth_1.txt", LINES[:2])
    (folder / ".hidden").write_text("garbage\n")
    assert [p.name for p in auth_files(folder)] == ["auth_1.txt", "auth_2.txt.gz", "auth_10.txt"]
    frame = read_all(folder)
    assert frame["time"].to_list() == [1, 1, 2, 1799, 1800, 3700]
    assert frame["record"].to_list() == [1, 2, 1, 2, 1, 2]
    assert natural_key("a2") < natural_key("a10")
    with pytest.raises(FileNotFoundError, match="not found"):
        auth_files(tmp_path / "nope")


def test_time_range_filters(tmp_path) -> None:
    path = write_lanl(tmp_path / "auth.txt", LINES)
    assert read_all(path, start=2)["time"].to_list() == [2, 1799, 1800, 3700]
    assert read_all(path, end=1800)["time"].to_list() == [1, 1, 2, 1799]
    assert read_all(path, start=1799, end=1801)["time"].to_list() == [1799, 1800]
    assert read_all(path, start=5000).height == 0


def test_end_stops_early_on_sorted_input(tmp_path) -> None:
    lines = [lanl_line(t) for t in range(0, 2000)]
    path = write_lanl(tmp_path / "auth.txt", lines)
    seen: list[int] = []
    frame = read_all(path, end=10, chunk_bytes=2048, progress=seen.append)
    assert frame["time"].to_list() == list(range(10))
    assert seen[-1] < path.stat().st_size  # stopped before reading everything


def test_malformed_lines_counted_skipped_and_reported(tmp_path) -> None:
    bad_lines = {
        3: "",
        4: "7,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn",  # 8 columns
        5: "8,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success,extra",  # 10 columns
        6: "abc,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success",
        7: "9,U1@DOM1,U1@DOM1,,C2,NTLM,Network,LogOn,Success",  # empty src_host
        8: "-4,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success",
        9: "10,U1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Maybe",
        10: "\x1b[31m,evil",
    }
    good = {1: LINES[0], 2: LINES[2], 11: LINES[3]}
    lines = [good.get(i) or bad_lines[i] for i in range(1, 12)]
    path = write_lanl(tmp_path / "auth.txt", lines)
    bad = BadLines()
    frame = read_all(path, bad=bad)
    assert frame["record"].to_list() == [1, 2, 11]
    assert bad.count == len(bad_lines)
    assert bad.reasons == {
        "empty line": 1,
        "missing or empty field": 3,  # 8 columns, empty src_host, 2 columns
        "too many columns": 1,
        "non-integer time": 1,
        "negative time": 1,
        "bad success value": 1,
    }
    assert [(line, text) for _, line, _, text in bad.examples] == [
        (i, bad_lines[i]) for i in (3, 4, 5, 6, 7)
    ]
    assert all(src == "auth.txt" for src, *_ in bad.examples)


def test_invalid_utf8_is_replaced_not_fatal(tmp_path) -> None:
    path = tmp_path / "auth.txt"
    path.write_bytes(b"5,U\xff1@DOM1,U1@DOM1,C1,C2,NTLM,Network,LogOn,Success\n" + b"junk\n")
    bad = BadLines()
    frame = read_all(path, bad=bad)
    assert frame["src_user"].to_list() == ["U\ufffd1@DOM1"]
    assert bad.count == 1


def test_malformed_lines_across_small_chunks(tmp_path) -> None:
    lines = [lanl_line(t) for t in range(300)]
    lines[57] = "oops"
    lines[250] = "251,x"
    path = write_lanl(tmp_path / "auth.txt", lines)
    bad = BadLines()
    frame = read_all(path, bad=bad, chunk_bytes=500)
    assert frame.height == 298
    assert bad.count == 2
    assert [(line, text) for _, line, _, text in bad.examples] == [(58, "oops"), (251, "251,x")]
    assert frame["record"].to_list() == [i + 1 for i in range(300) if i not in (57, 250)]


REDTEAM = [
    "150885,U620@DOM1,C17693,C1003",  # matches two events (same key, two users)
    "150900,U748@DOM1,C17693,C305",  # matches one event by key, other user
    "151000,U1@DOM1,C9,C9",  # matches nothing
]
RT_AUTH = [
    lanl_line(150885, "U620@DOM1", "C17693", "C1003"),
    lanl_line(150885, "U999@DOM1", "C17693", "C1003"),
    lanl_line(150886, "U620@DOM1", "C17693", "C1003"),
    lanl_line(150900, "U5@DOM1", "C17693", "C305"),
    lanl_line(150950, "U748@DOM1", "C17693", "C305"),
]


def test_read_redteam_skips_bad_lines(tmp_path) -> None:
    path = write_lanl(tmp_path / "redteam.txt", [*REDTEAM, "x,U1@DOM1,C1,C2", "1,2,3"])
    bad = BadLines()
    rt = read_redteam(path, bad)
    assert rt.columns == ["rt_id", "time", "user", "src_host", "dst_host"]
    assert rt["time"].to_list() == [150885, 150900, 151000]
    assert bad.reasons == {"non-integer time": 1, "wrong column count": 1}
    assert [e[1] for e in bad.examples] == [4, 5]


@pytest.mark.parametrize(("user_aware", "labels", "matched"), [
    (False, [True, True, False, True, False], [0, 1]),
    (True, [True, False, False, False, False], [0]),
])  # fmt: skip
def test_label_events_exact_and_user_aware(tmp_path, user_aware, labels, matched) -> None:
    events = read_all(write_lanl(tmp_path / "auth.txt", RT_AUTH))
    rt = read_redteam(write_lanl(tmp_path / "redteam.txt", REDTEAM))
    out, hit = label_events(events, rt, user_aware=user_aware)
    assert out["label"].to_list() == labels
    assert hit.to_list() == matched
    assert out.drop("label").equals(events)


def test_ingest_pipeline_labels_edges_and_meta(tmp_path) -> None:
    auth = write_lanl(tmp_path / "auth.txt", [*RT_AUTH, "broken"])
    rt = write_lanl(tmp_path / "redteam.txt", REDTEAM)
    res = ingest_lanl(auth, tmp_path / "d", redteam=rt, window_seconds=60)
    assert res.summary()["events"] == 5 and res.bad_lines == 1
    assert res.labeled_events == 2
    assert res.unmatched_redteam["time"].to_list() == [151000]
    store = GraphStore(tmp_path / "d")
    assert store.meta["labeled_events"] == 2 and store.meta["bad_lines"] == 1
    assert store.meta["labeled"] == 3 and store.meta["first_label_time"] == 150885
    edges = store.edges()
    assert edges.filter(pl.col("label")).select(
        "window", "src_host", "dst_host", "n_labeled"
    ).rows() == [
        (2514, "C17693", "C1003", 2),
        (2515, "C17693", "C305", 1),
    ]
    assert store.redteam()["user"].to_list() == ["U620@DOM1", "U748@DOM1", "U1@DOM1"]
    assert store.events().collect()["label"].sum() == 3


def test_ingest_exact_with_tiny_chunks(tmp_path) -> None:
    lines = []
    for t in range(0, 4000, 3):
        lines.append(lanl_line(t, f"U{t % 7}@DOM1", f"C{t % 5}", f"C{(t // 2) % 4}"))
    auth = write_lanl(tmp_path / "auth.txt", lines)
    whole = ingest_lanl(auth, tmp_path / "a", window_seconds=300)
    tiny = ingest_lanl(auth, tmp_path / "b", window_seconds=300, chunk_bytes=700)
    a, b = GraphStore(tmp_path / "a"), GraphStore(tmp_path / "b")
    assert whole.edges == tiny.edges and whole.windows == tiny.windows == 14
    assert a.edges().equals(b.edges())
    expected = window_edges(read_all(auth), 300)
    assert b.edges().drop("src", "dst").equals(expected)
    assert a.nodes.equals(b.nodes)


def test_cli_json_last_line_and_bad_line_report(tmp_path) -> None:
    auth = write_lanl(tmp_path / "auth.txt", [*RT_AUTH, "", "1,2,3"])
    rt = write_lanl(tmp_path / "redteam.txt", REDTEAM)
    args = ["ingest", "lanl", "--auth", str(auth), "--redteam", str(rt)]
    args += ["--out", str(tmp_path / "d"), "--window", "1m", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(last) == {
        "events",
        "bad_lines",
        "windows",
        "edges",
        "labeled_events",
        "seconds",
        "engine",
    }
    assert (last["events"], last["bad_lines"], last["labeled_events"]) == (5, 2, 2)
    assert last["windows"] == 2 and last["edges"] == 2
    assert "2 bad lines" in result.stderr and "auth.txt:7" in result.stderr
    assert "1 red-team line(s) matched no auth event" in result.stderr
    assert GraphStore(tmp_path / "d").meta["window_seconds"] == 60


def test_cli_user_aware_time_range_and_errors(tmp_path) -> None:
    auth = write_lanl(tmp_path / "auth.txt", RT_AUTH)
    rt = write_lanl(tmp_path / "redteam.txt", REDTEAM)
    app = build_app()
    base = ["ingest", "lanl", "--auth", str(auth), "--out", str(tmp_path / "d")]
    res = CliRunner().invoke(
        app, [*base, "--redteam", str(rt), "--user-aware", "--start", "150886", "--json"]
    )
    last = json.loads(res.stdout.strip().splitlines()[-1])
    assert (last["events"], last["labeled_events"]) == (3, 0)
    res = CliRunner().invoke(app, [*base, "--window", "soon"])
    assert res.exit_code != 0 and "window" in res.output.lower()
    res = CliRunner().invoke(app, ["ingest", "lanl", "--auth", str(tmp_path / "x"), "--out", "o"])
    assert res.exit_code == 2 and "not found" in res.stderr
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 0 and "events" in res.stdout


def test_ingest_without_events_same_edges(tmp_path) -> None:
    auth = write_lanl(
        tmp_path / "auth.txt", [lanl_line(t, src_host=f"C{t % 3}") for t in range(90)]
    )
    full = ingest_lanl(auth, tmp_path / "a", window_seconds=30)
    lean = ingest_lanl(auth, tmp_path / "b", window_seconds=30, write_events=False)
    assert full.edges == lean.edges == 9
    assert GraphStore(tmp_path / "a").edges().equals(GraphStore(tmp_path / "b").edges())
    assert GraphStore(tmp_path / "b").events().collect().height == 0
    unsorted = write_lanl(tmp_path / "u.txt", [lanl_line(t) for t in (5, 100, 300, 7)])
    with pytest.raises(ValueError, match="time-sorted"):
        ingest_lanl(unsorted, tmp_path / "c", window_seconds=30, write_events=False, chunk_bytes=30)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("chunk_bytes", [1, 13, 50, 97, 333])
def test_any_chunk_size_gives_same_rows(tmp_path, gz: bool, chunk_bytes: int) -> None:
    lines = [*LINES, "", "bad", *(lanl_line(4000 + i, f"U{i}@DOM1") for i in range(7))]
    path = write_lanl(tmp_path / ("auth.gz" if gz else "auth.txt"), lines, gz=gz)
    whole_bad, bad = BadLines(), BadLines()
    whole = read_all(path, bad=whole_bad)
    chunked = read_all(path, bad=bad, chunk_bytes=chunk_bytes)
    assert chunked.equals(whole)
    assert whole.height == len(lines) - 2
    assert (
        (bad.count, bad.examples)
        == (whole_bad.count, whole_bad.examples)
        == (
            2,
            [(path.name, 7, "empty line", ""), (path.name, 8, "missing or empty field", "bad")],
        )
    )
