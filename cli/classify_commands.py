"""`bytesim` commands for byte-level classification: gen-tune-types, classify (issue 6).

torch is imported inside `classify`, so `bytesim --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli import options
from cli.output import echo

COMMANDS: list[click.Command] = []


def _console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@click.command("gen-tune-types")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="ABC file or folder (repeatable); default 'music21', the ABC corpus that "
    "ships with music21.",
)
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Keep tune types with at least this many tunes.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.1,
    show_default=True,
    help="Share of each type held out for test.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=4064,
    show_default=True,
    help="Skip tunes whose MIDI is longer: (patch_length - 2) x 16.",
)
@click.option(
    "--notes-only",
    is_flag=True,
    help="Also drop tempo, time- and key-signature events: the type from the notes alone.",
)
@click.option(
    "--exclude-from",
    "exclude",
    multiple=True,
    metavar="DIR",
    help="Keep tunes whose MIDI is a .mid file under DIR out of test (repeatable), "
    "e.g. the data a model to start from was trained on.",
)
@click.option(
    "--pretrain",
    is_flag=True,
    help="Also write OUT/pretrain/: every other tune's MIDI (not the test split's), "
    "unlabelled, for generative pre-training.",
)
@options.seed_option("Seed of the split.")
@options.json_option("Print the report as JSON to stdout.")
def gen_tune_types_command(
    out, sources, min_count, test_fraction, max_bytes, notes_only, exclude, pretrain, seed, as_json
):
    """Build the tune-type dataset: MIDI files labelled by the tune type (reel, jig, ...) in `R:`.

    Every tune with an `R:` field naming a tune type (docs/classify.md lists the mapping) is
    converted with the reference converter and written as OUT/train/TYPE_NAME.mid or
    OUT/test/TYPE_NAME.mid (a stratified split by seed). Types with fewer than --min-count
    tunes, tunes whose MIDI is longer than --max-bytes, duplicates and failures are dropped
    and counted in OUT/report.json, with the classes per split and the test split's
    majority-class share and meter baseline (the type read off the time signature alone).
    The MIDI carries no text (no title, no `R:` copy).

    \b
    Example:
      bytesim gen-tune-types data/tune-types
      bytesim gen-tune-types data/tt --source tunes/ --min-count 5 --test-fraction 0.2
    """
    from rich.progress import Progress
    from rich.table import Table

    from convert.tune_types import generate_tune_types

    console = _console()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("reading tunes", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = generate_tune_types(
                out,
                sources or ["music21"],
                min_count,
                test_fraction,
                seed,
                max_bytes,
                notes_only,
                progress,
                exclude,
                pretrain,
            )
        except (FileNotFoundError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    data = report.to_json()
    if as_json:
        echo(json.dumps(data, indent=1))
    table = Table("type", "train", "test")
    for kind in data["classes"].get("train", {}):
        table.add_row(
            kind,
            str(data["classes"]["train"][kind]),
            str(data["classes"].get("test", {}).get(kind, 0)),
        )
    console.print(table)
    share, meter = data["test_majority_share"], data["test_meter_baseline"]
    console.print(
        f"{data['train']} train + {data['test']} test files in {out}; test baselines: "
        f"majority {'-' if share is None else f'{share:.3f}'}, "
        f"meter {'-' if meter is None else f'{meter:.3f}'}; dropped: "
        f"{data['without_rhythm']} without R:, {data['unrecognised']} unrecognised R:, "
        f"{data['failed']} failed, {data['too_long']} too long, "
        f"{data['duplicates'] + data['conflicting_duplicates']} duplicates, "
        f"{data['rare']} of rare types; {data['train_only']} kept out of test; "
        f"{data['pretrain']} pretraining files "
        f"(see {out / 'report.json'})"
    )


@click.command("classify")
@click.argument("model", metavar="MODEL")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Show the K most probable labels.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@options.json_option("Print a JSON list to stdout.")
def classify_command(model, files, top, batch_size, as_json):
    """Predict the label of each file with a classification model.

    MODEL is a model directory, a training run directory or a shipped model name, trained
    with `bytesim train --task classify`. One line per file: path, label, probability
    (with --top K, the K best labels and their probabilities).

    \b
    Example:
      bytesim classify runs/tune-types data/tune-types/test/reel_*.mid
      bytesim classify runs/tune-types tune.mid --top 3 --json
    """
    from bytesim.classify import ClassifyError, classify_files, load_classifier

    try:
        m = load_classifier(model)
        predictions = classify_files(m, files, batch_size, top)
    except ClassifyError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        rows = [
            {
                "path": p.path,
                "label": p.label,
                "probability": p.probability,
                "top": [{"label": k, "probability": v} for k, v in p.top],
            }
            for p in predictions
        ]
        echo(json.dumps(rows, indent=1))
        return
    for p in predictions:
        ranked = "  ".join(f"{k} {v:.3f}" for k, v in p.top)
        echo(f"{p.path}\t{ranked}")


COMMANDS.extend([gen_tune_types_command, classify_command])
