"""A stand-in for splunkd 9.x that speaks its REST wire format, for offline tests.

It serves, on 127.0.0.1 and a random port, with one thread per connection:

* ``POST /services/auth/login``: form ``username``/``password`` ->
  ``<response><sessionKey>..</sessionKey></response>`` or 401 "Login failed".
* ``GET /services/server/info``: the Atom feed splunklib reads the version from
  (``<s:key name="version">9.1.2</s:key>``, so the SDK picks the v2 search API).
* ``POST /services/search/v2/jobs/export`` (also v1 and ``/servicesNS/o/a/...``):
  newline-delimited JSON, chunked, one object per row:
  ``{"preview":false,"offset":0,"result":{...}}``, the last row with
  ``"lastrow":true``; ``{"preview":false,"lastrow":true}`` when nothing matches.
  A search with ``| sort`` first streams one preview set (``"preview":true``),
  as splunkd does for a non-streaming command. Without ``| sort`` rows come
  newest first, as an event search does.
* Errors as splunkd writes them: 401 ``call not properly authenticated``, 400
  for a search it cannot parse (XML body, or JSON ``messages`` when
  ``output_mode=json``), 404 for unknown paths, 503 when told to.

Events live in memory (``_time``, ``_raw``, ``host``, ``source``, ``sourcetype``,
``index``); the server adds ``_cd``, ``_bkt``, ``_serial``, ``_si``,
``_indextime`` like an indexer. ``earliest_time`` (inclusive) and ``latest_time``
(exclusive) are honoured as epoch seconds, and the search's ``index=`` /
``sourcetype=`` terms (``OR``-ed in parentheses) filter the events.

Fault injection (attributes of :class:`Faults`): ``unavailable`` answers the
next K requests with 503; ``cut_after`` (a list) makes the next exports stop
after N final rows and drop the connection without the closing chunk;
``drop_before_headers`` closes the next K connections without an answer;
``stall_after`` (a list) makes the next exports send N rows, set
``faults.stalled`` and hang until ``faults.release`` is set.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

VERSION = "9.1.2"
SERVER_NAME = "standin-sh1"
_EXPORT_PATH = re.compile(r"^/(?:services|servicesNS/[^/]+/[^/]+)/search/(?:v[12]/)?jobs/export/?$")
_NON_STREAMING = {"sort", "reverse", "stats", "dedup", "transaction"}
_KNOWN_COMMANDS = {"search", "sort", "reverse", "head", "fields", "table", "eval", "where"}


@dataclass
class Event:
    """One indexed event of the stand-in."""

    time: float
    raw: str
    host: str
    source: str = "XmlWinEventLog:Security"
    sourcetype: str = "XmlWinEventLog"
    index: str = "wineventlog"


@dataclass
class Faults:
    """What the stand-in should do wrong next (consumed as used)."""

    unavailable: int = 0
    cut_after: list[int] = field(default_factory=list)
    drop_before_headers: int = 0
    stall_after: list[int] = field(default_factory=list)
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Request:
    """One request as the stand-in saw it (for assertions)."""

    method: str
    path: str
    params: dict[str, str]
    authorization: str | None
    status: int = 0


def _xml_messages(text: str, kind: str = "ERROR", code: str | None = None) -> bytes:
    attr = f' code="{escape(code)}"' if code else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <messages>\n'
        f'    <msg type="{kind}"{attr}>{escape(text)}</msg>\n'
        "  </messages>\n</response>\n"
    ).encode()


def iso_time(epoch: float) -> str:
    """``_time`` as splunkd renders it for a UTC user: ``2026-11-22T10:15:01.000+00:00``."""
    stamp = datetime.fromtimestamp(epoch, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+00:00"


class SearchError(ValueError):
    """The stand-in cannot run this search (answered with 400)."""


@dataclass
class Search:
    """The parts of an SPL search the stand-in understands."""

    filters: dict[str, set[str]]
    order: str  # "desc" (event search), "asc" (sort 0 _time)
    head: int | None
    non_streaming: bool


def _split_pipes(text: str) -> list[str]:
    parts, depth_quote, current = [], False, []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            current.append(ch)
            continue
        if ch == '"':
            depth_quote = not depth_quote
        if ch == "|" and not depth_quote:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if depth_quote:
        raise SearchError("Unbalanced quotes.")
    parts.append("".join(current).strip())
    return parts


_TERM = re.compile(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s()"]+)')


def parse_search(text: str) -> Search:
    """Parse the subset of SPL the tests use; raise :class:`SearchError` like splunkd would."""
    text = text.strip()
    if not text:
        raise SearchError("Search string is empty.")
    parts = _split_pipes(text)
    if parts[0] == "":
        parts = parts[1:]
    first = parts[0]
    if not first.startswith("search "):
        raise SearchError(f"Unknown search command '{first.split()[0]}'.")
    if first.count("(") != first.count(")"):
        raise SearchError("Error in 'search' command: Mismatched parentheses.")
    filters: dict[str, set[str]] = {}
    for name, value in _TERM.findall(first[len("search ") :]):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        filters.setdefault(name, set()).add(value)
    order, head, non_streaming = "desc", None, False
    for part in parts[1:]:
        words = part.split()
        if not words:
            raise SearchError("Error in 'search' command: empty pipeline stage.")
        command = words[0]
        if command not in _KNOWN_COMMANDS:
            raise SearchError(f"Unknown search command '{command}'.")
        non_streaming = non_streaming or command in _NON_STREAMING
        if command == "sort":
            keys = [w for w in words[1:] if not w.isdigit()]
            order = "desc" if keys and keys[0].startswith("-") else "asc"
        elif command == "reverse":
            order = "asc" if order == "desc" else "desc"
        elif command == "head":
            head = int(words[1]) if len(words) > 1 else 10
    return Search(filters, order, head, non_streaming)


def _epoch(value: str | None, name: str) -> float | None:
    if value in (None, "", "0") and name == "earliest_time":
        return None
    if value in (None, "", "now") and name == "latest_time":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SearchError(f"Invalid {name}: {value!r}.") from None


class SplunkdStandin:
    """A running stand-in splunkd. Use as a context manager.

    Args:
        events: indexed events (kept in index order: ``_cd`` follows it).
        tokens: accepted authentication tokens (``Authorization: Bearer``).
        users: accepted ``username: password`` pairs for ``/services/auth/login``.
        version: version reported by ``/services/server/info``.
        tls: ``(certfile, keyfile)`` to serve HTTPS, as splunkd does on 8089.
    """

    def __init__(
        self,
        events: list[Event] | None = None,
        *,
        tokens: tuple[str, ...] = ("good-token",),
        users: dict[str, str] | None = None,
        version: str = VERSION,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.events = list(events or [])
        self.tokens = set(tokens)
        self.users = dict(users or {"admin": "changeme1"})
        self.version = version
        self.sessions: set[str] = set()
        self.faults = Faults()
        self.requests: list[Request] = []
        self.previews_sent = 0
        self.rows_sent = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self._server.server_address[1]

    def __enter__(self) -> SplunkdStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.faults.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def exports(self) -> list[Request]:
        """The export requests received so far."""
        return [r for r in self.requests if _EXPORT_PATH.match(r.path)]

    # -- behaviour ---------------------------------------------------------------------
    def _take(self, name: str) -> Any:
        with self._lock:
            value = getattr(self.faults, name)
            if isinstance(value, list):
                return value.pop(0) if value else None
            if value > 0:
                setattr(self.faults, name, value - 1)
                return True
            return False

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries a valid token or session key."""
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return value in self.tokens
        if scheme == "Splunk":
            return value in self.sessions
        return False

    def matching(self, search: Search, earliest: float | None, latest: float | None) -> list:
        """(position, event) pairs matched by a search, in the order splunkd would stream."""
        rows = []
        for position, event in enumerate(self.events):
            if earliest is not None and event.time < earliest:
                continue
            if latest is not None and event.time >= latest:
                continue
            fields = {"index": event.index, "sourcetype": event.sourcetype, "host": event.host}
            if all(fields.get(k) in v for k, v in search.filters.items() if k in fields):
                rows.append((position, event))
        rows.sort(key=lambda pe: (pe[1].time, pe[0]), reverse=search.order == "desc")
        return rows[: search.head] if search.head is not None else rows

    def result(self, position: int, event: Event, serial: int) -> dict[str, Any]:
        """The ``result`` object splunkd would send for an event."""
        return {
            "_bkt": f"{event.index}~1~7C5A2F5E-0F0B-4D2A-9A55-3C1E0A1B2C3D",
            "_cd": f"1:{1000 + position * 7}",
            "_indextime": str(int(event.time) + 2),
            "_raw": event.raw,
            "_serial": str(serial),
            "_si": [SERVER_NAME, event.index],
            "_sourcetype": event.sourcetype,
            "_time": iso_time(event.time),
            "host": event.host,
            "index": event.index,
            "linecount": "1",
            "source": event.source,
            "sourcetype": event.sourcetype,
            "splunk_server": SERVER_NAME,
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "Splunkd"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _params(self) -> dict[str, str]:
                query = urlsplit(self.path).query
                params = {k: v[-1] for k, v in parse_qs(query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    body = self.rfile.read(length).decode("utf-8")
                    params.update({k: v[-1] for k, v in parse_qs(body).items()})
                return params

            def _send(self, status: int, body: bytes, ctype: str = "text/xml; charset=UTF-8"):
                self._request.status = status  # set before the client can see the answer
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="/splunk"')
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def _handle(self, method: str) -> None:
                path = urlsplit(self.path).path
                params = self._params()
                auth = self.headers.get("Authorization")
                self._request = Request(method, path, params, auth)
                with standin._lock:
                    standin.requests.append(self._request)
                if standin._take("drop_before_headers"):
                    self.close_connection = True
                    self.connection.close()
                    return
                if standin._take("unavailable"):
                    self._send(503, _xml_messages("Service Unavailable"))
                    return
                if path == "/services/auth/login" and method == "POST":
                    self._login(params)
                    return
                if not standin.authorized(auth):
                    self._send(401, _xml_messages("call not properly authenticated", "WARN"))
                    return
                if path.rstrip("/") == "/services/server/info" and method == "GET":
                    self._send(200, self._server_info())
                elif _EXPORT_PATH.match(path) and method in ("GET", "POST"):
                    self._export(params)
                else:
                    self._send(404, _xml_messages(f"Not Found: {path}"))

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _login(self, params: dict[str, str]) -> None:
                user, password = params.get("username"), params.get("password")
                if user is None or standin.users.get(user) != password:
                    body = _xml_messages("Login failed", "WARN", "incorrect_username_or_password")
                    self._send(401, body)
                    return
                key = secrets.token_urlsafe(24)
                with standin._lock:
                    standin.sessions.add(key)
                body = (
                    f"<response>\n  <sessionKey>{key}</sessionKey>\n"
                    '  <messages>\n    <msg code=""></msg>\n  </messages>\n</response>\n'
                )
                self._send(200, body.encode())

            def _server_info(self) -> bytes:
                keys = {
                    "build": "b6436b649711",
                    "cpu_arch": "x86_64",
                    "guid": "7C5A2F5E-0F0B-4D2A-9A55-3C1E0A1B2C3D",
                    "instance_type": "download",
                    "os_name": "Linux",
                    "product_type": "enterprise",
                    "serverName": SERVER_NAME,
                    "version": standin.version,
                }
                body = "".join(
                    f'        <s:key name="{k}">{escape(v)}</s:key>\n' for k, v in keys.items()
                )
                return (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<feed xmlns="http://www.w3.org/2005/Atom" '
                    'xmlns:s="http://dev.splunk.com/ns/rest" '
                    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">\n'
                    "  <title>server-info</title>\n"
                    "  <id>https://127.0.0.1:8089/services/server/info</id>\n"
                    "  <updated>2026-11-22T10:00:00+00:00</updated>\n"
                    f'  <generator build="b6436b649711" version="{standin.version}"/>\n'
                    "  <author>\n    <name>Splunk</name>\n  </author>\n"
                    "  <opensearch:totalResults>1</opensearch:totalResults>\n"
                    "  <opensearch:itemsPerPage>30</opensearch:itemsPerPage>\n"
                    "  <opensearch:startIndex>0</opensearch:startIndex>\n"
                    "  <s:messages/>\n"
                    "  <entry>\n    <title>server-info</title>\n"
                    "    <id>https://127.0.0.1:8089/services/server/info/server-info</id>\n"
                    "    <updated>2026-11-22T10:00:00+00:00</updated>\n"
                    '    <link href="/services/server/info/server-info" rel="alternate"/>\n'
                    "    <author>\n      <name>system</name>\n    </author>\n"
                    '    <content type="text/xml">\n      <s:dict>\n'
                    f"{body}"
                    "      </s:dict>\n    </content>\n  </entry>\n</feed>\n"
                ).encode()

            def _export(self, params: dict[str, str]) -> None:
                json_mode = params.get("output_mode") == "json"
                try:
                    if not json_mode:
                        raise SearchError("The stand-in only exports output_mode=json.")
                    search = parse_search(params.get("search", ""))
                    earliest = _epoch(params.get("earliest_time"), "earliest_time")
                    latest = _epoch(params.get("latest_time"), "latest_time")
                except SearchError as exc:
                    if json_mode:
                        body = json.dumps({"messages": [{"type": "FATAL", "text": str(exc)}]})
                        self._send(400, body.encode(), "application/json; charset=UTF-8")
                    else:
                        self._send(400, _xml_messages(str(exc), "FATAL"))
                    return
                rows = standin.matching(search, earliest, latest)
                cut = standin._take("cut_after")
                self._request.status = 200
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                if search.non_streaming and rows:
                    preview = rows[: max(1, len(rows) // 2)]
                    for i, (position, event) in enumerate(preview):
                        line = {"preview": True, "offset": i}
                        if i == len(preview) - 1:
                            line["lastrow"] = True
                        line["result"] = standin.result(position, event, i)
                        self._chunk(line)
                        standin.previews_sent += 1
                if not rows:
                    self._chunk({"preview": False, "lastrow": True})
                stall = standin._take("stall_after")
                for i, (position, event) in enumerate(rows):
                    if stall is not None and i == stall:
                        self.wfile.flush()
                        standin.faults.stalled.set()
                        standin.faults.release.wait(30)
                        return
                    if cut is not None and i == cut:
                        # Half a row, then the connection drops: no closing chunk.
                        self._raw_chunk(b'{"preview":false,"offset":')
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    line = {"preview": False, "offset": i}
                    if i == len(rows) - 1:
                        line["lastrow"] = True
                    line["result"] = standin.result(position, event, i)
                    self._chunk(line)
                    standin.rows_sent += 1
                self.wfile.write(b"0\r\n\r\n")

            def _chunk(self, obj: dict) -> None:
                self._raw_chunk(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

            def _raw_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")

        return Handler


def xml_4624(
    *,
    time: float,
    computer: str,
    workstation: str,
    user: str = "Administrator",
    domain: str = "ATTACKRANGE",
    ip: str = "10.0.1.15",
    logon_type: int = 3,
    package: str = "NTLM",
    record: int = 1,
    logon_id: str = "0x8a5c2d",
) -> str:
    """One Security 4624 event as a single ``XmlWinEventLog`` line (as Splunk stores it)."""
    stamp = datetime.fromtimestamp(time, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    data = {
        "SubjectUserSid": "S-1-0-0",
        "SubjectUserName": "-",
        "SubjectDomainName": "-",
        "SubjectLogonId": "0x0",
        "TargetUserSid": "S-1-5-21-3623811015-3361044348-30300820-500",
        "TargetUserName": user,
        "TargetDomainName": domain,
        "TargetLogonId": logon_id,
        "LogonType": str(logon_type),
        "LogonProcessName": "NtLmSsp " if package == "NTLM" else "Kerberos",
        "AuthenticationPackageName": package,
        "WorkstationName": workstation,
        "LogonGuid": "{00000000-0000-0000-0000-000000000000}",
        "TransmittedServices": "-",
        "LmPackageName": "NTLM V2" if package == "NTLM" else "-",
        "KeyLength": "128" if package == "NTLM" else "0",
        "ProcessId": "0x0",
        "ProcessName": "-",
        "IpAddress": ip,
        "IpPort": "49712",
        "ImpersonationLevel": "%%1833",
        "RestrictedAdminMode": "-",
        "TargetOutboundUserName": "-",
        "TargetOutboundDomainName": "-",
        "VirtualAccount": "%%1843",
        "TargetLinkedLogonId": "0x0",
        "ElevatedToken": "%%1842",
    }
    fields = "".join(f"<Data Name='{k}'>{escape(v)}</Data>" for k, v in data.items())
    return (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Microsoft-Windows-Security-Auditing' "
        "Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4624</EventID>"
        "<Version>2</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode>"
        f"<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='{stamp}'/>"
        f"<EventRecordID>{record}</EventRecordID><Correlation/>"
        "<Execution ProcessID='652' ThreadID='4100'/><Channel>Security</Channel>"
        f"<Computer>{escape(computer)}</Computer><Security/></System>"
        f"<EventData>{fields}</EventData></Event>"
    )
