"""What the verifier (and the generation grammar) knows about claim words.

One table per claim kind, shared by :mod:`models.llm.verify.claims` (which rejects a
word the facts do not support) and :mod:`models.llm.grammar` (which keeps the same
unsupported words out of the model's free text):

* :data:`TOOLS` -- tool and technique names mapped to the ATT&CK ids that support them
  (``mimikatz`` needs a credential-dumping technique ``T1003*`` in the alert);
* :data:`ACTIONS` -- actions (``dumped``, ``exfiltrated``, ``encrypted``) and the
  technique ids that support them; lateral movement itself (``logged on``, ``moved``)
  needs nothing: it is what every alert is;
* :data:`RELATIVE_TIME` -- relative time words (``yesterday``, ``last week``): the facts
  hold absolute times only, so these are never supported;
* :data:`NUMBER_WORDS` -- spelled numbers, checked like digits;
* :data:`VERDICT` -- phrases that call the alert benign or say no action is needed;
* :data:`HOST_ROLES` / :data:`USER_ROLES` -- what a host or an account *is*
  (``domain controller``, ``administrator``), supported only by the facts' own text;
* :data:`NEXT_STEPS` -- per technique, what an analyst should check next (hopwatch's
  own words, so they license the event ids they cite);
* :data:`TOOL_NAMES` and :data:`GRAMMAR_WORDS` -- the spellings the generation grammar
  offers as slots when the facts support them, and single words it keeps out of free
  text when they do not; :data:`NEVER_WORDS` are kept out always.

Matching is case-insensitive on whole words; a trailing ``*`` in an id means "this id
or any sub-technique of it".
"""

from __future__ import annotations

import re

#: Tool / technique names (regex, whole words) -> ATT&CK ids that support the name.
TOOLS: dict[str, tuple[str, ...]] = {
    r"mimikatz": ("T1003*", "T1558*", "T1550*"),
    r"sekurlsa|logonpasswords": ("T1003*",),
    r"lsass(?:\.exe)?": ("T1003.001",),
    r"procdump": ("T1003.001",),
    r"credential[- ]dump(?:ing|ed|s)?|dumping credentials|password dump(?:ing)?": ("T1003*",),
    r"dcsync": ("T1003.006",),
    r"ntds(?:\.dit)?": ("T1003.003",),
    r"kerberoast(?:ing|ed)?": ("T1558.003",),
    r"as-?rep roast(?:ing)?": ("T1558.004",),
    r"golden ticket": ("T1558.001",),
    r"silver ticket": ("T1558.002",),
    r"pass[- ]the[- ]hash|pth": ("T1550.002",),
    r"pass[- ]the[- ]ticket|ptt": ("T1550.003",),
    r"overpass[- ]the[- ]hash": ("T1550.002", "T1558*"),
    r"psexec(?:svc)?(?:\.exe)?|paexec": ("T1569.002", "T1021.002"),
    r"smbexec": ("T1569.002", "T1021.002"),
    r"wmiexec|wmic|wmi|windows management instrumentation": ("T1047",),
    r"impacket": ("T1047", "T1569.002", "T1021.002", "T1021.003"),
    r"dcom|dcomexec|mmc20": ("T1021.003",),
    r"rdp|remote desktop|mstsc": ("T1021.001",),
    r"winrm|powershell remoting|enter-pssession|evil-winrm|wsman": ("T1021.006",),
    r"smb|admin shares?|administrative shares?|admin\$|c\$|windows admin shares": (
        "T1021.002",
        "T1570",
    ),
    r"ssh": ("T1021.004",),
    r"vnc": ("T1021.005",),
    r"schtasks|scheduled tasks?|at\.exe|atsvc": ("T1053*",),
    r"service (?:creation|install(?:ation)?)|new service|sc\.exe": ("T1543.003", "T1569.002"),
    r"cobalt strike|beacon": ("S0154",),
    r"bloodhound|sharphound": ("T1087*", "T1069*", "T1482"),
    r"rubeus": ("T1558*", "T1550.003"),
    r"brute[- ]forc(?:e|ed|ing)|password spray(?:ing|ed)?|credential stuffing": ("T1110*",),
    r"ransomware": ("T1486",),
    r"keylogg(?:er|ing)": ("T1056.001",),
    r"phishing": ("T1566*",),
    r"dropbox|mega\.nz|google drive|onedrive|pastebin|cloud storage": ("T1567*",),
    r"rclone": ("T1567*", "T1048*"),
    r"netcat|ncat": ("T1095", "T1048*"),
    r"metasploit|meterpreter": ("S0002",),
    r"responder|llmnr poisoning": ("T1557.001",),
    r"ntlm relay|smb relay": ("T1557*",),
    r"token (?:theft|impersonation)": ("T1134*",),
    r"uac bypass": ("T1548.002",),
}

