"""Command registration (filled in by the issue that owns these commands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add this module's commands to ``app`` or one of ``groups``."""
