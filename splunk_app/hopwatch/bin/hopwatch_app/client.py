"""A small HTTP client of hopwatch's REST API (stdlib only: Splunk's own Python runs it).

Every failure becomes one :class:`HopwatchAppError` whose text is what the
analyst reads in Splunk (a search error or a line of the alert-action log): what
went wrong, where, and what to do. The API key never appears in a message.
"""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any, Iterator
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from hopwatch_app import APP_VERSION

MAX_PAGE = 500  # the API's default api.max_page


class HopwatchAppError(Exception):
    """A failure explained in Splunk terms (never a traceback)."""


class ApiSettings:
    """Where the API is and how to reach it; built by ``hopwatch_app.settings``."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        verify_tls: bool = True,
        ca_file: str = "",
        timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HopwatchAppError(
                f"the hopwatch API URL {url!r} is not an http(s) URL: correct it on the hopwatch "
                "setup page (Apps > hopwatch > Set up)"
            )
        if not key:
            raise HopwatchAppError(
                "no hopwatch API key is stored: enter one on the hopwatch setup page "
                "(create it with `hopwatch apikey create --name splunk --scope read`)"
            )
        self.url = url.rstrip("/")
        self.key = key
        self.verify_tls = verify_tls
        self.ca_file = ca_file
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the key
        return (
            f"ApiSettings(url={self.url!r}, verify_tls={self.verify_tls!r}, "
            f"ca_file={self.ca_file!r})"
        )


def _detail(body: bytes) -> str:
    """The API's ``detail`` as one line (FastAPI: a string or a list of field errors)."""
    try:
        detail = json.loads(body.decode("utf-8", "replace")).get("detail")
    except (ValueError, AttributeError):
        text = body.decode("utf-8", "replace").strip()
        return text[:200] if text else "no detail"
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p not in ("query", "body"))
                parts.append("{}: {}".format(loc or "request", item.get("msg", "invalid")))
        return "; ".join(parts) or "invalid request"
    return str(detail)[:300]


class HopwatchClient:
    """GET and POST JSON against the API with the stored key."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        if settings.url.startswith("https:"):
            if settings.verify_tls:
                self._context = ssl.create_default_context(cafile=settings.ca_file or None)
            else:
                self._context = ssl._create_unverified_context()  # the admin turned it off
        else:
            self._context = None

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {
            "X-API-Key": self.settings.key,
            "Accept": "application/json",
            "User-Agent": f"hopwatch-splunk-app/{APP_VERSION}",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = Request(self.settings.url + path, data=data, headers=headers, method=method)
        where = "{} {}".format(method, path.split("?")[0])
        try:
            with urlopen(request, timeout=self.settings.timeout, context=self._context) as resp:
                raw = resp.read()
        except HTTPError as exc:
            raise self._http_error(exc.code, exc.read(), where) from None
        except URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise HopwatchAppError(
                    f"TLS verification of {self.settings.url} failed "
                    f"({reason.verify_message or reason}): give the CA bundle that signed the "
                    "API's certificate as ca_file on the hopwatch setup page"
                ) from None
            raise HopwatchAppError(
                f"the hopwatch API at {self.settings.url} is unreachable ({reason}): check the URL "
                "on the hopwatch setup page and that `hopwatch serve` is running"
            ) from None
        except (socket.timeout, TimeoutError):
            raise HopwatchAppError(
                f"the hopwatch API at {self.settings.url} did not answer {where} "
                f"within {self.settings.timeout:g} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise HopwatchAppError(
                f"the hopwatch API at {self.settings.url} dropped the connection ({exc})"
            ) from None
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            raise HopwatchAppError(
                f"the hopwatch API at {self.settings.url} answered {where} with something that is "
                "not JSON: is the URL that of the hopwatch API?"
            ) from None

    def _http_error(self, status: int, body: bytes, where: str) -> HopwatchAppError:
        detail = _detail(body)
        if status == 401:
            return HopwatchAppError(
                f"hopwatch rejected the API key ({detail}): store a valid key on the hopwatch "
                "setup page (`hopwatch apikey create`)"
            )
        if status == 403:
            return HopwatchAppError(
                f"the stored hopwatch API key may not do this ({detail}): store a key with that "
                "scope on the hopwatch setup page"
            )
        if status == 404:
            return NotFoundError(f"{where}: {detail}")
        if status == 413:
            return HopwatchAppError(
                f"hopwatch refused {where}: the batch is too large ({detail}); lower batch_size"
            )
        if status == 422:
            return HopwatchAppError(f"hopwatch refused {where}: {detail}")
        return HopwatchAppError(
            "the hopwatch API answered %s with HTTP %d (%s)" % (where, status, detail)
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` with the non-empty ``params``."""
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        return self._request("GET", path + ("?" + urlencode(query) if query else ""))

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST ``body`` as JSON to ``path``."""
        return self._request("POST", path, body if body is not None else {})

    def iter_pages(self, path: str, params: dict[str, Any], limit: int) -> Iterator[dict]:
        """Items of a cursor-paged list route, at most ``limit``, following ``next_cursor``."""
        sent = 0
        cursor = None
        while sent < limit:
            page = self.get(path, dict(params, limit=min(MAX_PAGE, limit - sent), cursor=cursor))
            for item in page.get("items", []):
                yield item
                sent += 1
                if sent >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def alert(self, alert_id: int) -> dict[str, Any]:
        return self.get("/alerts/%d" % alert_id)

    def campaign(self, campaign_id: int) -> dict[str, Any]:
        return self.get("/campaigns/%d" % campaign_id)

    def summary(self, alert_id: int, *, generate: bool = False) -> dict[str, Any]:
        path = "/alerts/%d/summary" % alert_id
        return self.post(path) if generate else self.get(path)

    def post_events(self, events: list[dict[str, Any]], xml: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if events:
            body["events"] = events
        if xml:
            body["xml"] = xml
        return self.post("/events", body)


class NotFoundError(HopwatchAppError):
    """The API answered 404 (no such alert, no summary yet)."""


def path_id(value: Any) -> int | None:
    """A positive integer id from a field value, or None."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or len(text) > 18 or int(text) < 1:
        return None
    return int(text)


__all__ = [
    "MAX_PAGE",
    "ApiSettings",
    "HopwatchAppError",
    "HopwatchClient",
    "NotFoundError",
    "path_id",
]
