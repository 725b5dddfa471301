"""``hopwatch rules run|check|list``: declarative lateral-movement rules."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _load(rules_dir: Path | None) -> list:
    from detections.rules import RuleError, load_rules

    try:
        return load_rules(rules_dir)
    except RuleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def rules_run(
    data: Path = typer.Option(..., "--data", help="Data directory (hopwatch ingest ...)."),
    rules: Path | None = typer.Option(None, "--rules", help="Folder of *.yml rules."),
    as_json: bool = typer.Option(False, "--json", help="Print hits as JSON."),
) -> None:
    """Run every rule over a data directory and print the hits."""
    from detections.rules import hits_to_dicts, run_rules, view_from_data_dir

    loaded = _load(rules)
    try:
        view = view_from_data_dir(data)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    hits = hits_to_dicts(run_rules(loaded, view))
    if as_json:
        typer.echo(json.dumps({"hits": hits}, sort_keys=True))
        return
    for h in hits:
        typer.echo(
            f"{h['time']}  {h['severity']:<8} {h['rule_id']:<30} host={h['host']} "
            f"user={h['user']} source={h['source']}"
        )
    typer.echo(f"{len(hits)} hits from {len(loaded)} rules on {view.height} events")


def rules_check(
    rules: Path | None = typer.Option(None, "--rules", help="Folder of *.yml rules."),
) -> None:
    """Validate rule files and run each rule's positive and negative samples."""
    from detections.rules import check_samples

    loaded = _load(rules)
    problems = [p for r in loaded for p in check_samples(r)]
    for p in problems:
        typer.echo(p, err=True)
    typer.echo(f"{len(loaded)} rules, {len(problems)} sample problems")
    if problems:
        raise typer.Exit(1)


def rules_list(
    rules: Path | None = typer.Option(None, "--rules", help="Folder of *.yml rules."),
) -> None:
    """List the rules with severity and ATT&CK ids."""
    for r in _load(rules):
        typer.echo(f"{r.id:<30} {r.severity:<8} {','.join(r.attack):<28} {r.title}")
