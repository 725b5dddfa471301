"""Test helpers: render parsed Windows records as Splunk would store them.

``render_xml`` writes an ``XmlWinEventLog`` event (Splunk's style: single
quotes, self-closing empty elements, 7-digit ``SystemTime``); ``render_classic``
writes a classic ``WinEventLog`` record from the message templates Windows uses
(section headers, tab-indented ``Label:<tabs>Value`` lines, hex ids rendered
as ``0x1A2B``, the explanatory paragraph after the fields). The templates here
are written out independently of the parser's label table, so a mismatch
between them fails the three-form tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from ingest.windows.xml import WinRecord

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _dt(system_time: str) -> datetime:
    s = system_time.strip().replace("T", " ").rstrip("Z")
    s = s.split("+")[0]
    head, _, frac = s.partition(".")
    t = datetime.strptime(head, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return t.replace(microsecond=int((frac + "000000")[:6]) if frac else 0)


def windows_time(system_time: str) -> str:
    """``2019-03-18T22:15:36.0363750Z`` (Windows' 7-digit form)."""
    t = _dt(system_time)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0Z"


def render_xml(rec: WinRecord) -> str:
    """One XmlWinEventLog event (values keep raw newlines, as Splunk stores them)."""
    parts = [
        f"<Event xmlns='{NS}'><System>",
        f"<Provider Name={quoteattr(rec.provider)}/>",
        f"<EventID>{rec.event_id}</EventID><Version>0</Version><Level>0</Level>",
        f"<TimeCreated SystemTime='{windows_time(rec.system_time)}'/>",
        f"<EventRecordID>{rec.record_id}</EventRecordID>" if rec.record_id is not None else "",
        "<Correlation/><Execution ProcessID='4' ThreadID='8'/>",
        f"<Channel>{escape(rec.channel)}</Channel><Computer>{escape(rec.computer)}</Computer>",
        "<Security/></System><EventData>",
    ]
    for name, value in rec.data.items():
        if value is None or value == "":
            parts.append(f"<Data Name={quoteattr(name)}/>")
        else:
            parts.append(f"<Data Name={quoteattr(name)}>{escape(value)}</Data>")
    parts.append("</EventData></Event>")
    return "".join(parts)


def _hex(value: str | None) -> str:
    """Render a hex id the way the classic message does (``0x1D313D``)."""
    if not value or value in ("-",):
        return value or "-"
    try:
        return f"0x{int(value, 16):X}"
    except ValueError:
        return value


SUBJECT = (
    "Subject:\n\tSecurity ID:\t\tS-1-5-21-1-2-3-500\n\tAccount Name:\t\t{SubjectUserName}\n"
    "\tAccount Domain:\t\t{SubjectDomainName}\n\tLogon ID:\t\t{SubjectLogonId}\n"
)
DETAIL = (
    "Detailed Authentication Information:\n\tLogon Process:\t\t{LogonProcessName}\n"
    "\tAuthentication Package:\t{AuthenticationPackageName}\n\tTransited Services:\t-\n"
    "\tPackage Name (NTLM only):\t{LmPackageName}\n\tKey Length:\t\t{KeyLength}\n"
)
NETWORK = (
    "Network Information:\n\tWorkstation Name:\t{WorkstationName}\n"
    "\tSource Network Address:\t{IpAddress}\n\tSource Port:\t\t{IpPort}\n"
)
SHARE = (
    SUBJECT + "\nNetwork Information:\t\n\tObject Type:\t\tFile\n\tSource Address:\t\t{IpAddress}\n"
    "\tSource Port:\t\t{IpPort}\n\t\nShare Information:\n\tShare Name:\t\t{ShareName}\n"
    "\tShare Path:\t\t{ShareLocalPath}\n"
)
ACCESS = (
    "\nAccess Request Information:\n\tAccess Mask:\t\t{AccessMask}\n"
    "\tAccesses:\t\tReadData (or ListDirectory)\n\t\t\t\tWriteData (or AddFile)\n"
)

TEMPLATES: dict[int, str] = {
    4624: (
        "An account was successfully logged on.\n\n"
        + SUBJECT
        + "\nLogon Information:\n\tLogon Type:\t\t{LogonType}\n\tRestricted Admin Mode:\t-\n"
        "\tVirtual Account:\t\tNo\n\tElevated Token:\t\tYes\n\n"
        "Impersonation Level:\t\tImpersonation\n\n"
        "New Logon:\n\tSecurity ID:\t\tS-1-5-21-1-2-3-500\n\tAccount Name:\t\t{TargetUserName}\n"
        "\tAccount Domain:\t\t{TargetDomainName}\n\tLogon ID:\t\t{TargetLogonId}\n"
        "\tLinked Logon ID:\t\t0x0\n\tNetwork Account Name:\t-\n\tNetwork Account Domain:\t-\n"
        "\tLogon GUID:\t\t{{00000000-0000-0000-0000-000000000000}}\n\n"
        "Process Information:\n\tProcess ID:\t\t0x0\n\tProcess Name:\t\t{ProcessName}\n\n"
        + NETWORK
        + "\n"
        + DETAIL
        + "\nThis event is generated when a logon session is created. It is generated on the "
        "computer that was accessed.\n\nThe subject fields indicate the account on the local "
        "system which requested the logon.\n"
    ),
    4625: (
        "An account failed to log on.\n\n" + SUBJECT + "\nLogon Type:\t\t\t{LogonType}\n\n"
        "Account For Which Logon Failed:\n\tSecurity ID:\t\tNULL SID\n"
        "\tAccount Name:\t\t{TargetUserName}\n\tAccount Domain:\t\t{TargetDomainName}\n\n"
        "Failure Information:\n\tFailure Reason:\t\tUnknown user name or bad password.\n"
        "\tStatus:\t\t\t{Status}\n\tSub Status:\t\t{SubStatus}\n\n"
        "Process Information:\n\tCaller Process ID:\t0x1358\n"
        "\tCaller Process Name:\t{ProcessName}\n\n" + NETWORK + "\n" + DETAIL
    ),
    4634: (
        "An account was logged off.\n\nSubject:\n\tSecurity ID:\t\tS-1-5-21-1-2-3-500\n"
        "\tAccount Name:\t\t{TargetUserName}\n\tAccount Domain:\t\t{TargetDomainName}\n"
        "\tLogon ID:\t\t{TargetLogonId}\n\nLogon Type:\t\t\t{LogonType}\n"
    ),
    4648: (
        "A logon was attempted using explicit credentials.\n\n"
        + SUBJECT
        + "\tLogon GUID:\t\t{{00000000-0000-0000-0000-000000000000}}\n\n"
        "Account Whose Credentials Were Used:\n\tAccount Name:\t\t{TargetUserName}\n"
        "\tAccount Domain:\t\t{TargetDomainName}\n"
        "\tLogon GUID:\t\t{{00000000-0000-0000-0000-000000000000}}\n\n"
        "Target Server:\n\tTarget Server Name:\t{TargetServerName}\n"
        "\tAdditional Information:\t{TargetInfo}\n\n"
        "Process Information:\n\tProcess ID:\t\t0x304\n\tProcess Name:\t\t{ProcessName}\n\n"
        "Network Information:\n\tNetwork Address:\t{IpAddress}\n\tPort:\t\t\t{IpPort}\n"
    ),
    4672: "Special privileges assigned to new logon.\n\n"
    + SUBJECT
    + "\nPrivileges:\t\t{PrivilegeList}\n",
    4688: (
        "A new process has been created.\n\nCreator Subject:\n\tSecurity ID:\t\tSYSTEM\n"
        "\tAccount Name:\t\t{SubjectUserName}\n\tAccount Domain:\t\t{SubjectDomainName}\n"
        "\tLogon ID:\t\t{SubjectLogonId}\n\nTarget Subject:\n\tSecurity ID:\t\tNULL SID\n"
        "\tAccount Name:\t\t-\n\tAccount Domain:\t\t-\n\tLogon ID:\t\t0x0\n\n"
        "Process Information:\n\tNew Process ID:\t\t{NewProcessId}\n"
        "\tNew Process Name:\t{NewProcessName}\n\tToken Elevation Type:\t%%1936\n"
        "\tMandatory Label:\t\t{MandatoryLabel}\n"
        "\tCreator Process ID:\t{ProcessId}\n\tCreator Process Name:\t{ParentProcessName}\n"
        "\tProcess Command Line:\t{CommandLine}\n"
    ),
    4768: (
        "A Kerberos authentication ticket (TGT) was requested.\n\nAccount Information:\n"
        "\tAccount Name:\t\t{TargetUserName}\n\tSupplied Realm Name:\t{TargetDomainName}\n"
        "\tUser ID:\t\t\tS-1-5-21-1-2-3-500\n\nService Information:\n"
        "\tService Name:\t\t{ServiceName}\n\tService ID:\t\tS-1-5-21-1-2-3-502\n\n"
        "Network Information:\n\tClient Address:\t\t{IpAddress}\n\tClient Port:\t\t{IpPort}\n\n"
        "Additional Information:\n\tTicket Options:\t\t0x40810010\n\tResult Code:\t\t{Status}\n"
        "\tTicket Encryption Type:\t{TicketEncryptionType}\n\tPre-Authentication Type:\t2\n"
    ),
    4769: (
        "A Kerberos service ticket was requested.\n\nAccount Information:\n"
        "\tAccount Name:\t\t{TargetUserName}\n\tAccount Domain:\t\t{TargetDomainName}\n"
        "\tLogon GUID:\t\t{{00000000-0000-0000-0000-000000000000}}\n\nService Information:\n"
        "\tService Name:\t\t{ServiceName}\n\tService ID:\t\tS-1-5-21-1-2-3-1105\n\n"
        "Network Information:\n\tClient Address:\t\t{IpAddress}\n\tClient Port:\t\t{IpPort}\n\n"
        "Additional Information:\n\tTicket Options:\t\t0x40810000\n"
        "\tTicket Encryption Type:\t{TicketEncryptionType}\n\tFailure Code:\t\t{Status}\n"
        "\tTransited Services:\t-\n"
    ),
    4771: (
        "Kerberos pre-authentication failed.\n\nAccount Information:\n"
        "\tSecurity ID:\t\tS-1-5-21-1-2-3-1105\n\tAccount Name:\t\t{TargetUserName}\n\n"
        "Service Information:\n\tService Name:\t\t{ServiceName}\n\n"
        "Network Information:\n\tClient Address:\t\t{IpAddress}\n\tClient Port:\t\t{IpPort}\n\n"
        "Additional Information:\n\tTicket Options:\t\t0x40810010\n\tFailure Code:\t\t{Status}\n"
        "\tPre-Authentication Type:\t2\n"
    ),
    4776: (
        "The computer attempted to validate the credentials for an account.\n\n"
        "Authentication Package:\t{PackageName}\nLogon Account:\t{TargetUserName}\n"
        "Source Workstation:\t{Workstation}\nError Code:\t{Status}\n"
    ),
    4697: (
        "A service was installed in the system.\n\n" + SUBJECT + "\nService Information:\n"
        "\tService Name: \t\t{ServiceName}\n\tService File Name: \t{ServiceFileName}\n"
        "\tService Type: \t\t{ServiceType}\n\tService Start Type: \t{ServiceStartType}\n"
        "\tService Account: \t\t{ServiceAccount}\n"
    ),
    4698: (
        "A scheduled task was created.\n\n" + SUBJECT + "\nTask Information:\n"
        "\tTask Name: \t\t{TaskName}\n\tTask Content: \t\t{TaskContent}\n"
        "\nOther Information:\n\tProcessCreationTime: \t\t1\n"
    ),
    4702: (
        "A scheduled task was updated.\n\n" + SUBJECT + "\nTask Information:\n"
        "\tTask Name: \t\t{TaskName}\n\tTask New Content: \t\t{TaskContentNew}\n"
    ),
    5140: "A network share object was accessed.\n\t\n" + SHARE + ACCESS,
    5145: (
        "A network share object was checked to see whether client can be granted desired "
        "access.\n\n"
        + SHARE
        + "\tRelative Target Name:\t{RelativeTargetName}\n"
        + ACCESS
        + "\t\t\t\t\nAccess Check Results:\n\t-\n"
    ),
    7045: (
        "A service was installed in the system.\n\nService Name:  {ServiceName}\n"
        "Service File Name:  {ImagePath}\nService Type:  user mode service\n"
        "Service Start Type:  auto start\nService Account:  {AccountName}\n"
    ),
}
HEX_FIELDS = ("SubjectLogonId", "TargetLogonId", "NewProcessId", "ProcessId", "AccessMask")


def render_message(rec: WinRecord) -> str:
    """The rendered ``Message=`` text of a record."""
    if "sysmon" in rec.channel.lower():
        titles = {1: "Process Create:", 17: "Pipe Created:", 18: "Pipe Connected:"}
        title = titles.get(rec.event_id, "Network connection detected:")
        body = "".join(f"{k}: {'' if v is None else v}\n" for k, v in rec.data.items())
        return f"{title}\n{body}"
    template = TEMPLATES.get(rec.event_id)
    if template is None:
        return "An event that this project does not map.\n"
    values = {k: ("" if v is None else str(v)) for k, v in rec.data.items()}

    class Missing(dict):
        def __missing__(self, key: str) -> str:
            return "-"

    for name in HEX_FIELDS:
        if name in values:
            values[name] = _hex(values[name])
    if "PrivilegeList" in values:
        values["PrivilegeList"] = "\n\t\t\t".join(values["PrivilegeList"].split())
    return template.format_map(Missing(values))


def render_classic(rec: WinRecord) -> str:
    """One classic WinEventLog record (header lines + Message block)."""
    t = _dt(rec.system_time)
    stamp = t.strftime("%m/%d/%Y %I:%M:%S %p")
    source = {"Security": "Microsoft Windows security auditing."}.get(rec.channel, rec.provider)
    lines = [
        stamp,
        f"LogName={rec.channel}",
        f"EventCode={rec.event_id}",
        "EventType=0",
        f"ComputerName={rec.computer}",
        f"SourceName={source}",
        "Type=Information",
        f"RecordNumber={rec.record_id}",
        "Keywords=Audit Success",
        "TaskCategory=Logon",
        "OpCode=Info",
        "Message=" + render_message(rec),
    ]
    return "\n".join(lines)
