"""`bytesim` commands of the neural conversion work (issue 6)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
