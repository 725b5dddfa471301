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
is ``ATTACKRANGE``, and t=0 is :data:`ingest.sim_config.EPOCH`.

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

from ingest.sim_config import EPOCH, L_NET, O_LOGON
from ingest.sim_topology import ROLE_SERVER
from ingest.sim_winmap import DOMAIN, WinNames, logon_id, security_events, win_names
from ingest.sim_winxml import CHANNELS, EPOCH_S, SPECS, render
from ingest.simulate import SimResult

FILES = ("security.xml", "system.xml", "sysmon.xml")
_WMI_CMDS = (
    "whoami",
    "hostname",
    "ipconfig /all",
    "net user",
    "net localgroup administrators",
    "tasklist",
    "systeminfo",
    "cd \\",
)
_CMD = r"C:\Windows\System32\cmd.exe"
_WMIPRVSE = r"C:\Windows\System32\wbem\WmiPrvSE.exe"
_WMIPRVSE_CMD = r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding"
_POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
_ADMIN_WMI = (
    (_POWERSHELL, "powershell.exe -NoProfile -NonInteractive -Command Get-Service"),
    (_POWERSHELL, "powershell.exe -NoProfile -Command Get-HotFix"),
    (_CMD, r'cmd.exe /c "C:\Program Files\Monitoring\collect.cmd" --quick'),
)


def _hop_rows(result: SimResult) -> list[dict]:
    """Campaign hops with the logon id of their labelled logon event."""
    codes = result.codes
    rows = []
    for camp in result.campaigns:
        for hop in camp.hops:
            lo, hi = np.searchsorted(codes.t, [hop.time, hop.time + 1])
            idx = np.arange(lo, hi)
            hit = idx[
                (codes.su[idx] == hop.user)
                & (codes.sh[idx] == hop.src)
                & (codes.dh[idx] == hop.dst)
                & (codes.ori[idx] == O_LOGON)
            ]
            rows.append(
                {
                    "t": hop.time,
                    "user": hop.user,
                    "src": hop.src,
                    "dst": hop.dst,
                    "lid": int(codes.lid[hit[0]]),
                    "technique": hop.technique,
                    "campaign": camp.id,
                }
            )
    return rows


def _benign_lookalikes(result: SimResult, rng: np.random.Generator) -> list[dict]:
    """Benign look-alikes of the tradecraft: deployment-agent installs (ADMIN$ write +
    service) on workstations, admins' PsExec (8% of their network logons to servers)
    and admins' remote WMI/PowerShell (5%, a process under WmiPrvSE.exe)."""
    c, topo = result.codes, result.topology
    net = (c.ori == O_LOGON) & (c.lt == L_NET) & c.ok
    dep = np.flatnonzero(net & (c.su == topo.deploy_account))
    adm = np.flatnonzero(net & np.isin(c.su, topo.admins) & (topo.host_role[c.dh] == ROLE_SERVER))
    draw = rng.random(len(adm))
    kinds = (("deploy", dep), ("admin_psexec", adm[draw < 0.08]), ("admin_wmi", adm[draw > 0.95]))
    rows = []
    for kind, idx in kinds:
        for i in idx:
            rows.append(
                {
                    "t": int(c.t[i]),
                    "user": int(c.su[i]),
                    "src": int(c.sh[i]),
                    "dst": int(c.dh[i]),
                    "lid": int(c.lid[i]),
                    "technique": kind,
                    "campaign": -1,
                }
            )
    return rows


