"""Map Windows records to canonical auth events and process events (pure, Polars).

Conventions (shared by every Windows form, documented in docs/windows-and-rules.md):

* ``time``: TimeCreated/@SystemTime as UTC epoch seconds (fraction dropped).
* hosts: short upper-case names (``WIN-77LTAPHIQ1R.example.corp`` ->
  ``WIN-77LTAPHIQ1R``); IP addresses stay as written (lower-case).
* users: ``name@DOMAIN``: account name lower-case, domain upper-case and cut to
  its first label (``EXAMPLE.CORP`` -> ``EXAMPLE``); ``DOM\\name`` and
  ``name@dom`` forms are split; ``?`` when the event carries no domain.
* logon ids, status codes: ``0x`` + lower-case hex without padding.
* network logons: ``dst_host`` = Computer; ``src_host`` = WorkstationName, else
  the host seen with the same IpAddress elsewhere in the input (NTLM logons and
  Sysmon connections name both), else the IP itself; loopback or ``-`` sources
  mean a local logon (``src_host = dst_host``).
"""

from __future__ import annotations

import polars as pl

from ingest.schema import PROCESS_SCHEMA
from ingest.schema import WINDOWS_AUTH_SCHEMA as AUTH_SCHEMA
from ingest.windows.mapping.normalize import (
    auth_type_expr,
    clean_expr,
    hex_expr,
    hexint_expr,
    host_expr,
    int_expr,
    integrity_expr,
    ip_expr,
    logon_type_expr,
    time_expr,
    user_expr,
    with_normalised,
)
from ingest.windows.mapping.resolve import host_map, lookup, remote_src, resolve_src

AUTH_EVENTS = (4624, 4625, 4634, 4648, 4768, 4769, 4771, 4776)
PROCESS_EVENTS = (4688, 4672, 4697, 4698, 4702, 5140, 5145, 7045, 1, 3, 17, 18)
_SECURITY = (4624, 4625, 4634, 4648, 4672, 4688, 4697, 4698, 4702, 4768, 4769, 4771, 4776)
_SECURITY += (5140, 5145)
_SYSMON = (1, 3, 17, 18)


def supported() -> pl.Expr:
    """Rows whose (event id, channel/provider) the mapping handles."""
    chan = pl.col("channel").str.to_lowercase()
    prov = pl.col("provider").str.to_lowercase()
    sysmon = chan.str.contains("sysmon") | prov.str.contains("sysmon")
    security = (chan == "security") | prov.str.contains("security-auditing")
    system = (chan == "system") | prov.str.contains("service control manager")
    eid = pl.col("event_id")
    return (
        (eid.is_in(list(_SYSMON)) & sysmon)
        | ((eid == 7045) & system)
        | (eid.is_in(list(_SECURITY)) & security)
    )


def _concat_present(
    raw: pl.DataFrame, groups: tuple[tuple[tuple[int, ...], pl.LazyFrame], ...]
) -> pl.LazyFrame:
    """Concatenate only the per-event-group plans whose ids occur (small inputs stay cheap)."""
    present = set(raw["event_id"].unique().to_list())
    plans = [plan for ids, plan in groups if present.intersection(ids)]
    return pl.concat(plans or [groups[0][1]], how="diagonal_relaxed")


