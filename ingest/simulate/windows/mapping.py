"""Map the simulator's integer-coded auth events to Windows Security events.

Pure functions from a chunk of codes to rendered event frames
(:data:`ingest.simulate.windows.xml.RENDERED`):

* LogOn -> 4624 (success) or 4625 (failure) on the destination, plus 4672
  (special privileges) for admins, service accounts and SYSTEM;
* LogOff -> 4634; TGT -> 4768 (4771 when pre-authentication failed);
  TGS -> 4769 on the DC; AuthMap -> 4776 on the DC;
* every NTLM network logon of a domain account -> 4776 (NTLM validation) on the
  destination's DC.

Names, SIDs and addresses come from :class:`WinNames` (hosts ``ar-win-<n>``,
domain ``ATTACKRANGE``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ingest.simulate.config import (
    A_KRB,
    A_NTLM,
    L_BATCH,
    L_INT,
    L_NET,
    L_RDP,
    L_SVC,
    L_UNLOCK,
    O_AUTHMAP,
    O_LOGOFF,
    O_LOGON,
    O_TGS,
    O_TGT,
)
from ingest.simulate.topology import Topology
from ingest.simulate.windows.xml import SPECS, render

DOMAIN = "ATTACKRANGE"
REALM = "ATTACKRANGE.LOCAL"
_HEX = pl.Series([f"{i:02x}" for i in range(256)])
_LOGON_NUM = ("3", "2", "10", "5", "4", "7", "3")
_LOGON_PROC = ("NtLmSsp ", "User32 ", "User32 ", "Advapi  ", "Advapi  ", "User32 ", "-")
_AUTH_PKG = ("Kerberos", "NTLM", "Negotiate", "Negotiate", "Negotiate")
_PRIVS = "&#10;\t\t\t".join(
    [
        "SeSecurityPrivilege",
        "SeBackupPrivilege",
        "SeRestorePrivilege",
        "SeTakeOwnershipPrivilege",
        "SeDebugPrivilege",
        "SeSystemEnvironmentPrivilege",
        "SeLoadDriverPrivilege",
        "SeImpersonatePrivilege",
        "SeDelegateSessionUserImpersonatePrivilege",
    ]
)


@dataclass
class WinNames:
    """Windows spellings of the topology's hosts and accounts (indexed by id)."""

    host: list[str]
    upper: pl.Series
    fqdn: pl.Series
    ip: pl.Series
    name: pl.Series
    domain: pl.Series
    sid: pl.Series
    priv: np.ndarray
    domain_sid: str

    def user_at(self, acct: int) -> str:
        """``name@DOMAIN`` as the Windows reader normalises it (``u12@ATTACKRANGE``)."""
        name, dom = self.name[acct], self.domain[acct]
        return f"{name.lower()}@{dom.split('.')[0].upper()}"


def win_names(topo: Topology, seed: int) -> WinNames:
    """Host names ``ar-win-<n>``, account names, SIDs and IPs for ``topo``."""
    rng = np.random.default_rng([seed, 17])
    a, b, c = rng.integers(10**8, 4 * 10**9, size=3)
    dsid = f"S-1-5-21-{a}-{b}-{c}"
    n_hosts = topo.n_hosts
    host = [f"ar-win-{h + 1}" for h in range(n_hosts)]
    upper = [h.upper() for h in host]
    ips = [
        f"10.{(h + 10) >> 16 & 255}.{(h + 10) >> 8 & 255}.{(h + 10) & 255}" for h in range(n_hosts)
    ]
    names, doms, sids = [], [], []
    svc = set(int(s) for s in topo.svc_accounts)
    infra = {
        topo.scanner_account: "svc_scan",
        topo.backup_account: "svc_backup",
        topo.scan_account: "svc_scan2folder",
    }
    for i in range(topo.machine_base):
        base = topo.account_names[i].split("@")[0].lower()
        if i == topo.deploy_account:
            base = "svc_deploy"
        elif i in infra:
            base = infra[i]
        elif i in svc:
            base = f"svc_{base}"
        names.append(base)
        doms.append(DOMAIN)
        sids.append(f"{dsid}-{1100 + i}")
    names += [f"{u}$" for u in upper] + ["SYSTEM"] * n_hosts + ["ANONYMOUS LOGON"] * n_hosts
    doms += [DOMAIN] * n_hosts + ["NT AUTHORITY"] * (2 * n_hosts)
    sids += [f"{dsid}-{20000 + h}" for h in range(n_hosts)]
    sids += ["S-1-5-18"] * n_hosts + ["S-1-5-7"] * n_hosts
    priv = np.zeros(len(names), dtype=bool)
    priv[topo.admins] = True
    priv[topo.svc_accounts] = True
    priv[topo.deploy_account] = True
    priv[topo.infra_accounts()] = True
    priv[topo.system_base : topo.system_base + n_hosts] = True
    return WinNames(
        host=host,
        upper=pl.Series(upper),
        fqdn=pl.Series([f"{h}.attackrange.local" for h in host]),
        ip=pl.Series(ips),
        name=pl.Series(names),
        domain=pl.Series(doms),
        sid=pl.Series(sids),
        priv=priv,
        domain_sid=dsid,
    )


