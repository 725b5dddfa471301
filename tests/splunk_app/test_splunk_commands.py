"""The four search commands, run as splunkd runs them (chunked protocol v2, the app's
vendored splunklib, Splunk-less Python) against a live hopwatch API on loopback."""

from __future__ import annotations

import json

import pytest

from tests.ingest.splunk.standin import xml_4624
from tests.splunk_app.conftest import PAGE


def _ids(rows):
    return [int(r["alert_id"]) for r in rows]


def _clean(result):
    """No error, exit 0, no traceback anywhere splunkd would show or log."""
    assert result.errors == [] and result.returncode == 0, (result.messages, result.stderr)
    assert "Traceback" not in result.stderr


def test_alerts_follow_every_cursor_page_in_order(search, live_api):
    expected = live_api.all_alerts()
    assert len(expected) > 3 * PAGE  # the command must cross several pages
    result = search("hopwatchalerts", "limit=100000")
    _clean(result)
    assert result.getinfo["generating"] is True
    assert _ids(result.rows) == [a["id"] for a in expected]
    first, alert = result.rows[0], expected[0]
    assert int(first["_time"]) == alert["time"] and first["first_seen"] == alert["first_seen"]
    assert (first["src_host"], first["dst_host"]) == (alert["src_host"], alert["dst_host"])
    assert float(first["score"]) == alert["score"] and first["severity"] == alert["severity"]
    assert json.loads(first["_raw"])["id"] == alert["id"]


def test_alert_filters_are_the_apis(search, live_api):
    cases = [
        (["min_score=0.95", "severity=high"], {"min_score": 0.95, "severity": "high"}),
        (["host=h1"], {"host": "h1"}),
        (["src_host=\\\\h2", "sort=-score"], {"src_host": "h2", "sort": "-score"}),
        (["user=eve@corp", "status=new"], {"user": "eve@corp", "status": "new"}),
        (["detector=rules"], {"detector": "rules"}),
        (["since=1970-01-01T01:00:00Z"], {"start": 3600}),
        (["since=4200"], {"start": 4200}),
    ]
    for args, params in cases:
        expected = [a["id"] for a in live_api.all_alerts(**params)]
        assert expected, params  # each filter matches something in the seeded store
        result = search("hopwatchalerts", *args)
        _clean(result)
        assert _ids(result.rows) == expected, args
    assert len(live_api.all_alerts()) > len(live_api.all_alerts(start=3600))
    assert search("hopwatchalerts", "since=-24h").rows == []  # the seeded alerts are from 1970


def test_alerts_limit_and_campaign_filter(search, live_api):
    result = search("hopwatchalerts", "limit=10", "sort=-score")
    _clean(result)
    assert _ids(result.rows) == [a["id"] for a in live_api.all_alerts(sort="-score")][:10]
    campaign = next(a["campaign_id"] for a in live_api.all_alerts() if a["campaign_id"])
    rows = search("hopwatchalerts", f"campaign={campaign}", "sort=time").rows
    assert rows and {r["campaign_id"] for r in rows} == {str(campaign)}
    assert _ids(rows) == [a["id"] for a in live_api.all_alerts(campaign=campaign, sort="time")]


def test_one_alert_in_detail_with_rule_hits_as_multivalues(search, live_api):
    alert = live_api.all_alerts(rule="psexec")[0]
    detail = live_api.get(f"/alerts/{alert['id']}")
    result = search("hopwatchalerts", f"alert_id={alert['id']}")
    _clean(result)
    [row] = result.rows
    assert int(row["alert_id"]) == alert["id"]
    assert row["rules"] == "psexec: PsExec"  # one value: not a list
    assert row["techniques"] == "T1021.002"
    assert row["user"] == detail["user"] == "eve@corp"
    missing = search("hopwatchalerts", "alert_id=987654")
    assert missing.returncode == 0 and missing.rows == []
    assert ("WARN", "hopwatchalerts: alert 987654 does not exist") in missing.messages


