"""Normalisation of Windows names and values (Polars expressions, pure).

Conventions (documented in docs/windows-and-rules.md):

* hosts: short upper-case names; IP addresses kept (lower-case);
* users: ``name@DOMAIN`` with the name lower-case and the domain upper-case,
  cut to its first label; ``?`` when there is no domain;
* logon ids and status codes: ``0x`` + lower-case hex without padding;
* ``time``: TimeCreated/@SystemTime as UTC epoch seconds.
"""

from __future__ import annotations

import polars as pl

LOGON_TYPES: dict[str, str] = {
    "0": "System",
    "2": "Interactive",
    "3": "Network",
    "4": "Batch",
    "5": "Service",
    "7": "Unlock",
    "8": "NetworkCleartext",
    "9": "NewCredentials",
    "10": "RemoteInteractive",
    "11": "CachedInteractive",
    "12": "CachedRemoteInteractive",
    "13": "CachedUnlock",
}
_EMPTY = ("", "-", "NULL", "null", "N/A")


def clean_expr(expr: pl.Expr) -> pl.Expr:
    """Stripped value; empty, ``-``, ``NULL`` and ``N/A`` become null."""
    e = expr.str.strip_chars()
    return pl.when(e.is_in(_EMPTY)).then(None).otherwise(e)


def _domain(expr: pl.Expr) -> pl.Expr:
    return clean_expr(expr).str.split(".").list.first().str.to_uppercase()


def user_expr(name: pl.Expr, domain: pl.Expr | None = None) -> pl.Expr:
    """``name@DOMAIN`` from an account name (plain, ``DOM\\name`` or ``name@dom``)."""
    n = clean_expr(name)
    at = n.str.contains("@", literal=True)
    bs = n.str.contains("\\", literal=True)
    uname = (
        pl.when(at)
        .then(n.str.split("@").list.first())
        .when(bs)
        .then(n.str.split("\\").list.last())
        .otherwise(n)
    )
    dom = pl.lit(None, dtype=pl.String) if domain is None else domain
    udom = (
        pl.when(at)
        .then(n.str.split("@").list.last())
        .when(bs)
        .then(n.str.split("\\").list.first())
        .otherwise(dom)
    )
    uname = clean_expr(uname)
    return (
        pl.when(uname.is_not_null())
        .then(pl.concat_str([uname.str.to_lowercase(), pl.lit("@"), _domain(udom).fill_null("?")]))
        .otherwise(None)
    )


def is_ip_expr(e: pl.Expr) -> pl.Expr:
    """True for IPv4 dotted quads and anything with a colon (IPv6)."""
    return e.str.contains(r"^\d{1,3}(?:\.\d{1,3}){3}$") | e.str.contains(":", literal=True)


def host_expr(expr: pl.Expr) -> pl.Expr:
    """Short upper-case host name; IPs kept (lower-case); empty/``-``/localhost -> null."""
    e = clean_expr(expr.str.strip_chars().str.strip_chars_start("\\"))
    local = e.str.to_lowercase().is_in(["localhost", "127.0.0.1", "::1"])
    return (
        pl.when(e.is_null() | local)
        .then(None)
        .when(is_ip_expr(e))
        .then(e.str.to_lowercase())
        .otherwise(e.str.split(".").list.first().str.to_uppercase())
    )


def ip_expr(expr: pl.Expr) -> pl.Expr:
    """IP address without the ``::ffff:`` prefix; empty/``-`` -> null."""
    e = clean_expr(expr).str.to_lowercase()
    return e.str.strip_prefix("::ffff:")


def loopback_expr(ip: pl.Expr) -> pl.Expr:
    """True for loopback and unspecified addresses."""
    return ip.str.starts_with("127.") | ip.is_in(["::1", "0:0:0:0:0:0:0:1", "0.0.0.0", "::"])


def hex_expr(expr: pl.Expr) -> pl.Expr:
    """``0x`` + lower-case hex without leading zeros (``0x00AB`` -> ``0xab``)."""
    e = clean_expr(expr).str.to_lowercase().str.strip_prefix("0x").str.strip_chars_start("0")
    digits = pl.when(e == "").then(pl.lit("0")).otherwise(e)
    return pl.when(e.is_null()).then(None).otherwise(pl.concat_str([pl.lit("0x"), digits]))


def hexint_expr(expr: pl.Expr) -> pl.Expr:
    """Integer from a hex string with or without ``0x`` (null when not hex)."""
    return (
        clean_expr(expr)
        .str.to_lowercase()
        .str.strip_prefix("0x")
        .str.to_integer(base=16, strict=False)
    )


