"""Names in this enterprise's naming: the alert's own hosts and users, and what
looks like another one.

The facts teach the shapes: ``WS01`` makes every ``WS<digits>`` a host name,
``C1234`` every ``C<digits>``, ``U77@DOM1`` every ``U<digits>``. Beside those shapes, a
token is name-like when it mixes letters and digits, is fully qualified
(``db02.corp.local``), is written in capitals (``FINANCE``), has an underscore or a
trailing ``$`` (``svc_backup``, ``SRV02$``), is a ``DOMAIN\\user`` or ``user@domain``, or
is a capitalised word in the middle of a sentence (``Dropbox``). The verifier rejects
every name-like token that is neither one of the alert's names nor a word of the text
hopwatch wrote itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
IPV6 = re.compile(
    r"(?<![\w:])(?=[0-9A-Fa-f:]*(?:[A-Fa-f]|::))[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"
)
EMAIL_USER = re.compile(r"(?<![\w.+-])[\w.+$-]+@[\w-]+(?:\.[\w-]+)*")
DOMAIN_USER = re.compile(r"(?<![\w\\])[\w.-]+\\{1,2}[\w.$-]+")
FQDN = re.compile(r"(?<![\w.-])[A-Za-z][\w-]*(?:\.[A-Za-z][\w-]*){2,}")
MIXED = re.compile(r"(?<![\w$-])(?=[\w-]*[A-Za-z])(?=[\w-]*\d)[A-Za-z0-9][\w-]*\$?")
CAPS = re.compile(r"(?<![\w$-])[A-Z][A-Z_-]{2,}\$?(?![\w])")
UNDERSCORE = re.compile(r"(?<![\w$-])[A-Za-z][\w-]*_[\w-]+\$?")
DOLLAR = re.compile(r"(?<![\w$-])[A-Za-z][\w-]*\$(?!\w)")
TITLE = re.compile(r"(?<![\w$&-])[A-Z][a-z]+(?:[A-Z][a-z]+)*(?![\w&-])")
FILE_EXT = re.compile(
    r"\.(?:exe|dll|ps1|bat|cmd|vbs|js|sys|txt|log|msi|zip|dat|tmp|xml|json|evtx)$", re.I
)
#: Technical words with digits that are not names.
TECH_WORDS = frozenset(
    w.lower()
    for w in [
        "NTLMv1",
        "NTLMv2",
        "NTLM2",
        "SMBv1",
        "SMBv2",
        "SMBv3",
        "SMB1",
        "SMB2",
        "SMB3",
        "Kerberos5",
        "Krb5",
        "TLS1",
        "TLSv1",
        "x64",
        "x86",
        "Win32",
        "Win64",
        "SHA1",
        "SHA256",
        "MD5",
        "MD4",
        "RC4",
        "AES128",
        "AES256",
        "IPv4",
        "IPv6",
        "Windows10",
        "Windows11",
        "Server2016",
        "Server2019",
        "Server2022",
        "UTF8",
        "Base64",
        "1st",
        "2nd",
        "3rd",
        "4th",
        "5th",
        "6th",
        "7th",
        "8th",
        "9th",
        "10th",
        "24h",
        "24x7",
    ]
)
UNIT = re.compile(
    r"^\d+(?:\.\d+)?(?:st|nd|rd|th|s|m|h|d|ms|min|mins|am|pm|x|k|kb|mb|gb|tb|%)$", re.I
)


def host_forms(host: str) -> set[str]:
    """Lower-case spellings that name ``host`` (``srv02`` for ``SRV02.corp.local``)."""
    h = host.strip().lower().rstrip("$")
    forms = {h}
    if "." in h and not IPV4.fullmatch(h):
        forms.add(h.split(".", 1)[0])
    return {f for f in forms if len(f) >= 2}


def user_forms(user: str) -> set[str]:
    """Lower-case spellings that name ``user`` (``alice`` for ``CORP\\alice``)."""
    u = user.strip().lower()
    forms = {u}
    if "\\" in u:
        domain, _, name = u.rpartition("\\")
        forms |= {name, f"{name}@{domain.strip(chr(92))}"}
    if "@" in u:
        name, _, domain = u.partition("@")
        forms |= {name, f"{domain}\\{name}"}
    return {f.rstrip("$") for f in forms if len(f) >= 2}


def shape(name: str) -> re.Pattern[str] | None:
    """The naming pattern of ``name``: letters kept, digit runs generalised.

    ``WS01`` -> ``ws\\d+``; ``C1234`` -> ``c\\d+``; ``U77`` (from ``U77@DOM1``) -> ``u\\d+``.
    None when the name has no digits (then it teaches no pattern).
    """
    base = name.strip().lower().rstrip("$").split("@")[0].split("\\")[-1].split(".")[0]
    if not re.search(r"\d", base) or not re.search(r"[a-z]", base):
        return None
    parts = re.split(r"(\d+)", base)
    body = "".join(r"\d+" if p.isdigit() else re.escape(p) for p in parts if p)
    return re.compile(rf"(?<![\w$-]){body}(?![\w-])", re.IGNORECASE)


def mentions(text: str, forms: set[str]) -> list[tuple[int, int]]:
    """(start, end) of every mention of one of ``forms`` in ``text`` (longest first)."""
    lower = text.lower()
    found: list[tuple[int, int]] = []
    for f in sorted(forms, key=len, reverse=True):
        for m in re.finditer(r"(?<![\w.@\\-])" + re.escape(f) + r"\$?(?![\w@\\-]|\.\w)", lower):
            if not any(s <= m.start() < e for s, e in found):
                found.append((m.start(), m.end()))
    return sorted(found)


@dataclass(frozen=True)
class Mention:
    """One mention of an alert's host or user in the text.

    Attributes:
        start, end: offsets in the text.
        kind: ``host`` or ``user``.
        index: for hosts, the position in the path (0 = source, 1.. = hops in order).
        text: the mention as written.
    """

    start: int
    end: int
    kind: str
    index: int
    text: str


def find_mentions(text: str, path: list[str], user: str, src_ips: list[str] = ()) -> list[Mention]:
    """Mentions of the path's hosts (the source IPs stand for the source host) and of the
    user, in text order (no overlaps)."""
    found: list[Mention] = []
    taken: list[tuple[int, int]] = []
    candidates: list[tuple[str, int, set[str]]] = [
        ("host", i, host_forms(h)) for i, h in enumerate(path)
    ]
    if src_ips:
        candidates.append(("host", 0, {ip.strip().lower() for ip in src_ips}))
    candidates.append(("user", -1, user_forms(user)))
    spans: list[tuple[int, int, str, int]] = []
    for kind, index, forms in candidates:
        for s, e in mentions(text, forms):
            spans.append((s, e, kind, index))
    for s, e, kind, index in sorted(spans, key=lambda x: (x[0], -(x[1] - x[0]))):
        if any(s < te and ts < e for ts, te in taken):
            continue
        taken.append((s, e))
        found.append(Mention(s, e, kind, index, text[s:e]))
    return sorted(found, key=lambda m: m.start)
