"""`bytesim` commands of the neural classify work (issue 6)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
