"""``hopwatch ingest lanl``: LANL auth.txt (+ redteam.txt) -> data directory."""

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


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``ingest lanl`` to the ``ingest`` group."""

    @groups["ingest"].command("lanl")
    def ingest_lanl_cmd(
        auth: Path = typer.Option(
            ..., "--auth", help="auth.txt, auth.txt.gz or a folder of parts."
        ),
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
            False, "--no-events", help="Skip events/ (edges only; faster; needs sorted input)."
        ),
        engine: str = typer.Option(
            "auto",
            "--engine",
            help="auto (numba kernel with --no-events on sorted input, else polars), fast, polars.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary last."),
    ) -> None:
        """Read the LANL auth log into windowed edge tables (events, edges, node index)."""
        from ingest.graphs import parse_window
        from ingest.lanl import auth_files, ingest_lanl

        try:
            window_seconds = parse_window(window)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--window") from None
        if engine not in ("auto", "fast", "polars"):
            raise typer.BadParameter("must be auto, fast or polars", param_hint="--engine")
        if engine == "fast" and not no_events:
            raise typer.BadParameter(
                "fast writes no events: add --no-events", param_hint="--engine"
            )
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


def _with_progress(auth: Path, out: Path, total: int, kwargs: dict):
    """Run the ingest with a rich progress bar by bytes read (on stderr)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from ingest.lanl import ingest_lanl

    console = Console(stderr=True)
    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("ingest", total=total)
        return ingest_lanl(
            auth, out, progress=lambda done: progress.update(task, completed=done), **kwargs
        )


def _print_summary(out: Path, summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"LANL ingest -> {out}", show_header=False)
    for key, value in summary.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else f"{value:.2f}")
    Console().print(table)