#: Action words (regex, whole words) -> ATT&CK ids that support them.
ACTIONS: dict[str, tuple[str, ...]] = {
    r"dump(?:ed|ing|s)?": ("T1003*",),
    r"exfiltrat(?:ed|ing|ion|es|e)|upload(?:ed|ing)? (?:data|files)|stole data": (
        "T1041",
        "T1048*",
        "T1567*",
        "T1020*",
        "T1030",
    ),
    r"encrypt(?:ed|ing|s|ion)?": ("T1486",),
    r"wip(?:ed|ing|e)|destroy(?:ed|ing)?": ("T1485", "T1561*"),
    r"delet(?:ed|ing|e) (?:files|backups|shadow copies|logs)|shadow cop(?:y|ies)": (
        "T1485",
        "T1490",
        "T1070*",
    ),
    r"clear(?:ed|ing)? (?:the )?(?:event )?logs?": ("T1070.001",),
    r"disabl(?:ed|ing|e) (?:defender|antivirus|av|edr|logging|the firewall)": ("T1562*",),
    r"escalat(?:ed|ing|e)(?: privileges?)?|privilege escalation": ("T1068", "T1548*", "T1078*"),
    r"st(?:ole|eal|ealing|olen) (?:credentials|passwords|hashes|tickets)|harvest(?:ed|ing)": (
        "T1003*",
        "T1555*",
        "T1552*",
        "T1558*",
    ),
    r"crack(?:ed|ing)": ("T1110.002", "T1558.003"),
    r"persist(?:ed|ence)|backdoor(?:ed)?": ("T1543*", "T1053*", "T1547*", "T1136*", "T1098*"),
    r"creat(?:ed|ing|e) (?:a )?(?:new )?(?:local |domain )?(?:user|account)": ("T1136*",),
    r"install(?:ed|ing)? (?:a |the )?(?:remote )?service|service (?:was )?installed": (
        "T1543.003",
        "T1569.002",
    ),
    r"(?:copied|transferred|dropped|staged|wrote|written|pushed)(?= (?:an? |the |\w+ )?(?:file|"
    r"files|binary|binaries|payload|executable|tool|tools))": ("T1570", "T1021.002", "T1105"),
    r"download(?:ed|ing)": ("T1105",),
    r"scann(?:ed|ing)|enumerat(?:ed|ing|ion)|reconnaissance|discovery": (
        "T1046",
        "T1087*",
        "T1018",
        "T1069*",
        "T1135",
    ),
    r"lock(?:ed)? out|locked": ("T1531",),
}

#: Relative time words: never supported (the facts hold absolute UTC times).
RELATIVE_TIME = (
    r"yesterday|today|tonight|last night|this (?:morning|afternoon|evening|week|month)|"
    r"last (?:week|month|year|weekend)|(?:earlier|later) today|over the weekend|"
    r"on the weekend|recently|an? (?:hour|day|week|few (?:minutes|hours|days)) ago|"
    r"\d+ (?:minutes?|hours?|days?|weeks?) ago|(?:two|three|four|five|six|several) "
    r"(?:minutes|hours|days|weeks) ago|the day before|the previous day|the next day|"
    r"after hours|out of hours|business hours|working hours"
)

