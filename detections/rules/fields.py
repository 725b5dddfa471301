"""Sigma's Windows fields on hopwatch's canonical columns: the processing pipeline.

A Sigma rule names Windows fields (``EventID``, ``LogonType``, ``TargetUserName``,
``ShareName``, ``Image`` ...). hopwatch keeps canonical, normalised columns instead of
the raw EventData (``ingest.schema``), so each Sigma field maps to one *hopwatch field*:
a Polars expression over the rule view plus an adapter that brings a rule's value to
the canonical form (``LogonType: 3`` -> ``logon_type == "Network"``, ``ShareName:
'\\\\*\\ADMIN$'`` -> ``share_name == "ADMIN$"``, ``User: 'NT AUTHORITY\\SYSTEM'`` ->
``user == "system@NT AUTHORITY"``). :data:`SIGMA_FIELDS` is the table (documented in
docs/windows-and-rules.md); a field outside it is refused at load, never ignored.

:func:`sigma_pipeline` is the pySigma processing pipeline that renames the fields and
adds the event ids of generic log sources (``category: process_creation`` -> EventID 1
or 4688); :data:`LOGSOURCES` lists the log sources hopwatch reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from ingest.windows.mapping.normalize import INTEGRITY_LEVELS, LOGON_TYPES

#: Sigma field -> hopwatch field (see :data:`FIELDS`).
SIGMA_FIELDS: dict[str, str] = {
    "EventID": "event_code",
    "Computer": "host",
    "ComputerName": "host",
    "LogonType": "logon_type",
    "TargetUserName": "target_user",
    "TargetDomainName": "target_domain",
    "SubjectUserName": "subject_user",
    "SubjectDomainName": "subject_domain",
    "User": "user",
    "IpAddress": "src_ip",
    "SourceIp": "src_ip",
    "DestinationIp": "dst_ip",
    "DestinationPort": "dst_port",
    "WorkstationName": "src_host",
    "Workstation": "src_host",
    "TargetServerName": "dst_host",
    "LogonProcessName": "logon_process",
    "AuthenticationPackageName": "auth_type",
    "TargetLogonId": "logon_id",
    "SubjectLogonId": "logon_id",
    "LogonId": "logon_id",
    "KeyLength": "key_length",
    "ProcessName": "process_name",
    "TicketEncryptionType": "ticket_encryption",
    "Image": "image",
    "NewProcessName": "image",
    "CommandLine": "command_line",
    "ParentImage": "parent_image",
    "ParentProcessName": "parent_image",
    "ParentCommandLine": "parent_command_line",
    "ShareName": "share_name",
    "RelativeTargetName": "relative_target",
    "AccessMask": "access_mask",
    "AccessList": "access_list",
    "ServiceName": "service_name",
    "ImagePath": "service_image",
    "ServiceFileName": "service_image",
    "AccountName": "service_account",
    "ServiceAccount": "service_account",
    "TaskName": "task_name",
    "TaskContent": "task_content",
    "TaskContentNew": "task_content",
    "PipeName": "pipe_name",
    "OriginalFileName": "original_file_name",
    "IntegrityLevel": "integrity_level",
    "MandatoryLabel": "integrity_level",
}

#: Event ids hopwatch reads from each Windows channel (``ingest.windows.mapping``).
CHANNEL_EVENTS: dict[str, list[int]] = {
    "security": [
        *(4624, 4625, 4634, 4648, 4672, 4688, 4697, 4698, 4702),
        *(4768, 4769, 4771, 4776, 5140, 5145),
    ],
    "system": [7045],
    "sysmon": [1, 3, 17, 18],
}
#: Generic Sigma log-source categories hopwatch reads, as the event ids that carry them.
CATEGORY_EVENTS: dict[str, list[int]] = {
    "process_creation": [1, 4688],
    "pipe_created": [17, 18],
    "network_connection": [3],
}
LOGSOURCES = tuple(f"service: {s}" for s in CHANNEL_EVENTS) + tuple(
    f"category: {c}" for c in CATEGORY_EVENTS
)

#: Windows access rights as access-mask bits: the codes of the raw event
#: (``AccessList|contains: '%%4417'``) and the names of its rendered form ('WriteData').
ACCESS_CODES: dict[str, int] = {
    "%%4416": 0x1,  # ReadData / ListDirectory
    "%%4417": 0x2,  # WriteData / AddFile
    "%%4418": 0x4,  # AppendData / AddSubdirectory / CreatePipeInstance
    "%%4419": 0x8,  # ReadEA
    "%%4420": 0x10,  # WriteEA
    "%%4421": 0x20,  # Execute / Traverse
    "%%4422": 0x40,  # DeleteChild
    "%%4423": 0x80,  # ReadAttributes
    "%%4424": 0x100,  # WriteAttributes
    "%%1537": 0x10000,  # DELETE
    "%%1538": 0x20000,  # READ_CONTROL
    "%%1539": 0x40000,  # WRITE_DAC
    "%%1540": 0x80000,  # WRITE_OWNER
    "%%1541": 0x100000,  # SYNCHRONIZE
    "%%1542": 0x1000000,  # ACCESS_SYS_SEC
}
ACCESS_NAMES: dict[str, int] = {
    "readdata": 0x1, "listdirectory": 0x1, "writedata": 0x2, "addfile": 0x2,
    "appenddata": 0x4, "addsubdirectory": 0x4, "createpipeinstance": 0x4, "readea": 0x8,
    "writeea": 0x10, "execute": 0x20, "traverse": 0x20, "deletechild": 0x40,
    "readattributes": 0x80, "writeattributes": 0x100, "delete": 0x10000,
    "read_control": 0x20000, "write_dac": 0x40000, "write_owner": 0x80000,
    "synchronize": 0x100000, "access_sys_sec": 0x1000000,
}  # fmt: skip


def access_bit(text: str) -> int | None:
    """The access-mask bit of an access code or name (None when unknown)."""
    text = text.strip()
    return ACCESS_CODES.get(text) or ACCESS_NAMES.get(text.lower())


def _name_part(col: str) -> pl.Expr:
    return pl.col(col).str.replace(r"@[^@]*$", "")


def _domain_part(col: str) -> pl.Expr:
    return pl.col(col).str.extract(r"@([^@]*)$", 1)


def _auth() -> pl.Expr:
    return pl.col("kind") == "auth"


def _subject(part: Callable[[str], pl.Expr]) -> pl.Expr:
    # the acting account of process, share, service, task, pipe and privilege events,
    # and the Subject of 4648; 4624/4625 keep no Subject (null)
    return (
        pl.when(~_auth())
        .then(part("user"))
        .when(pl.col("event_code") == 4648)
        .then(part("src_user"))
    )


# -- value adapters: a rule's plain value -> the canonical value ------------------------------
def _logon_type(v: str) -> str:
    name = LOGON_TYPES.get(v.strip())
    if name is None and v.strip() in LOGON_TYPES.values():
        return v.strip()
    if name is None:
        raise ValueError(f"unknown logon type {v!r}")
    return name


def _host(v: str) -> str:
    v = v.strip().lstrip("\\")
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", v) or ":" in v:
        return v.lower()
    return v.split(".")[0].upper()


def _ip(v: str) -> str:
    v = v.strip().lower()
    return v.removeprefix("::ffff:")


def _hex(v: str) -> str:
    v = v.strip().lower().removeprefix("0x").lstrip("0")
    if not re.fullmatch(r"[0-9a-f]*", v):
        raise ValueError(f"not a hexadecimal id: {v!r}")
    return "0x" + (v or "0")


def _domain(v: str) -> str:
    return v.split(".")[0].upper()


def _integrity(v: str) -> str:
    return INTEGRITY_LEVELS.get(v.strip().lower(), v.strip())


def _share(v: str) -> str:
    return v.rsplit("\\", 1)[-1].upper()


def _user(v: str) -> str:
    if "\\" in v:
        dom, name = v.split("\\", 1)
    elif "@" in v:
        name, dom = v.split("@", 1)
    else:
        raise ValueError(f"user {v!r}: expected DOMAIN\\name")
    return f"{name.lower()}@{_domain(dom)}"


def _user_pattern(v: str) -> str:
    if "\\" in v or "@" in v:
        raise ValueError("wildcard values with a domain part are not supported; use DOMAIN\\name")
    return v


@dataclass(frozen=True)
class Field:
    """One hopwatch field a Sigma field maps to.

    Attributes:
        name: the hopwatch field name.
        columns: rule-view columns it reads (shown as evidence).
        kind: ``str`` (compared case-insensitively unless ``|cased``) or ``int``.
        adapt: canonical form of a rule's plain value (None: as written).
        pattern_adapt: canonical form of the literal parts of a wildcard value (None:
            as written; ``False``: wildcards refused for this field).
    """

    name: str
    columns: tuple[str, ...]
    kind: str = "str"
    adapt: Callable[[str], str] | None = None
    pattern_adapt: Callable[[str], str] | bool | None = None

    def expr(self) -> pl.Expr:
        """The field's value over the rule view."""
        special = _DERIVED.get(self.name)
        return special() if special is not None else pl.col(self.columns[0])


