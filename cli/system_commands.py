"""`bytesim systems`, `eval-system`, `run-system` and `gen-system-dataset`: any system of
bytesim.systems."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import click
import numpy as np

from cli import options
from cli.output import cannot_write, echo

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


system_options = click.option(
    "-o",
    "--option",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the system, as in gen:system?name=SYSTEM&KEY=VALUE (repeatable).",
)


# the shipped model of a built-in system: --model's default for it
SHIPPED_MODELS = {"cpu": "cpu-small", "rule110": "rule110"}
model_option = options.model_option(
    None,
    "Model directory, training run directory or shipped model name (default: the shipped "
    "model of a built-in system: cpu-small for cpu, rule110 for rule110).",
)


def _model_for(system_name: str, model_name: str | None, verb: str) -> str:
    if model_name is not None:
        return model_name
    if system_name in SHIPPED_MODELS:
        return SHIPPED_MODELS[system_name]
    raise click.UsageError(
        f"no model ships for {system_name}: give the model to {verb} with --model"
    )


@click.command("eval-system")
@click.argument("system_name", metavar="SYSTEM")
@model_option
@system_options
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

    model_name = _model_for(system_name, model_name, "evaluate")
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


# ----------------------------------------------------------------------------- run-system


@click.command("run-system")
@click.argument("system_name", metavar="SYSTEM")
@model_option
@system_options
@options.seed_option("Seed of the drawn input.")
@click.option(
    "--teacher-forced",
    is_flag=True,
    help="Predict each state from the reference states before it.",
)
@click.option(
    "--unsure-below",
    type=click.FloatRange(0, 1),
    default=0.95,  # bytesim.neural_cpu.UNSURE_BELOW, as `run --neural`
    show_default=True,
    help="Mark the states the model gives a lower probability than this.",
)
@click.option("--bits", is_flag=True, help="Show states as bits (# = 1, . = 0), not hex.")
@options.json_option()
def run_system_command(
    system_name, model_name, pairs, seed, teacher_forced, unsure_below, bits, as_json
):
    """Run one input of a system on the reference and on a model, side by side.

    The input is drawn like the system's training data from --seed. For every step the
    reference state, then the model's, one column per field of the system, in hex (--bits:
    bit by bit); the model's wrong bytes in red, and in column p its probability of its state,
    marked ? below --unsure-below. Free-running unless --teacher-forced.

    \b
    Examples:
      bytesim run-system rule110 -o max_steps=8 --model runs/rule110 --seed 3 --bits
      bytesim run-system cpu -o max_instructions=6 --model cpu-small
      bytesim run-system my_system:lfsr16 --model runs/lfsr --json
    """
    from bytesim.checkpoint import CheckpointError, load_model
    from bytesim.neural_system import NeuralSystemError, check_model, run_system
    from bytesim.systems import SystemDefinitionError, draw_trace, find_system

    model_name = _model_for(system_name, model_name, "run")
    try:
        system = find_system(system_name, _options(pairs))
        trace = draw_trace(system, np.random.default_rng(seed), f"{system.name} seed {seed}")
        model = load_model(model_name)
        check_model(model, system, [trace])
        run = run_system(model, system, trace, teacher_forced, unsure_below)
    except (SystemDefinitionError, CheckpointError, NeuralSystemError) as e:
        raise click.ClickException(str(e)) from None
    report = run.report()
    if as_json:
        reference = [[int(v) for v in state] for state in trace.states]
        extra = {"seed": seed, "model": model_name, "context": trace.context.hex()}
        echo(json.dumps({**report, **extra, "reference": reference, "neural": run.steps()}))
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:  # a pipe or a file: do not squeeze the table
        console = Console(stderr=True, width=max(160, _table_width(system, bits)))
    console.print(f"context: {_context_text(trace.context)}")
    title = f"{trace.name} ({run.mode}; p: the model's probability of its state)"
    console.print(system_side_by_side(run, title, bits))
    divergence = report["first_divergence"]
    console.print(
        f"{run.mode}: state bytes right {100 * report['state_byte_accuracy']:.2f} %, states "
        f"exactly right {100 * report['exact_state_rate']:.2f} % "
        f"({run.score.states_exact}/{run.score.states_total}), "
        + ("trace exact" if divergence is None else f"first divergence at step {divergence}")
        + (
            f", {len(run.predicted)} neural states for {len(trace.states) - 1}"
            if len(run.predicted) != len(trace.states) - 1
            else ""
        )
        + f"; {report['unsure_states']} states less probable than {unsure_below} (marked ?)"
    )


def _context_text(context: bytes, shown: int = 32) -> str:
    if not context:
        return "(none)"
    more = f" ... ({len(context)} bytes)" if len(context) > shown else ""
    return context[:shown].hex(" ") + more


def _table_width(system, bits: bool) -> int:
    """Characters the side-by-side table needs on one line."""
    sizes = [part.stop - (part.start or 0) for part in system.fields.values()]
    cells = [8 * n if bits else 2 * n + (n - 1) // 4 for n in sizes]
    return 30 + sum(max(c, len(name)) + 3 for c, name in zip(cells, system.fields, strict=True))


def field_cell(values, wrong=None, bits: bool = False) -> str:
    """A field's bytes as rich text: hex in groups of 4 bytes (<eop> as --) or bits (# and .,
    <eop> as ????????), the bytes marked in `wrong` (bool per byte) in bold red."""
    out = []
    for i, v in enumerate(int(v) for v in values):
        if i and i % 4 == 0 and not bits:
            out.append(" ")  # hex in groups of 4 bytes
        if bits:
            text = "?" * 8 if v > 255 else format(v, "08b").replace("1", "#").replace("0", ".")
        else:
            text = "--" if v > 255 else f"{v:02x}"
        out.append(f"[bold red]{text}[/]" if wrong is not None and wrong[i] else text)
    return "".join(out)


def system_side_by_side(run, title: str, bits: bool = False):
    """A rich table: state 0, then for each step the reference row and the model's row, one
    column per field, the model's wrong bytes in red, its probability (yellow ? when unsure)."""
    from rich.table import Table

    system, states, predicted = run.system, run.reference.states, run.predicted
    fields = list(system.fields.items())
    table = Table(title=title, show_edge=False, pad_edge=False)
    for name in ("step", "", *(name for name, _ in fields), "p"):
        table.add_column(name, justify="right" if name in ("step", "p") else "left")
    table.add_row(
        "0", "state 0", *(field_cell(states[0][part], None, bits) for _, part in fields), ""
    )
    for k in range(1, max(len(states), len(predicted) + 1)):
        ref = states[k] if k < len(states) else None
        got = predicted[k - 1] if k - 1 < len(predicted) else None
        if ref is not None:
            table.add_row(str(k), "ref", *(field_cell(ref[p], None, bits) for _, p in fields), "")
        if got is None:
            missing = ["[bold red]missing[/]"] + [""] * (len(fields) - 1)
            table.add_row("", "[bold red]neural[/]", *missing, "", end_section=True)
            continue
        wrong = np.ones(len(got), bool) if ref is None else got != ref.astype(np.int64)
        cells = [field_cell(got[p], wrong[p], bits) for _, p in fields]
        prob, unsure = float(run.probabilities[k - 1]), bool(run.unsure[k - 1])
        cells.append(f"[yellow]{prob:.2f}?[/]" if unsure else f"{prob:.2f}")
        table.add_row("" if ref is not None else str(k), "neural", *cells, end_section=True)
    return table