def tradecraft(result: SimResult, wn: WinNames, rng: np.random.Generator) -> pl.DataFrame:
    """Rendered 5145 / 7045 / Sysmon 1 events of hops and benign look-alikes, sorted by time."""
    share, service, proc = [], [], []
    for r in _hop_rows(result) + _benign_lookalikes(result, rng):
        base = {"computer": r["dst"], "user": r["user"], "src": r["src"], "lid": r["lid"]}
        t = r["t"]
        if r["technique"] in ("psexec", "admin_psexec"):
            name = "PSEXESVC"
            if r["technique"] == "psexec" and rng.random() < 0.3:
                name = "".join(rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), size=8))
            share.append(base | {"t": t + 1, "rel": f"{name}.exe"})
            service.append(
                base
                | {
                    "t": t + 2,
                    "svc": name,
                    "image": f"%SystemRoot%\\{name}.exe",
                    "start": "demand start",
                }
            )
            for k, cmd in enumerate(rng.choice(_WMI_CMDS, size=int(rng.integers(1, 4)))):
                proc.append(
                    base
                    | {
                        "t": t + 4 + 7 * k,
                        "cmd": f"cmd.exe /c {cmd}",
                        "image": _CMD,
                        "parent": f"C:\\Windows\\{name}.exe",
                        "parent_cmd": f"C:\\Windows\\{name}.exe",
                    }
                )
        elif r["technique"] == "wmiexec":
            for k, cmd in enumerate(rng.choice(_WMI_CMDS, size=int(rng.integers(2, 5)))):
                tk = t + 3 + 11 * k
                out = f"\\\\127.0.0.1\\ADMIN$\\__{EPOCH_S + t}.{int(rng.integers(10, 99))}"
                proc.append(
                    base
                    | {
                        "t": tk,
                        "cmd": f"cmd.exe /Q /c {cmd} 1> {out} 2>&1",
                        "image": _CMD,
                        "parent": _WMIPRVSE,
                        "parent_cmd": _WMIPRVSE_CMD,
                    }
                )
        elif r["technique"] == "admin_wmi":
            image, cmd = _ADMIN_WMI[int(rng.integers(len(_ADMIN_WMI)))]
            proc.append(
                base
                | {
                    "t": t + 2,
                    "cmd": cmd,
                    "image": image,
                    "parent": _WMIPRVSE,
                    "parent_cmd": _WMIPRVSE_CMD,
                }
            )
        else:  # deployment agent
            share.append(base | {"t": t + 1, "rel": r"Temp\DeployAgent\agent-setup.exe"})
            service.append(
                base
                | {
                    "t": t + 2,
                    "svc": "DeployAgentSvc",
                    "image": r"C:\Windows\Temp\DeployAgent\agent.exe",
                    "start": "auto start",
                }
            )
    frames = [
        _share_events(share, wn, rng),
        _service_events(service, wn, rng),
        _process_events(proc, wn, rng),
    ]
    return pl.concat(frames).sort(["t", "frac"], maintain_order=True)


def _frame(rows: list[dict], wn: WinNames, rng: np.random.Generator, pid: int) -> pl.DataFrame:
    n = len(rows)
    comp = np.array([r["computer"] for r in rows], dtype=np.int64)
    user = np.array([r["user"] for r in rows], dtype=np.int64)
    return pl.DataFrame(
        {
            "t": [r["t"] for r in rows],
            "frac": rng.integers(10, 9_999_990, n),
            "computer": comp,
            "fqdn": wn.fqdn.gather(comp),
            "pid": np.full(n, pid),
            "tid": rng.integers(100, 9000, n),
            "sid_u": wn.sid.gather(user),
            "name_u": wn.name.gather(user),
            "dom_u": wn.domain.gather(user),
            "lid": logon_id(np.array([r["lid"] for r in rows], dtype=np.int64)),
            "ip_src": wn.ip.gather(np.array([r["src"] for r in rows], dtype=np.int64)),
        },
        schema_overrides={"t": pl.Int64},
    )


def _share_events(rows: list[dict], wn: WinNames, rng: np.random.Generator) -> pl.DataFrame:
    if not rows:
        return render(SPECS[5145], pl.DataFrame())
    f = _frame(rows, wn, rng, 4).with_columns(
        SubjectUserSid="sid_u",
        SubjectUserName="name_u",
        SubjectDomainName="dom_u",
        SubjectLogonId="lid",
        ObjectType=pl.lit("File"),
        IpAddress="ip_src",
        IpPort=pl.Series(rng.integers(49152, 65535, len(rows))).cast(pl.String),
        ShareName=pl.lit("\\\\*\\ADMIN$"),
        ShareLocalPath=pl.lit("\\??\\C:\\Windows"),
        RelativeTargetName=pl.Series([r["rel"] for r in rows]),
        AccessMask=pl.lit("0x2"),
        AccessList=pl.lit("%%4417"),
        AccessReason=pl.lit("-"),
    )
    return render(SPECS[5145], f)


