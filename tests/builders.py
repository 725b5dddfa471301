"""Small builders of test data shared by the test modules.

``make_events(n)`` gives a canonical auth-event frame; ``lanl_line`` and
``write_lanl`` give LANL-format text; ``make_dataset`` writes a tiny data
directory through the real :class:`ingest.graphs.DatasetWriter`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from ingest.schema import AUTH_SCHEMA, conform

AUTH_TYPES = ("Kerberos", "NTLM", "Negotiate", "?")
LOGON_TYPES = ("Network", "Interactive", "RemoteInteractive", "Service", "Batch", "?")
ORIENTATIONS = ("LogOn", "LogOff", "TGS", "TGT")


def make_events(
    n: int,
    *,
    hosts: int = 8,
    users: int = 5,
    start: int = 0,
    span: int = 7200,
    fail_rate: float = 0.1,
    seed: int = 0,
    label: bool | None = None,
    source: str = "test",
) -> pl.DataFrame:
    """``n`` random canonical auth events, time-sorted in ``[start, start + span)``.

    Hosts are ``C0..C{hosts-1}``, users ``U0@DOM1..``; src != dst whenever hosts > 1.

    Args:
        label: ``None`` adds no label column; ``False`` an all-False one; ``True``
            marks every 10th event as red team.
    """
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(start, start + max(span, 1), size=n))
    src = rng.integers(0, hosts, size=n)
    dst = (src + rng.integers(1, max(hosts, 2), size=n)) % max(hosts, 1)
    user = rng.integers(0, users, size=n)
    frame = pl.DataFrame(
        {
            "time": times.astype(np.int64),
            "src_user": [f"U{u}@DOM1" for u in user],
            "dst_user": [f"U{u}@DOM1" for u in user],
            "src_host": [f"C{h}" for h in src],
            "dst_host": [f"C{h}" for h in dst],
            "auth_type": [AUTH_TYPES[i] for i in rng.integers(0, len(AUTH_TYPES), size=n)],
            "logon_type": [LOGON_TYPES[i] for i in rng.integers(0, len(LOGON_TYPES), size=n)],
            "orientation": [ORIENTATIONS[i] for i in rng.integers(0, len(ORIENTATIONS), size=n)],
            "success": rng.random(n) >= fail_rate,
            "source": [source] * n,
        }
    )
    out = conform(frame).collect()
    if label is not None:
        flags = np.zeros(n, dtype=bool)
        if label:
            flags[::10] = True
        out = out.with_columns(pl.Series("label", flags))
    return out


def events_from_rows(rows: Sequence[Sequence[object]], *, source: str = "test") -> pl.DataFrame:
    """Canonical frame from tuples ``(time, src_user, dst_user, src_host, dst_host,
    auth_type, logon_type, orientation, success[, label])``."""
    cols = list(AUTH_SCHEMA.names()[:9])
    has_label = bool(rows) and len(rows[0]) == 10
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    data["source"] = [source] * len(rows)
    out = conform(pl.DataFrame(data, schema_overrides={"success": pl.Boolean})).collect()
    if has_label:
        out = out.with_columns(pl.Series("label", [bool(r[9]) for r in rows]))
    return out


def lanl_line(
    time: int,
    src_user: str = "U1@DOM1",
    src_host: str = "C1",
    dst_host: str = "C2",
    *,
    dst_user: str | None = None,
    auth_type: str = "Kerberos",
    logon_type: str = "Network",
    orientation: str = "LogOn",
    success: bool = True,
) -> str:
    """One LANL auth.txt line (no newline)."""
    return ",".join(
        [
            str(time),
            src_user,
            dst_user or src_user,
            src_host,
            dst_host,
            auth_type,
            logon_type,
            orientation,
            "Success" if success else "Fail",
        ]
    )


def write_lanl(path: str | Path, lines: Iterable[str], *, gz: bool = False) -> Path:
    """Write lines (newline-terminated) as plain or gzip text; return the path."""
    import gzip

    path = Path(path)
    text = "".join(f"{line}\n" for line in lines).encode()
    if gz:
        path.write_bytes(gzip.compress(text))
    else:
        path.write_bytes(text)
    return path


def make_dataset(
    out_dir: str | Path,
    events: pl.DataFrame | None = None,
    *,
    window_seconds: int = 1800,
    chunks: int = 1,
    source: str = "test",
) -> Path:
    """Write ``events`` (default ``make_events(400, label=True)``) as a data directory."""
    from ingest.graphs import DatasetWriter

    if events is None:
        events = make_events(400, label=True)
    step = -(-events.height // max(chunks, 1))
    with DatasetWriter(out_dir, window_seconds=window_seconds, source=source) as writer:
        for i in range(0, events.height, max(step, 1)):
            writer.add(events.slice(i, step))
    return Path(out_dir)
