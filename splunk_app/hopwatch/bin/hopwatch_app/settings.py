"""Read the API URL and key from Splunk's secure storage, and the TLS options from
``hopwatch.conf``, through splunkd's REST API (splunklib's binding).

The setup page writes one credential, realm ``hopwatch``, user ``api``, whose
(encrypted) password is ``{"url": ..., "key": ...}``; ``[api]`` in
``hopwatch.conf`` holds ``verify_tls`` (default true), ``ca_file`` and ``timeout``.
Nothing secret is in a ``.conf`` file.
"""

from __future__ import annotations

import json
from typing import Any

from hopwatch_app.client import ApiSettings, HopwatchAppError

APP = "hopwatch"
REALM = "hopwatch"
USERNAME = "api"
CONF = "hopwatch"
STANZA = "api"
_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("0", "false", "f", "no", "n", "off")


def as_bool(value: Any, default: bool) -> bool:
    """A Splunk boolean (``true``/``1``/``yes``/``t`` ...); ``default`` when empty."""
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return default


def _entries(service: Any, path: str, **query: Any) -> list[dict[str, Any]]:
    from splunklib.binding import HTTPError

    try:
        response = service.get(path, owner="nobody", app=APP, output_mode="json", **query)
    except HTTPError as exc:
        if exc.status == 404:
            return []
        if exc.status in (401, 403):
            raise HopwatchAppError(
                "Splunk refused to read the hopwatch settings (%s %d): the role of this user "
                "needs the list_storage_passwords capability to use the stored API key"
                % (path, exc.status)
            ) from None
        raise HopwatchAppError(
            "splunkd answered %s with HTTP %d while reading the hopwatch settings"
            % (path, exc.status)
        ) from None
    except OSError as exc:
        raise HopwatchAppError(
            f"could not reach splunkd to read the hopwatch settings ({exc})"
        ) from None
    body = response.body.read()
    try:
        return json.loads(body.decode("utf-8")).get("entry", [])
    except (ValueError, AttributeError):
        raise HopwatchAppError(f"splunkd sent unreadable settings for {path}") from None


def load_settings(service: Any) -> ApiSettings:
    """The API settings stored by the setup page (splunkd REST, the caller's session).

    Raises:
        HopwatchAppError: not set up, unreadable, or the stored URL is not http(s).
    """
    if service is None:
        raise HopwatchAppError("no splunkd session: cannot read the hopwatch settings")
    stored = None
    for entry in _entries(service, "storage/passwords", count=0, search="realm=" + REALM):
        content = entry.get("content", {})
        if content.get("realm") == REALM and content.get("username") == USERNAME:
            stored = content.get("clear_password")
            break
    if not stored:
        raise HopwatchAppError(
            "hopwatch is not set up: open Apps > hopwatch > Set up and enter the API URL and key"
        )
    try:
        secret = json.loads(stored)
        url, key = str(secret["url"]), str(secret["key"])
    except (ValueError, KeyError, TypeError):
        raise HopwatchAppError(
            "the stored hopwatch credential is not in the setup page's format: save the setup "
            "page again"
        ) from None
    options: dict[str, Any] = {}
    for entry in _entries(service, f"configs/conf-{CONF}/{STANZA}"):
        options = entry.get("content", {})
    try:
        timeout = float(options.get("timeout") or 30)
    except ValueError:
        timeout = 30.0
    return ApiSettings(
        url,
        key,
        verify_tls=as_bool(options.get("verify_tls"), True),
        ca_file=str(options.get("ca_file") or ""),
        timeout=max(1.0, min(timeout, 600.0)),
    )


__all__ = ["APP", "CONF", "REALM", "STANZA", "USERNAME", "as_bool", "load_settings"]