def int_expr(expr: pl.Expr) -> pl.Expr:
    """Integer from a decimal string (null when not a number)."""
    return clean_expr(expr).str.to_integer(strict=False)


def time_expr() -> pl.Expr:
    """``system_time`` (ISO, ``T`` or space, any fraction) as UTC epoch seconds."""
    return (
        pl.col("system_time")
        .str.strip_chars()
        .str.slice(0, 19)
        .str.replace("T", " ", literal=True)
        .str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
        .dt.epoch("s")
    )


def auth_type_expr(pkg: pl.Expr, lm: pl.Expr) -> pl.Expr:
    """Kerberos / NTLM / Negotiate from the package name (LM package as fallback), else ``?``."""
    p = clean_expr(pkg)
    low = p.str.to_lowercase()
    lmv = clean_expr(lm)
    return (
        pl.when(low == "kerberos")
        .then(pl.lit("Kerberos"))
        .when(low == "ntlm")
        .then(pl.lit("NTLM"))
        .when(low == "negotiate")
        .then(pl.lit("Negotiate"))
        .when(p.is_not_null())
        .then(p)
        .when(lmv.str.to_lowercase().str.starts_with("ntlm"))
        .then(pl.lit("NTLM"))
        .otherwise(pl.lit("?"))
    )


#: Mandatory integrity levels: 4688 MandatoryLabel SIDs (``S-1-16-12288``) and the
#: rendered ``Mandatory Label\High Mandatory Level`` both become Sysmon's names.
INTEGRITY_LEVELS: dict[str, str] = {
    "s-1-16-0": "Untrusted",
    "s-1-16-4096": "Low",
    "s-1-16-8192": "Medium",
    "s-1-16-8448": "Medium",
    "s-1-16-12288": "High",
    "s-1-16-16384": "System",
    "s-1-16-20480": "Protected",
}


def integrity_expr(expr: pl.Expr) -> pl.Expr:
    """Integrity level name (``Low``, ``Medium``, ``High``, ``System``) from a SID, a rendered
    label or Sysmon's IntegrityLevel; null when absent."""
    e = clean_expr(expr)
    low = e.str.to_lowercase()
    sid = low.replace_strict(INTEGRITY_LEVELS, default=None, return_dtype=pl.String)
    label = e.str.extract(r"(?i)\\(\w+) Mandatory Level", 1)
    return pl.coalesce(sid, label, e)


def logon_type_expr(expr: pl.Expr) -> pl.Expr:
    """Logon type number -> name (:data:`LOGON_TYPES`), ``?`` when unknown."""
    return clean_expr(expr).replace_strict(LOGON_TYPES, default="?", return_dtype=pl.String)


# -- normalised names, computed once per distinct value ------------------------------------
#: Hosts and users repeat a lot, so the string work of :func:`host_expr` and
#: :func:`user_expr` runs on the distinct values only and is mapped back.
_HOST_COLUMNS = {
    "_host": "computer",
    "_ws": "WorkstationName",
    "_server": "TargetServerName",
    "_wks": "Workstation",
    "_srchost": "SourceHostname",
}
_USER_COLUMNS = {
    "_target": ("TargetUserName", "TargetDomainName"),
    "_subject": ("SubjectUserName", "SubjectDomainName"),
    "_user": ("User", None),
}
_SEP = "\x1f"


def with_normalised(raw: pl.DataFrame) -> pl.DataFrame:
    """``raw`` plus normalised host (``_host``, ``_ws`` ...) and user columns (pure)."""
    hosts = (
        pl.concat([raw.select(pl.col(c).alias("k")) for c in _HOST_COLUMNS.values()])
        .unique()
        .drop_nulls()
        .with_columns(host_expr(pl.col("k")).alias("v"))
    )
    exprs = [
        pl.col(c).replace_strict(hosts["k"], hosts["v"], default=None).alias(name)
        for name, c in _HOST_COLUMNS.items()
    ]
    keys, pairs = [], []
    for name, (user, domain) in _USER_COLUMNS.items():
        dom = pl.col(domain) if domain else pl.lit("")
        key = pl.concat_str([pl.col(user), dom.fill_null("")], separator=_SEP)
        keys.append(key.alias(name))
        pairs.append(raw.select(key.alias("k"), pl.col(user).alias("u"), dom.alias("d")))
    users = (
        pl.concat(pairs, how="vertical_relaxed")
        .unique("k")
        .drop_nulls("k")
        .with_columns(user_expr(pl.col("u"), pl.col("d")).alias("v"))
    )
    out = raw.with_columns(*exprs, *keys)
    return out.with_columns(
        pl.col(name).replace_strict(users["k"], users["v"], default=None) for name in _USER_COLUMNS
    )
