"""The "Send to hopwatch" alert action: posts the triggering search's results to
hopwatch's ``POST /events``.

Splunk runs ``hopwatch_send.py --execute`` with the alert's JSON payload on
stdin (``payload_format = json``: ``session_key``, ``server_uri``,
``results_file``, ``configuration``, ``sid``, ``search_name``...). Each line this
script writes to stderr lands in splunkd.log (index ``_internal``, component
``sendmodalert``) at the level it starts with. Exit status: 0 sent, 2 bad
payload or results file, 3 hopwatch not reachable or refusing, 4 a bug.
"""

import csv
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from hopwatch_app.client import HopwatchAppError, HopwatchClient
from hopwatch_app.events import decode_mv, to_batch
from hopwatch_app.send import batch_row
from hopwatch_app.settings import APP, load_settings

ACTION = "hopwatch_send"
MAX_BATCH = 10000


class PayloadError(Exception):
    """The payload or its results file cannot be read."""


def log(level, message, *args):
    sys.stderr.write(f"{level} {ACTION}: {message % args if args else message}\n")
    sys.stderr.flush()


def read_payload(text):
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"the alert payload on stdin is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise PayloadError("the alert payload is not a JSON object")
    missing = [k for k in ("session_key", "server_uri", "results_file") if not payload.get(k)]
    if missing:
        raise PayloadError("the alert payload lacks {}".format(", ".join(missing)))
    return payload


def read_results(path):
    """Rows of Splunk's ``results.csv.gz`` (``__mv_`` columns decoded to lists)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            rows = []
            for row in csv.DictReader(handle):
                out = {}
                for name, value in row.items():
                    if name is None:
                        continue
                    if name.startswith("__mv_"):
                        if value:
                            out[name[5:]] = decode_mv(value)
                    elif name not in out:
                        out[name] = value
                rows.append(out)
            return rows
    except (OSError, EOFError, csv.Error, UnicodeDecodeError) as exc:
        raise PayloadError(f"cannot read the results file {path} ({exc})") from None


def service_for(payload):
    from urllib.parse import urlsplit

    from splunklib.client import Service

    uri = urlsplit(payload["server_uri"])
    return Service(
        scheme=uri.scheme,
        host=uri.hostname,
        port=uri.port,
        token=payload["session_key"],
        owner="nobody",
        app=APP,
    )


def batch_size(payload):
    text = str((payload.get("configuration") or {}).get("batch_size") or "1000").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_BATCH:
        raise PayloadError("batch_size=%r: give a whole number from 1 to %d" % (text, MAX_BATCH))
    return int(text)


def run(payload):
    size = batch_size(payload)
    rows = read_results(payload["results_file"])
    where = "sid={} search_name={!r}".format(
        payload.get("sid", "?"), payload.get("search_name", "")
    )
    if not rows:
        log("INFO", "%s: the search returned no results; nothing sent", where)
        return 0
    client = HopwatchClient(load_settings(service_for(payload)))
    totals = {"accepted": 0, "rejected": 0, "skipped": 0}
    for number, start in enumerate(range(0, len(rows), size), 1):
        xml, events, skipped = to_batch(rows[start : start + size])
        row = batch_row(client, number, len(rows[start : start + size]), xml, events, skipped)
        for key in totals:
            totals[key] += row[key]
        log(
            "INFO",
            "%s batch=%d records=%d sent_xml=%d sent_events=%d accepted=%d rejected=%d "
            "job_id=%s rejected_reasons=%s skipped_reasons=%s",
            where, number, row["records"], row["sent_xml"], row["sent_events"],
            row["accepted"], row["rejected"], row["job_id"] or "none",
            json.dumps(row["rejected_reasons"]), json.dumps(row["skipped_reasons"]),
        )  # fmt: skip
    log(
        "INFO",
        "%s done: %d results, accepted=%d rejected=%d skipped=%d",
        where, len(rows), totals["accepted"], totals["rejected"], totals["skipped"],
    )  # fmt: skip
    return 0


def main(argv, stdin):
    if len(argv) < 2 or argv[1] != "--execute":
        log("FATAL", "run by Splunk as an alert action: %s --execute < payload.json", argv[0])
        return 2
    try:
        return run(read_payload(stdin.read()))
    except PayloadError as exc:
        log("ERROR", "%s; nothing sent", exc)
        return 2
    except HopwatchAppError as exc:
        log("ERROR", "%s", exc)
        return 3
    except Exception as exc:  # a bug: one line in the log, not a traceback
        log("ERROR", "failed unexpectedly (%s: %s)", type(exc).__name__, exc)
        return 4


if __name__ == "__main__":
    sys.exit(main(sys.argv, sys.stdin))