#: Parts of the day (UTC hours they cover), checked against the alert's times.
DAY_PARTS: dict[str, tuple[int, int]] = {
    "morning": (5, 12),
    "afternoon": (12, 17),
    "evening": (17, 22),
    "night": (21, 6),
    "overnight": (21, 6),
    "midnight": (23, 1),
    "noon": (11, 13),
    "midday": (11, 13),
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: Spelled numbers and their values.
NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "single": 1,
    "two": 2,
    "twice": 2,
    "three": 3,
    "thrice": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "dozen": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "hundreds": 100,
    "thousand": 1000,
    "thousands": 1000,
    "million": 1_000_000,
    "dozens": 24,
}

#: Phrases that call the alert benign or say nothing needs doing.
VERDICT = (
    r"benign|harmless|innocuous|false positive|false alarm|"
    r"(?:no|not any) (?:further )?(?:action|follow-?up|investigation|response)"
    r"(?: is| was)? (?:needed|necessary|required|warranted)|"
    r"no (?:further )?(?:action|follow-?up|investigation)|"
    r"nothing (?:to (?:do|worry about|investigate)|suspicious|malicious)|"
    r"not (?:malicious|suspicious|a threat|an attack|a concern|worth)|"
    r"(?:can|may|should) (?:safely )?be (?:ignored|dismissed|closed|disregarded)|"
    r"safe to (?:ignore|dismiss|close)|"
    r"(?:legitimate|authori[sz]ed|expected|routine|normal|sanctioned|approved|planned) "
    r"(?:admin(?:istrator|istrative)? )?(?:activity|behaviou?r|maintenance|work|use|access)|"
    r"(?:is|was|looks|seems|appears) (?:legitimate|expected|normal|fine|okay|ok)"
)

#: What a host *is*; supported only by the facts' own (hopwatch-written) text.
HOST_ROLES = (
    r"domain controllers?|dcs?|file servers?|database servers?|db servers?|"
    r"mail servers?|exchange servers?|web servers?|backup servers?|print servers?|"
    r"jump (?:host|box|server)s?|bastion(?: host)?s?|hypervisors?|sql servers?|"
    r"sharepoint servers?|certificate authority|ca server"
)

#: What an account *is* -> regex on the user name that supports it without other text.
USER_ROLES: dict[str, str] = {
    r"(?:domain |local |enterprise )?admin(?:istrator)?s?(?: account)?|privileged account": (
        r"adm|admin|root"
    ),
    r"service accounts?": r"^svc|service|\$$|^sa[_-]",
    r"machine accounts?|computer accounts?": r"\$$",
    r"guest account": r"guest",
    r"krbtgt": r"krbtgt",
}

#: Words that make a claim about the order of hops.
SEQUENCE_WORDS = r"then|next|after(?:wards)?|later|subsequently|followed by|before|finally|->|→"

#: Acronyms and capitalised words that are not names (never claims by themselves).
COMMON_CAPS = frozenset(
    w.lower()
    for w in [
        "UTC",
        "GMT",
        "ATT&CK",
        "ATT",
        "CK",
        "MITRE",
        "TTP",
        "TTPs",
        "IOC",
        "IOCs",
        "SIEM",
        "SOC",
        "EDR",
        "XDR",
        "AV",
        "NTLM",
        "NTLMv2",
        "Kerberos",
        "TGT",
        "TGS",
        "SPN",
        "LDAP",
        "DNS",
        "DHCP",
        "HTTP",
        "HTTPS",
        "TCP",
        "UDP",
        "IP",
        "IPs",
        "API",
        "ID",
        "IDs",
        "SID",
        "Windows",
        "Linux",
        "PowerShell",
        "CMD",
        "Security",
        "System",
        "Sysmon",
        "Event",
        "Events",
        "Logon",
        "Hopwatch",
        "GNN",
        "XGBoost",
        "SHAP",
        "LLM",
        "AI",
        "OK",
        "UNC",
        "Summary",
        "Alert",
        "Analyst",
        "Note",
        "Check",
        "Next",
        "Confidence",
        "Verdict",
        "Reason",
        "Reasons",
        "Why",
        "What",
        "User",
        "Users",
        "Host",
        "Hosts",
        "Source",
        "Destination",
        "Account",
        "Rule",
        "Rules",
        "Score",
        "Technique",
        "Techniques",
        "Evidence",
        "Time",
        "Path",
        "Hop",
        "Hops",
        "Investigate",
        "Review",
        "Look",
        "Confirm",
        "Verify",
        "Isolate",
        "Reset",
        "Contain",
        "Block",
        "Escalate",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
    ]
)