def _service_events(rows: list[dict], wn: WinNames, rng: np.random.Generator) -> pl.DataFrame:
    if not rows:
        return render(SPECS[7045], pl.DataFrame())
    f = _frame(rows, wn, rng, 636).with_columns(
        user_sid="sid_u",
        ServiceName=pl.Series([r["svc"] for r in rows]),
        ImagePath=pl.Series([r["image"] for r in rows]),
        ServiceType=pl.lit("user mode service"),
        StartType=pl.Series([r["start"] for r in rows]),
        AccountName=pl.lit("LocalSystem"),
    )
    return render(SPECS[7045], f)


def _process_events(rows: list[dict], wn: WinNames, rng: np.random.Generator) -> pl.DataFrame:
    if not rows:
        return render(SPECS[1], pl.DataFrame())
    n = len(rows)
    f = _frame(rows, wn, rng, 2044)
    utc = pl.from_epoch(pl.col("t") + EPOCH_S, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    f = f.with_columns(
        user_sid=pl.lit("S-1-5-18"),
        RuleName=pl.lit("-"),
        UtcTime=pl.concat_str(
            [utc, pl.lit("."), (pl.col("frac") // 10000).cast(pl.String).str.zfill(3)]
        ),
        ProcessGuid=pl.Series(
            [
                f"{{{wn.domain_sid[-8:]}-{i:04x}-0000-0010-{int(x):012x}}}"
                for i, x in enumerate(rng.integers(0, 2**40, n))
            ]
        ),
        ProcessId=pl.Series(rng.integers(1000, 9000, n)).cast(pl.String),
        Image=pl.Series([r["image"] for r in rows]),
        FileVersion=pl.lit("10.0.17763.1 (WinBuild.160101.0800)"),
        Description=pl.lit("Windows Command Processor"),
        Product=pl.lit("Microsoft&#174; Windows&#174; Operating System"),
        Company=pl.lit("Microsoft Corporation"),
        OriginalFileName=pl.lit("Cmd.Exe"),
        CommandLine=pl.Series([r["cmd"] for r in rows]),
        CurrentDirectory=pl.lit("C:\\"),
        User=pl.concat_str([pl.col("dom_u"), pl.lit("\\"), pl.col("name_u")]),
        LogonGuid=pl.lit("{00000000-0000-0000-0000-000000000000}"),
        LogonId="lid",
        TerminalSessionId=pl.lit("0"),
        IntegrityLevel=pl.lit("High"),
        Hashes=pl.lit("SHA256=BC866CFCDDA37E24DC2634DC282C7A0E6F55209DA17A8FA105B07414C0E7C527"),
        ParentProcessGuid=pl.lit("{00000000-0000-0000-0000-000000000000}"),
        ParentProcessId=pl.Series(rng.integers(500, 4000, n)).cast(pl.String),
        ParentImage=pl.Series([r["parent"] for r in rows]),
        ParentCommandLine=pl.Series([r["parent_cmd"] for r in rows]),
    )
    return render(SPECS[1], f)


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
    for key in ("admins", "service_accounts"):
        nov[key] = [acct[x] for x in nov[key]]
    nov["deploy_server"], nov["deploy_account"] = (
        host[nov["deploy_server"]],
        acct[nov["deploy_account"]],
    )
    for row in nov["new_hires"]:
        row["user"], row["workstation"] = acct[row["user"]], host[row["workstation"]]
    mon = nov["monitoring"]
    mon["account"], mon["server"] = acct[mon["account"]], host[mon["server"]]
    for row in nov["new_servers"]:
        row["host"] = host[row["host"]]
    lines.sort()
    red = out / "redteam.txt"
    red.write_text("".join(f"{t},{u},{s},{d}\n" for t, u, s, d in lines))
    cj = out / "campaigns.json"
    cj.write_text(json.dumps(truth, indent=1) + "\n")
    return {"redteam": red, "campaigns": cj}