def hex8(v: np.ndarray) -> pl.Series:
    """Eight lower-case hex digits of 32-bit values, vectorised."""
    v = v.astype(np.int64)
    parts = [_HEX.gather((v >> s) & 255) for s in (24, 16, 8, 0)]
    return (
        pl.DataFrame(parts, schema=["a", "b", "c", "d"])
        .select(pl.concat_str(["a", "b", "c", "d"]))
        .to_series()
    )


def logon_id(lid: np.ndarray) -> pl.Series:
    """``0x`` + 16 hex digits, as Windows prints logon ids."""
    if not len(lid):
        return pl.Series([], dtype=pl.String)
    return ("0x00000000" + hex8(lid)).alias("lid")


def guid(lid: np.ndarray, t: np.ndarray) -> pl.Series:
    """A GUID derived from a logon id and a time (stable, unique enough)."""
    if not len(lid):
        return pl.Series([], dtype=pl.String)
    a, b = hex8(lid), hex8(t * 2654435761 % 2**32)
    return (
        pl.DataFrame({"a": a, "b": b})
        .select(
            pl.format(
                "{{{}-{}-{}-{}-{}}}",
                "a",
                pl.col("b").str.slice(0, 4),
                pl.col("b").str.slice(4, 4),
                pl.col("a").str.slice(0, 4),
                pl.concat_str(["b", "a"]).str.slice(0, 12),
            )
        )
        .to_series()
    )


def _common(c: dict[str, np.ndarray], m: np.ndarray, comp: np.ndarray, wn: WinNames) -> dict:
    """t, frac, computer, fqdn, pid, tid of the rows ``m`` logged on host ``comp``."""
    return {
        "t": c["t"][m],
        "frac": c["frac"][m],
        "computer": comp,
        "fqdn": wn.fqdn.gather(comp),
        "pid": 500 + (comp * 37) % 400 * 4,
        "tid": c["tid"][m],
    }


