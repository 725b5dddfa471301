"""Pull Windows authentication events from Splunk with the export API, exactly once.

One *pull* walks ``_time`` from the checkpoint towards ``now - lag`` in windows
of at most ``batch_span`` seconds. Each window is one
``service.workers.tasks.export(search, output_mode="json", earliest_time=T, latest_time=L)``
request (``/services/search/v2/jobs/export`` on Splunk >= 9.0.2), read with
``splunklib.results.JSONResultsReader`` a block of lines at a time. Per block:
skip preview rows and already-persisted keys, convert ``_raw`` with the
Windows reader, commit to the :class:`~ingest.splunk.sink.EventSink`, and only
then advance the checkpoint. See docs/splunk.md for the reasoning.

Errors: 401 -> :class:`SplunkAuthError`, 400/404 -> :class:`SplunkQueryError`
and an unverifiable certificate -> :class:`SplunkTLSError` fail at once;
connection errors, 5xx, cut streams and ERROR messages saying results are
incomplete are retried with capped exponential backoff and full jitter, then
:class:`SplunkUnavailable`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ingest.splunk.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ingest.splunk.client import (
    SplunkAuthError,
    SplunkQueryError,
    SplunkTLSError,
    SplunkUnavailable,
    classify,
    connect,
    describe,
)
from ingest.splunk.config import SplunkConfig
from ingest.splunk.export import iter_export_blocks
from ingest.splunk.results import (
    Converter,
    ResultError,
    convert_results,
    dedupe_key,
    result_second,
    windows_converter,
)
from ingest.splunk.sink import EventSink

log = logging.getLogger(__name__)


@dataclass
class PullSummary:
    """What one pull did (printed as JSON by ``hopwatch ingest splunk --json``)."""

    pulled: int = 0
    duplicates: int = 0
    auth_events: int = 0
    process_events: int = 0
    unparsed: dict[str, int] = field(default_factory=dict)
    out_of_range: int = 0
    windows: int = 0
    retries: int = 0
    checkpoint_time: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``json.dumps``."""
        return asdict(self)


