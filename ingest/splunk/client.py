"""Talking to splunkd through splunk-sdk: connection, error classes and their mapping.

:func:`connect` opens a ``splunklib.client.Service`` (token, session key or
username/password); :func:`classify` sorts what the SDK and the socket raise
into "fail now" (:class:`SplunkAuthError`, :class:`SplunkQueryError`,
:class:`SplunkTLSError`) and "retry" (connection errors, 5xx, cut streams).
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

from ingest.errors import HopwatchError
from ingest.splunk.config import SplunkConfig

_MAX_TEXT = 300


class SplunkError(HopwatchError, RuntimeError):
    """Base class of the Splunk worker's errors."""


class SplunkAuthError(SplunkError):
    """splunkd refused the credentials (HTTP 401). Not retried."""


class SplunkQueryError(SplunkError):
    """splunkd refused the search (HTTP 400/404 or a FATAL message). Not retried."""


class SplunkUnavailable(SplunkError):
    """splunkd kept failing (connection errors, 5xx, cut streams) after every retry."""


class SplunkTLSError(SplunkError):
    """splunkd's TLS certificate did not verify (set ``ca_file`` or ``verify``). Not retried."""


class StreamCut(SplunkError):
    """An export stream ended before its final row (retried)."""


class SplunkTransient(SplunkError):
    """A retryable server-side failure (5xx, ERROR message in the stream)."""


def clip_text(text: str) -> str:
    """``text`` on one line, cut to a few hundred characters (for logs and errors)."""
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _error_text(body: bytes | str) -> str:
    """The message of a splunkd error body: XML ``<msg>`` or JSON ``messages[].text``."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    from xml.etree.ElementTree import ParseError

    from defusedxml.ElementTree import fromstring

    try:
        msgs = [m.text or "" for m in fromstring(body).iter("msg")]
        if msgs:
            return clip_text("; ".join(msgs))
    except (ParseError, ValueError):
        pass
    try:
        data = json.loads(body)
        msgs = [m.get("text", "") for m in data.get("messages", []) if isinstance(m, dict)]
        if msgs:
            return clip_text("; ".join(msgs))
    except (ValueError, AttributeError):
        pass
    return clip_text(body)


def connect(config: SplunkConfig) -> Any:
    """Open a ``splunklib.client.Service`` for ``config`` (logs in for user/password).

    Token auth sends ``Authorization: Bearer <token>`` (``Splunk <key>`` when
    ``config.session_key``); username/password POSTs to ``/services/auth/login``
    and re-logs in when the session expires.
    """
    from splunklib import binding, client

    context = None
    if config.scheme == "https" and config.verify:
        cafile = str(config.ca_file) if config.ca_file else None
        context = ssl.create_default_context(cafile=cafile)
    handler = binding.handler(timeout=config.timeout, verify=config.verify, context=context)
    kwargs: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "scheme": config.scheme,
        "verify": config.verify,
        "handler": handler,
    }
    if config.app or config.owner:
        kwargs.update(app=config.app, owner=config.owner)
    if config.token and config.session_key:
        kwargs["token"] = config.token
    elif config.token:
        kwargs["splunkToken"] = config.token
    else:
        kwargs.update(username=config.username, password=config.password, autologin=True)
    return client.connect(**kwargs)


def classify(exc: BaseException) -> type[SplunkError] | None:
    """Map an exception to a worker error class; ``None`` for ones we do not handle."""
    from splunklib.binding import HTTPError

    if isinstance(exc, HTTPError):
        if exc.status == 401:
            return SplunkAuthError
        if exc.status >= 500 or exc.status in (408, 429):
            return SplunkTransient
        return SplunkQueryError
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SplunkTLSError
    if isinstance(exc, (StreamCut, SplunkTransient)):
        return SplunkTransient
    if isinstance(exc, (OSError, http.client.HTTPException, json.JSONDecodeError)):
        return SplunkTransient
    return None


def describe(exc: BaseException) -> str:
    """A one-line description of ``exc`` safe to log (no credentials, clipped)."""
    from splunklib.binding import HTTPError

    if isinstance(exc, HTTPError):
        return f"HTTP {exc.status} {exc.reason}: {_error_text(exc.body)}"
    return clip_text(f"{type(exc).__name__}: {exc}")
