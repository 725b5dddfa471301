"""XmlWinEventLog parse rate: hopwatch's reader against a naive ElementTree-per-line parse.

Usage:
    python benchmarks/ingest_windows.py [--input FILE.xml] [--events 100000] [--repeat 3]

Without ``--input`` the corpus is the simulator's attack-range style
``security.xml`` (+ ``sysmon.xml``, ``system.xml``), generated into a temporary
folder and repeated up to ``--events`` lines. All runs are single-threaded
(one core); the table gives the best of ``--repeat`` runs:

* ``baseline: ElementTree per line`` -- ``xml.etree.ElementTree.fromstring`` on
  every line, System fields and ``{Name: value}`` EventData into a dict;
* ``hopwatch: records`` -- the same output level (``iter_xml_events``);
* ``hopwatch: raw columns`` -- lines to the raw columnar frame
  (``scan_xml_lines``), the first half of the next row;
* ``hopwatch: records + canonical frames`` -- lines to canonical auth and
  process frames as ``hopwatch ingest windows`` does before writing Parquet
  (``scan_xml_lines``: lines straight to the raw frame, then ``windows_data``:
  mapping, skip and event-id counts; the same calls as ``read_windows``);
* ``splunk: each result parsed`` -- the Splunk converter as it was: every ``_raw``
  through the record parser, then the mapping, per block of ``block_rows`` (5000)
  results (the baseline of the next row);
* ``splunk: converter (scanner)`` -- ``ingest.splunk.results.windows_converter``
  today: each block through the line scanner, then the mapping.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


def naive_elementtree(lines: list[str]) -> int:
    """The baseline: parse each line with ElementTree and pull the fields into a dict."""
    n = 0
    for line in lines:
        root = ET.fromstring(line)
        system = root.find(NS + "System")
        out = {
            "event_id": int(system.findtext(NS + "EventID")),
            "time": system.find(NS + "TimeCreated").get("SystemTime"),
            "record_id": system.findtext(NS + "EventRecordID"),
            "channel": system.findtext(NS + "Channel"),
            "computer": system.findtext(NS + "Computer"),
        }
        data = root.find(NS + "EventData")
        if data is not None:
            out.update({d.get("Name"): d.text for d in data})
        n += 1
    return n


def hopwatch_records(lines: list[str]) -> int:
    from ingest.windows.xml import iter_xml_events

    return sum(1 for r in iter_xml_events(lines, source="bench.xml") if r.record is not None)


def hopwatch_columns(lines: list[str]) -> int:
    """Lines to the raw columnar frame only (``scan_xml_lines``, no mapping)."""
    from ingest.windows.scan import scan_xml_lines

    raw, _errors = scan_xml_lines(lines, source="bench.xml")
    return raw.height


def hopwatch_frames(lines: list[str]) -> int:
    """What ``hopwatch ingest windows`` does for an XmlWinEventLog file, short of I/O.

    ``read_raw`` (lines to the raw frame, ``scan_xml_lines``), then
    ``windows_data`` (canonical auth and process frames, skip and event-id
    counts), exactly as ``read_windows``; the Parquet writing is left out.
    """
    from ingest.windows import windows_data
    from ingest.windows.scan import scan_xml_lines

    raw, errors = scan_xml_lines(lines, source="bench.xml")
    data = windows_data([raw], Counter(e.reason for e in errors), [str(e) for e in errors[:20]])
    return data.events if data.auth.height + data.process.height else 0


SPLUNK_BLOCK = 5000  # ingest.splunk.config.SplunkConfig.block_rows


def splunk_per_result(lines: list[str]) -> int:
    """The Splunk converter before it used the scanner: each ``_raw`` parsed on its own."""
    from ingest.windows import frames_from_records
    from ingest.windows.xml import XmlEventError, parse_xml_record

    n = 0
    for lo in range(0, len(lines), SPLUNK_BLOCK):
        records = []
        for i, raw in enumerate(lines[lo : lo + SPLUNK_BLOCK]):
            with contextlib.suppress(XmlEventError):
                records.append(parse_xml_record(raw, source="splunk:bench", record=lo + i))
            n += 1
        frames_from_records(records)
    return n


def splunk_converter(lines: list[str]) -> int:
    """``windows_converter`` (the Splunk pull's conversion), block by block."""
    from ingest.splunk.results import windows_converter

    n = 0
    for lo in range(0, len(lines), SPLUNK_BLOCK):
        items = [(raw, lo + i) for i, raw in enumerate(lines[lo : lo + SPLUNK_BLOCK])]
        windows_converter(items, source="splunk:bench")
        n += len(items)
    return n


def simulated_corpus(folder: Path) -> list[str]:
    from ingest.simulate import SimConfig, simulate
    from ingest.simulate.windows.writer import write_windows

    write_windows(simulate(SimConfig(days=2, hosts=60, users=40, seed=7, campaigns=2)), folder)
    lines: list[str] = []
    for name in ("security.xml", "sysmon.xml", "system.xml"):
        lines.extend(x for x in (folder / name).read_text().splitlines() if x.strip())
    return lines


def best_rate(
    fn: Callable[[list[str]], int], lines: list[str], repeat: int
) -> tuple[float, float, int]:
    """(events per wall second, events per CPU second, events) of the best run."""
    best_wall = best_cpu = float("inf")
    n = 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        n = fn(lines)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return n / best_wall, n / best_cpu, n


def calibration_ms() -> float:
    """CPU milliseconds of an empty 10**7-step Python loop (best of 3): contention gauge."""
    best = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        for _ in range(10_000_000):
            pass
        best = min(best, time.process_time() - c0)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, help="an XmlWinEventLog file (one event per line)")
    ap.add_argument("--events", type=int, default=100_000, help="corpus size in lines")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.input:
        base = [x for x in args.input.read_text().splitlines() if x.strip()]
        what = str(args.input)
    else:
        with tempfile.TemporaryDirectory(prefix="hopwatch-bench-") as tmp:
            base = simulated_corpus(Path(tmp))
        what = "hopwatch simulate --format windows (days=2, hosts=60, users=40, seed=7)"
    lines = (base * (args.events // len(base) + 1))[: args.events]
    mean_len = sum(map(len, lines)) / len(lines)
    print(f"corpus: {what}; {len(lines):,} events, mean {mean_len:.0f} bytes/event")
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()}, "
        f"python {platform.python_version()}, single thread, best of {args.repeat}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"load average {load:.1f}; calibration: empty 10^7-step Python loop = "
        f"{calibration_ms():.0f} ms CPU (roughly 100-200 ms on an idle modern core)"
    )
    rows = [
        ("baseline: ElementTree per line", naive_elementtree),
        ("hopwatch: records", hopwatch_records),
        ("hopwatch: raw columns", hopwatch_columns),
        ("hopwatch: records + canonical frames", hopwatch_frames),
        ("splunk: each result parsed (before)", splunk_per_result),
        ("splunk: converter (scanner)", splunk_converter),
    ]
    results = [(name, *best_rate(fn, lines, args.repeat)) for name, fn in rows]
    base_wall, base_cpu = results[0][1], results[0][2]
    print(
        f"| {'parser':<38} | {'events/s (wall)':>15} | {'events/CPU-s':>12} | {'vs baseline':>11} |"
    )
    print(f"| {'-' * 38} | {'-' * 15} | {'-' * 12} | {'-' * 11} |")
    for name, wall, cpu, n in results:
        assert n == len(lines), (name, n)
        print(f"| {name:<38} | {wall:>15,.0f} | {cpu:>12,.0f} | {cpu / base_cpu:>10.2f}x |")
    target = 50_000
    best = results[3][2]
    print(
        f"target >= {target:,} events/s per core (records + frames, per CPU-second): "
        f"{'met' if best >= target else 'NOT met'} ({best:,.0f}); "
        f"baseline wall rate {base_wall:,.0f}/s"
    )
    before, after = results[4][2], results[5][2]
    print(
        f"splunk conversion: {1e6 / before:.1f} -> {1e6 / after:.1f} us of CPU per event "
        f"({after / before:.1f}x)"
    )


if __name__ == "__main__":
    main()
