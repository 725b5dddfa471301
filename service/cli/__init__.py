"""The ``hopwatch`` command line: one module per command group, registered from one table
in :mod:`~service.cli.main`."""

from service.cli.main import build_app, main

__all__ = ["build_app", "main"]
