"""`hopwatch simulate`: write a simulated enterprise's auth log with labelled campaigns."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer


class SimFormat(StrEnum):
    """On-disk form of the simulated log."""

    lanl = "lanl"
    windows = "windows"


def parse_knobs(items: list[str]) -> dict[str, float | int]:
    """``NAME=VALUE`` settings of :class:`ingest.simulate.SimConfig` beyond the named options.

    Raises:
        typer.BadParameter: not NAME=VALUE, an unknown or a reserved name, or not a number.
    """
    from ingest.simulate import SimConfig

    fixed = {"days", "hosts", "users", "seed", "campaigns", "stealth", "domain"}
    known = [f for f in SimConfig.field_names() if f not in fixed]
    out: dict[str, float | int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise typer.BadParameter(
                f"expected NAME=VALUE with NAME one of {', '.join(known)}; got {item!r}",
                param_hint="--set",
            )
        try:
            out[name] = int(value) if name == "stolen_accounts" else float(value)
        except ValueError:
            raise typer.BadParameter(
                f"{name}: not a number: {value!r}", param_hint="--set"
            ) from None
    return out


def simulate(
    out: Path = typer.Option(..., "--out", help="Output directory (created if missing)."),
    days: int = typer.Option(14, help="Simulated span in days; t=0 is a Monday 00:00 UTC."),
    hosts: int = typer.Option(1000, help="Number of hosts (DCs, servers, workstations)."),
    users: int = typer.Option(800, help="Number of human users."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives identical files."),
    campaigns: int = typer.Option(3, help="Number of attack campaigns."),
    stealth: float = typer.Option(0.0, help="Attacker stealth in [0, 1]."),
    fmt: SimFormat = typer.Option(SimFormat.lanl, "--format", help="lanl or windows."),
    knobs: list[str] = typer.Option(
        [],
        "--set",
        help="Another SimConfig knob as NAME=VALUE, repeatable: revisits, stolen_accounts, "
        "foothold_share, quiet_days, null_sessions, machine_self, service_accounts, scanners, "
        "backup, printers, helpdesk, new_hires, moved_desks (docs/simulator.md).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Write a realistic enterprise auth log (LANL or Windows form) with attack campaigns."""
    from ingest.simulate import SimConfig, simulate, write_lanl
    from ingest.simulate.config import SimConfigError

    try:
        cfg = SimConfig(
            days=days, hosts=hosts, users=users, seed=seed, campaigns=campaigns,
            stealth=stealth, **parse_knobs(knobs),
        )  # fmt: skip
    except SimConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    result = simulate(cfg)
    if fmt is SimFormat.windows:
        from ingest.simulate.windows.writer import write_windows

        paths = write_windows(result, out)
    else:
        paths = write_lanl(result, out)
    summary = {
        "out": str(out),
        "format": fmt.value,
        "files": {k: str(v) for k, v in paths.items()},
        "events": result.events.height,
        "redteam": result.redteam.height,
        "campaigns": [
            {"id": c.id, "start": c.start, "end": c.end, "hops": len(c.hops)}
            for c in result.campaigns
        ],
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"wrote {summary['events']:,} events and {summary['redteam']} red-team hops")
    for name, path in summary["files"].items():
        typer.echo(f"  {name}: {path}")
    for c in summary["campaigns"]:
        typer.echo(f"  campaign {c['id']}: {c['hops']} hops, t={c['start']}..{c['end']}")
