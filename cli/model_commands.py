"""`bytesim` commands for the model area: train, eval, generate, models, import-bgpt.

torch is imported inside the commands, so `bytesim --help` stays fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from cli import options
from cli.output import cannot_write, echo, removed_if_failed, stopped_by_ctrl_c, write_file

seed_option = options.seed_option()
json_option = options.json_option()
conversion_option = click.option(
    "--conversion",
    metavar="A->B|A&B",
    help="Train/evaluate on pairs x.A, x.B: A->B one way, A&B both ways.",
)


def model_argument(f):
    return click.argument("model", metavar="MODEL")(f)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _load(model: str):
    from bytesim.checkpoint import CheckpointError, load_model

    try:
        return load_model(model)
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None


# ----------------------------------------------------------------------------- train


@click.command("train")
@click.argument("data", nargs=-1)
@click.option(
    "--recipe",
    metavar="NAME|FILE",
    help="Start from a recipe's settings (a shipped name such as `cpu`, or a .toml file); "
    "options given here win.",
)
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Run directory."
)
@click.option("--preset", default="small", show_default=True, help="paper | small | tiny.")
@click.option(
    "--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Override a model setting."
)
@click.option("--init", metavar="MODEL", help="Start from this model instead of random weights.")
@conversion_option
@click.option(
    "--task", type=click.Choice(["generate", "classify"]), default="generate", show_default=True
)
@click.option(
    "--loss-on",
    type=click.Choice(["all", "target"]),
    default="all",
    show_default=True,
    help="all: every byte after the header; target: the conversion target / CPU states "
    "after state 0 (file data; a gen: source sets its own mask).",
)
@click.option(
    "--changed-weight",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Loss weight of a target byte that differs from the byte at its place in the patch "
    "before (a CPU state's changed bytes); evaluation bits stay unweighted.",
)
@click.option("--steps", type=click.IntRange(min=1), help="Optimizer steps [default: 1000].")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="Epochs of file data.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Peak learning rate.")
@click.option("--min-lr", type=float, default=1e-4, show_default=True, help="Cosine floor.")
@click.option("--warmup", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--grad-accum", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option("--eval-data", multiple=True, help="Evaluation data (default: held-out files).")
@click.option("--eval-every", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--eval-examples", type=click.IntRange(min=0), default=64, show_default=True)
@click.option("--save-every", type=click.IntRange(min=1), default=500, show_default=True)
@click.option(
    "--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True
)
@click.option("--threads", type=click.IntRange(min=1), help="torch threads per process.")
@click.option("--max-minutes", type=float, help="Stop cleanly with a checkpoint after this long.")
@click.option("--stop-after", type=click.IntRange(min=1), help="Stop after N steps of this run.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@seed_option
def train_command(data, out, sets, resume, recipe, **options):
    """Train a bGPT model on files, folders, tar shards or a generated source.

    DATA is any mix of files, folders and .tar shards, or one generated source
    `gen:NAME?key=value&...` that draws fresh examples every step. The run directory
    gets checkpoints (exact resume), metrics.jsonl and loss.png. --recipe takes the data,
    model and schedule from a recipe (docs/model.md lists the shipped ones).

    \b
    Examples:
      bytesim train data/abc --out runs/abc --preset small --steps 2000
      bytesim train data/pairs --conversion 'abc->mid' --loss-on target --out runs/conv
      bytesim train 'gen:cpu' --set prev_patch=prefix --steps 5000 --out runs/cpu
      bytesim train 'gen:cpu' --out runs/cpu --resume --max-minutes 50
      bytesim train --recipe cpu --out runs/cpu
    """
    from bytesim.train import TrainConfig, TrainError, parse_overrides, train

    run = Path(out)
    if (run / "latest").exists() and not resume:
        raise click.ClickException(f"{run}: already holds a run; add --resume to continue it")
    try:
        overrides = parse_overrides(list(sets))
    except TrainError as e:
        raise click.BadParameter(str(e), param_hint="--set") from None
    if recipe is not None:
        data, overrides = _with_recipe(recipe, data, overrides, options)
    if not data:
        raise click.UsageError("give DATA (files, folders or gen:NAME) or --recipe NAME")
    cfg = TrainConfig(
        out=str(run),
        data=list(data),
        overrides=overrides,
        eval_data=list(options.pop("eval_data")),
        **options,
    )
    console = _console()
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: only rank 0 reports
        try:
            train(cfg)
        except (TrainError, ValueError) as e:
            raise click.ClickException(str(e)) from None
        return
    progress = _TrainProgress(console)
    with stopped_by_ctrl_c(progress.interrupted), progress:
        try:
            with removed_if_failed(run):  # train() removes `run` itself, this its new parents
                summary = train(cfg, on_event=progress.update)
        except (TrainError, ValueError) as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:
            raise cannot_write(run, e) from None
        if summary["stopped"] == "interrupted":  # Ctrl-C once: train() saved the step it was in
            raise KeyboardInterrupt  # ends as a second Ctrl-C does: one line, status 130
    more = "" if summary["stopped"] == "done" else " (continue it with --resume)"
    console.print(
        f"[bold]{summary['stopped']}[/] at step {summary['step']}/{summary['total_steps']} "
        f"in {summary['elapsed_s']:.0f} s; checkpoint in {run}{more}"
    )


def _with_recipe(recipe: str, data, overrides: dict, options: dict):
    """The recipe's settings under the command line's: (data, overrides); `options` updated."""
    from click.core import ParameterSource

    from bytesim import recipes
    from bytesim.train import TrainError

    try:
        settings = recipes.load(recipe)
    except TrainError as e:
        raise click.ClickException(str(e)) from None
    ctx = click.get_current_context()
    for key, value in settings.items():
        if key in options and ctx.get_parameter_source(key) == ParameterSource.DEFAULT:
            options[key] = value
    return (data or settings["data"]), {**settings.get("overrides", {}), **overrides}


class _TrainProgress:
    def __init__(self, console):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = console
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None
        self.step = None  # the last step done
        self.saved = None  # the step of the run's newest checkpoint

    def interrupted(self) -> str:
        """The line for a run stopped by Ctrl-C: where it stopped and where a rerun goes on."""
        if self.step is None:
            return "interrupted before the first step; rerun with --resume"
        line = f"interrupted at step {self.step}; rerun with --resume"
        if self.saved != self.step:  # a second Ctrl-C: the step's checkpoint was not written
            line += f" (it continues from step {self.saved or 0})"
        return line

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(self, r: dict) -> None:
        event = r["event"]
        if event in ("start", "step"):
            self.step = r["step"]
        if event == "checkpoint" or (event == "start" and r["resumed"]):
            self.saved = r["step"]
        if event == "start":
            self.task = self.progress.add_task(
                "train", total=r["total_steps"], completed=r["step"], info=""
            )
            self.console.log(
                f"{r['parameters']:,} parameters, {r['precision']}, world {r['world']}"
                + (", resumed" if r["resumed"] else "")
            )
        elif event == "step":
            loss = r.get("bits_per_byte", r["loss"])
            unit = "bits/byte" if "bits_per_byte" in r else "loss"
            info = f"{unit} {loss:.3f}  lr {r['lr']:.2e}  {r['bytes_per_s'] / 1000:.1f} kB/s"
            self.progress.update(self.task, completed=r["step"], info=info)
        elif event == "eval":
            shown = {k: round(v, 4) for k, v in r.items() if isinstance(v, float)}
            self.console.log(f"step {r['step']} eval {shown}")
        elif event == "feature_head":
            self.console.log(
                f"feature head ({r['features']}) fitted on {r['train_files']} files: mix "
                f"{r['mix']:.2f} ({r['chosen_by']}"
                + (
                    f"; held-out accuracy: model {r['held_accuracy_model']:.1%}, features "
                    f"{r['held_accuracy_features']:.1%}, mixed {r['held_accuracy_mixed']:.1%})"
                    if r["held_out"]
                    else ")"
                )
            )


# ----------------------------------------------------------------------------- eval


@click.command("eval")
@model_argument
@click.argument("data", nargs=-1, required=True)
@conversion_option
@click.option(
    "--loss-on",
    type=click.Choice(["all", "target"]),
    default="target",
    show_default=True,
    help="What bits_per_target_byte counts.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate at most N files / pairs.")
@json_option
def eval_command(model, data, conversion, loss_on, batch_size, limit, as_json):
    """Bits per byte of MODEL on files, folders or tar shards, overall and per file type.

    MODEL is a model directory, a training run directory or a shipped model name.
    bits_per_byte counts what the original bGPT's loss counts (every byte after the header
    patch, padding and final <eop> patch included); bits_per_file_byte the files' own bytes;
    bits_per_target_byte the target side (conversions, CPU states after state 0).
    Classification models report accuracy instead.

    \b
    Examples:
      bytesim eval runs/abc data/abc-test
      bytesim eval runs/conv data/pairs --conversion 'abc->mid' --json
    """
    from rich.progress import Progress

    from bytesim.data import DataError, FileSource
    from bytesim.evaluate import classification_accuracy, evaluate

    m = _load(model)
    classify = m.config.num_labels > 0
    try:
        source = FileSource(data, conversion, loss_on, classify, m.labels or None, m.config.layout)
    except DataError as e:
        raise click.ClickException(str(e)) from None
    n = min(len(source), limit or len(source))
    console = _console()
    for line in source.warnings.lines():
        console.print(f"[yellow]warning:[/] {line}")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("eval", total=n)
        examples = (source.example(i) for i in range(n))
        try:
            if classify:
                result = classification_accuracy(m, examples, batch_size)
            else:
                result = evaluate(
                    m, examples, batch_size, on_batch=lambda k: progress.advance(task, k)
                )
        except DataError as e:
            raise click.ClickException(str(e)) from None
    result["warnings"] = source.warnings.counts
    if as_json:
        echo(json.dumps(result, indent=2))
        return
    _print_eval(console, result)


def _print_eval(console, result: dict) -> None:
    from rich.table import Table

    def fmt(v):
        return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    table = Table("measure", "value")
    for k, v in result.items():
        if k not in ("per_type", "warnings", "per_class", "confusion"):
            table.add_row(k, fmt(v))
    console.print(table)
    if result.get("per_type"):
        per = Table("type", "bits/byte", "bytes")
        for k, v in result["per_type"].items():
            per.add_row(k, fmt(v["bits_per_byte"]), str(v["bytes"]))
        console.print(per)
    if result.get("per_class"):
        per = Table("label", "examples", "correct", "accuracy")
        for k, v in result["per_class"].items():
            per.add_row(k, str(v["examples"]), str(v["correct"]), fmt(v["accuracy"]))
        console.print(per)


# ----------------------------------------------------------------------------- generate


@click.command("generate")
@model_argument
@click.option(
    "--prompt", type=click.Path(exists=True, dir_okay=False), help="File to continue/convert."
)
@click.option("--to", "to_ext", metavar="EXT", help="Convert the prompt into a file of type EXT.")
@click.option("-n", "n", type=click.IntRange(min=1), default=1, show_default=True, help="Files.")
@click.option(
    "--max-patches", type=click.IntRange(min=2), help="Length limit [default: the model's]."
)
@options.sampling_options
@seed_option
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file (OUT-1.ext, OUT-2.ext ... when -n > 1).",
)
@json_option
def generate_command(
    model, prompt, to_ext, n, max_patches, temperature, top_k, top_p, seed, out, as_json
):
    """Write files with MODEL: continue --prompt, convert it --to another type, or write one
    from its type alone (the extension of --out).

    \b
    Examples:
      bytesim generate runs/abc -o tune.abc --temperature 0.9 --top-p 0.95 --seed 1
      bytesim generate runs/conv --prompt x.abc --to mid -o x.mid
    """
    from bytesim.data import extension
    from bytesim.generate import generate_files

    m = _load(model)
    out_path = Path(out)
    ext = extension(prompt) if prompt else extension(out_path.name)
    data = Path(prompt).read_bytes() if prompt else None
    try:
        results = generate_files(
            m, ext, data, to_ext, n, max_patches, temperature, top_k, top_p, seed
        )
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    paths = (
        [out_path]
        if n == 1
        else [out_path.with_name(f"{out_path.stem}-{i + 1}{out_path.suffix}") for i in range(n)]
    )
    report = []
    for path, r in zip(paths, results, strict=True):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise cannot_write(path, e) from None
        write_file(path, r.data)
        report.append(
            {"path": str(path), "bytes": len(r.data), "patches": r.patches, "finished": r.finished}
        )
    if as_json:
        echo(json.dumps(report, indent=2))
    else:
        for r in report:
            end = "" if r["finished"] else " (cut at the length limit)"
            _console().print(f"wrote {r['path']}: {r['bytes']} bytes{end}")


# ----------------------------------------------------------------------------- models, import


@click.command("models")
@json_option
def models_command(as_json):
    """List the models shipped with bytesim (usable as MODEL by name).

    \b
    Example:
      bytesim models
    """
    from bytesim.registry import list_models

    models = list_models()
    if as_json:
        echo(
            json.dumps(
                [
                    {
                        "name": m.name,
                        "path": str(m.path),
                        "summary": m.summary,
                        "size_bytes": m.size_bytes,
                        "config": m.config,
                    }
                    for m in models
                ],
                indent=2,
            )
        )
        return
    from rich.table import Table

    table = Table("name", "size", "summary")
    for m in models:
        table.add_row(m.name, f"{m.size_bytes / 1e6:.1f} MB", m.summary)
    console = _console()
    console.print(table if models else "no shipped models")


@click.command("import-bgpt")
@click.argument("weights", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--heads", type=click.IntRange(min=1), help="Patch-decoder heads [default: H/64].")
@click.option(
    "--byte-heads", type=click.IntRange(min=1), help="Byte-decoder heads [default: --heads]."
)
def import_bgpt_command(weights, out_dir, heads, byte_heads):
    """Convert a checkpoint of the original bGPT (.pth) into a bytesim model directory.

    The file is read with weights_only=True (no code runs); the configuration is inferred
    from the weight shapes (head counts default to GPT-2's 64-wide heads).

    \b
    Example:
      bytesim import-bgpt weights-cpu.pth models/bgpt-cpu
      bytesim eval models/bgpt-cpu data/bgpt/test   # gen-cpu-dataset --layout bgpt
    """
    from bytesim.checkpoint import CheckpointError
    from bytesim.import_bgpt import import_bgpt

    try:
        model = import_bgpt(weights, out_dir, heads, byte_heads)
    except (CheckpointError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    c = model.config
    _console().print(
        f"wrote {out_dir}: {model.num_parameters():,} parameters, H {c.hidden_size}, "
        f"{c.patch_layers}+{c.byte_layers} layers, patch_length {c.patch_length}"
    )


COMMANDS: list[click.Command] = [
    train_command,
    eval_command,
    generate_command,
    models_command,
    import_bgpt_command,
]