def id_supported(wanted: tuple[str, ...], techniques: set[str]) -> bool:
    """True when one of ``wanted`` (``T1003*`` = the id or any sub-technique) is in
    ``techniques`` (upper-case ids; a sub-technique also counts for its parent)."""
    for w in wanted:
        if w.endswith("*"):
            root = w[:-1]
            if any(t == root or t.startswith(root + ".") for t in techniques):
                return True
        elif w in techniques:
            return True
    return False


def alternation(patterns: object) -> re.Pattern[str]:
    """One case-insensitive whole-word regex over several patterns (longest first)."""
    parts = sorted(patterns, key=len, reverse=True)  # type: ignore[arg-type]
    return re.compile(r"(?<![\w$-])(?:" + "|".join(parts) + r")(?![\w$]|-\w)", re.IGNORECASE)


#: Next steps per technique (hopwatch's own words). ``{dst}``, ``{src}``, ``{user}`` and
#: ``{time}`` are filled from the facts.
NEXT_STEPS: dict[str, str] = {
    "T1569.002": "look for service installs (event 7045) on {dst} around {time}",
    "T1021.002": "look for admin share access (event 5145) on {dst} around {time}",
    "T1570": "look for files written to admin shares (event 5145) on {dst}",
    "T1047": "look for WMI process creation (event 4688, parent WmiPrvSE) on {dst}",
    "T1021.001": "look for RDP logons (event 4624, logon type 10) on {dst}",
    "T1021.006": "look for WinRM sessions (wsmprovhost processes, event 4688) on {dst}",
    "T1021.003": "look for DCOM process creation (event 4688) on {dst}",
    "T1053": "look for scheduled task creation (event 4698) on {dst}",
    "T1550.002": "look for NTLM network logons (event 4624, logon type 3) from {src}",
    "T1550.003": "look for Kerberos service tickets (event 4769) requested by {user}",
    "T1558.003": "look for RC4 service ticket requests (event 4769) by {user}",
    "T1078": "confirm with the owner of {user} whether this logon was expected",
    "T1003": "look for access to LSASS (Sysmon event 10) on {dst}",
    "T1110": "look for failed logons (event 4625) for {user}",
}
DEFAULT_NEXT_STEP = "review the logons of {user} on {dst} around {time} (event 4624)"

#: ATT&CK names of common lateral-movement techniques (the ids license the names).
TECHNIQUE_NAMES: dict[str, str] = {
    "T1021": "Remote Services",
    "T1021.001": "Remote Desktop Protocol",
    "T1021.002": "SMB/Windows Admin Shares",
    "T1021.003": "Distributed Component Object Model",
    "T1021.004": "SSH",
    "T1021.006": "Windows Remote Management",
    "T1047": "Windows Management Instrumentation",
    "T1053": "Scheduled Task/Job",
    "T1053.005": "Scheduled Task",
    "T1569": "System Services",
    "T1569.002": "Service Execution",
    "T1543.003": "Windows Service",
    "T1570": "Lateral Tool Transfer",
    "T1078": "Valid Accounts",
    "T1550": "Use Alternate Authentication Material",
    "T1550.002": "Pass the Hash",
    "T1550.003": "Pass the Ticket",
    "T1003": "OS Credential Dumping",
    "T1003.001": "LSASS Memory",
    "T1558": "Steal or Forge Kerberos Tickets",
    "T1558.003": "Kerberoasting",
    "T1110": "Brute Force",
    "T1486": "Data Encrypted for Impact",
    "T1041": "Exfiltration Over C2 Channel",
}
#: The same names as claim patterns (a name implies its id).
TOOLS.update(
    {
        re.escape(name.lower()).replace(r"\ ", " "): (tid,)
        for tid, name in TECHNIQUE_NAMES.items()
        if len(name) > 4
    }
)

