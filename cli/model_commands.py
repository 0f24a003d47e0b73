"""`bytesim` commands for the model area."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
