"""``hopwatch ingest splunk``: pull Windows logs from Splunk into a data directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer

#: Exit codes: 2 bad config/checkpoint or certificate, 3 credentials refused, 4 search refused,
#: 5 Splunk unreachable after every retry.
EXIT_CONFIG, EXIT_AUTH, EXIT_QUERY, EXIT_UNAVAILABLE = 2, 3, 4, 5


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``ingest splunk`` to the ``ingest`` group."""

    @groups["ingest"].command("splunk")
    def ingest_splunk(
        config: Path = typer.Option(
            Path("splunk.toml"), "--config", help="TOML file (splunk table)."
        ),
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

        from ingest.graphs import parse_window
        from ingest.splunk import (
            SplunkAuthError,
            SplunkConfig,
            SplunkConfigError,
            SplunkPuller,
            SplunkQueryError,
            SplunkTLSError,
            SplunkUnavailable,
        )
        from ingest.splunk_checkpoint import CheckpointError
        from ingest.splunk_sink import build_dataset

        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        try:
            window_seconds = parse_window(window)
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