def test_campaigns_carry_their_ordered_hop_paths(search, live_api):
    listed = live_api.all_items("/campaigns")
    assert listed
    result = search("hopwatchcampaigns")
    _clean(result)
    assert [int(r["campaign_id"]) for r in result.rows] == [c["id"] for c in listed]
    for row in result.rows:
        detail = live_api.get(f"/campaigns/{row['campaign_id']}")
        hops = detail["hops"]
        path = [hops[0]["src_host"]]
        for hop in hops:
            if hop["src_host"] != path[-1]:
                path.append(hop["src_host"])
            path.append(hop["dst_host"])
        assert row["hop_path"] == " -> ".join(path)
        values = row["hops"] if isinstance(row["hops"], list) else [row["hops"]]
        assert len(values) == len(hops) == int(row["hop_count"])
        for hop, value in zip(hops, values, strict=True):
            assert f"{hop['src_host']} -> {hop['dst_host']}" in value
        assert int(row["alert_count"]) == detail["alert_count"]
        assert row["status"] == "open"  # every seeded alert is new


def test_campaign_status_follows_its_alerts(search, live_api):
    campaign = live_api.all_items("/campaigns")[-1]
    alerts = live_api.get(f"/campaigns/{campaign['id']}")["alerts"]
    for alert in alerts:
        r = live_api.http.patch(
            f"/alerts/{alert['id']}",
            json={"status": "closed", "verdict": "false_positive"},
            headers={"X-API-Key": live_api.keys["write"]},
        )
        assert r.status_code == 200, r.text
    closed = search("hopwatchcampaigns", "status=closed")
    _clean(closed)
    assert [int(r["campaign_id"]) for r in closed.rows] == [campaign["id"]]
    assert closed.rows[0]["open_alerts"] == "0"
    opened = search("hopwatchcampaigns", "status=open", "limit=2")
    assert len(opened.rows) == 2 and str(campaign["id"]) not in {
        r["campaign_id"] for r in opened.rows
    }


def test_summary_of_each_rows_alert(search, live_api):
    alert = live_api.all_alerts(rule="psexec")[1]
    rows = search("hopwatchalerts", f"alert_id={alert['id']}").rows
    before = search("hopwatchsummary", rows=rows)
    _clean(before)
    # a streaming command kept on the search head (where the key is): "stateful"
    assert before.getinfo["type"] == "stateful" and "generating" not in before.getinfo
    assert before.rows[0]["summary_status"].startswith("not generated yet")
    assert "summary" not in before.rows[0]  # empty
    made = search("hopwatchsummary", "generate=t", rows=rows)
    _clean(made)
    stored = live_api.get(f"/alerts/{alert['id']}/summary")
    assert made.rows[0]["summary_status"] == "generated"
    assert made.rows[0]["summary"] == stored["text"] and alert["src_host"] in stored["text"]
    assert made.rows[0]["summary_source"] == stored["source"]
    mixed = [rows[0], {"alert_id": "987654"}, {"note": "no id here"}, rows[0]]
    again = search("hopwatchsummary", rows=mixed)
    _clean(again)
    assert [r["summary_status"] for r in again.rows] == [
        "cached",
        "no such alert",
        "no alert id in field alert_id",
        "cached",
    ]
    assert again.rows[0]["summary"] == stored["text"] and again.rows[2]["note"] == "no id here"


def _inbox_events(live_api):
    import polars as pl

    files = sorted((live_api.data_dir / "inbox").glob("*.parquet"))
    files = [f for f in files if not f.name.endswith(".process.parquet")]
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else None


def classic_4624(when, computer, workstation, user, domain, record):
    """A classic WinEventLog 4624 with the Splunk Add-on for Windows' field names."""
    return {
        "_time": str(when),
        "_raw": f"{when} LogName=Security EventCode=4624 ComputerName={computer} ...",
        "EventCode": "4624",
        "ComputerName": f"{computer}.corp.example",
        "Account_Name": ["-", user],  # subject, then the account that logged on
        "Account_Domain": ["-", domain],
        "Logon_Type": "3",
        "Workstation_Name": workstation,
        "Source_Network_Address": "10.1.2.3",
        "Authentication_Package": "NTLM",
        "Logon_ID": ["0x0", "0x3E7A1"],
        "RecordNumber": str(record),
    }


