"""Benchmark: enterprise simulator throughput, hopwatch vs per-event Python baselines.

Measures, in one run on this machine:

* generation   ``ingest.simulate.simulate`` (vectorised numpy, Polars frame) on a
               setting sized to about 10 million events, vs a per-event Python
               loop (``random`` module, one tuple per event, same event kinds)
               run on a prefix and reported as a rate;
* LANL text    ``write_lanl`` (Polars ``write_csv``) vs Python ``csv.writer``
               over ``iter_rows`` on a 1M-event prefix;
* Windows XML  ``write_windows`` (Polars string templates) on a smaller setting vs a
               per-event Python f-string 4624 template on a prefix.

Prints one table (events/s, seconds, and the time 10M events would take).

    .venv/bin/python benchmarks/simulate.py --work /tmp/B/bench
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEN_M = 10_000_000


def python_generate(n: int, hosts: int, users: int, seed: int = 0) -> list[tuple]:
    """Per-event loop: the straightforward way to write a simulator (the baseline)."""
    rnd = random.Random(seed)
    host_names = [f"C{i}" for i in range(hosts)]
    user_names = [f"U{i}@DOM1" for i in range(users)]
    dcs = host_names[:4]
    out = []
    t = 0
    while len(out) < n:
        t += rnd.randint(0, 1)
        kind = rnd.random()
        src = rnd.choice(host_names)
        if kind < 0.4:
            acct = f"{src}$@DOM1"
            dc = rnd.choice(dcs)
            out.append((t, acct, acct, src, dc, "Kerberos", "?", "TGS", "Success"))
            out.append((t, acct, acct, src, dc, "Kerberos", "Network", "LogOn", "Success"))
            out.append((t + 3, acct, acct, dc, dc, "?", "Network", "LogOff", "Success"))
        else:
            user = rnd.choice(user_names)
            dst = rnd.choice(host_names)
            auth = rnd.choices(["Kerberos", "NTLM", "Negotiate"], [0.75, 0.1, 0.15])[0]
            ok = "Success" if rnd.random() > 0.03 else "Fail"
            out.append((t, user, user, src, dst, auth, "Network", "LogOn", ok))
            if ok == "Success":
                out.append((t + 60, user, user, dst, dst, "?", "Network", "LogOff", "Success"))
    out.sort(key=lambda r: r[0])
    return out[:n]


def python_write_csv(rows, path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        for row in rows:
            w.writerow(row)


_XML = (
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    "<Provider Name='Microsoft-Windows-Security-Auditing' "
    "Guid='{{54849625-5478-4994-A5BA-3E3B0328C30D}}'/><EventID>4624</EventID><Version>2</Version>"
    "<Level>0</Level><Task>12544</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
    "<TimeCreated SystemTime='{ts}'/><EventRecordID>{rid}</EventRecordID><Correlation/>"
    "<Execution ProcessID='500' ThreadID='600'/><Channel>Security</Channel>"
    "<Computer>{dst}.attackrange.local</Computer><Security/></System><EventData>"
    "<Data Name='TargetUserName'>{user}</Data><Data Name='TargetDomainName'>ATTACKRANGE</Data>"
    "<Data Name='LogonType'>3</Data><Data Name='AuthenticationPackageName'>{auth}</Data>"
    "<Data Name='WorkstationName'>{src}</Data><Data Name='IpAddress'>10.0.0.1</Data>"
    "</EventData></Event>\n"
)


def python_write_xml(frame, path: Path) -> None:
    """Per-event f-string rendering of a (reduced) 4624 template: the baseline."""
    from datetime import UTC, datetime, timedelta
    from xml.sax.saxutils import escape

    epoch = datetime(2026, 1, 5, tzinfo=UTC)
    with path.open("w") as f:
        for i, r in enumerate(frame.iter_rows(named=True)):
            ts = (epoch + timedelta(seconds=r["time"])).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
            f.write(
                _XML.format(
                    ts=ts,
                    rid=i + 1,
                    dst=escape(r["dst_host"]),
                    user=escape(r["src_user"]),
                    auth=escape(r["auth_type"]),
                    src=escape(r["src_host"]),
                )
            )


def _timed(fn, *args):
    """Run ``fn``; return its result, wall seconds and CPU seconds (all threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/hopwatch-bench-simulate")
    ap.add_argument("--hosts", type=int, default=5000)
    ap.add_argument("--users", type=int, default=4000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--baseline-events", type=int, default=500_000)
    ap.add_argument("--windows-hosts", type=int, default=300)
    args = ap.parse_args()

    from ingest.lanl import AUTH_FIELDS
    from ingest.simulate import SimConfig, simulate, write_lanl
    from ingest.simulate.windows.writer import write_windows

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = []

    load0 = os.getloadavg()[0]
    cfg = SimConfig(days=args.days, hosts=args.hosts, users=args.users, seed=0)
    result, *t_gen = _timed(simulate, cfg)
    n = result.events.height
    rows.append(("generate", "hopwatch simulate()", n, *t_gen))
    paths, *t_write = _timed(write_lanl, result, work / "lanl")
    size = paths["auth"].stat().st_size
    rows.append(("write LANL auth.txt", "hopwatch write_lanl (polars)", n, *t_write))

    nb = args.baseline_events
    base_rows, *t_bgen = _timed(python_generate, nb, args.hosts, args.users)
    rows.append(("generate", "python per-event loop", nb, *t_bgen))
    prefix = result.events.head(min(1_000_000, n))
    lanl_cols = prefix.select(*AUTH_FIELDS)
    _, *t_bcsv = _timed(python_write_csv, lanl_cols.iter_rows(), work / "baseline_auth.txt")
    rows.append(("write LANL auth.txt", "python csv.writer", prefix.height, *t_bcsv))
    del result, base_rows

    wcfg = SimConfig(days=7, hosts=args.windows_hosts, users=int(args.windows_hosts * 0.8), seed=0)
    wres = simulate(wcfg)
    wpaths, *t_win = _timed(write_windows, wres, work / "windows")
    wsize = sum(
        p.stat().st_size for k, p in wpaths.items() if k in ("security", "system", "sysmon")
    )
    nw = wres.events.height
    rows.append(("write Windows XML", "hopwatch write_windows (polars)", nw, *t_win))
    wprefix = wres.events.head(min(100_000, nw))
    _, *t_bxml = _timed(python_write_xml, wprefix, work / "baseline.xml")
    rows.append(("write Windows XML", "python f-string per event", wprefix.height, *t_bxml))

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = platform.processor() or platform.machine()
    print(
        f"# simulator benchmark ({platform.node()}, {cpu}, {os.cpu_count()} cores, "
        f"python {platform.python_version()})"
    )
    setting = f"--days {args.days} --hosts {args.hosts} --users {args.users}"
    print(
        f"# setting: {setting} -> {n:,} events, auth.txt {size / 2**20:.0f} MiB; windows: "
        f"--days 7 --hosts {args.windows_hosts} -> {nw:,} source events, "
        f"{wsize / 2**20:.0f} MiB XML"
    )
    print(
        f"# load average at start / end: {load0:.1f} / {os.getloadavg()[0]:.1f}; "
        f"peak RSS of the whole run: {rss:,.0f} MiB"
    )
    print()
    print(
        f"| {'step':<20} | {'contender':<32} | {'events':>11} | {'wall s':>7} | {'CPU s':>7} | "
        f"{'events/s':>10} | {'10M events, wall s':>18} |"
    )
    print(f"|{'-' * 22}|{'-' * 34}|{'-' * 13}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 20}|")
    for step, who, count, sec, cpu_s in rows:
        rate = count / sec
        print(
            f"| {step:<20} | {who:<32} | {count:>11,} | {sec:>7.2f} | {cpu_s:>7.2f} | "
            f"{rate:>10,.0f} | {TEN_M / rate:>18.1f} |"
        )
    total = (t_gen[0] + t_write[0]) * TEN_M / n
    cpu_total = (t_gen[1] + t_write[1]) * TEN_M / n
    print()
    print(
        f"hopwatch generate + write LANL, scaled to 10M events: {total:.1f} s wall, "
        f"{cpu_total:.1f} CPU s (target < 60 s)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
