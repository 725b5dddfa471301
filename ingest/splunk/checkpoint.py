"""The Splunk pull checkpoint: a high-water second plus the keys seen at that second.

Meaning: every result with ``_time < time`` has been persisted, and of the
results with ``floor(_time) == time`` exactly those whose dedupe key is in
``keys`` have been persisted. The next pull asks Splunk for
``earliest_time = time`` (inclusive) and skips those keys.

The file is JSON, written atomically (temporary file in the same folder,
fsync, ``os.replace``, fsync of the folder), so a crash leaves either the old
or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import HopwatchError

FORMAT_VERSION = 1


class CheckpointError(HopwatchError, ValueError):
    """The checkpoint file exists but cannot be used (names the file and field)."""


@dataclass
class Checkpoint:
    """Where the next pull starts.

    Attributes:
        time: high-water ``_time`` second (epoch seconds).
        keys: dedupe keys of the results persisted at second ``time``.
        pulled: results persisted so far, over the checkpoint's life.
        duplicates: results skipped as already persisted, over the checkpoint's life.
    """

    time: int
    keys: set[str] = field(default_factory=set)
    pulled: int = 0
    duplicates: int = 0

    def to_json(self) -> dict:
        """The JSON document written to disk (keys sorted, for stable files)."""
        return {
            "format_version": FORMAT_VERSION,
            "time": self.time,
            "keys": sorted(self.keys),
            "pulled": self.pulled,
            "duplicates": self.duplicates,
        }

    @classmethod
    def from_json(cls, data: object, *, origin: str = "checkpoint") -> Checkpoint:
        """Parse a document written by :meth:`to_json`; errors name ``origin`` and the field."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{origin}: expected a JSON object")
        if data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{origin}: format_version: expected {FORMAT_VERSION}, "
                f"got {data.get('format_version')!r}"
            )
        time = data.get("time")
        if not isinstance(time, int) or isinstance(time, bool) or time < 0:
            raise CheckpointError(f"{origin}: time: expected epoch seconds, got {time!r}")
        keys = data.get("keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise CheckpointError(f"{origin}: keys: expected a list of strings")
        counts = {}
        for name in ("pulled", "duplicates"):
            value = data.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CheckpointError(f"{origin}: {name}: expected a count, got {value!r}")
            counts[name] = value
        return cls(time=time, keys=set(keys), **counts)


def load_checkpoint(path: str | Path) -> Checkpoint | None:
    """Read the checkpoint at ``path``; ``None`` when there is none yet.

    Raises:
        CheckpointError: the file exists but is not a valid checkpoint.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON: {exc}") from None
    return Checkpoint.from_json(data, origin=str(path))


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically (temp file + fsync + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(checkpoint.to_json(), separators=(",", ":")).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entry table so a rename in it survives a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
