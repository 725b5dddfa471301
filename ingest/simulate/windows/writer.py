"""Write a simulated enterprise in Windows form (attack-range style XmlWinEventLog).

``write_windows(result, out_dir)`` writes one ``<Event>`` element per line,
sorted by time, in three files (one per channel, as Splunk's XmlWinEventLog
sources)::

    security.xml   4624 4625 4634 4672 4768 4769 4771 4776 5145
    system.xml     7045 (Service Control Manager)
    sysmon.xml     Sysmon 1 (Microsoft-Windows-Sysmon/Operational)

plus ``redteam.txt`` (``epoch_seconds,user@ATTACKRANGE,SRC,DST`` in the names
the Windows reader produces) and ``campaigns.json`` (ground truth with Windows
host and account names). Hosts are ``ar-win-<n>.attackrange.local``, the domain
is ``ATTACKRANGE``, and t=0 is :data:`ingest.simulate.config.EPOCH`.

Campaign tradecraft: a PsExec-style hop adds 5145 (``\\\\*\\ADMIN$``, write of
``PSEXESVC.exe`` or a random name, AccessMask 0x2), 7045 (service install) and
Sysmon 1 under ``PSEXESVC.exe``; a wmiexec-style hop adds Sysmon 1 events of
``cmd.exe /Q /c ... 1> \\\\127.0.0.1\\ADMIN$\\__<time> 2>&1`` under ``WmiPrvSE.exe``.
Benign look-alikes: the weekly software deployment copies an agent over
ADMIN$ and installs a service on every workstation, and admins now and then
use PsExec on servers.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl

from ingest.simulate.config import EPOCH
from ingest.simulate.enterprise import SimResult
from ingest.simulate.windows.mapping import DOMAIN, WinNames, security_events, win_names
from ingest.simulate.windows.tradecraft import tradecraft
from ingest.simulate.windows.xml import CHANNELS, EPOCH_S

FILES = ("security.xml", "system.xml", "sysmon.xml")


def _chunks(t: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Index ranges of about ``size`` rows that never split one second."""
    bounds = [0]
    while bounds[-1] < len(t):
        end = min(bounds[-1] + size, len(t))
        if end < len(t):
            end = int(np.searchsorted(t, t[end - 1], side="right"))
        bounds.append(end)
    return list(pairwise(bounds))


