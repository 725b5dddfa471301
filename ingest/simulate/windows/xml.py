"""XmlWinEventLog rendering for the simulator's Windows form (vectorised, Polars).

An :class:`EventSpec` fixes the System part of one event id (provider, GUID,
channel, version, task, keywords) and the ordered ``<Data Name=...>`` fields of
its EventData; :func:`render` turns a frame holding one String column per field
into two string columns, ``head`` (up to ``<EventRecordID>``) and ``tail``
(from ``</EventRecordID>``), so the record number can be filled in after all
events of a chunk are sorted. Lines look like Splunk's XmlWinEventLog::

    <Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>...</System>
    <EventData><Data Name='SubjectUserSid'>S-1-0-0</Data>...</EventData></Event>

(one line per event). Field text listed in ``EventSpec.free_text`` is XML-escaped;
other fields are built from fixed alphabets (host, account and SID tables).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ingest.simulate.config import EPOCH

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
SECURITY = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}")
SCM = ("Service Control Manager", "{555908d1-a6d7-4695-8e1e-26931d2012f4}")
SYSMON = ("Microsoft-Windows-Sysmon", "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}")

#: Output channels, in the order of their code in the ``chan`` column.
CHANNELS = ("Security", "System", "Microsoft-Windows-Sysmon/Operational")
CH_SECURITY, CH_SYSTEM, CH_SYSMON = range(3)

EPOCH_S = int(EPOCH.timestamp())


@dataclass(frozen=True)
class EventSpec:
    """System part and EventData field names of one Windows event id."""

    eid: int
    provider: tuple[str, str]
    channel: int
    version: int
    task: int
    keywords: str
    fields: tuple[str, ...]
    level: int = 0
    qualifiers: str | None = None
    free_text: tuple[str, ...] = ()


_LOGON_FIELDS = (
    "SubjectUserSid",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
    "TargetUserSid",
    "TargetUserName",
    "TargetDomainName",
    "TargetLogonId",
    "LogonType",
    "LogonProcessName",
    "AuthenticationPackageName",
    "WorkstationName",
    "LogonGuid",
    "TransmittedServices",
    "LmPackageName",
    "KeyLength",
    "ProcessId",
    "ProcessName",
    "IpAddress",
    "IpPort",
    "ImpersonationLevel",
    "RestrictedAdminMode",
    "TargetOutboundUserName",
    "TargetOutboundDomainName",
    "VirtualAccount",
    "TargetLinkedLogonId",
    "ElevatedToken",
)
_FAIL_FIELDS = (
    "SubjectUserSid",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
    "TargetUserSid",
    "TargetUserName",
    "TargetDomainName",
    "Status",
    "FailureReason",
    "SubStatus",
    "LogonType",
    "LogonProcessName",
    "AuthenticationPackageName",
    "WorkstationName",
    "TransmittedServices",
    "LmPackageName",
    "KeyLength",
    "ProcessId",
    "ProcessName",
    "IpAddress",
    "IpPort",
)
_SUBJECT = ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId")
_CERT = ("CertIssuerName", "CertSerialNumber", "CertThumbprint")
_OK = "0x8020000000000000"
_FAIL = "0x8010000000000000"

SPECS: dict[int, EventSpec] = {
    s.eid: s
    for s in (
        EventSpec(4624, SECURITY, CH_SECURITY, 2, 12544, _OK, _LOGON_FIELDS),
        EventSpec(4625, SECURITY, CH_SECURITY, 0, 12544, _FAIL, _FAIL_FIELDS),
        EventSpec(
            4634,
            SECURITY,
            CH_SECURITY,
            0,
            12545,
            _OK,
            ("TargetUserSid", "TargetUserName", "TargetDomainName", "TargetLogonId", "LogonType"),
        ),
        EventSpec(4672, SECURITY, CH_SECURITY, 0, 12548, _OK, (*_SUBJECT, "PrivilegeList")),
        EventSpec(
            4768,
            SECURITY,
            CH_SECURITY,
            0,
            14339,
            _OK,
            (
                "TargetUserName",
                "TargetDomainName",
                "TargetSid",
                "ServiceName",
                "ServiceSid",
                "TicketOptions",
                "Status",
                "TicketEncryptionType",
                "PreAuthType",
                "IpAddress",
                "IpPort",
                *_CERT,
            ),
        ),
        EventSpec(
            4769,
            SECURITY,
            CH_SECURITY,
            0,
            14337,
            _OK,
            (
                "TargetUserName",
                "TargetDomainName",
                "ServiceName",
                "ServiceSid",
                "TicketOptions",
                "TicketEncryptionType",
                "IpAddress",
                "IpPort",
                "Status",
                "LogonGuid",
                "TransmittedServices",
            ),
        ),
        EventSpec(
            4771,
            SECURITY,
            CH_SECURITY,
            0,
            14339,
            _FAIL,
            (
                "TargetUserName",
                "TargetSid",
                "ServiceName",
                "TicketOptions",
                "Status",
                "PreAuthType",
                "IpAddress",
                "IpPort",
                *_CERT,
            ),
        ),
        EventSpec(
            4776,
            SECURITY,
            CH_SECURITY,
            0,
            14336,
            _OK,
            ("PackageName", "TargetUserName", "Workstation", "Status"),
        ),
        EventSpec(
            5145,
            SECURITY,
            CH_SECURITY,
            0,
            12811,
            _OK,
            (
                *_SUBJECT,
                "ObjectType",
                "IpAddress",
                "IpPort",
                "ShareName",
                "ShareLocalPath",
                "RelativeTargetName",
                "AccessMask",
                "AccessList",
                "AccessReason",
            ),
            free_text=("RelativeTargetName",),
        ),
        EventSpec(
            7045,
            SCM,
            CH_SYSTEM,
            0,
            0,
            "0x8080000000000000",
            ("ServiceName", "ImagePath", "ServiceType", "StartType", "AccountName"),
            level=4,
            qualifiers="16384",
            free_text=("ServiceName", "ImagePath"),
        ),
        EventSpec(
            1,
            SYSMON,
            CH_SYSMON,
            5,
            1,
            "0x8000000000000000",
            (
                "RuleName",
                "UtcTime",
                "ProcessGuid",
                "ProcessId",
                "Image",
                "FileVersion",
                "Description",
                "Product",
                "Company",
                "OriginalFileName",
                "CommandLine",
                "CurrentDirectory",
                "User",
                "LogonGuid",
                "LogonId",
                "TerminalSessionId",
                "IntegrityLevel",
                "Hashes",
                "ParentProcessGuid",
                "ParentProcessId",
                "ParentImage",
                "ParentCommandLine",
            ),
            level=4,
            free_text=("CommandLine", "ParentCommandLine", "Image", "ParentImage", "User"),
        ),
    )
}

#: Columns of a rendered frame.
RENDERED = ("t", "frac", "chan", "computer", "head", "tail")


def xml_escape(expr: pl.Expr) -> pl.Expr:
    """Escape ``& < > ' "`` for XML text and attribute values."""
    out = expr.str.replace_all("&", "&amp;", literal=True)
    for ch, ent in (("<", "&lt;"), (">", "&gt;"), ("'", "&apos;"), ('"', "&quot;")):
        out = out.str.replace_all(ch, ent, literal=True)
    return out


