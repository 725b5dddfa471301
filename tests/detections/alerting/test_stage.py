"""The alerting stage on hand-built windows: suppression with reasons, facts in analyst
words, a stolen credential's hop, a chain into a campaign, repeats joining the open
alert, the quarantine, and a false-positive verdict suppressing the pattern."""

from __future__ import annotations

import polars as pl
import pytest

from detections.alerting import AlertingStage, LogContext, StageConfig, VerdictBook, edge_facts
from detections.alerting.suppress import known_benign
from detections.campaigns import link_campaigns
from ingest.graphs.edges import window_edges
from tests.builders import events_from_rows

WS = 1800
T0 = 1_767_571_200  # 2026-01-05 00:00 UTC, a Monday: window 981,984


def ev(t, user, src, dst, logon="Network", auth="Kerberos", orient="LogOn"):
    return (T0 + t, user, user, src, dst, auth, logon, orient, True)


def frame(rows) -> pl.DataFrame:
    return events_from_rows(rows).with_columns((pl.col("time") // WS).alias("window"))


def day(d: int) -> list[tuple]:
    """A workday of the office: alice sits at WS1 and uses S1; bob at WS2 uses S1 and S2;
    WS3 and WS4 ask DC1 for tickets; a null session and a machine self-logon now and then."""
    b = d * 86_400 + 9 * 3600
    return [
        ev(b, "alice@D", "WS1", "WS1", logon="Interactive"),
        ev(b + 60, "alice@D", "WS1", "S1"),
        ev(b + 90, "bob@D", "WS2", "WS2", logon="Interactive"),
        ev(b + 120, "bob@D", "WS2", "S1"),
        ev(b + 180, "bob@D", "WS2", "S2"),
        ev(b + 200, "adm@D", "ADM", "ADM", logon="Interactive"),
        ev(b + 240, "adm@D", "ADM", "S2"),
        ev(b + 250, "carl@D", "WS6", "S3"),
        *[ev(b + 300 + i, f"WS{i}$@D", f"WS{i}", "DC1", orient="TGS") for i in range(1, 7)],
        ev(b + 400, "ANONYMOUS LOGON@S1", "WS3", "S1", auth="NTLM"),
    ]


def stage_after(days: int = 4, **kw) -> AlertingStage:
    stage = AlertingStage(thresholds={"m": 0.5}, window_seconds=WS, **kw)
    events = frame([r for d in range(days) for r in day(d)])
    for (w,), part in sorted(events.partition_by("window", as_dict=True).items()):
        stage.skip(w, part)
    return stage


def step(stage: AlertingStage, rows, hot: set[tuple[str, str]]):
    events = frame(rows)
    (w,) = events["window"].unique().to_list()
    edges = window_edges(events, WS)
    scores = edges.select(
        "window",
        "src_host",
        "dst_host",
        pl.struct("src_host", "dst_host")
        .map_elements(lambda r: 0.99 if (r["src_host"], r["dst_host"]) in hot else 0.01, pl.Float64)
        .alias("score"),
    )
    return stage.step(w, scores={"m": scores}, edges=edges, events=events)


def test_known_benign_classes_are_suppressed_with_their_reason():
    stage = stage_after()
    b = 5 * 86_400 + 10 * 3600
    rows = [
        ev(b, "ANONYMOUS LOGON@S9", "WS1", "S9", auth="NTLM"),
        ev(b + 5, "WS4$@D", "WS4", "WS4"),
        ev(b + 9, "WS5$@D", "WS5", "DC1"),
    ]
    out = step(stage, rows, hot={("WS1", "S9"), ("WS4", "WS4"), ("WS5", "DC1")})
    got = {(a.src_host, a.dst_host): a for a in out}
    assert all(a.suppressed for a in out) and len(out) == 3
    assert "ANONYMOUS LOGON null session" in got[("WS1", "S9")].suppressed_reason
    assert "same" in got[("WS4", "WS4")].suppressed_reason
    assert "machine account to domain controller DC1" in got[("WS5", "DC1")].suppressed_reason
    # Suppressed pairs are not quarantined: known-benign activity may become known.
    assert not stage.quarantine.held(out[0].window)


def test_facts_read_like_the_logs():
    stage = stage_after()
    ctx: LogContext = stage.context
    b = 5 * 86_400 + 10 * 3600
    events = frame([ev(b, "carol@D", "WS1", "S2", auth="NTLM"), ev(b + 60, "dan@D", "WS1", "S3")])
    w = int(events["window"][0])
    ctx.observe(w, events)
    facts = edge_facts(
        ctx, window=w, time=T0 + b, src="WS1", dst="S2", accounts=["carol@D"], ntlm=1.0
    )
    text = {f.kind: f.text for f in facts}
    assert text["first_contact"] == "first time WS1 reached S2"
    assert text["account_new_to_source"] == (
        "carol@D never authenticated from WS1 before and has no logon session there"
    )
    assert text["destination_role"].startswith("S2 is a workstation-like host: reached from 2")
    assert text["ntlm"] == "NTLM logon to S2, which sees NTLM in 0% of its network logons"
    assert (
        "new_destinations" in text
        and "2 new destinations from WS1 in 30 minutes" in text["new_destinations"]
    )
    known = edge_facts(ctx, window=w, time=T0 + b, src="WS2", dst="S1", accounts=["bob@D"], ntlm=0)
    assert next(f for f in known if f.kind == "known_pair").text.startswith(
        "WS2 reached S1 in 4 earlier windows"
    )
    assert ctx.is_dc("DC1") and not ctx.is_dc("S1")


def test_a_stolen_credential_hop_alerts_and_its_chain_becomes_a_critical_campaign():
    stage = stage_after()
    b = 5 * 86_400 + 10 * 3600
    first = step(stage, [ev(b, "adm@D", "WS1", "S3", auth="NTLM")], hot={("WS1", "S3")})
    (a,) = first
    assert not a.suppressed and a.user == "adm@D"
    assert a.severity in ("medium", "high", "critical")
    feats = [r["feature"] for r in a.explanation]
    assert feats[0] == "account_new_to_source" and {"first_contact", "ntlm"} <= set(feats)
    assert a.stage_score >= StageConfig().bands[1]
    assert stage.quarantine.is_held(("WS1", "S3"), a.window)
    nxt = step(stage, [ev(b + 1800, "svc@D", "S3", "S4", auth="NTLM")], hot={("S3", "S4")})
    hop2 = next(r for r in nxt if r.src_host == "S3")
    chain = next(r for r in hop2.explanation if r["feature"] == "chain")
    assert chain["text"] == "S3 was itself reached from WS1 30 minutes earlier (flagged then)"
    assert {r.severity for r in nxt} == {"critical"}  # both hops, re-emitted
    (camp,) = link_campaigns(list(stage.records.values()), span_seconds=8 * 3600)
    assert camp.hosts == ["WS1", "S3", "S4"] and camp.severity == "critical"


def test_a_repeat_joins_the_open_alert_and_stays_quarantined():
    stage = stage_after()
    b = 5 * 86_400 + 10 * 3600
    (a,) = step(stage, [ev(b, "eve@D", "WS2", "S9", auth="NTLM")], hot={("WS2", "S9")})
    later = b + 86_400
    (again,) = step(stage, [ev(later, "eve@D", "WS2", "S9", auth="NTLM")], hot={("WS2", "S9")})
    assert again.key == a.key and len(again.occurrences) == 2
    revisit = next(r for r in again.explanation if r["feature"] == "revisit")
    assert revisit["text"].startswith("WS2 reached S9 before only in alerted activity (first at")
    assert stage.quarantine.is_held(("WS2", "S9"), again.occurrences[-1])
    assert ("WS2", "S9") not in stage.context.pairs  # never learned as known


def test_false_positive_verdict_suppresses_the_pair_and_the_account_from_the_source():
    verdicts = VerdictBook()
    verdicts.add(src="WS2", dst="S9", accounts=["eve@D"], alert="#7")
    stage = stage_after(verdicts=verdicts)
    b = 5 * 86_400 + 10 * 3600
    rows = [ev(b, "eve@D", "WS2", "S9", auth="NTLM"), ev(b + 60, "eve@D", "WS2", "S8", auth="NTLM")]
    out = {
        (a.src_host, a.dst_host): a for a in step(stage, rows, hot={("WS2", "S9"), ("WS2", "S8")})
    }
    assert out[("WS2", "S9")].suppressed_reason == (
        "analyst verdict false_positive on alert #7 (WS2 -> S9)"
    )
    assert out[("WS2", "S8")].suppressed_reason == (
        "analyst verdict false_positive on alert #7 (eve@D from WS2)"
    )
    assert not stage.quarantine.held(out[("WS2", "S9")].window)


def test_fan_out_sources_and_accounts_are_known_benign():
    stage = stage_after(days=1)
    ctx = stage.context
    b = 86_400 + 3600
    rows = [ev(b, "scan@D", "SCN", f"H{i}", auth="NTLM") for i in range(60)]
    rows += [ev(b + 100, "help@D", "HD", "HD", logon="Interactive")]
    rows += [ev(b + 200 + i, "help@D", "HD", f"H{i}", logon="RemoteInteractive") for i in range(30)]
    events = frame(rows)
    (w,) = events["window"].unique().to_list()
    ctx.observe(w, events)
    ctx.advance(w, events)
    nxt = w + 1
    why = known_benign(ctx, window=nxt, src="SCN", dst="H99", accounts=["scan@D"])
    assert why.kind == "fan_out_source" and "SCN reached 60 hosts before" in why.reason
    why = known_benign(ctx, window=nxt, src="HD", dst="H77", accounts=["help@D"])
    assert why.kind == "fan_out_account" and "help@D reached 30 hosts" in why.reason
    # The same account used from a host where it is not logged on is not benign.
    assert known_benign(ctx, window=nxt, src="WS1", dst="H77", accounts=["help@D"]) is None


@pytest.mark.parametrize(
    "score,level", [(3.9, None), (4.0, "low"), (7.0, "medium"), (11.0, "critical")]
)
def test_severity_bands(score, level):
    assert StageConfig().severity(score) == level


def test_an_open_alert_whose_pair_turns_out_routine_is_reclassified_and_released():
    stage = stage_after()
    b = 5 * 86_400 + 10 * 3600
    first = None
    for i in range(10):
        (rec,) = step(
            stage, [ev(b + i * WS, "task@D", "WS1", "S9", auth="NTLM")], hot={("WS1", "S9")}
        )
        first = first or rec.key
        assert rec.key == first  # one alert: the pair's occurrences join it
        if i == 0:
            assert not rec.suppressed
    assert rec.suppressed and rec.suppressed_reason.startswith(
        "task@D authenticated from WS1 in 8 of the last 48 windows (routine"
    )
    assert stage.quarantine.is_held(("WS1", "S9"), rec.window)
    assert not stage.quarantine.is_held(("WS1", "S9"), rec.occurrences[-1])


def test_ticket_requests_alone_are_not_movement_to_the_dc():
    stage = stage_after()
    b = 5 * 86_400 + 10 * 3600
    (rec,) = step(stage, [ev(b, "eve@D", "WS2", "DC1", orient="TGS")], hot={("WS2", "DC1")})
    assert rec.suppressed and rec.suppressed_reason.startswith(
        "only Kerberos ticket requests from WS2 to domain controller DC1"
    )
