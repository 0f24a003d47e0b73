"""`bytesim eval-cpu` and the `--neural` part of `bytesim run`."""

from __future__ import annotations

import json

import click

from cli import options
from cli.output import echo, stopped_by_ctrl_c

COMMANDS: list[click.Command] = []

EVAL_SEED = 20_240_229  # default seed of --random instances (never a training seed)


model_option = options.model_option(
    None,
    "Model directory, training run directory or shipped model name "
    "(default: the shipped CPU model `cpu-small`).",
)


def load_cpu_model(name: str | None):
    """The model for neural CPU simulation, or a one-line ClickException."""
    from bytesim.checkpoint import CheckpointError, load_model
    from bytesim.neural_cpu import DEFAULT_MODEL, NeuralCpuError, check_model

    try:
        model = load_model(name or DEFAULT_MODEL)
        check_model(model)
    except (CheckpointError, NeuralCpuError) as e:
        raise click.ClickException(str(e)) from None
    return model


def _percent(x: float) -> str:
    return f"{100 * x:.2f} %"


@click.command("eval-cpu")
@click.argument("data", nargs=-1, type=click.Path(exists=True))
@model_option
@click.option(
    "--random",
    "random_count",
    type=int,
    default=None,
    metavar="N",
    help="Evaluate on N fresh instances drawn like the original dataset instead of DATA.",
)
@options.seed_option("Seed of the --random instances.", EVAL_SEED)
@click.option(
    "--min-instructions",
    "min_len",
    type=click.IntRange(1, 255),
    default=1,
    show_default=True,
    help="Shortest --random program, in words (HLT included).",
)
@click.option(
    "--max-instructions",
    "max_len",
    type=click.IntRange(1, 255),
    default=255,
    show_default=True,
    help="Longest --random program, in words (HLT included).",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Use the first N instances.")
@click.option(
    "--split",
    type=click.Choice(["train", "test", "all"]),
    help="Which split of a gen-cpu-dataset folder (needed when DATA holds both).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Programs generated together.",
)
@click.option("--no-free", is_flag=True, help="Skip the (slower) free-running evaluation.")
@options.json_option()
def eval_cpu(
    data,
    model_name,
    random_count,
    seed,
    min_len,
    max_len,
    limit,
    split,
    batch_size,
    no_free,
    as_json,
):
    """Score a model's CPU simulation against the reference interpreter.

    Free-running (the model reads its own states, the paper's metric) and teacher-forced
    (each state from the true previous ones) state-byte accuracy, exact states and traces,
    accuracy per field and per instruction variant, and two per-step baselines a model must
    beat: `copy` (repeat the previous state) and `pc_ir` (right PC and IR, registers copied).

    \b
    Examples:
      bytesim eval-cpu --random 1000
      bytesim gen-cpu-dataset data/bgpt --layout bgpt --train 0 --test 2000
      bytesim eval-cpu data/bgpt/test --limit 500 --json
      bytesim gen-cpu-dataset data/shards --train 10000 --test 1000
      bytesim eval-cpu data/shards --split test
    """
    from rich.console import Console
    from rich.progress import Progress

    from bytesim.neural_cpu import NeuralCpuError, evaluate_cpu, load_traces, random_traces

    if bool(data) == (random_count is not None):
        raise click.UsageError("give DATA (instance files or folders) or --random N, not both")
    if split and random_count is not None:
        raise click.UsageError("--split picks instances of DATA; --random draws its own")
    try:
        if random_count is not None:
            traces = random_traces(random_count, seed, min_len, min(max_len, 255))
        else:
            traces = load_traces(list(data), limit, split)
        traces = traces[:limit] if limit else traces
    except NeuralCpuError as e:
        raise click.ClickException(str(e)) from None
    model = load_cpu_model(model_name)
    console = Console(stderr=True)
    passes = 1 if no_free else 2
    stopped = "eval-cpu: interrupted; nothing reported"
    with Progress(console=console, transient=True) as bar, stopped_by_ctrl_c(lambda: stopped):
        task = bar.add_task("evaluating", total=passes * len(traces))
        result = evaluate_cpu(
            model, traces, batch_size, not no_free, progress=lambda n: bar.advance(task, n)
        )
    result["model"] = model_name or "cpu-small"
    if as_json:
        echo(json.dumps(result, indent=2))
        return
    render_cpu_eval(result, console)


def render_cpu_eval(result: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"{result['instances']} instances, model {result['model']}")
    table.add_column("")
    table.add_column("state bytes right", justify="right")
    table.add_column("exact states", justify="right")
    rows = [
        ("free-running", "free_running"),
        ("teacher-forced", "teacher_forced"),
        ("baseline: copy previous state", "baseline_copy"),
        ("baseline: PC+IR right, copy registers", "baseline_pc_ir"),
    ]
    for label, key in rows:
        if f"{key}_byte_accuracy" in result:
            table.add_row(
                label,
                _percent(result[f"{key}_byte_accuracy"]),
                _percent(result[f"{key}_exact_state_rate"]),
            )
    console.print(table)
    for key in ("free_running", "teacher_forced"):
        if f"{key}_field_accuracy" in result:
            fields = "  ".join(
                f"{k} {_percent(v)}" for k, v in result[f"{key}_field_accuracy"].items()
            )
            console.print(f"{key.replace('_', '-')} per field: {fields}")
    if "free_running_exact_trace_rate" in result:
        console.print(
            f"exact traces (free-running): {_percent(result['free_running_exact_trace_rate'])}"
            f"   speed: {result['free_running_states_per_second']:.0f} states/s"
        )
    if result.get("teacher_forced_wrong_states"):
        console.print(
            f"search over whole states could mend at most "
            f"{result['teacher_forced_wrong_states_reference_more_probable']} of the "
            f"{result['teacher_forced_wrong_states']} wrong teacher-forced states (those whose "
            f"reference is more probable than the greedy state; the greedy one's probability: "
            f"{result['teacher_forced_wrong_state_probability_median']:.2f} at the median)"
        )
    worst = sorted(
        result["teacher_forced_variants"].items(), key=lambda kv: kv[1]["exact_state_rate"]
    )
    console.print(
        "hardest variants (teacher-forced exact states): "
        + ", ".join(f"{name} {_percent(v['exact_state_rate'])}" for name, v in worst[:6])
    )


COMMANDS.append(eval_cpu)


# ----------------------------------------------------------------------------- run --neural


def neural_run(
    program, instance: bytes, model_name, teacher_forced: bool, neural_out, as_json, unsure_below
):
    """The `--neural` part of `bytesim run`: reference and neural traces side by side."""
    from rich.console import Console

    from bytesim.neural_cpu import run_neural

    model = load_cpu_model(model_name)
    run = run_neural(model, instance, str(program), teacher_forced, unsure_below)
    if neural_out is not None:
        from cli.output import write_file

        write_file(neural_out, run.instance_bytes())
    report = run.report()
    if as_json:
        return {**report, "neural": run.steps()}
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=140)  # a pipe or a file: do not squeeze the table
    reference, predicted, divergence = run.reference, run.predicted, report["first_divergence"]
    title = f"{program} ({run.mode}; p: the model's probability of its state)"
    console.print(side_by_side(reference, predicted, title, run.probabilities, unsure_below))
    console.print(
        f"{run.mode}: state bytes right {_percent(report['state_byte_accuracy'])}, states "
        f"exactly right {report['exact_state_rate'] * 100:.2f} % "
        f"({run.score.states_exact}/{run.score.states_total}), "
        + ("trace exact" if divergence is None else f"first divergence at step {divergence}")
        + (
            f", {len(predicted)} neural states for {len(reference.states) - 1}"
            if len(predicted) != len(reference.states) - 1
            else ""
        )
        + f"; {report['unsure_states']} states less probable than {unsure_below} (marked ?)"
    )
    return report


