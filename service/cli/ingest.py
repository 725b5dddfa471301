"""``hopwatch ingest lanl|windows|splunk``: read a source into a data directory.

- ``lanl``: LANL ``auth.txt`` (+ ``redteam.txt``), plain, ``.gz`` or a folder of parts;
- ``windows``: EVTX, XmlWinEventLog and classic WinEventLog text (format detected per file);
- ``splunk``: pull Windows logs from Splunk's export API with a crash-safe checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def _safe(text: str) -> str:
    """Untrusted log text, quoted with control characters escaped (no terminal tricks)."""
    return repr(text)


def _report_bad(label: str, bad) -> None:  # bad: ingest.lanl.BadLines
    if not bad.count:
        return
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(bad.reasons.items()))
    print(f"{label}: {bad.count} bad lines skipped ({reasons})", file=sys.stderr)
    for source, line, reason, text in bad.examples:
        print(f"  {source}:{line} ({reason}): {_safe(text)}", file=sys.stderr)


def lanl(
    auth: Path = typer.Option(..., "--auth", help="auth.txt, auth.txt.gz or a folder of parts."),
    out: Path = typer.Option(..., "--out", help="Data directory to write."),
    redteam: Path | None = typer.Option(None, "--redteam", help="redteam.txt for labels."),
    window: str = typer.Option("30m", "--window", help="Window size: 90s, 30m, 1h, 1d."),
    start: int | None = typer.Option(None, "--start", help="Keep events with time >= T."),
    end: int | None = typer.Option(None, "--end", help="Keep events with time < T."),
    user_aware: bool = typer.Option(
        False, "--user-aware", help="Labels also require src_user == red-team user."
    ),
    nodes: Path | None = typer.Option(
        None, "--nodes", help="Seed the node index from this nodes.parquet or data dir."
    ),
    no_events: bool = typer.Option(
        False,
        "--no-events",
        help="Skip events/ (edges only; needs time-sorted input unless --engine fast).",
    ),
    engine: str = typer.Option(
        "auto",
        "--engine",
        help="auto (the fast engine; Polars where its kernels cannot load), fast, "
        "polars (the reference reader).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary last."),
) -> None:
    """Read the LANL auth log into windowed edge tables (events, edges, node index)."""
    from ingest.durations import parse_duration
    from ingest.lanl import auth_files, ingest_lanl

    try:
        window_seconds = parse_duration(window, name="--window")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from None
    if engine not in ("auto", "fast", "polars"):
        raise typer.BadParameter("must be auto, fast or polars", param_hint="--engine")
    if start is not None and end is not None and end <= start:
        raise typer.BadParameter("--end must be greater than --start", param_hint="--end")
    try:
        files = auth_files(auth)
        if redteam is not None and not redteam.is_file():
            raise FileNotFoundError(f"red-team file not found: {redteam}")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    total = sum(f.stat().st_size for f in files)
    kwargs = dict(
        redteam=redteam,
        window_seconds=window_seconds,
        start=start,
        end=end,
        user_aware=user_aware,
        nodes_from=nodes,
        write_events=not no_events,
        engine=engine,
    )
    try:
        if as_json or total < 64 << 20:
            result = ingest_lanl(auth, out, **kwargs)
        else:
            result = _with_progress(auth, out, total, kwargs)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    _report_bad("auth", result.bad)
    _report_bad("redteam", result.redteam_bad)
    unmatched = result.unmatched_redteam
    if unmatched.height:
        print(
            f"warning: {unmatched.height} red-team line(s) matched no auth event",
            file=sys.stderr,
        )
        for row in unmatched.head(5).iter_rows():
            print(f"  {_safe(','.join(str(v) for v in row))}", file=sys.stderr)
    summary = result.summary()
    if as_json:
        print(json.dumps(summary))
    else:
        _print_summary(out, summary)


class _Progress:
    """A rich progress bar by bytes read (on stderr), started at the first update: rich
    loads while the ingest already reads, not before."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = None

    def __call__(self, done: int) -> None:
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
            self.bar = Progress(*columns, console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("ingest", total=self.total)
        self.bar.update(self.task, completed=done)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _with_progress(auth: Path, out: Path, total: int, kwargs: dict):
    """Run the ingest with a progress bar by bytes read (on stderr)."""
    from ingest.lanl import ingest_lanl

    progress = _Progress(total)
    try:
        return ingest_lanl(auth, out, progress=progress, **kwargs)
    finally:
        progress.stop()


def _print_summary(out: Path, summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"LANL ingest -> {out}", show_header=False)
    for key, value in summary.items():
        text = (
            f"{value:,}"
            if isinstance(value, int)
            else f"{value:.2f}"
            if isinstance(value, float)
            else str(value)
        )
        table.add_row(key, text)
    Console().print(table)


def windows(
    paths: list[Path] = typer.Argument(..., help="Files or folders of Windows logs."),
    out: Path = typer.Option(..., "--out", help="Data directory to write."),
    window: str = typer.Option("30m", "--window", help="Window size: 90s, 30m, 1h, 1d."),
    redteam: Path | None = typer.Option(
        None, "--redteam", help="Red-team lines (time,user,src,dst) that label the events."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON summary."),
) -> None:
    """Read .evtx, XmlWinEventLog and classic WinEventLog text into a data directory."""
    from ingest.durations import parse_duration
    from ingest.lanl import read_redteam
    from ingest.windows import read_windows
    from ingest.windows.writer import write_windows_dataset

    try:
        window_seconds = parse_duration(window, name="--window")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from None
    try:
        data = read_windows(paths)
        labels = read_redteam(redteam) if redteam is not None else None
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for msg in data.errors:
        typer.echo(f"skipped: {msg}", err=True)
    result = write_windows_dataset(data, out, window_seconds=window_seconds, redteam=labels)
    if not as_json:
        typer.echo(
            f"{result['events']} events read: {result['auth_events']} auth, "
            f"{result['process_events']} process/share/service -> {out}"
        )
        for reason, n in result["skipped"].items():
            typer.echo(f"  skipped {n}: {reason}")
    typer.echo(json.dumps(result, sort_keys=True))


#: Exit codes: 2 bad config/checkpoint or certificate, 3 credentials refused, 4 search refused,
#: 5 Splunk unreachable after every retry.
EXIT_CONFIG, EXIT_AUTH, EXIT_QUERY, EXIT_UNAVAILABLE = 2, 3, 4, 5


def splunk(
    config: Path = typer.Option(Path("splunk.toml"), "--config", help="TOML file (splunk table)."),
    out: Path = typer.Option(Path("data"), "--out", help="Data directory to write."),
    follow: bool = typer.Option(
        False, "--follow", help="Keep pulling every poll_interval until interrupted."
    ),
    window: str = typer.Option("30m", "--window", help="Graph window size (e.g. 30m)."),
    max_windows: int | None = typer.Option(
        None, "--max-windows", help="Pull at most this many export windows (one pull)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary line."),
) -> None:
    """Pull events since the checkpoint (once, or forever with --follow)."""
    import logging

    from ingest.durations import parse_duration
    from ingest.splunk import (
        SplunkAuthError,
        SplunkConfig,
        SplunkConfigError,
        SplunkPuller,
        SplunkQueryError,
        SplunkTLSError,
        SplunkUnavailable,
    )
    from ingest.splunk.checkpoint import CheckpointError
    from ingest.splunk.sink import build_dataset

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        window_seconds = parse_duration(window, name="--window")
        cfg = SplunkConfig.from_toml(config)
        puller = SplunkPuller(cfg, out)
    except (SplunkConfigError, CheckpointError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None

    def report(summary: object, meta: dict | None) -> None:
        data = summary.to_json()
        data["out"] = str(out)
        if meta is not None:
            data["dataset_events"] = meta.get("events")
        if as_json:
            typer.echo(json.dumps(data, sort_keys=True))
        else:
            typer.echo(
                f"pulled {data['pulled']} results ({data['auth_events']} auth, "
                f"{data['process_events']} process events), skipped "
                f"{data['duplicates']} duplicates; checkpoint at {data['checkpoint_time']}"
            )

    built = (out / "meta.json").is_file()
    try:
        summaries = puller.follow() if follow else iter([puller.pull(max_windows=max_windows)])
        for summary in summaries:
            meta = None
            if summary.pulled or not built:
                meta = build_dataset(out, window_seconds)
                built = True
            report(summary, meta)
    except KeyboardInterrupt:
        return
    except SplunkTLSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    except SplunkAuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_AUTH) from None
    except SplunkQueryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_QUERY) from None
    except SplunkUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