# -- auth events ------------------------------------------------------------------------
def _auth_rows(raw: pl.DataFrame) -> pl.LazyFrame:
    eid = pl.col("event_id")
    lazy = raw.lazy()
    dst = pl.col("_host")
    ip = ip_expr(pl.col("IpAddress"))
    target = pl.col("_target")
    subject = pl.col("_subject")
    status_ok = hex_expr(pl.col("Status")).fill_null("0x0") == "0x0"
    common = {
        "time": time_expr(),
        "source": pl.col("source"),
        "event_code": eid,
        "record": pl.col("record"),
    }
    logon = lazy.filter(eid.is_in([4624, 4625, 4634])).select(
        src_user=target,
        dst_user=target,
        src_host=remote_src(pl.col("_ws"), ip, dst),
        dst_host=dst,
        auth_type=auth_type_expr(pl.col("AuthenticationPackageName"), pl.col("LmPackageName")),
        logon_type=logon_type_expr(pl.col("LogonType")),
        logon_process=pl.when(eid != 4634).then(clean_expr(pl.col("LogonProcessName"))),
        orientation=pl.when(eid == 4634).then(pl.lit("LogOff")).otherwise(pl.lit("LogOn")),
        success=eid != 4625,
        logon_id=hex_expr(pl.col("TargetLogonId")),
        src_ip=ip,
        key_length=pl.when(eid != 4634).then(int_expr(pl.col("KeyLength"))),
        process_name=pl.when(eid != 4634).then(clean_expr(pl.col("ProcessName"))),
        ticket_encryption=pl.lit(None, dtype=pl.String),
        **common,
    )
    server = pl.col("_server")
    explicit = lazy.filter(eid == 4648).select(
        src_user=subject,
        dst_user=target,
        src_host=dst,
        dst_host=pl.coalesce(server, dst),
        auth_type=pl.lit("?"),
        logon_type=pl.lit("?"),
        logon_process=pl.lit(None, dtype=pl.String),
        orientation=pl.lit("LogOn"),
        success=pl.lit(True),
        logon_id=hex_expr(pl.col("SubjectLogonId")),
        src_ip=ip,
        key_length=pl.lit(None, dtype=pl.Int32),
        process_name=clean_expr(pl.col("ProcessName")),
        ticket_encryption=pl.lit(None, dtype=pl.String),
        **common,
    )
    svc = clean_expr(pl.col("ServiceName"))
    realm = pl.coalesce(
        clean_expr(pl.col("TargetDomainName")), svc.str.split("/").list.get(1, null_on_oob=True)
    )
    krb = lazy.filter(eid.is_in([4768, 4769, 4771])).with_columns(_svc=svc, _realm=realm)
    # user and service host per distinct value (Kerberos is a third of a domain's events)
    krb = lookup(krb, ["TargetUserName", "_realm"], "_kuser", user_expr(pl.col("u0"), pl.col("u1")))
    svc_name = pl.col("u0")
    svc_host = pl.when(svc_name.str.ends_with("$")).then(host_expr(svc_name.str.strip_suffix("$")))
    krb = lookup(krb, ["_svc"], "_svchost", svc_host)
    kerberos = krb.select(
        src_user=pl.col("_kuser"),
        dst_user=pl.col("_kuser"),
        src_host=remote_src(pl.lit(None, dtype=pl.String), ip, dst),
        dst_host=pl.when(eid == 4769).then(pl.coalesce(pl.col("_svchost"), dst)).otherwise(dst),
        auth_type=pl.lit("Kerberos"),
        logon_type=pl.lit("?"),
        logon_process=pl.lit(None, dtype=pl.String),
        orientation=pl.when(eid == 4769).then(pl.lit("TGS")).otherwise(pl.lit("TGT")),
        success=(eid != 4771) & status_ok,
        logon_id=pl.lit(None, dtype=pl.String),
        src_ip=ip,
        key_length=pl.lit(None, dtype=pl.Int32),
        process_name=pl.lit(None, dtype=pl.String),
        ticket_encryption=hex_expr(pl.col("TicketEncryptionType")),
        **common,
    )
    ntlm = lazy.filter(eid == 4776).select(
        src_user=user_expr(pl.col("TargetUserName")),
        dst_user=user_expr(pl.col("TargetUserName")),
        src_host=pl.coalesce(pl.col("_wks"), dst),
        dst_host=dst,
        auth_type=pl.coalesce(clean_expr(pl.col("PackageName")), pl.lit("NTLM")),
        logon_type=pl.lit("?"),
        logon_process=pl.lit(None, dtype=pl.String),
        orientation=pl.lit("AuthMap"),
        success=status_ok,
        logon_id=pl.lit(None, dtype=pl.String),
        src_ip=pl.lit(None, dtype=pl.String),
        key_length=pl.lit(None, dtype=pl.Int32),
        process_name=pl.lit(None, dtype=pl.String),
        ticket_encryption=pl.lit(None, dtype=pl.String),
        **common,
    )
    groups = (((4624, 4625, 4634), logon), ((4648,), explicit), ((4768, 4769, 4771), kerberos))
    groups += (((4776,), ntlm),)
    return _concat_present(raw, groups)


def _auth_plan(norm: pl.DataFrame, hosts: pl.DataFrame) -> pl.LazyFrame:
    rows = resolve_src(_auth_rows(norm), hosts.lazy(), "dst_host")
    return rows.select([pl.col(c).cast(t) for c, t in AUTH_SCHEMA.items()])


