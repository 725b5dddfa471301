"""Classic ``WinEventLog`` text (Splunk's rendered form) into :class:`WinRecord` records.

A record is a timestamp line, ``Key=Value`` header lines (``LogName``,
``EventCode``, ``ComputerName``, ``RecordNumber`` ...) and a ``Message=`` block
rendered from the event's message template: section headers (``Subject:``,
``New Logon:``) followed by tab-indented ``Label:<tabs>Value`` lines; Sysmon
messages are plain ``Name: Value`` lines. The labels are mapped back to the
EventData names of the XML form (per event id), so every form yields the same
records. The header timestamp has no zone; it is read as UTC. A record's
provenance ``record`` is the line its timestamp is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from ingest.windows.xml import SUPPORTED_EVENTS, WinRecord, XmlEventError

_STAMP = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ?([AP]M)?\s*$")
_HEADER = re.compile(r"^([A-Za-z]+)=(.*)$")
_LABEL = re.compile(r"^([A-Za-z][A-Za-z0-9 ()/_.\-]{0,60}?):\s*(.*)$")


class ClassicEventError(XmlEventError):
    """A classic text record is incomplete (no EventCode, no timestamp, ...)."""

    reason = "malformed classic record"


_SUBJECT = {
    ("subject", "account name"): "SubjectUserName",
    ("subject", "account domain"): "SubjectDomainName",
    ("subject", "logon id"): "SubjectLogonId",
}
_NET_LOGON = {
    ("network information", "workstation name"): "WorkstationName",
    ("network information", "source network address"): "IpAddress",
    ("network information", "source port"): "IpPort",
}
_AUTH_DETAIL = {
    ("detailed authentication information", "logon process"): "LogonProcessName",
    ("detailed authentication information", "authentication package"): (
        "AuthenticationPackageName"
    ),
    ("detailed authentication information", "package name (ntlm only)"): "LmPackageName",
    ("detailed authentication information", "key length"): "KeyLength",
}
_SHARE = {
    **_SUBJECT,
    ("network information", "object type"): "ObjectType",
    ("network information", "source address"): "IpAddress",
    ("network information", "source port"): "IpPort",
    ("share information", "share name"): "ShareName",
    ("share information", "share path"): "ShareLocalPath",
    ("share information", "relative target name"): "RelativeTargetName",
    ("access request information", "access mask"): "AccessMask",
    ("access request information", "accesses"): "AccessList",
}
_KERBEROS = {
    ("account information", "account name"): "TargetUserName",
    ("account information", "account domain"): "TargetDomainName",
    ("account information", "supplied realm name"): "TargetDomainName",
    ("service information", "service name"): "ServiceName",
    ("network information", "client address"): "IpAddress",
    ("network information", "client port"): "IpPort",
    ("additional information", "result code"): "Status",
    ("additional information", "failure code"): "Status",
    ("additional information", "ticket encryption type"): "TicketEncryptionType",
}

#: (section, label) -> EventData name, per event id; section None = top level.
LABELS: dict[int, dict[tuple[str | None, str], str]] = {
    4624: {
        **_SUBJECT,
        ("new logon", "account name"): "TargetUserName",
        ("new logon", "account domain"): "TargetDomainName",
        ("new logon", "logon id"): "TargetLogonId",
        ("logon information", "logon type"): "LogonType",
        (None, "logon type"): "LogonType",
        ("process information", "process name"): "ProcessName",
        **_NET_LOGON,
        **_AUTH_DETAIL,
    },
    4625: {
        **_SUBJECT,
        ("account for which logon failed", "account name"): "TargetUserName",
        ("account for which logon failed", "account domain"): "TargetDomainName",
        (None, "logon type"): "LogonType",
        ("failure information", "status"): "Status",
        ("failure information", "sub status"): "SubStatus",
        ("process information", "caller process name"): "ProcessName",
        **_NET_LOGON,
        **_AUTH_DETAIL,
    },
    4634: {
        ("subject", "account name"): "TargetUserName",
        ("subject", "account domain"): "TargetDomainName",
        ("subject", "logon id"): "TargetLogonId",
        (None, "logon type"): "LogonType",
    },
    4648: {
        **_SUBJECT,
        ("account whose credentials were used", "account name"): "TargetUserName",
        ("account whose credentials were used", "account domain"): "TargetDomainName",
        ("target server", "target server name"): "TargetServerName",
        ("target server", "additional information"): "TargetInfo",
        ("process information", "process name"): "ProcessName",
        ("network information", "network address"): "IpAddress",
        ("network information", "port"): "IpPort",
    },
    4672: {**_SUBJECT, (None, "privileges"): "PrivilegeList"},
    4688: {
        **_SUBJECT,
        ("creator subject", "account name"): "SubjectUserName",
        ("creator subject", "account domain"): "SubjectDomainName",
        ("creator subject", "logon id"): "SubjectLogonId",
        ("target subject", "account name"): "TargetUserName",
        ("target subject", "account domain"): "TargetDomainName",
        ("target subject", "logon id"): "TargetLogonId",
        ("process information", "new process id"): "NewProcessId",
        ("process information", "new process name"): "NewProcessName",
        ("process information", "creator process id"): "ProcessId",
        ("process information", "creator process name"): "ParentProcessName",
        ("process information", "process command line"): "CommandLine",
        ("process information", "mandatory label"): "MandatoryLabel",
    },
    4768: _KERBEROS,
    4769: _KERBEROS,
    4771: _KERBEROS,
    4776: {
        (None, "authentication package"): "PackageName",
        (None, "logon account"): "TargetUserName",
        (None, "source workstation"): "Workstation",
        (None, "error code"): "Status",
    },
    4697: {
        **_SUBJECT,
        ("service information", "service name"): "ServiceName",
        ("service information", "service file name"): "ServiceFileName",
        ("service information", "service type"): "ServiceType",
        ("service information", "service start type"): "ServiceStartType",
        ("service information", "service account"): "ServiceAccount",
    },
    4698: {
        **_SUBJECT,
        ("task information", "task name"): "TaskName",
        ("task information", "task content"): "TaskContent",
    },
    4702: {
        **_SUBJECT,
        ("task information", "task name"): "TaskName",
        ("task information", "task new content"): "TaskContentNew",
    },
    5140: _SHARE,
    5145: _SHARE,
    7045: {
        (None, "service name"): "ServiceName",
        (None, "service file name"): "ImagePath",
        (None, "service type"): "ServiceType",
        (None, "service start type"): "StartType",
        (None, "service account"): "AccountName",
    },
}


#: Values that run to the end of the message (or to ``Other Information:``): the task XML
#: of 4698 / 4702, whose own lines are neither labelled nor indented.
_TRAILING = frozenset({"TaskContent", "TaskContentNew"})


def _stamp(line: str) -> str | None:
    """``MM/DD/YYYY hh:mm:ss AM`` -> ISO ``YYYY-MM-DDTHH:MM:SSZ`` (None when not a stamp)."""
    m = _STAMP.match(line)
    if m is None:
        return None
    mon, day, year, hour, minute, sec, ampm = m.groups()
    h = int(hour)
    if ampm:
        h = h % 12 + (12 if ampm == "PM" else 0)
    try:
        t = datetime(int(year), int(mon), int(day), h, int(minute), int(sec))
    except ValueError:
        return None
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def message_fields(lines: list[str], event_id: int, sysmon: bool) -> dict[str, str | None]:
    """EventData names and values from the lines of a rendered message."""
    table = LABELS.get(event_id, {})
    data: dict[str, str | None] = {}
    section: str | None = None
    last: str | None = None  # data name that a continuation line extends
    for line in lines:
        if last in _TRAILING and line.strip() != "Other Information:":
            data[last] = f"{data[last]}\n{line.strip()}"  # task XML runs to the end
            continue
        if not line.strip():
            last = None
            continue
        indented = line[0] in "\t "
        m = _LABEL.match(line.strip())
        if m is None:
            if indented and last is not None:
                data[last] = f"{data[last]}\n{line.strip()}"
            continue
        label, value = m.group(1).strip(), m.group(2).strip()
        if sysmon and not indented:
            data[label] = value
            last = label
            continue
        if not indented and not value and (None, label.lower()) not in table:
            section, last = label.lower(), None
            continue
        key = (section if indented else None, label.lower())
        name = table.get(key)
        if name is None:
            last = None
            continue
        if name not in data or data[name] in ("", "-"):
            data[name] = value
        last = name
    return data


def _record(
    stamp: str, header: dict[str, str], message: list[str], source: str, line: int
) -> WinRecord:
    code = header.get("EventCode", "").strip()
    if not code.isdigit():
        raise ClassicEventError(f"{source}:{line}: record without a numeric EventCode")
    if "ComputerName" not in header:
        raise ClassicEventError(f"{source}:{line}: record without ComputerName")
    event_id = int(code)
    channel = header.get("LogName", "").strip()
    sysmon = "sysmon" in channel.lower()
    data = message_fields(message, event_id, sysmon) if event_id in SUPPORTED_EVENTS else {}
    rid = header.get("RecordNumber", "").strip()
    record_id = int(rid) if rid.isdigit() else None
    return WinRecord(
        event_id=event_id,
        system_time=stamp,
        record_id=record_id,
        channel=channel,
        computer=header["ComputerName"].strip(),
        provider=header.get("SourceName", "").strip(),
        data=data,
        source=source,
        record=line,
    )


def iter_classic_events(
    lines: Iterable[str], *, source: str = ""
) -> Iterator[tuple[WinRecord | None, XmlEventError | None, int]]:
    """Split classic text into records and parse each; a bad record yields its error.

    Args:
        lines: text lines (with or without line ends).
        source: provenance for the records (the file name).
    """
    stamp: str | None = None
    start = 0
    header: dict[str, str] = {}
    message: list[str] = []
    in_message = False

    def flush() -> tuple[WinRecord | None, XmlEventError | None, int]:
        try:
            return _record(stamp or "", header, message, source, start), None, start
        except XmlEventError as exc:
            return None, exc, start

    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        new_stamp = _stamp(line) if line[:1].isdigit() else None
        if new_stamp is not None:
            if stamp is not None:
                yield flush()
            stamp, start, header, message, in_message = new_stamp, n, {}, [], False
            continue
        if stamp is None:
            continue
        if in_message:
            message.append(line)
            continue
        m = _HEADER.match(line)
        if m is None:
            continue
        if m.group(1) == "Message":
            in_message = True
            message.append(m.group(2))
        else:
            header[m.group(1)] = m.group(2)
    if stamp is not None:
        yield flush()
