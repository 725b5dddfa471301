"""A stand-in for the parts of splunkd 9.x the hopwatch app uses, in its JSON wire format.

No Splunk server runs here, so the search commands and the alert action read
their settings from this loopback server, as they would from splunkd through
splunklib (``Authorization: Splunk <session key>``, ``output_mode=json``):

* ``GET/POST /servicesNS/<owner>/<app>/storage/passwords`` and
  ``.../storage/passwords/<realm>:<name>:`` (list, create, update; entries carry
  ``clear_password``, ``encr_password``, ``password = ********``, ``realm``,
  ``username``; creating an existing one is a 409 as in splunkd);
* ``GET/POST .../configs/conf-<file>/<stanza>`` (default values, then posted ones);
* ``POST .../apps/local/<app>`` (``configured``);
* the same under Splunk Web's proxy prefix ``/<locale>/splunkd/__raw`` (the
  setup page's calls), where the session is the browser's and the CSRF form key
  header ``X-Splunk-Form-Key`` must match.

Errors are splunkd's: 401 ``call not properly authenticated``, 404 with a
``messages`` list, 409 on a duplicate credential.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

VERSION = "9.1.2"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class Splunkd:
    """splunkd on 127.0.0.1 (random port) with storage/passwords and app confs in memory."""

    def __init__(self, *, confs: dict[str, dict[str, dict[str, str]]] | None = None) -> None:
        self.session_key = secrets.token_hex(16)
        self.form_key = secrets.token_hex(8)
        self.passwords: dict[str, dict[str, str]] = {}  # "realm:user:" -> content
        self.confs = confs or {}
        self.apps: dict[str, dict[str, str]] = {"hopwatch": {"configured": "0"}}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Splunkd:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def store(self, realm: str, user: str, password: str) -> None:
        """A credential as the setup page would store it."""
        self.passwords[f"{realm}:{user}:"] = {
            "realm": realm,
            "username": user,
            "clear_password": password,
            "encr_password": "$7$" + secrets.token_urlsafe(24),
            "password": "********",
        }

    def _entry(self, name: str, path: str, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "id": f"{self.uri}{path}/{quote(name, safe='')}",
            "updated": _now(),
            "links": {"alternate": f"{path}/{quote(name, safe='')}"},
            "author": "admin",
            "acl": {"app": "hopwatch", "owner": "nobody", "sharing": "app", "modifiable": True},
            "content": content,
        }

    def _feed(self, path: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "links": {"create": f"{path}/_new"},
            "origin": f"{self.uri}{path}",
            "updated": _now(),
            "generator": {"build": "abc123", "version": VERSION},
            "entry": entries,
            "paging": {"total": len(entries), "perPage": 30, "offset": 0},
            "messages": [],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        splunkd = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                if self.headers.get("Connection", "").lower() == "close":  # as splunkd
                    self.send_header("Connection", "Close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, text: str) -> None:
                self._send(status, {"messages": [{"type": "ERROR", "text": text}]})

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(), True).items()
                }
                path = url.path
                web = "/splunkd/__raw/" in path
                if web:  # Splunk Web's proxy: browser session + CSRF form key
                    path = "/" + path.split("/splunkd/__raw/", 1)[1]
                    ok = self.headers.get("X-Splunk-Form-Key") == splunkd.form_key
                else:
                    ok = self.headers.get("Authorization") == f"Splunk {splunkd.session_key}"
                splunkd.requests.append((method, path, dict(form)))
                if not ok:
                    self._error(401, "call not properly authenticated")
                    return
                parts = [unquote(p) for p in path.strip("/").split("/")]
                if parts[0] == "servicesNS" and len(parts) >= 3:
                    base = "/" + "/".join(path.strip("/").split("/")[:3])
                    rest = parts[3:]
                elif parts[0] == "services":
                    base, rest = "/services", parts[1:]
                else:
                    self._error(404, f"Not Found: {path}")
                    return
                if rest[:2] == ["storage", "passwords"]:
                    self._passwords(method, base + "/storage/passwords", rest[2:], form)
                elif rest[:1] == ["configs"] and len(rest) == 3 and rest[1].startswith("conf-"):
                    self._conf(method, base, rest[1][5:], rest[2], form)
                elif rest[:2] == ["apps", "local"] and len(rest) == 3 and method == "POST":
                    splunkd.apps.setdefault(rest[2], {}).update(form)
                    self._send(200, splunkd._feed(base + "/apps/local", []))
                else:
                    self._error(404, f"Not Found: {path}")

            def _passwords(self, method: str, path: str, rest: list[str], form: dict) -> None:
                store = splunkd.passwords
                if not rest and method == "GET":
                    entries = [splunkd._entry(n, path, c) for n, c in sorted(store.items())]
                    self._send(200, splunkd._feed(path, entries))
                elif not rest and method == "POST":
                    name = f"{form.get('realm', '')}:{form['name']}:"
                    if name in store:
                        self._error(409, f"An object with name={form['name']} already exists")
                        return
                    splunkd.store(form.get("realm", ""), form["name"], form["password"])
                    self._send(201, splunkd._feed(path, [splunkd._entry(name, path, store[name])]))
                elif len(rest) == 1 and rest[0] in store:
                    if method == "POST":
                        store[rest[0]]["clear_password"] = form["password"]
                    entry = splunkd._entry(rest[0], path, store[rest[0]])
                    self._send(200, splunkd._feed(path, [entry]))
                else:
                    self._error(404, f"Could not find object id={rest[0] if rest else ''}")

            def _conf(self, method: str, base: str, conf: str, stanza: str, form: dict) -> None:
                stanzas = splunkd.confs.get(conf)
                if stanzas is None or stanza not in stanzas:
                    self._error(404, f"Could not find object id={stanza}")
                    return
                if method == "POST":
                    stanzas[stanza].update(form)
                path = f"{base}/configs/conf-{conf}"
                self._send(
                    200, splunkd._feed(path, [splunkd._entry(stanza, path, stanzas[stanza])])
                )

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        return Handler