class SplunkPuller:
    """Pull events from Splunk into ``out_dir`` with a crash-safe checkpoint.

    Args:
        config: connection, search and pacing.
        out_dir: output folder (the :class:`EventSink` store lives in ``out_dir/splunk``).
        converter: ``_raw`` -> (auth rows, process rows); the Windows reader by default.
        now: clock (epoch seconds), injectable for tests.
        sleep: sleeper used by backoff and follow mode, injectable for tests.
        service_factory: builds the splunklib ``Service`` (default :func:`connect`).
    """

    def __init__(
        self,
        config: SplunkConfig,
        out_dir: str | Path,
        *,
        converter: Converter = windows_converter,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        service_factory: Callable[[SplunkConfig], Any] = connect,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.sink = EventSink(out_dir)
        self.checkpoint_path = Path(config.checkpoint or self.sink.base / "checkpoint.json")
        self.converter = converter
        self.now = now
        self.sleep = sleep
        self.service_factory = service_factory
        self.rng = rng or random.Random()
        self._service: Any = None
        self.checkpoint = load_checkpoint(self.checkpoint_path) or Checkpoint(
            time=config.start_time(now())
        )
        # Results persisted at or after the checkpoint second (key -> second): after a
        # crash between a commit and its checkpoint these come back from the ledger.
        self._pending: dict[str, int] = self.sink.keys_since(self.checkpoint.time)
        self._unsaved = [0, 0]  # results pulled / duplicates not yet in the checkpoint

    # -- connection --------------------------------------------------------------------
    def _export(self, earliest: int, latest: int) -> Any:
        if self._service is None:
            self._service = self.service_factory(self.config)
        return self._service.jobs.export(
            self.config.search(),
            output_mode="json",
            earliest_time=str(earliest),
            latest_time=str(latest),
        )

    def _backoff(self, attempt: int) -> float:
        cap = min(self.config.backoff_cap, self.config.backoff_base * 2**attempt)
        return cap * self.rng.random()

    # -- pulling -----------------------------------------------------------------------
    def pull(self, *, max_windows: int | None = None) -> PullSummary:
        """Pull every complete window up to ``now - lag``; return what was done."""
        summary = PullSummary()
        horizon = int(self.now()) - self.config.lag
        while self.checkpoint.time < horizon:
            if max_windows is not None and summary.windows >= max_windows:
                break
            latest = min(self.checkpoint.time + self.config.batch_span, horizon)
            self._pull_window_with_retries(latest, summary)
            summary.windows += 1
        summary.checkpoint_time = self.checkpoint.time
        return summary

    def follow(self, stop: threading.Event | None = None) -> Iterator[PullSummary]:
        """Pull, wait ``poll_interval``, repeat until ``stop`` is set; yield each summary."""
        stop = stop or threading.Event()
        while not stop.is_set():
            yield self.pull()
            if stop.wait(self.config.poll_interval):
                break

    def _pull_window_with_retries(self, latest: int, summary: PullSummary) -> None:
        attempt = 0
        while True:
            try:
                self._pull_window(latest, summary)
                return
            except Exception as exc:
                kind = classify(exc)
                if kind is None:
                    raise
                text = describe(exc)
                if kind is SplunkAuthError:
                    raise SplunkAuthError(
                        f"{self.config.host}:{self.config.port} refused the credentials ({text})"
                    ) from None
                if kind is SplunkTLSError:
                    raise SplunkTLSError(
                        f"{self.config.host}:{self.config.port}: {text} "
                        "(set ca_file to the CA that signed splunkd's certificate)"
                    ) from None
                if kind is SplunkQueryError:
                    if isinstance(exc, SplunkQueryError):
                        raise
                    raise SplunkQueryError(f"search refused: {text}") from None
                if attempt >= self.config.max_retries:
                    raise SplunkUnavailable(
                        f"{self.config.host}:{self.config.port}: giving up after "
                        f"{attempt + 1} attempts: {text}"
                    ) from None
                delay = self._backoff(attempt)
                attempt += 1
                summary.retries += 1
                log.warning("splunk pull failed (%s); retry %d in %.1fs", text, attempt, delay)
                if isinstance(exc, OSError):
                    self._service = None  # reconnect (and re-login) after network errors
                self.sleep(delay)

    def _pull_window(self, latest: int, summary: PullSummary) -> None:
        start = self.checkpoint.time
        source = f"splunk:{self.config.name}:{start}"
        stream = self._export(start, latest)
        offset = 0
        ordered = self.config.oldest_first  # and stays so while the stream agrees
        last_second = start
        try:
            for block in iter_export_blocks(stream, self.config.block_rows):
                accepted: list[tuple[dict, int, str]] = []
                seconds: list[int] = []
                for result in block.results:
                    record = offset
                    offset += 1
                    try:
                        if not isinstance(result, dict):
                            raise ResultError("result: not an object")
                        second = result_second(result)
                    except ResultError:
                        summary.unparsed["bad _time"] = summary.unparsed.get("bad _time", 0) + 1
                        continue
                    if not start <= second < latest:
                        summary.out_of_range += 1
                        continue
                    if second < last_second:
                        ordered = False
                    last_second = max(last_second, second)
                    key = dedupe_key(result, self.config.dedupe)
                    if key in self._pending or (
                        second == self.checkpoint.time and key in self.checkpoint.keys
                    ):
                        summary.duplicates += 1
                        self._unsaved[1] += 1
                        continue
                    accepted.append((result, record, key))
                    seconds.append(second)
                    self._pending[key] = second  # also dedupes repeats inside the stream
                self._commit(accepted, seconds, source, summary)
                if ordered and last_second > self.checkpoint.time:
                    # Oldest first so far: every result before last_second is persisted.
                    self._advance(last_second)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        self._advance(latest)

    def _commit(
        self,
        accepted: list[tuple[dict, int, str]],
        seconds: list[int],
        source: str,
        summary: PullSummary,
    ) -> None:
        if not accepted:
            return
        try:
            converted = convert_results(accepted, source=source, converter=self.converter)
            ledger = pl.DataFrame(
                {"splunk_key": [k for _, _, k in accepted], "splunk_time": seconds},
                schema={"splunk_key": pl.String, "splunk_time": pl.Int64},
            )
            self.sink.write(converted.auth, converted.process, ledger)
        except BaseException:
            for _, _, key in accepted:  # not persisted: must be pulled again
                self._pending.pop(key, None)
            raise
        summary.pulled += len(accepted)
        self._unsaved[0] += len(accepted)
        summary.auth_events += converted.auth.height
        summary.process_events += converted.process.height
        for reason, n in converted.failed.items():
            summary.unparsed[reason] = summary.unparsed.get(reason, 0) + n

    def _advance(self, second: int) -> None:
        """Move the checkpoint to ``second`` (everything before it is persisted)."""
        old = self.checkpoint
        keys = {k for k, s in self._pending.items() if s == second}
        if second == old.time:
            keys |= old.keys
        new = Checkpoint(
            time=second,
            keys=keys,
            pulled=old.pulled + self._unsaved[0],
            duplicates=old.duplicates + self._unsaved[1],
        )
        save_checkpoint(self.checkpoint_path, new)
        self.checkpoint = new
        self._unsaved = [0, 0]
        self._pending = {k: s for k, s in self._pending.items() if s >= second}