def _logged_by() -> pl.Expr:
    # the host that logged the event: an auth event's destination, except 4648, which
    # the source logs (its TargetServerName is the destination)
    explicit = _auth() & (pl.col("event_code") == 4648)
    return pl.when(explicit).then(pl.col("src_host")).otherwise(pl.col("host"))


_DERIVED: dict[str, Callable[[], pl.Expr]] = {
    "host": _logged_by,
    "target_user": lambda: pl.when(_auth()).then(_name_part("dst_user")),
    "target_domain": lambda: pl.when(_auth()).then(_domain_part("dst_user")),
    "subject_user": lambda: _subject(_name_part),
    "subject_domain": lambda: _subject(_domain_part),
}


def _fields() -> dict[str, Field]:
    plain = (
        "logon_process", "auth_type", "process_name", "image", "command_line",
        "parent_image", "parent_command_line", "relative_target", "service_name",
        "service_image", "service_account", "task_name", "task_content", "pipe_name",
        "original_file_name",
    )  # fmt: skip
    out = {name: Field(name, (name,)) for name in plain}
    out |= {
        "event_code": Field("event_code", ("event_code",), "int"),
        "dst_port": Field("dst_port", ("dst_port",), "int"),
        "key_length": Field("key_length", ("key_length",), "int"),
        "access_mask": Field("access_mask", ("access_mask",), "int"),
        "access_list": Field("access_list", ("access_mask",), "bits"),
        "host": Field("host", ("host", "src_host"), adapt=_host),
        "src_host": Field("src_host", ("src_host",), adapt=_host),
        "dst_host": Field("dst_host", ("dst_host",), adapt=_host),
        "src_ip": Field("src_ip", ("src_ip",), adapt=_ip, pattern_adapt=str.lower),
        "dst_ip": Field("dst_ip", ("dst_ip",), adapt=_ip, pattern_adapt=str.lower),
        "logon_type": Field("logon_type", ("logon_type",), adapt=_logon_type, pattern_adapt=False),
        "logon_id": Field("logon_id", ("logon_id",), adapt=_hex, pattern_adapt=False),
        "ticket_encryption": Field(
            "ticket_encryption", ("ticket_encryption",), adapt=_hex, pattern_adapt=False
        ),
        "integrity_level": Field(
            "integrity_level", ("integrity_level",), adapt=_integrity, pattern_adapt=False
        ),
        "share_name": Field("share_name", ("share_name",), adapt=_share, pattern_adapt=_share),
        "user": Field("user", ("user",), adapt=_user, pattern_adapt=_user_pattern),
        "target_user": Field("target_user", ("dst_user",)),
        "target_domain": Field("target_domain", ("dst_user",), adapt=_domain),
        "subject_user": Field("subject_user", ("user", "src_user")),
        "subject_domain": Field("subject_domain", ("user", "src_user"), adapt=_domain),
    }
    return out


#: hopwatch field name -> :class:`Field`.
FIELDS: dict[str, Field] = _fields()


def sigma_pipeline():
    """The pySigma processing pipeline: Windows field names to hopwatch fields, and the
    event ids of the generic log sources hopwatch reads."""
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import (
        AddConditionTransformation,
        FieldMappingTransformation,
    )

    items = [
        ProcessingItem(
            identifier=f"hopwatch_{category}",
            transformation=AddConditionTransformation({"EventID": ids}),
            rule_conditions=[LogsourceCondition(category=category)],
        )
        for category, ids in CATEGORY_EVENTS.items()
    ]
    items.append(
        ProcessingItem(
            identifier="hopwatch_fields",
            transformation=FieldMappingTransformation(dict(SIGMA_FIELDS)),
        )
    )
    return ProcessingPipeline(name="hopwatch windows", priority=20, items=items)
