"""`bytesim` commands for the neural area."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
