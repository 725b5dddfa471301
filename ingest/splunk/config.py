"""Configuration of the Splunk pull worker: one dataclass, loadable from TOML.

The command line loads it from a TOML file (``[splunk]`` table or top level);
the service's settings tree builds the same dataclass from its own section.
Secrets (token, password) are kept out of ``repr`` and never logged.

Example ``splunk.toml``::

    [splunk]
    host = "splunk.example.org"
    port = 8089
    scheme = "https"
    token = "eyJraWQiOi..."          # or username = "..." + password = "..."
    verify = true
    index = "wineventlog"
    sourcetypes = ["XmlWinEventLog", "XmlWinEventLog:Security"]
    start = "-24h"                    # first pull when there is no checkpoint
    batch_span = "1h"                 # one export request covers at most this much _time
    lag = "60s"                       # never ask for events newer than now - lag
    checkpoint = "/var/lib/hopwatch/splunk.checkpoint.json"
    poll_interval = "60s"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ingest.durations import DurationError, parse_duration
from ingest.errors import HopwatchError

#: Default search. ``{index}`` and ``{sourcetypes}`` are filled from the config;
#: ``| sort 0 _time`` makes the export stream oldest first, which lets the worker
#: checkpoint inside a window (see docs/splunk.md, "Ordering").
DEFAULT_QUERY = "search index={index} {sourcetypes} | sort 0 _time"

_OLDEST_FIRST = re.compile(r"\|\s*sort\s+(?:limit=)?0\s+\+?_time\s*$")


class SplunkConfigError(HopwatchError, ValueError):
    """The Splunk configuration is invalid; the message names the field (and file)."""


def _duration(value: object, name: str) -> int:
    """Seconds (>= 0) of a duration field, as a :class:`SplunkConfigError` when unreadable."""
    try:
        return parse_duration(value, name=name, allow_zero=True)
    except DurationError as exc:
        raise SplunkConfigError(str(exc)) from None


def _quote(value: str) -> str:
    """A Splunk search term quoted safely (backslashes and quotes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class SplunkConfig:
    """Where and what to pull from Splunk.

    Attributes:
        host, port, scheme: splunkd management endpoint (default https on 8089).
        token: a Splunk authentication token (sent as ``Authorization: Bearer``)
            or a session key (``session_key = true``: sent as ``Authorization: Splunk``).
        username, password: used when no token is given (login to ``/services/auth/login``).
        verify: verify the server's TLS certificate.
        ca_file: PEM file of the CA(s) that signed splunkd's certificate (default: system CAs).
        app, owner: optional namespace of the search (``/servicesNS/<owner>/<app>/``).
        index: index searched.
        sourcetypes: sourcetypes kept (empty: all of the index).
        query: search template; ``{index}`` and ``{sourcetypes}`` are substituted.
        name: search name used in provenance (``source = "splunk:<name>:<window start>"``).
        start: where the first pull starts without a checkpoint: epoch seconds or a
            relative duration such as ``"-24h"``.
        batch_span: largest ``_time`` span of one export request (bounds memory).
        lag: the newest ``_time`` asked for is ``now - lag`` (Splunk indexing delay).
        checkpoint: path of the checkpoint JSON file (default: inside the output folder).
        poll_interval: seconds between pulls in follow mode.
        timeout: socket timeout of one HTTP request, seconds.
        max_retries: retries of a failing request (connection error, 5xx, cut stream).
        backoff_base, backoff_cap: exponential backoff, seconds (full jitter).
        dedupe: ``"raw"`` (hash of index, _time, host, source, _raw) or ``"cd"`` (index + _cd).
        block_rows: results parsed, persisted and checkpointed together.
    """

    host: str = "localhost"
    port: int = 8089
    scheme: str = "https"
    token: str | None = field(default=None, repr=False)
    session_key: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: bool = True
    ca_file: Path | None = None
    app: str | None = None
    owner: str | None = None
    index: str = "main"
    sourcetypes: list[str] = field(default_factory=lambda: ["XmlWinEventLog"])
    query: str = DEFAULT_QUERY
    name: str = "hopwatch"
    start: str | int = "-24h"
    batch_span: int = 3600
    lag: int = 60
    checkpoint: Path | None = None
    poll_interval: int = 60
    timeout: float = 60.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    dedupe: str = "raw"
    block_rows: int = 5000

    def __post_init__(self) -> None:
        if self.checkpoint is not None:
            self.checkpoint = Path(self.checkpoint)
        if self.ca_file is not None:
            self.ca_file = Path(self.ca_file)
        for name in ("batch_span", "lag", "poll_interval"):
            setattr(self, name, _duration(getattr(self, name), name))
        if isinstance(self.sourcetypes, str):
            self.sourcetypes = [self.sourcetypes]
        self.validate()

    def validate(self) -> None:
        """Check field values; raise :class:`SplunkConfigError` naming the first bad field."""
        if self.scheme not in ("http", "https"):
            raise SplunkConfigError(f"scheme: expected 'http' or 'https', got {self.scheme!r}")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise SplunkConfigError(f"port: expected 1..65535, got {self.port!r}")
        if not self.host:
            raise SplunkConfigError("host: must not be empty")
        if not self.token and not (self.username and self.password):
            raise SplunkConfigError("token: give a token, or username and password")
        if self.batch_span <= 0:
            raise SplunkConfigError("batch_span: must be > 0")
        if self.dedupe not in ("raw", "cd"):
            raise SplunkConfigError(f"dedupe: expected 'raw' or 'cd', got {self.dedupe!r}")
        if self.block_rows <= 0:
            raise SplunkConfigError("block_rows: must be > 0")
        if self.max_retries < 0:
            raise SplunkConfigError("max_retries: must be >= 0")
        if not re.fullmatch(r"[\w\-*.:]+", self.index):
            raise SplunkConfigError(f"index: not a Splunk index name: {self.index!r}")
        try:
            self.search()
        except (KeyError, IndexError, ValueError) as exc:
            raise SplunkConfigError(f"query: bad template {self.query!r}: {exc}") from exc

    def search(self) -> str:
        """The search string sent to Splunk (index and sourcetype filter filled in)."""
        if self.sourcetypes:
            terms = " OR ".join(f"sourcetype={_quote(s)}" for s in self.sourcetypes)
            sourcetypes = f"({terms})"
        else:
            sourcetypes = ""
        text = self.query.format(index=self.index, sourcetypes=sourcetypes).strip()
        if not text.startswith(("search ", "|")):
            text = "search " + text
        return " ".join(text.split())

    @property
    def oldest_first(self) -> bool:
        """Whether the search ends with ``| sort 0 _time`` (results stream oldest first).

        Only then does the worker checkpoint inside a window; otherwise a window is
        checkpointed when it has been read completely.
        """
        return bool(_OLDEST_FIRST.search(self.search()))

    def start_time(self, now: float) -> int:
        """Epoch second where the first pull starts (``start`` resolved against ``now``)."""
        start = self.start
        if isinstance(start, int) and not isinstance(start, bool):
            return start
        text = str(start).strip()
        if text.startswith("-"):
            return int(now) - _duration(text[1:], "start")
        try:
            return int(text)
        except ValueError:
            raise SplunkConfigError(
                f"start: expected epoch seconds or '-<duration>', got {start!r}"
            ) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, origin: str = "config") -> SplunkConfig:
        """Build from a plain dict (unknown keys are an error naming ``origin``)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SplunkConfigError(f"{origin}: unknown key(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except SplunkConfigError as exc:
            raise SplunkConfigError(f"{origin}: {exc}") from None
        except TypeError as exc:
            raise SplunkConfigError(f"{origin}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> SplunkConfig:
        """Load from a TOML file: the ``[splunk]`` table if present, else the top level.

        Relative ``checkpoint`` and ``ca_file`` paths are resolved against the file's folder.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SplunkConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as exc:
            raise SplunkConfigError(f"{path}: not valid TOML: {exc}") from None
        section = data.get("splunk", data)
        if not isinstance(section, dict):
            raise SplunkConfigError(f"{path}: [splunk] must be a table")
        section = dict(section)
        for key in ("checkpoint", "ca_file"):
            if key in section and not Path(section[key]).is_absolute():
                section[key] = path.parent / section[key]
        return cls.from_dict(section, origin=str(path))