#: Tool and protocol names as the grammar offers them (slot values) -> supporting ids.
TOOL_NAMES: dict[str, tuple[str, ...]] = {
    "PsExec": ("T1569.002", "T1021.002"),
    "SMB": ("T1021.002", "T1570"),
    "ADMIN$": ("T1021.002", "T1570"),
    "WMI": ("T1047",),
    "RDP": ("T1021.001",),
    "WinRM": ("T1021.006",),
    "DCOM": ("T1021.003",),
    "SSH": ("T1021.004",),
    "Mimikatz": ("T1003*",),
    "Kerberoasting": ("T1558.003",),
    "pass-the-hash": ("T1550.002",),
    "pass-the-ticket": ("T1550.003",),
}

#: Single words (regex, whole word) that the grammar keeps out of free text unless one of
#: the ids supports them; the verifier reads the same claims through TOOLS and ACTIONS.
GRAMMAR_WORDS: dict[str, tuple[str, ...]] = {
    r"mimikatz|sekurlsa|logonpasswords|procdump|lsass": ("T1003*",),
    r"dump|dumps|dumped|dumping|dcsync|ntds": ("T1003*",),
    r"kerberoast|kerberoasting|kerberoasted|roasting|roasted|rubeus": ("T1558*",),
    r"psexec|psexesvc|paexec|smbexec": ("T1569.002", "T1021.002"),
    r"wmi|wmic|wmiexec|wmiprvse": ("T1047",),
    r"impacket": ("T1047", "T1569.002", "T1021.002", "T1021.003"),
    r"dcom|dcomexec": ("T1021.003",),
    r"rdp|mstsc": ("T1021.001",),
    r"winrm|wsman|wsmprovhost|pssession": ("T1021.006",),
    r"smb": ("T1021.002", "T1570"),
    r"ssh": ("T1021.004",),
    r"vnc": ("T1021.005",),
    r"schtasks|atsvc": ("T1053*",),
    r"bloodhound|sharphound": ("T1087*", "T1069*", "T1482"),
    r"cobalt|beacon|beacons|metasploit|meterpreter": ("S0154", "S0002"),
    r"exfiltrate|exfiltrated|exfiltrating|exfiltration|exfil|dropbox|rclone|pastebin|mega": (
        "T1041",
        "T1048*",
        "T1567*",
    ),
    r"encrypt|encrypted|encrypting|encryption|ransomware|ransom": ("T1486",),
    r"wipe|wiped|wiping|destroyed|destroy": ("T1485", "T1561*"),
    r"escalate|escalated|escalating|escalation": ("T1068", "T1548*", "T1078*"),
    r"stole|steal|stealing|stolen|harvest|harvested|harvesting|cracked|cracking": (
        "T1003*",
        "T1555*",
        "T1552*",
    ),
    r"brute|bruteforce|spraying|sprayed|stuffing": ("T1110*",),
    r"keylogger|keylogging|phishing|phished": ("T1056.001", "T1566*"),
    r"backdoor|backdoored|persisted|persistence": ("T1543*", "T1053*", "T1547*"),
    r"downloaded|downloading": ("T1105",),
    r"scanned|scanning|enumerated|enumerating|enumeration|reconnaissance|recon": (
        "T1046",
        "T1087*",
        "T1018",
    ),
    r"disabled|cleared|deleted|tampered": ("T1562*", "T1070*", "T1485"),
}

#: Words kept out of free text always: spelled numbers, relative time, verdicts, proof,
#: and what hosts are (the facts never say it in the structured fields).
NEVER_WORDS = (
    "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
    + r"|dozens|yesterday|today|tonight|recently|recent|ago|weekend|overnight|monday|tuesday"
    r"|wednesday|thursday|friday|saturday|sunday|morning|afternoon|evening|night|midnight|noon"
    r"|midday|week|weeks|month|months|year|years|benign|harmless|innocuous|legitimate|false"
    r"|routine|authorized|authorised|sanctioned|approved|ignore|ignored|dismiss|dismissed"
    r"|disregard|okay|fine|safe|certain|certainly|definitely|confirmed|proven|undoubtedly"
    r"|guaranteed|controller|controllers|hypervisor|bastion|exchange|sharepoint|database"
    r"|fileserver|admin|admins|administrator|administrators|administrative|privileged|root"
    r"|krbtgt|gb|mb|tb|kb|gigabytes|megabytes|bytes"
)
