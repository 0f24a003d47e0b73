"""`bytesim` commands for the convert area."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
