"""Entry point of the `bytesim` command.

Commands live in one module per area; each module lists its commands in ``COMMANDS``.
Modules must import quickly: torch is imported inside the commands that need it.
"""

from __future__ import annotations

import click

from cli import (
    classify_commands,
    conversion_commands,
    convert_commands,
    cpu_commands,
    model_commands,
    neural_commands,
    system_commands,
)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="bytesim")
def cli() -> None:
    """bytesim: byte-level simulation of digital systems.

    A reference toy CPU, a reference ABC -> MIDI converter, and the bGPT byte model
    that learns to simulate both.
    """


def _first_sentence(text: str | None) -> str:
    """The first sentence of a help text: the one line `bytesim --help` shows for a command."""
    first = " ".join((text or "").strip().split("\n\n")[0].split())
    return first.split(". ")[0].rstrip(".")


for _module in (
    cpu_commands,
    convert_commands,
    model_commands,
    neural_commands,
    conversion_commands,
    classify_commands,
    system_commands,
):
    for _command in _module.COMMANDS:
        if _command.short_help is None:
            _command.short_help = _first_sentence(_command.help)
        cli.add_command(_command)


if __name__ == "__main__":
    cli()