def test_send_posts_windows_logons_and_reports_each_batch(search, live_api):
    xml = [
        {"_time": str(1_700_000_000 + i), "_raw": xml_4624(
            time=1_700_000_000 + i, computer="SRV-FILE1.corp.example", workstation="WKS-ALICE",
            user="Alice", domain="CORP", record=100 + i)}
        for i in range(3)
    ]  # fmt: skip
    classic = [
        classic_4624(1_700_000_100 + i, "SRV-SQL2", "WKS-BOB", "bob", "CORP.EXAMPLE", 200 + i)
        for i in range(2)
    ]
    other = [{"_time": "1700000200", "_raw": "sshd[1]: Accepted password", "EventCode": "22"}]
    result = search("hopwatchsend", "batch_size=4", rows=xml + classic + other, chunk_rows=50)
    _clean(result)
    assert [r["batch"] for r in result.rows] == ["1", "2"]
    assert [r["records"] for r in result.rows] == ["4", "2"]
    assert sum(int(r["accepted"]) for r in result.rows) == 5
    assert sum(int(r["skipped"]) for r in result.rows) == 1
    assert "not a Windows logon event" in result.rows[1]["skipped_reasons"]
    assert all(r["job_id"] for r in result.rows)
    events = _inbox_events(live_api)
    mine = events.filter(events["time"] >= 1_700_000_000).sort("time")
    assert mine["dst_host"].to_list() == ["SRV-FILE1"] * 3 + ["SRV-SQL2"] * 2
    assert mine["src_host"].to_list() == ["WKS-ALICE"] * 3 + ["WKS-BOB"] * 2
    assert mine["dst_user"].to_list() == ["alice@CORP"] * 3 + ["bob@CORP"] * 2
    assert mine["logon_type"].to_list()[-1] == "Network"


def test_errors_read_as_one_search_error(search, live_api, splunkd):
    key = live_api.keys["write"]
    bad = search("hopwatchalerts", "min_score=2")
    assert bad.returncode != 0 and bad.errors == ["Illegal value: min_score=2"]
    bad = search("hopwatchalerts", "since=yesterday")
    assert bad.errors == ["Illegal value: since=yesterday"]

    splunkd.store("hopwatch", "api", json.dumps({"url": live_api.url, "key": "hw_0000_forged"}))
    denied = search("hopwatchalerts")
    assert denied.returncode == 1 and denied.rows == []
    [message] = denied.errors
    assert message.startswith("hopwatchalerts: hopwatch rejected the API key (unknown or revoked")

    splunkd.store(
        "hopwatch", "api", json.dumps({"url": live_api.url, "key": live_api.keys["read"]})
    )
    rows = [{"_time": "1", "_raw": xml_4624(time=1, computer="A", workstation="B")}]
    scope = search("hopwatchsend", rows=rows)
    [message] = scope.errors
    assert "may not do this (this API key has scope 'read'; needs 'write')" in message

    from tests.splunk_app.conftest import free_port

    down = f"http://127.0.0.1:{free_port()}"
    splunkd.store("hopwatch", "api", json.dumps({"url": down, "key": key}))
    for command in ("hopwatchalerts", "hopwatchcampaigns"):
        result = search(command)
        [message] = result.errors
        assert message.startswith(f"{command}: the hopwatch API at {down} is unreachable")
    result = search("hopwatchsummary", rows=[{"alert_id": "1"}])
    assert "is unreachable" in result.errors[0] and result.returncode == 1

    splunkd.passwords.clear()
    missing = search("hopwatchcampaigns")
    assert missing.errors == [
        "hopwatchcampaigns: hopwatch is not set up: open Apps > hopwatch > Set up and enter "
        "the API URL and key"
    ]
    expired = search("hopwatchalerts", session_key="expired")
    assert "Splunk refused to read the hopwatch settings" in expired.errors[0]
    for result in (denied, scope, missing, expired):
        assert "Traceback" not in result.stderr and "Traceback" not in str(result.messages)
        assert key not in result.stderr and key not in str(result.messages)


@pytest.fixture
def tls_api(tmp_path):
    """An HTTPS server with a self-signed certificate for 127.0.0.1 answering /alerts."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b'{"items": [], "next_cursor": null}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_tls_is_verified_unless_turned_off(search, splunkd, tls_api):
    url, cert = tls_api
    splunkd.store("hopwatch", "api", json.dumps({"url": url, "key": "hw_whatever_key"}))
    refused = search("hopwatchalerts")
    [message] = refused.errors
    assert f"TLS verification of {url} failed" in message and "self-signed" in message
    splunkd.confs["hopwatch"]["api"]["ca_file"] = str(cert)
    _clean(search("hopwatchalerts"))
    splunkd.confs["hopwatch"]["api"].update(ca_file="", verify_tls="false")
    _clean(search("hopwatchalerts"))
