"""Options several commands share, declared once: seed, JSON output, model, sampling."""

from __future__ import annotations

from collections.abc import Callable

import click


def seed_option(help: str = "Random seed.", default: int = 0) -> Callable:
    return click.option("--seed", type=int, default=default, show_default=True, help=help)


def json_option(help: str = "Print one JSON object to stdout.") -> Callable:
    return click.option("--json", "as_json", is_flag=True, help=help)


def model_option(default: str | None, help: str) -> Callable:
    """--model NAME|DIR into `model_name`: a model directory, training run or shipped name."""
    return click.option(
        "--model",
        "model_name",
        default=default,
        show_default=default is not None,
        metavar="NAME|DIR",
        help=help,
    )


def sampling_options(f: Callable) -> Callable:
    """--temperature (0 = greedy), --top-k and --top-p; the seed is the command's --seed."""
    f = click.option(
        "--top-p",
        type=click.FloatRange(min=0, max=1, min_open=True),
        help="Sample from the smallest set of bytes with probability >= p.",
    )(f)
    f = click.option(
        "--top-k", type=click.IntRange(min=1), help="Sample from the k likeliest bytes."
    )(f)
    return click.option(
        "--temperature",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="0 = greedy.",
    )(f)