def write_windows(
    result: SimResult, out_dir: str | Path, *, chunk: int = 200_000
) -> dict[str, Path]:
    """Write the three channel files, ``redteam.txt`` and ``campaigns.json``; return paths.

    Events are rendered ``chunk`` source events at a time (bounded memory).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    topo, codes = result.topology, result.codes
    rng = np.random.default_rng([result.config.seed, 2])
    wn = win_names(topo, result.config.seed)
    extras = tradecraft(result, wn, rng)
    ext_t = extras["t"].to_numpy()
    paths = {name.split(".")[0]: out / name for name in FILES}
    counters = np.zeros(len(CHANNELS) * topo.n_hosts, dtype=np.int64)
    handles = [paths[name.split(".")[0]].open("wb") for name in FILES]
    try:
        ranges = _chunks(codes.t, chunk)
        for k, (i0, i1) in enumerate(ranges):
            c = {
                name: getattr(codes, name)[i0:i1]
                for name in ("t", "su", "du", "sh", "dh", "at", "lt", "ori", "ok", "lid")
            }
            n = i1 - i0
            c["frac"] = rng.integers(10, 9_999_990, n)
            c["tid"] = rng.integers(100, 9000, n)
            c["port"] = rng.integers(49152, 65535, n)
            lo = -np.inf if k == 0 else codes.t[i0]
            hi = np.inf if k == len(ranges) - 1 else codes.t[i1]
            e0, e1 = np.searchsorted(ext_t, [lo, hi])
            frames = [*security_events(c, topo, wn), extras.slice(int(e0), int(e1 - e0))]
            _write_chunk(pl.concat(frames), counters, topo.n_hosts, handles)
    finally:
        for h in handles:
            h.close()
    paths |= _truth(result, wn, out)
    return paths


def _write_chunk(df: pl.DataFrame, counters: np.ndarray, n_hosts: int, handles: list) -> None:
    """Sort one chunk, number records per (channel, computer), append lines to each file."""
    df = df.sort(["t", "frac"], maintain_order=True)
    df = df.with_columns(key=pl.col("chan").cast(pl.Int64) * n_hosts + pl.col("computer"))
    key = df["key"].to_numpy()
    seq = df.select(pl.int_range(1, pl.len() + 1).over("key")).to_series().to_numpy()
    rid = counters[key] + seq
    counters += np.bincount(key, minlength=len(counters))
    lines = df.select(
        "chan", pl.concat_str(["head", pl.Series(rid).cast(pl.String), "tail"]).alias("line")
    )
    for ch, handle in enumerate(handles):
        part = lines.filter(pl.col("chan") == ch).select("line")
        if part.height:
            part.write_csv(handle, include_header=False, quote_style="never")


def _truth(result: SimResult, wn: WinNames, out: Path) -> dict[str, Path]:
    """``redteam.txt`` and ``campaigns.json`` with Windows names and epoch times."""
    topo = result.topology
    lines = []
    truth = result.truth()
    truth["windows"] = {
        "domain": DOMAIN,
        "epoch": EPOCH.isoformat().replace("+00:00", "Z"),
        "epoch_seconds": EPOCH_S,
        "files": list(FILES),
    }
    for camp, cd in zip(result.campaigns, truth["campaigns"], strict=True):
        cd["foothold_host"] = wn.host[camp.foothold_host]
        cd["foothold_user"] = wn.user_at(camp.foothold_user)
        cd["path"] = [wn.host[camp.foothold_host]] + [wn.host[h.dst] for h in camp.hops]
        for hop, hd in zip(camp.hops, cd["hops"], strict=True):
            hd |= {
                "user": wn.user_at(hop.user),
                "src_host": wn.host[hop.src],
                "dst_host": wn.host[hop.dst],
                "epoch_time": EPOCH_S + hop.time,
            }
            lines.append((EPOCH_S + hop.time, hd["user"], wn.upper[hop.src], wn.upper[hop.dst]))
    host = dict(zip(topo.host_names, wn.host, strict=True))
    acct = {topo.account_names[a]: wn.user_at(a) for a in range(topo.machine_base)}
    truth["roles"] = {r: [host[x] for x in v] for r, v in truth["roles"].items()}
    nov = truth["novelty"]
    for key in ("admins", "service_accounts", "helpdesk"):
        nov[key] = [acct[x] for x in nov[key]]
    nov["deploy_server"], nov["deploy_account"] = (
        host[nov["deploy_server"]],
        acct[nov["deploy_account"]],
    )
    for row in nov["new_hires"]:
        row["user"], row["workstation"] = acct[row["user"]], host[row["workstation"]]
    mon = nov["monitoring"]
    if mon is not None:
        mon["account"], mon["server"] = acct[mon["account"]], host[mon["server"]]
    for row in nov["moved_desks"]:
        row["user"], row["from"], row["to"] = acct[row["user"]], host[row["from"]], host[row["to"]]
    infra = nov["infrastructure"]
    for key in ("scanners", "backup_servers", "printers"):
        infra[key] = [host[x] for x in infra[key]]
    if infra["print_server"] is not None:
        infra["print_server"] = host[infra["print_server"]]
    for key in ("scanner_account", "backup_account", "scan_account"):
        if infra[key] is not None:
            infra[key] = acct[infra[key]]
    for row in nov["new_servers"]:
        row["host"] = host[row["host"]]
    lines.sort()
    red = out / "redteam.txt"
    red.write_text("".join(f"{t},{u},{s},{d}\n" for t, u, s, d in lines))
    cj = out / "campaigns.json"
    cj.write_text(json.dumps(truth, indent=1) + "\n")
    return {"redteam": red, "campaigns": cj}