def _table(values: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(values).gather(idx)


def security_events(c: dict[str, np.ndarray], topo: Topology, wn: WinNames) -> list[pl.DataFrame]:
    """Rendered Security events for one chunk of codes (``c``: arrays by column name)."""
    out = []
    ori, ok, lt, at = c["ori"], c["ok"], c["lt"], c["at"]
    su, du, sh, dh = c["su"], c["du"], c["sh"], c["dh"]
    sessions = (ori == O_LOGON) & np.isin(lt, [L_NET, L_INT, L_RDP, L_SVC, L_BATCH, L_UNLOCK])
    for eid, m in ((4624, sessions & ok), (4625, sessions & ~ok)):
        out.append(render(SPECS[eid], _logon(c, m, eid, topo, wn)))
    m = ori == O_LOGOFF
    f = _common(c, m, dh[m], wn) | {
        "TargetUserSid": wn.sid.gather(su[m]),
        "TargetUserName": wn.name.gather(su[m]),
        "TargetDomainName": wn.domain.gather(su[m]),
        "TargetLogonId": logon_id(c["lid"][m]),
        "LogonType": _table(_LOGON_NUM, lt[m]),
    }
    out.append(render(SPECS[4634], pl.DataFrame(f)))
    m = sessions & ok & wn.priv[du]
    f = _common(c, m, dh[m], wn) | {
        "SubjectUserSid": wn.sid.gather(du[m]),
        "SubjectUserName": wn.name.gather(du[m]),
        "SubjectDomainName": wn.domain.gather(du[m]),
        "SubjectLogonId": logon_id(c["lid"][m]),
        "PrivilegeList": pl.repeat(_PRIVS, int(m.sum()), eager=True),
    }
    f["frac"] = f["frac"] + 1
    out.append(render(SPECS[4672], pl.DataFrame(f)))
    out += _kerberos(c, topo, wn)
    # NTLM validation on the DC: AuthMap rows, and NTLM network logons of domain accounts.
    m1 = ori == O_AUTHMAP
    m2 = sessions & (at == A_NTLM) & (sh != dh) & (su < topo.system_base)
    for m, comp, delta in ((m1, topo.host_dc[sh[m1]], 0), (m2, topo.host_dc[dh[m2]], -1)):
        f = _common(c, m, comp, wn) | {
            "PackageName": pl.repeat(
                "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", int(m.sum()), eager=True
            ),
            "TargetUserName": wn.name.gather(su[m]),
            "Workstation": wn.upper.gather(sh[m]),
            "Status": pl.Series(np.where(ok[m], "0x0", "0xc000006a"), dtype=pl.String),
        }
        f["frac"] = f["frac"] + delta
        out.append(render(SPECS[4776], pl.DataFrame(f)))
    return out


def _when(mask: str, yes: object, no: object) -> pl.Expr:
    """``yes`` where boolean column ``mask`` is true, else ``no`` (literals or exprs)."""
    lit = lambda v: v if isinstance(v, pl.Expr) else pl.lit(v, dtype=pl.String)  # noqa: E731
    return pl.when(pl.col(mask)).then(lit(yes)).otherwise(lit(no))


def _logon(c: dict, m: np.ndarray, eid: int, topo: Topology, wn: WinNames) -> pl.DataFrame:
    """Field frame of 4624/4625 for rows ``m``."""
    lt, at, du, sh, dh = (c[k][m] for k in ("lt", "at", "du", "sh", "dh"))
    base = pl.DataFrame(_common(c, m, dh, wn)).with_columns(
        net=pl.Series((lt == L_NET) | (lt == L_RDP)),
        local=pl.Series((lt == L_INT) | (lt == L_UNLOCK)),
        remote=pl.Series(lt == L_NET),
        krb=pl.Series(at == A_KRB),
        ntlm=pl.Series(at == A_NTLM),
        svc=pl.Series(lt == L_SVC),
        rdp=pl.Series(lt == L_RDP),
        priv=pl.Series(wn.priv[du]),
        svc_acct=pl.Series(np.isin(du, topo.svc_accounts)),
        ip_src=wn.ip.gather(sh),
        up_src=wn.upper.gather(sh),
        up_dst=wn.upper.gather(dh),
        port=pl.Series(c["port"][m]).cast(pl.String),
        lproc=_table(_LOGON_PROC, lt),
        TargetUserSid=wn.sid.gather(du)
        if eid == 4624
        else pl.repeat("S-1-0-0", len(lt), eager=True),
        TargetUserName=wn.name.gather(du),
        TargetDomainName=wn.domain.gather(du),
        LogonType=_table(_LOGON_NUM, lt),
        AuthenticationPackageName=_table(_AUTH_PKG, at),
        TargetLogonId=logon_id(c["lid"][m]),
        guid=guid(c["lid"][m], c["t"][m]),
    )
    fields = {
        "SubjectUserSid": _when("remote", "S-1-0-0", "S-1-5-18"),
        "SubjectUserName": _when("remote", "-", pl.col("up_dst") + "$"),
        "SubjectDomainName": _when("remote", "-", DOMAIN),
        "SubjectLogonId": _when("remote", "0x0", "0x3e7"),
        "LogonProcessName": pl.when(pl.col("remote") & pl.col("krb"))
        .then(pl.lit("Kerberos"))
        .otherwise(pl.col("lproc")),
        "WorkstationName": _when("net", pl.col("up_src"), _when("local", pl.col("up_dst"), "-")),
        "TransmittedServices": pl.lit("-"),
        "LmPackageName": _when("ntlm", "NTLM V2", "-"),
        "KeyLength": _when("ntlm", "128", "0"),
        "ProcessId": _when("net", "0x0", _when("svc", "0x25c", "0x3a8")),
        "ProcessName": _when(
            "net",
            "-",
            _when("svc", r"C:\Windows\System32\services.exe", r"C:\Windows\System32\svchost.exe"),
        ),
        "IpAddress": _when("net", pl.col("ip_src"), _when("local", "127.0.0.1", "-")),
        "IpPort": _when("net", pl.col("port"), _when("local", "0", "-")),
    }
    if eid == 4624:
        fields |= {
            "LogonGuid": _when("krb", pl.col("guid"), "{00000000-0000-0000-0000-000000000000}"),
            "ImpersonationLevel": pl.lit("%%1833"),
            "RestrictedAdminMode": _when("rdp", "%%1843", "-"),
            "TargetOutboundUserName": pl.lit("-"),
            "TargetOutboundDomainName": pl.lit("-"),
            "VirtualAccount": pl.lit("%%1843"),
            "TargetLinkedLogonId": pl.lit("0x0"),
            "ElevatedToken": _when("priv", "%%1842", "%%1843"),
        }
    else:
        fields |= {
            "Status": pl.lit("0xc000006d"),
            "FailureReason": pl.lit("%%2313"),
            "SubStatus": _when("svc_acct", "0xc0000071", "0xc000006a"),
        }
    return base.with_columns(**fields)


def _kerberos(c: dict, topo: Topology, wn: WinNames) -> list[pl.DataFrame]:
    """4768 / 4771 (TGT) and 4769 (TGS) on the DCs."""
    out = []
    ori, ok, su, sh, dh = c["ori"], c["ok"], c["su"], c["sh"], c["dh"]
    krbtgt = f"{wn.domain_sid}-502"
    for eid, m in ((4768, (ori == O_TGT) & ok), (4771, (ori == O_TGT) & ~ok)):
        n = int(m.sum())
        f = _common(c, m, dh[m], wn) | {
            "TargetUserName": wn.name.gather(su[m]),
            "TargetDomainName": pl.repeat(DOMAIN, n, eager=True),
            "TargetSid": wn.sid.gather(su[m]),
            "ServiceName": pl.repeat("krbtgt" if eid == 4768 else f"krbtgt/{REALM}", n, eager=True),
            "ServiceSid": pl.repeat(krbtgt, n, eager=True),
            "TicketOptions": pl.repeat("0x40810010", n, eager=True),
            "Status": pl.repeat("0x0" if eid == 4768 else "0x18", n, eager=True),
            "TicketEncryptionType": pl.repeat("0x12", n, eager=True),
            "PreAuthType": pl.repeat("2", n, eager=True),
            "IpAddress": "::ffff:" + wn.ip.gather(sh[m]),
            "IpPort": pl.Series(c["port"][m].astype(str)),
            "CertIssuerName": pl.repeat("", n, eager=True),
            "CertSerialNumber": pl.repeat("", n, eager=True),
            "CertThumbprint": pl.repeat("", n, eager=True),
        }
        out.append(render(SPECS[eid], pl.DataFrame(f)))
    m = ori == O_TGS
    n = int(m.sum())
    f = _common(c, m, dh[m], wn) | {
        "TargetUserName": wn.name.gather(su[m]) + f"@{REALM}",
        "TargetDomainName": pl.repeat(REALM, n, eager=True),
        "ServiceName": wn.upper.gather(dh[m]) + "$",
        "ServiceSid": wn.sid.gather(topo.machine_base + dh[m]),
        "TicketOptions": pl.repeat("0x40810000", n, eager=True),
        "TicketEncryptionType": pl.repeat("0x12", n, eager=True),
        "IpAddress": "::ffff:" + wn.ip.gather(sh[m]),
        "IpPort": pl.Series(c["port"][m].astype(str)),
        "Status": pl.repeat("0x0", n, eager=True),
        "LogonGuid": guid(c["lid"][m] + c["t"][m], c["t"][m]),
        "TransmittedServices": pl.repeat("-", n, eager=True),
    }
    out.append(render(SPECS[4769], pl.DataFrame(f)))
    return out