COMMANDS.append(run_system_command)


# ----------------------------------------------------------------------------- datasets


def parse_slice(text: str | None) -> tuple[int, int]:
    """`--slice K/N` (machine K of N, 1-based) -> (num_shards N, shard_index K - 1)."""
    if text is None:
        return 1, 0
    k, sep, n = text.partition("/")
    if sep and k.strip().isdigit() and n.strip().isdigit() and 1 <= int(k) <= int(n):
        return int(n), int(k) - 1
    raise click.BadParameter(
        f"{text!r} is not K/N with 1 <= K <= N (machine K of N)", param_hint="--slice"
    )


@click.command("gen-system-dataset")
@click.argument("system_name", metavar="SYSTEM")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("-n", "--count", type=click.IntRange(min=0), required=True, help="Training traces.")
@click.option(
    "--test", type=click.IntRange(min=0), default=0, show_default=True, help="Test traces."
)
@system_options
@options.seed_option()
@click.option(
    "--layout",
    type=click.Choice(["shards", "bgpt"]),
    default="shards",
    show_default=True,
    help="tar shards, or train/ test/ folders of files.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Processes."
)
@click.option(
    "--shard-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Traces per shard (bgpt: per block of files drawn together).",
)
@click.option(
    "--slice",
    "slice_text",
    metavar="K/N",
    help="Machine K of N: make only shards with index % N == K - 1 (same OUT, same options).",
)
@options.json_option()
def gen_system_dataset_command(
    system_name,
    out,
    count,
    test,
    pairs,
    seed,
    layout,
    workers,
    shard_size,
    slice_text,
    as_json,
):
    """Generate a dataset of a system's traces (shards or bgpt layout).

    Each trace is a file: the context zero-padded to whole patches, then the states; named
    NNNNNNNNN.HEADER (HEADER: the system's header, e.g. rule110; the CPU's is bin), in
    OUT/train and OUT/test (shards: tar files of them there); `bytesim train OUT/train` reads
    them. The bytes depend only on the system, its options,
    --seed, the counts and --shard-size: not on --workers or --slice. Finished shards are kept,
    so the same command resumes an interrupted run.

    \b
    Examples:
      bytesim gen-system-dataset rule110 data/rule110 -n 100000 --test 1000 --workers 2
      bytesim gen-system-dataset rule110 data/r110 -n 100000 --slice 2/4   # machine 2 of 4
      bytesim gen-system-dataset life data/life -n 2000 -o max_steps=8 --layout bgpt
      bytesim train data/life/train --eval-data data/life/test --out runs/life
    """
    from bytesim.data import DataError
    from bytesim.system_task import write_system_dataset
    from bytesim.systems import find_system
    from cli.cpu_commands import fail, progress_bar
    from cpu.dataset import plan_shards
    from cpu.errors import CpuError

    num_shards, shard_index = parse_slice(slice_text)
    system_options_given = _options(pairs)
    try:
        system = find_system(system_name, system_options_given)
    except DataError as err:
        raise click.ClickException(str(err)) from None
    mine = plan_shards(count, test, shard_size)[shard_index::num_shards]
    try:
        with progress_bar(f"{system.name} traces", sum(s.count for s in mine)) as advance:
            summary = write_system_dataset(
                out,
                system,
                count,
                test,
                seed,
                layout,
                shard_size,
                workers,
                num_shards,
                shard_index,
                system_options_given,
                progress=advance,
            )
    except (CpuError, DataError) as err:
        raise fail(out, err) from None
    except OSError as err:
        raise cannot_write(err.filename or out, err) from None
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: we are stopping already
        click.echo(
            f"{out}: interrupted; finished shards are kept, the same command resumes", err=True
        )
        raise click.exceptions.Exit(130) from None
    if as_json:
        echo(json.dumps({**vars(summary), "system": system.name}))
        return
    unit = "shards" if layout == "shards" else "blocks of files"
    click.echo(
        f"{out}: {summary.instances} {system.name} traces written in {summary.files} {unit}, "
        f"{summary.skipped} {unit} already present",
        err=True,
    )


COMMANDS.append(gen_system_dataset_command)