def to_auth(raw: pl.DataFrame, hosts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Canonical auth events from a raw frame.

    The schema is :data:`ingest.schema.WINDOWS_AUTH_SCHEMA`: ``AUTH_SCHEMA`` plus
    the Windows-only ``logon_process`` (LogonProcessName of 4624/4625).

    Args:
        raw: frame in :data:`RAW_SCHEMA` (only supported auth events are used).
        hosts: ``ip -> host`` map (:func:`host_map`); learned from ``raw`` when None.
    """
    raw = raw.filter(supported() & pl.col("event_id").is_in(list(AUTH_EVENTS)))
    if raw.is_empty():
        return pl.DataFrame(schema=AUTH_SCHEMA)
    hosts = host_map(raw) if hosts is None else hosts
    return _auth_plan(with_normalised(raw), hosts).collect()


# -- process / share / service events ----------------------------------------------------
def _process_rows(raw: pl.DataFrame) -> pl.LazyFrame:
    eid = pl.col("event_id")
    lazy = raw.lazy()
    host = pl.col("_host")
    subject = pl.col("_subject")
    common = {"time": time_expr(), "host": host, "event_code": eid, "source": pl.col("source")}
    common["record"] = pl.col("record")
    parts = [
        lazy.filter(eid == 4688).select(
            user=subject,
            kind=pl.lit("process"),
            image=clean_expr(pl.col("NewProcessName")),
            command_line=clean_expr(pl.col("CommandLine")),
            parent_image=clean_expr(pl.col("ParentProcessName")),
            logon_id=hex_expr(pl.col("SubjectLogonId")),
            pid=hexint_expr(pl.col("NewProcessId")),
            parent_pid=hexint_expr(pl.col("ProcessId")),
            integrity_level=integrity_expr(pl.col("MandatoryLabel")),
            **common,
        ),
        lazy.filter(eid == 1).select(
            user=pl.col("_user"),
            kind=pl.lit("process"),
            image=clean_expr(pl.col("Image")),
            command_line=clean_expr(pl.col("CommandLine")),
            parent_image=clean_expr(pl.col("ParentImage")),
            parent_command_line=clean_expr(pl.col("ParentCommandLine")),
            logon_id=hex_expr(pl.col("LogonId")),
            pid=int_expr(pl.col("ProcessId")),
            parent_pid=int_expr(pl.col("ParentProcessId")),
            original_file_name=clean_expr(pl.col("OriginalFileName")),
            integrity_level=integrity_expr(pl.col("IntegrityLevel")),
            **common,
        ),
        lazy.filter(eid == 3).select(
            user=pl.col("_user"),
            kind=pl.lit("network"),
            image=clean_expr(pl.col("Image")),
            pid=int_expr(pl.col("ProcessId")),
            src_host=pl.col("_srchost"),
            src_ip=ip_expr(pl.col("SourceIp")),
            dst_ip=ip_expr(pl.col("DestinationIp")),
            dst_port=int_expr(pl.col("DestinationPort")),
            **common,
        ),
        lazy.filter(eid.is_in([5140, 5145])).select(
            user=subject,
            kind=pl.lit("share"),
            share_name=clean_expr(pl.col("ShareName"))
            .str.split("\\")
            .list.last()
            .str.to_uppercase(),
            relative_target=clean_expr(pl.col("RelativeTargetName")),
            access_mask=hexint_expr(pl.col("AccessMask")),
            logon_id=hex_expr(pl.col("SubjectLogonId")),
            src_host=remote_src(pl.lit(None, dtype=pl.String), ip_expr(pl.col("IpAddress")), host),
            src_ip=ip_expr(pl.col("IpAddress")),
            **common,
        ),
        lazy.filter(eid == 7045).select(
            kind=pl.lit("service"),
            service_name=clean_expr(pl.col("ServiceName")),
            service_image=clean_expr(pl.col("ImagePath")),
            service_account=clean_expr(pl.col("AccountName")),
            **common,
        ),
        lazy.filter(eid == 4697).select(
            user=subject,
            kind=pl.lit("service"),
            service_name=clean_expr(pl.col("ServiceName")),
            service_image=clean_expr(pl.col("ServiceFileName")),
            service_account=clean_expr(pl.col("ServiceAccount")),
            logon_id=hex_expr(pl.col("SubjectLogonId")),
            **common,
        ),
        lazy.filter(eid.is_in([4698, 4702])).select(
            user=subject,
            kind=pl.lit("task"),
            task_name=clean_expr(pl.col("TaskName")),
            # the task XML without line indentation (the same in every Windows form)
            task_content=pl.coalesce(
                clean_expr(pl.col("TaskContent")), clean_expr(pl.col("TaskContentNew"))
            ).str.replace_all(r"\s*\n\s*", "\n"),
            logon_id=hex_expr(pl.col("SubjectLogonId")),
            **common,
        ),
        lazy.filter(eid.is_in([17, 18])).select(
            user=pl.col("_user"),
            kind=pl.lit("pipe"),
            image=clean_expr(pl.col("Image")),
            pid=int_expr(pl.col("ProcessId")),
            pipe_name=clean_expr(pl.col("PipeName")),
            **common,
        ),
        lazy.filter(eid == 4672).select(
            user=subject,
            kind=pl.lit("privilege"),
            logon_id=hex_expr(pl.col("SubjectLogonId")),
            **common,
        ),
    ]
    ids = ((4688,), (1,), (3,), (5140, 5145), (7045,), (4697,), (4698, 4702), (17, 18), (4672,))
    out = _concat_present(raw, tuple(zip(ids, parts, strict=True)))
    names = out.collect_schema().names()
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in PROCESS_SCHEMA.items() if c not in names]
    return out.with_columns(missing)


def resolve_parents(process: pl.DataFrame) -> pl.DataFrame:
    """Fill a missing ``parent_image`` from the latest earlier process with that pid on the host.

    Security 4688 before Windows 10 names only the creator process id; the
    creator's own 4688 (same host, ``pid == parent_pid``) gives its image.
    """
    procs = process.filter((pl.col("kind") == "process") & pl.col("pid").is_not_null())
    if procs.is_empty() or process["parent_image"].null_count() == 0:
        return process
    lookup = procs.select(
        pl.col("host"),
        pl.col("pid").alias("parent_pid"),
        pl.col("time").alias("_ptime"),
        pl.col("image").alias("_pimage"),
    ).sort("_ptime")
    keyed = process.with_row_index("_row").sort("time")
    joined = keyed.join_asof(
        lookup,
        left_on="time",
        right_on="_ptime",
        by=["host", "parent_pid"],
        strategy="backward",
        check_sortedness=False,
    )
    filled = joined.with_columns(
        pl.when(pl.col("kind") == "process")
        .then(pl.coalesce(pl.col("parent_image"), pl.col("_pimage")))
        .otherwise(pl.col("parent_image"))
        .alias("parent_image")
    )
    return filled.sort("_row").drop("_row", "_ptime", "_pimage")


def _process_plan(norm: pl.DataFrame, hosts: pl.DataFrame) -> pl.LazyFrame:
    rows = resolve_src(_process_rows(norm), hosts.lazy(), "host")
    return rows.with_columns(
        pl.when(pl.col("kind").is_in(["share", "network"])).then(pl.col("src_host"))
    ).select([pl.col(c).cast(t) for c, t in PROCESS_SCHEMA.items()])


def to_process(raw: pl.DataFrame, hosts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Process / share / service / network / privilege events (:data:`PROCESS_SCHEMA`)."""
    raw = raw.filter(supported() & pl.col("event_id").is_in(list(PROCESS_EVENTS)))
    if raw.is_empty():
        return pl.DataFrame(schema=PROCESS_SCHEMA)
    hosts = host_map(raw) if hosts is None else hosts
    return resolve_parents(_process_plan(with_normalised(raw), hosts).collect())


def map_frames(
    raw: pl.DataFrame, hosts: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(to_auth(raw, hosts), to_process(raw, hosts))`` with one filter, one normalisation
    and one collect for both (what the readers call; the fixed cost per call is halved).
    """
    eid = pl.col("event_id")
    raw = raw.filter(supported() & eid.is_in([*AUTH_EVENTS, *PROCESS_EVENTS]))
    if raw.is_empty():
        return pl.DataFrame(schema=AUTH_SCHEMA), pl.DataFrame(schema=PROCESS_SCHEMA)
    hosts = host_map(raw) if hosts is None else hosts
    norm = with_normalised(raw)
    present = set(norm["event_id"].unique().to_list())
    auth = _auth_plan(norm, hosts) if present.intersection(AUTH_EVENTS) else None
    process = _process_plan(norm, hosts) if present.intersection(PROCESS_EVENTS) else None
    plans = [p for p in (auth, process) if p is not None]
    done = iter(pl.collect_all(plans))
    auth_df = next(done) if auth is not None else pl.DataFrame(schema=AUTH_SCHEMA)
    process_df = next(done) if process is not None else pl.DataFrame(schema=PROCESS_SCHEMA)
    return auth_df, resolve_parents(process_df) if process is not None else process_df