def _cells(state) -> list[str]:
    """PC, ACC, IR (disassembled, or hex when not a valid word), A..J of a (16,) int state."""
    from cpu.assembler import disassemble_word
    from cpu.isa import variant_of

    values = [int(v) for v in state]
    show = [("<eop>" if v > 255 else str(v)) for v in values]
    ir = values[2:6]
    if all(v <= 255 for v in ir) and variant_of(bytes(ir)) is not None:
        text = disassemble_word(bytes(ir))
    else:
        text = " ".join("<eop>" if v > 255 else f"{v:02x}" for v in ir)
    return [show[0], show[1], text, *show[6:]]


def side_by_side(reference, predicted, title: str, probabilities=None, unsure_below=None):
    """A rich table: for each step the reference row, then the neural row with wrong cells red
    and, given `probabilities`, the model's probability of it (yellow with ? below
    `unsure_below`)."""
    from rich.table import Table

    table = Table(title=title, show_edge=False, pad_edge=False)
    names = ["step", "", "PC", "ACC", "IR", *"ABCDEFGHIJ"]
    if probabilities is not None:
        names.append("p")
    for name in names:
        table.add_column(name, justify="left" if name in ("IR", "") else "right")
    groups = [[0], [1], [2, 3, 4, 5], *[[i] for i in range(6, 16)]]
    blank = [""] if probabilities is not None else []
    table.add_row("0", "state 0", *_cells(reference.states[0]), *blank)
    for k in range(1, max(len(reference.states), len(predicted) + 1)):
        ref = reference.states[k] if k < len(reference.states) else None
        got = predicted[k - 1] if k - 1 < len(predicted) else None
        if ref is not None:
            table.add_row(str(k), "ref", *_cells(ref), *blank)
        if got is None:
            table.add_row("", "[bold red]neural[/]", "[bold red]missing[/]", *[""] * 12, *blank)
            continue
        cells = _cells(got)
        for c, group in enumerate(groups):
            if ref is None or any(int(got[i]) != int(ref[i]) for i in group):
                cells[c] = f"[bold red]{cells[c]}[/]"
        if probabilities is not None:
            p = float(probabilities[k - 1])
            cells.append(f"[yellow]{p:.2f}?[/]" if p < unsure_below else f"{p:.2f}")
        table.add_row("" if ref is not None else str(k), "neural", *cells, end_section=True)
    return table