def system_time() -> pl.Expr:
    """``SystemTime`` from ``t`` (seconds from t=0) and ``frac`` (0..9999999 ticks)."""
    sec = pl.from_epoch(pl.col("t") + EPOCH_S, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
    return pl.concat_str(
        [sec, pl.lit("."), pl.col("frac").cast(pl.String).str.zfill(7), pl.lit("Z")]
    )


def render(spec: EventSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """Render events of ``spec``; ``frame`` holds ``t``, ``frac``, ``computer`` (host id),
    ``fqdn``, ``pid``, ``tid``, optional ``user_sid`` (System/Security/@UserID) and one
    String column per field of ``spec``. Returns the :data:`RENDERED` columns."""
    if frame.is_empty():
        return pl.DataFrame(
            schema={
                "t": pl.Int64,
                "frac": pl.Int64,
                "chan": pl.Int8,
                "computer": pl.Int64,
                "head": pl.String,
                "tail": pl.String,
            }
        )
    name, guid = spec.provider
    source = f" EventSourceName='{name}'" if spec.provider == SCM else ""
    qual = f" Qualifiers='{spec.qualifiers}'" if spec.qualifiers else ""
    head = pl.concat_str(
        [
            pl.lit(
                f"<Event xmlns='{NS}'><System><Provider Name='{name}' Guid='{guid}'{source}/>"
                f"<EventID{qual}>{spec.eid}</EventID><Version>{spec.version}</Version>"
                f"<Level>{spec.level}</Level><Task>{spec.task}</Task><Opcode>0</Opcode>"
                f"<Keywords>{spec.keywords}</Keywords><TimeCreated SystemTime='"
            ),
            system_time(),
            pl.lit("'/><EventRecordID>"),
        ]
    )
    security = (
        pl.concat_str([pl.lit("<Security UserID='"), pl.col("user_sid"), pl.lit("'/>")])
        if "user_sid" in frame.columns
        else pl.lit("<Security/>")
    )
    parts: list[pl.Expr] = [
        pl.lit("</EventRecordID><Correlation/><Execution ProcessID='"),
        pl.col("pid").cast(pl.String),
        pl.lit("' ThreadID='"),
        pl.col("tid").cast(pl.String),
        pl.lit(f"'/><Channel>{CHANNELS[spec.channel]}</Channel><Computer>"),
        pl.col("fqdn"),
        pl.lit("</Computer>"),
        security,
        pl.lit("</System><EventData>"),
    ]
    for field in spec.fields:
        value = pl.col(field).fill_null("-")
        if field in spec.free_text:
            value = xml_escape(value)
        parts += [pl.lit(f"<Data Name='{field}'>"), value, pl.lit("</Data>")]
    parts.append(pl.lit("</EventData></Event>"))
    return frame.select(
        pl.col("t").cast(pl.Int64),
        pl.col("frac").cast(pl.Int64),
        pl.lit(spec.channel, dtype=pl.Int8).alias("chan"),
        pl.col("computer").cast(pl.Int64),
        head.alias("head"),
        pl.concat_str(parts).alias("tail"),
    )
