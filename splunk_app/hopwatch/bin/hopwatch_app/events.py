"""Splunk events to the body of hopwatch's ``POST /events`` (pure).

* An event whose ``_raw`` is an XmlWinEventLog record (``<Event ...>``, the
  Splunk Add-on for Windows with ``renderXml = true``) is sent as it is, in
  ``xml``: hopwatch's own Windows reader parses and maps it.
* Otherwise a Windows logon (4624, 4625, 4634) whose fields the Splunk Add-on
  for Windows or the CIM Authentication model extracted (classic WinEventLog) is
  sent as a canonical event, normalised the way hopwatch's Windows mapping does
  (docs/windows-and-rules.md): users ``name@DOMAIN`` (name lower-case, domain
  upper-case, first label), hosts short and upper-case, IPs as written.
* Anything else is skipped and counted with its reason.
"""

from __future__ import annotations

import re
from typing import Any

MAX_XML = 65536  # the API's limit per line
LOGON_EVENTS = (4624, 4625, 4634)
LOGON_TYPES = {
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
_EMPTY = ("", "-", "null", "n/a", "none")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_LOCAL = ("localhost", "127.0.0.1", "::1")
_MV = re.compile(r"\$(?P<item>(?:\$\$|[^$])*)\$(?:;|$)")


def decode_mv(text: str) -> list[str]:
    """Values of a ``__mv_`` column of a Splunk results file (``$a$;$b$``)."""
    return [m.replace("$$", "$") for m in _MV.findall(text)]


def _values(record: dict[str, Any], name: str) -> list[str]:
    value = record.get(name)
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in values:
        text = str(v).strip()
        if text.lower() not in _EMPTY:
            out.append(text)
    return out


def _first(record: dict[str, Any], *names: str, last: bool = False) -> str | None:
    """The first of ``names`` with a value (its last value with ``last``: the target
    account of a 4624 comes after the subject)."""
    for name in names:
        values = _values(record, name)
        if values:
            return values[-1] if last else values[0]
    return None


def norm_host(value: str | None) -> str | None:
    """Short upper-case host name; IPs as written (lower-case); local names -> None."""
    if value is None:
        return None
    text = value.strip().lstrip("\\")
    if not text or text.lower() in _EMPTY or text.lower() in _LOCAL:
        return None
    if _IPV4.match(text) or ":" in text:
        return text.lower()
    return text.split(".")[0].upper()


def norm_user(name: str | None, domain: str | None = None) -> str | None:
    """``name@DOMAIN`` from a plain name (+ domain), ``DOM\\name`` or ``name@dom``."""
    if name is None:
        return None
    text = name.strip()
    if "\\" in text:
        domain, text = text.split("\\", 1)
    elif "@" in text:
        text, domain = text.split("@", 1)
    if not text or text.lower() in _EMPTY:
        return None
    dom = (domain or "").strip().split(".")[0].upper()
    return "{}@{}".format(text.lower(), dom if dom and dom.lower() not in _EMPTY else "?")


def canonical_event(record: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(canonical event, "") or (None, why it was skipped) for a classic logon event."""
    code_text = _first(record, "EventCode", "signature_id", "EventID")
    if code_text is None or not code_text.isdigit() or int(code_text) not in LOGON_EVENTS:
        return None, "not a Windows logon event (4624, 4625, 4634) nor XmlWinEventLog"
    code = int(code_text)
    try:
        when = int(float(_first(record, "_time") or ""))
    except ValueError:
        return None, "no _time"
    dst = norm_host(_first(record, "dest_nt_host", "ComputerName", "dest", "host"))
    if dst is None:
        return None, "no destination host"
    user = norm_user(
        _first(record, "Account_Name", "user", last=True),
        _first(record, "Account_Domain", "dest_nt_domain", last=True),
    )
    if user is None:
        return None, "no account"
    src_ip = _first(record, "Source_Network_Address", "src_ip")
    src = norm_host(_first(record, "Workstation_Name", "src_nt_host", "src")) or norm_host(src_ip)
    logon_type = _first(record, "Logon_Type", "logon_type") or "?"
    event: dict[str, Any] = {
        "time": when,
        "src_user": user,
        "dst_user": user,
        "src_host": src or dst,
        "dst_host": dst,
        "auth_type": _first(record, "Authentication_Package", "authentication_method") or "?",
        "logon_type": LOGON_TYPES.get(logon_type, logon_type),
        "orientation": "LogOff" if code == 4634 else "LogOn",
        "success": code != 4625 and _first(record, "action") != "failure",
        "event_code": code,
    }
    logon_id = _first(record, "Logon_ID", "TargetLogonId", last=True)
    if logon_id:
        event["logon_id"] = logon_id.lower()
    if src_ip and norm_host(src_ip):
        event["src_ip"] = src_ip.lower()
    record_number = _first(record, "RecordNumber")
    if record_number and record_number.isdigit():
        event["record"] = int(record_number)
    return event, ""


def to_batch(records: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]], dict]:
    """(xml lines, canonical events, skipped counts per reason) of ``records``."""
    xml: list[str] = []
    events: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for record in records:
        raw = str(record.get("_raw") or "").strip()
        if raw.startswith("<Event"):
            if len(raw) > MAX_XML:
                reason = "XML event longer than %d characters" % MAX_XML
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                xml.append(raw)
            continue
        event, reason = canonical_event(record)
        if event is None:
            skipped[reason] = skipped.get(reason, 0) + 1
        else:
            events.append(event)
    return xml, events, skipped


__all__ = ["LOGON_EVENTS", "canonical_event", "decode_mv", "norm_host", "norm_user", "to_batch"]
