"""``hopwatch rules run|check|list|export``: lateral-movement rules in Sigma."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

_RULES_HELP = "Folder of Sigma rules (default: hopwatch's own; SigmaHQ folders work too)."


def _load_set(rules_dir: Path | None):
    from detections.rules import RuleError, load_rule_set

    try:
        return load_rule_set(rules_dir)
    except RuleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _load(rules_dir: Path | None) -> list:
    found = _load_set(rules_dir)
    if found.refused:
        typer.echo(f"{len(found.refused)} rules refused (see `hopwatch rules check`)", err=True)
    if not found.rules:
        typer.echo("error: no rule hopwatch can evaluate", err=True)
        raise typer.Exit(2)
    return found.rules


def rules_run(
    data: Path = typer.Option(..., "--data", help="Data directory (hopwatch ingest ...)."),
    rules: Path | None = typer.Option(None, "--rules", help=_RULES_HELP),
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
            f"{h['time']}  {h['severity']:<8} {h['rule_id']:<34} host={h['host']} "
            f"user={h['user']} source={h['source']}"
        )
    typer.echo(f"{len(hits)} hits from {len(loaded)} rules on {view.height} events")


def rules_check(
    rules: Path | None = typer.Option(None, "--rules", help=_RULES_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every loaded rule."),
) -> None:
    """Load rules: list the refused ones and why, and run each rule's own samples.

    Exit 1 when a sample misbehaves, or when a rule of hopwatch's own library is
    refused; refusals in a user's folder (SigmaHQ) are reported, not failures.
    """
    from detections.rules import check_samples

    found = _load_set(rules)
    for refusal in found.refused:
        typer.echo(f"refused: {refusal}")
    problems = [p for r in found.rules for p in check_samples(r, found.rules)]
    for p in problems:
        typer.echo(p, err=True)
    if verbose:
        for r in found.rules:
            n = len(r.positive) + len(r.negative)
            typer.echo(f"loaded: {r.id} ({r.path}; {n} samples)")
    with_samples = sum(1 for r in found.rules if r.positive or r.negative)
    typer.echo(
        f"{len(found.rules)} rules loaded, {len(found.refused)} refused, "
        f"{with_samples} with samples, {len(problems)} sample problems"
    )
    if problems or (rules is None and found.refused):
        raise typer.Exit(1)


def rules_list(
    rules: Path | None = typer.Option(None, "--rules", help=_RULES_HELP),
) -> None:
    """List the rules with level and ATT&CK ids."""
    for r in _load(rules):
        kind = f"{r.correlation.type}" if r.correlation else ("base" if not r.reports else "")
        typer.echo(f"{r.id:<36} {r.severity:<8} {','.join(r.attack):<34} {kind:<11} {r.title}")


def rules_export(
    target: str = typer.Option("splunk", "--target", help="Only 'splunk' for now."),
    rules: Path | None = typer.Option(None, "--rules", help=_RULES_HELP),
    out: Path | None = typer.Option(
        None, "--out", help="Write savedsearches.conf here (default: stdout)."
    ),
) -> None:
    """Convert the rules to another SIEM: Splunk savedsearches.conf stanzas, disabled."""
    from detections.rules import RuleError, savedsearches_conf, to_splunk

    if target != "splunk":
        typer.echo(f"error: unknown target {target!r}; known: splunk", err=True)
        raise typer.Exit(2)
    try:
        searches = to_splunk(_load(rules))
    except RuleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    text = savedsearches_conf(searches)
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"{len(searches)} saved searches (disabled) written to {out}", err=True)
