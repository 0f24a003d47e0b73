"""`bytesim systems` and `bytesim eval-system`: any system of bytesim.systems."""

from __future__ import annotations

import json

import click

from cli import options
from cli.output import echo

COMMANDS: list[click.Command] = []

EVAL_SEED = 20_240_229  # default seed of the evaluation traces (never a training seed)


@click.command("systems")
@options.json_option()
def systems_command(as_json):
    """List the systems bytesim can simulate: built-in and installed (entry points).

    A system in a module of your own needs no installing: give it as module:attribute
    (docs/systems.md).

    \b
    Example:
      bytesim systems
    """
    from bytesim.systems import list_systems

    systems = list_systems()
    if as_json:
        echo(json.dumps(systems, indent=2))
        return
    for s in systems:
        if "error" in s:
            echo(f"{s['name']}  ({s['where']})  cannot be used: {s['error']}")
        else:
            echo(
                f"{s['name']}  ({s['where']})  {s['state_size']}-byte states, "
                f"up to {s['max_states']} steps, fields: {', '.join(s['fields'])}"
            )


COMMANDS.append(systems_command)


def _options(pairs) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        out[key] = value
    return out


@click.command("eval-system")
@click.argument("system_name", metavar="SYSTEM")
@options.model_option(None, "Model directory, training run directory or shipped model name.")
@click.option(
    "-o",
    "--option",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the system, as in gen:system?name=SYSTEM&KEY=VALUE (repeatable).",
)
@click.option(
    "-n",
    "--count",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Fresh traces to evaluate on.",
)
@options.seed_option("Seed of the evaluation traces.", EVAL_SEED)
@click.option(
    "--batch-size", type=click.IntRange(1), default=64, show_default=True, help="Traces at once."
)
@click.option("--no-free", is_flag=True, help="Skip the (slower) free-running evaluation.")
@options.json_option()
def eval_system_command(system_name, model_name, pairs, count, seed, batch_size, no_free, as_json):
    """Score a model's simulation of a system on fresh traces of its reference.

    SYSTEM is a built-in name (`bytesim systems`), an installed entry point or
    module:attribute. Free-running and teacher-forced state-byte accuracy, exact states and
    traces, accuracy per field, and the baseline that copies the previous state.

    \b
    Examples:
      bytesim train 'gen:system?name=rule110&max_steps=8' --out runs/rule110
      bytesim eval-system rule110 -o max_steps=8 --model runs/rule110 -n 200
      bytesim eval-system my_system:lfsr16 --model runs/lfsr --json
    """
    from rich.console import Console
    from rich.progress import Progress

    from bytesim.checkpoint import CheckpointError, load_model
    from bytesim.neural_system import NeuralSystemError, evaluate_system
    from bytesim.systems import SystemDefinitionError, find_system, random_traces

    if model_name is None:
        raise click.UsageError("give the model to evaluate with --model")
    try:
        system = find_system(system_name, _options(pairs))
        traces = random_traces(system, count, seed)
        model = load_model(model_name)
        console = Console(stderr=True)
        passes = 1 if no_free else 2
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("evaluating", total=passes * len(traces))
            result = evaluate_system(
                model, system, traces, batch_size, not no_free, lambda n: bar.advance(task, n)
            )
    except (SystemDefinitionError, CheckpointError, NeuralSystemError) as e:
        raise click.ClickException(str(e)) from None
    result["model"] = model_name
    if as_json:
        echo(json.dumps(result, indent=2))
        return
    render_system_eval(result, console)


def render_system_eval(result: dict, console) -> None:
    from rich.table import Table

    title = f"{result['system']}: {result['instances']} traces, model {result['model']}"
    table = Table(title=title)
    for name in ("", "state bytes right", "exact states"):
        table.add_column(name, justify="right" if name else "left")
    for label, key in (
        ("free-running", "free_running"),
        ("teacher-forced", "teacher_forced"),
        ("baseline: copy previous state", "baseline_copy"),
    ):
        if f"{key}_byte_accuracy" in result:
            table.add_row(
                label,
                f"{100 * result[f'{key}_byte_accuracy']:.2f} %",
                f"{100 * result[f'{key}_exact_state_rate']:.2f} %",
            )
    console.print(table)
    for key in ("free_running", "teacher_forced"):
        if f"{key}_field_accuracy" in result:
            fields = result[f"{key}_field_accuracy"].items()
            text = "  ".join(f"{name} {100 * v:.2f} %" for name, v in fields)
            console.print(f"{key.replace('_', '-')} per field: {text}")
    if "free_running_exact_trace_rate" in result:
        console.print(
            f"exact traces (free-running): {100 * result['free_running_exact_trace_rate']:.2f} %"
            f"   speed: {result['free_running_states_per_second']:.0f} states/s"
        )


COMMANDS.append(eval_system_command)
