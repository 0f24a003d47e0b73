"""`bytesim` commands for the cpu area."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
