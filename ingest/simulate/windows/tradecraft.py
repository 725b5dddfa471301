"""Windows-form tradecraft of the simulator: what each campaign hop leaves on its target.

A PsExec-style hop adds 5145 (``\\\\*\\ADMIN$``, write of ``PSEXESVC.exe`` or a random
name, AccessMask 0x2), 7045 (service install) and Sysmon 1 under ``PSEXESVC.exe``;
a wmiexec-style hop adds Sysmon 1 events of
``cmd.exe /Q /c ... 1> \\\\127.0.0.1\\ADMIN$\\__<time> 2>&1`` under ``WmiPrvSE.exe``.
Benign look-alikes come from the weekly software deployment and from admins.
:func:`tradecraft` returns them rendered (:data:`ingest.simulate.windows.xml.RENDERED`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ingest.simulate.config import L_NET, O_LOGON
from ingest.simulate.enterprise import SimResult
from ingest.simulate.topology import ROLE_SERVER
from ingest.simulate.windows.mapping import WinNames, logon_id
from ingest.simulate.windows.xml import EPOCH_S, SPECS, render

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
