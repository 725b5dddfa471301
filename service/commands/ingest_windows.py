"""``hopwatch ingest windows``: Windows logs (EVTX, XmlWinEventLog, classic text) -> data dir."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``ingest windows`` to the ``ingest`` group."""

    @groups["ingest"].command("windows")
    def ingest_windows(
        paths: list[Path] = typer.Argument(..., help="Files or folders of Windows logs."),
        out: Path = typer.Option(..., "--out", help="Data directory to write."),
        window: str = typer.Option("30m", "--window", help="Window size: 90s, 30m, 1h, 1d."),
        as_json: bool = typer.Option(False, "--json", help="Print only the JSON summary."),
    ) -> None:
        """Read .evtx, XmlWinEventLog and classic WinEventLog text into a data directory."""
        from ingest.graphs import parse_window
        from ingest.win_writer import write_windows_dataset
        from ingest.windows import read_windows

        try:
            window_seconds = parse_window(window)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--window") from None
        try:
            data = read_windows(paths)
        except FileNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        for msg in data.errors:
            typer.echo(f"skipped: {msg}", err=True)
        result = write_windows_dataset(data, out, window_seconds=window_seconds)
        if not as_json:
            typer.echo(
                f"{result['events']} events read: {result['auth_events']} auth, "
                f"{result['process_events']} process/share/service -> {out}"
            )
            for reason, n in result["skipped"].items():
                typer.echo(f"  skipped {n}: {reason}")
        typer.echo(json.dumps(result, sort_keys=True))
