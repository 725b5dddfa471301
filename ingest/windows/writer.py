"""Write Windows events as a data directory (docs/data-format.md).

Auth events go through :class:`ingest.graphs.DatasetWriter` (events, edges,
nodes, meta.json); process / share / service events go to
``DIR/process/part-00000.parquet`` for the rules.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from ingest.schema import validate
from ingest.windows.reader import WindowsData

PROCESS_PART_ROWS = 1_000_000


def summary(data: WindowsData, skipped: dict[str, int] | None = None) -> dict[str, Any]:
    """The ``hopwatch ingest windows`` JSON summary of what was read."""
    return {
        "events": data.events,
        "auth_events": data.auth.height,
        "process_events": data.process.height,
        "skipped": dict(sorted((skipped if skipped is not None else data.skipped).items())),
        "by_event_id": {str(k): v for k, v in sorted(data.by_event_id.items())},
    }


def write_windows_dataset(
    data: WindowsData,
    out_dir: str | Path,
    *,
    window_seconds: int = 1800,
    redteam: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """Write ``data`` as a data directory; return the summary (counts after validation).

    Auth rows that fail ``ingest.schema.validate`` (no time, no host) are
    counted under ``skipped`` as ``"auth: <reason>"`` and not written.

    ``redteam`` (``time``, ``user``, ``src_host``, ``dst_host``, as
    :func:`ingest.lanl.read_redteam` reads the simulator's Windows-form ``redteam.txt``)
    labels the auth events as LANL ingest does (:func:`ingest.graphs.label_events`), so
    the evaluation protocols run on the directory; the summary then counts
    ``labeled_events`` (red-team lines matched) and ``redteam_lines``.
    """
    from ingest.graphs import DatasetWriter, label_events

    out = Path(out_dir)
    report = validate(data.auth)
    auth = report.valid.sort("time", maintain_order=True)
    skipped = dict(data.skipped)
    for reason, n in report.reasons.items():
        skipped[f"auth: {reason}"] = skipped.get(f"auth: {reason}", 0) + n
    process = data.process.filter(pl.col("time").is_not_null()).sort("time", maintain_order=True)
    dropped = data.process.height - process.height
    if dropped:
        skipped["process: null time"] = dropped
    labels: dict[str, int] = {}
    with DatasetWriter(out, window_seconds=window_seconds, source="windows") as writer:
        if redteam is not None:
            auth, matched = label_events(auth, redteam)
            writer.write_redteam(redteam)
            labels = {"labeled_events": matched.len(), "redteam_lines": redteam.height}
        writer.add(auth)
        writer.set_counts(
            bad_lines=sum(skipped.values()),
            process_events=process.height,
            by_event_id={str(k): v for k, v in data.by_event_id.items()},
            **labels,
        )
    proc_dir = out / "process"
    if proc_dir.exists():
        shutil.rmtree(proc_dir)
    proc_dir.mkdir(parents=True)
    for i, start in enumerate(range(0, max(process.height, 1), PROCESS_PART_ROWS)):
        part = process.slice(start, PROCESS_PART_ROWS)
        part.with_columns((pl.col("time") // window_seconds).alias("window")).write_parquet(
            proc_dir / f"part-{i:05d}.parquet"
        )
    result = summary(data, skipped)
    result["auth_events"] = auth.height
    result["process_events"] = process.height
    return {**result, **labels}
