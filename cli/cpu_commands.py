"""`bytesim` commands for the cpu area: run, asm, disasm, gen-cpu-dataset, check-cpu-dataset.

Rendering helpers (:func:`render_trace_table`, :func:`trace_json`) are reusable by other
commands that show CPU traces (e.g. a neural run of the same program).
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli import options
from cli.output import echo, write_file
from cpu.assembler import assemble, disassemble, disassemble_word
from cpu.errors import CpuError
from cpu.instance import Mismatch
from cpu.isa import REGISTER_NAMES
from cpu.state import State

stderr = Console(stderr=True)


# --- shared options and helpers -------------------------------------------------------------


seed_option = options.seed_option()
json_option = options.json_option("Print JSON to stdout.")


def lenient_option(f: Callable) -> Callable:
    return click.option(
        "--lenient",
        is_flag=True,
        help="Execute non-canonical words as the original bGPT generator does (see docs/cpu.md).",
    )(f)


def fail(path: Path | str, err: Exception) -> click.ClickException:
    """One-line error naming the file."""
    return click.ClickException(f"{path}: {err}")


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    quiet = not stderr.is_terminal  # no bar, and no blank line where it was, in a log file
    with Progress(*columns, console=stderr, transient=True, disable=quiet) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


# --- rendering ------------------------------------------------------------------------------


def state_row(step: int, state: State) -> list[str]:
    """Cells of one trace row: step, PC, ACC, IR (disassembled), A..J."""
    ir = "" if step == 0 else disassemble_word(state.ir)
    return [str(step), str(state.pc), str(state.acc), ir, *(str(r) for r in state.regs)]


def render_trace_table(
    states: list[State], title: str | None = None, mismatches: list[Mismatch] | None = None
) -> Table:
    """A rich table of a trace; cells named in ``mismatches`` are shown in red."""
    columns = ["step", "PC", "ACC", "IR", *REGISTER_NAMES]
    table = Table(title=title, show_edge=False, pad_edge=False)
    for name in columns:
        table.add_column(name, justify="left" if name == "IR" else "right")
    bad = {(m.step, m.field) for m in mismatches or []}
    for step, state in enumerate(states):
        cells = state_row(step, state)
        fields = ["", "PC", "ACC", "IR", *REGISTER_NAMES]
        for i, field in enumerate(fields):
            hit = (step, field) in bad or (
                field == "IR" and any((step, f"IR{j}") in bad for j in range(4))
            )
            if hit:
                cells[i] = f"[bold red]{cells[i]}[/]"
        table.add_row(*cells)
    return table


def state_json(step: int, state: State) -> dict:
    return {
        "step": step,
        "pc": state.pc,
        "acc": state.acc,
        "ir": state.ir.hex(),
        "instruction": None if step == 0 else disassemble_word(state.ir),
        "registers": dict(zip(REGISTER_NAMES, state.regs, strict=True)),
    }


def mismatch_json(m: Mismatch) -> dict:
    return {
        "step": m.step,
        "field": m.field,
        "expected": m.expected,
        "actual": m.actual,
        "offset": m.offset,
    }


def trace_json(states: list[State], mismatches: list[Mismatch] | None = None) -> dict:
    """JSON-ready trace: every state, and the mismatches if a recording was checked."""
    result = {"states": [state_json(k, s) for k, s in enumerate(states)]}
    if mismatches is not None:
        result["mismatches"] = [mismatch_json(m) for m in mismatches]
    return result


# --- run ------------------------------------------------------------------------------------


def parse_registers(values: tuple[str, ...]) -> dict[int, int]:
    """``("A=5", "j=255")`` -> ``{0: 5, 9: 255}``; BadParameter on anything else."""
    regs = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        if not sep or len(name) != 1 or name not in REGISTER_NAMES:
            raise click.BadParameter(
                f"{item!r}: expected NAME=VALUE with NAME in A..J", param_hint="--reg"
            )
        try:
            number = int(value, 0)
        except ValueError:
            number = -1
        if not 0 <= number <= 255:
            raise click.BadParameter(f"{item!r}: value must be 0..255", param_hint="--reg")
        regs[REGISTER_NAMES.index(name)] = number
    return regs


@click.command("run", short_help="Run a program (.asm, .bin program or instance); print its trace.")
@click.argument("program", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--acc", type=click.IntRange(0, 255), default=None, help="Initial ACC (default 0).")
@click.option(
    "--reg", "regs", multiple=True, metavar="R=N", help="Initial register, e.g. A=5 (repeatable)."
)
@click.option(
    "--random-init", is_flag=True, help="Draw ACC and A..J as the original does (with --seed)."
)
@seed_option
@lenient_option
@json_option
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the instance (.bin) here."
)
@click.option("--neural", is_flag=True, help="Also run the program on the neural model.")
@options.model_option(None, "Model for --neural (default: the shipped model `cpu-small`).")
@click.option(
    "--teacher-forced",
    is_flag=True,
    help="With --neural: predict each state from the reference states before it.",
)
@click.option(
    "--neural-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --neural: write the neural trace as an instance file (<eop> as 0).",
)
@click.option(
    "--unsure-below",
    type=click.FloatRange(0, 1),
    default=0.95,  # bytesim.neural_cpu.UNSURE_BELOW: 1 % of right states fall below it
    show_default=True,
    help="With --neural: mark the states the model gives a lower probability than this.",
)
def run_command(
    program,
    acc,
    regs,
    random_init,
    seed,
    lenient,
    as_json,
    out,
    neural,
    model_name,
    teacher_forced,
    neural_out,
    unsure_below,
):
    """Run a program and print its trace.

    PROGRAM is an .asm file, a raw program (.bin, at most 1024 bytes) or an instance
    (.bin of 1024 + 16 k bytes), whose state 0 gives the initial registers and whose recorded
    states are checked against the emulator (exit code 1 on any difference).

    \b
    Examples:
      bytesim run examples/countdown.asm --acc 3
      bytesim run prog.asm --reg A=5 --reg B=7 --out prog.bin
      bytesim run train/0a1b....bin --json
      bytesim run examples/countdown.asm --acc 3 --reg B=1 --neural
    """
    from cpu.program import initial_state, load_program, trace

    try:
        loaded = load_program(program)
    except CpuError as err:
        raise fail(program, err) from None
    initial = None
    if acc is not None or regs or random_init:
        if loaded.kind == "instance":
            raise click.UsageError(
                "an instance's state 0 is its initial state: drop --acc/--reg/--random-init"
            )
        initial = initial_state(acc, parse_registers(regs), seed if random_init else None)
    try:
        result = trace(loaded, initial, lenient)
    except CpuError as err:
        raise fail(program, err) from None
    if out is not None:
        write_file(out, result.instance)
    if (teacher_forced or neural_out or model_name) and not neural:
        raise click.UsageError("--model, --teacher-forced and --neural-out go with --neural")
    report = None
    if neural:
        from cli.neural_commands import neural_run

        report = neural_run(
            program, result.instance, model_name, teacher_forced, neural_out, as_json, unsure_below
        )
    if as_json:
        extra = {"neural": report} if report is not None else {}
        echo(
            json.dumps(
                {"program": str(program), **trace_json(result.states, result.mismatches), **extra}
            )
        )
    elif not neural:
        stderr.print(render_trace_table(result.states, str(program), result.mismatches))
    if result.mismatches:
        for m in result.mismatches:
            click.echo(f"{program}: {m}", err=True)
        raise click.ClickException(
            f"{program}: {len(result.mismatches)} recorded bytes differ from the emulator"
        )


# --- asm / disasm ---------------------------------------------------------------------------


@click.command("asm", short_help="Assemble an .asm file into a program .bin.")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output .bin (default: SOURCE with .bin).",
)
def asm_command(source, output):
    """Assemble an .asm file into a raw program (.bin, 4 bytes per instruction).

    \b
    Example:
      bytesim asm examples/countdown.asm -o countdown.bin
    """
    try:
        program = assemble(source.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise fail(source, f"byte {err.start}: not UTF-8 text") from None
    except CpuError as err:
        raise fail(source, err) from None
    output = output or source.with_suffix(".bin")
    write_file(output, program)
    click.echo(f"{output}: {len(program) // 4} words", err=True)


@click.command("disasm", short_help="Print the assembly of a program or instance .bin.")
@click.argument("binary", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@lenient_option
def disasm_command(binary, lenient):
    """Print the assembly of a program or instance (.bin), up to its first HLT.

    \b
    Example:
      bytesim disasm countdown.bin
    """
    from cpu.instance import kind_of

    data = binary.read_bytes()
    try:
        memory = data if kind_of(data) == "program" else data[:1024]
        lines = disassemble(memory, lenient)
    except CpuError as err:
        raise fail(binary, err) from None
    echo("\n".join(lines))


# --- datasets -------------------------------------------------------------------------------


@click.command(
    "gen-cpu-dataset", short_help="Generate a CPU-states dataset (shards or bgpt layout)."
)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--train",
    type=click.IntRange(min=0),
    default=2_100_000,
    show_default=True,
    help="Training instances.",
)
@click.option(
    "--test", type=click.IntRange(min=0), default=21_000, show_default=True, help="Test instances."
)
@seed_option
@click.option(
    "--min-instructions",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Fewest words per program, HLT included (as the original).",
)
@click.option(
    "--max-instructions",
    type=click.IntRange(1, 256),
    default=255,
    show_default=True,
    help="Most words per program, HLT included.",
)
@click.option(
    "--layout",
    type=click.Choice(["shards", "bgpt"]),
    default="shards",
    show_default=True,
    help="tar shards, or the original's train/ test/ folders.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes (shards layout).",
)
@click.option(
    "--shard-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Instances per shard.",
)
@click.option(
    "--num-shards",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Machines sharing the work.",
)
@click.option(
    "--shard-index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="This machine's slice: shards with index % NUM_SHARDS == SHARD_INDEX.",
)
@json_option
def gen_cpu_dataset_command(
    out,
    train,
    test,
    seed,
    min_instructions,
    max_instructions,
    layout,
    workers,
    shard_size,
    num_shards,
    shard_index,
    as_json,
):
    """Generate a CPU-states dataset (random programs and their traces).

    --layout bgpt reproduces the original bGPT generator: OUT/train/*.bin and OUT/test/*.bin,
    same names and bytes for the same seed and counts (duplicate names overwrite, as there).
    --layout shards (default) writes OUT/shard-NNNNN.tar + OUT/manifest.json: no instance
    lost, bytes independent of --workers, resumable (finished shards are kept).

    \b
    Examples:
      bytesim gen-cpu-dataset data/cpu --train 2100000 --test 21000 --workers 2
      bytesim gen-cpu-dataset data/cpu-bgpt --layout bgpt --train 210 --test 21
      bytesim gen-cpu-dataset data/cpu --num-shards 4 --shard-index 1   # machine 2 of 4
    """
    from cpu.dataset import plan_shards, write_bgpt, write_shards

    if min_instructions > max_instructions:
        raise click.BadParameter("must be <= --max-instructions", param_hint="--min-instructions")
    if shard_index >= num_shards:
        raise click.BadParameter(
            f"must be < --num-shards ({num_shards})", param_hint="--shard-index"
        )
    lengths = (seed, min_instructions, max_instructions)
    try:
        if layout == "bgpt":
            with progress_bar("bgpt layout", train + test) as advance:
                summary = write_bgpt(out, train, test, *lengths, progress=advance)
        else:
            mine = plan_shards(train, test, shard_size)[shard_index::num_shards]
            with progress_bar("shards", sum(s.count for s in mine)) as advance:
                summary = write_shards(
                    out,
                    train,
                    test,
                    *lengths,
                    shard_size=shard_size,
                    workers=workers,
                    num_shards=num_shards,
                    shard_index=shard_index,
                    progress=advance,
                )
    except (CpuError, OSError) as err:
        raise fail(out, err) from None
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: we are stopping already
        kept = len(list(out.glob("shard-*.tar"))) if layout == "shards" else 0
        click.echo(
            f"{out}: interrupted; {kept} finished shards kept, the same command resumes"
            if layout == "shards"
            else f"{out}: interrupted; the bgpt files written so far are kept",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    if as_json:
        echo(json.dumps(vars(summary)))
    elif layout == "bgpt":
        click.echo(
            f"{out}: {summary.instances} instances, {summary.files} files "
            f"({summary.overwritten} overwritten by a later duplicate)",
            err=True,
        )
    else:
        click.echo(
            f"{out}: {summary.files} shards written ({summary.instances} instances), "
            f"{summary.skipped} already present",
            err=True,
        )


@click.command(
    "check-cpu-dataset", short_help="Replay a CPU-states dataset; report every differing byte."
)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@lenient_option
@json_option
def check_cpu_dataset_command(path, lenient, as_json):
    """Replay every instance of a dataset (either layout) and report each differing byte.

    PATH is a bgpt folder (train/, test/), a shards folder, or one shard .tar. Problems go to
    stdout, one per line; the exit code is 1 if there is any.

    \b
    Example:
      bytesim check-cpu-dataset data/cpu
    """
    from cpu.dataset import check_dataset, count_instances

    try:
        with progress_bar("replaying", count_instances(path)) as advance:
            report = check_dataset(path, lenient, progress=advance)
    except CpuError as err:
        raise fail(path, err) from None
    if as_json:
        echo(
            json.dumps(
                {
                    "layout": report.layout,
                    "instances": report.instances,
                    "problems": report.problems,
                }
            )
        )
    else:
        for line in report.problems:
            echo(line)
        click.echo(
            f"{path}: {report.instances} instances replayed ({report.layout}), "
            f"{len(report.problems)} problems",
            err=True,
        )
    if report.problems:
        sys.exit(1)


COMMANDS: list[click.Command] = [
    run_command,
    asm_command,
    disasm_command,
    gen_cpu_dataset_command,
    check_cpu_dataset_command,
]
