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
    help="The longest file, (patch_length - 2) x 16: a longer canonical tune is written "
    "in windows, a longer written one skipped.",
)
@click.option(
    "--form",
    type=click.Choice(["canonical", "written"]),
    default="canonical",
    show_default=True,
    help="canonical: the MIDI with meter class, time scale and key normalised (the same "
    "tune written another way gives the same bytes); written: the converter's MIDI as is.",
)
@click.option(
    "--notes-only",
    is_flag=True,
    help="With --form written: also drop tempo, time- and key-signature events.",
)
@click.option(
    "--near-threshold",
    type=click.FloatRange(0.0, 1.01),
    default=0.3,
    show_default=True,
    help="Tunes sharing at least this share of their melody's 8-interval runs are "
    "near-duplicates and go to one split (above 1: off).",
)
@click.option(
    "--hold-out",
    multiple=True,
    metavar="COLLECTION",
    help="Test on this collection (a source folder name, e.g. oneills1850) and train on the "
    "rest without its near-duplicates (repeatable; --test-fraction unused).",
)
@click.option(
    "--crops",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also write this many random excerpts (half to nine tenths) of each training tune "
    "to train (canonical form).",
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
    out,
    sources,
    min_count,
    test_fraction,
    max_bytes,
    form,
    notes_only,
    near_threshold,
    hold_out,
    crops,
    exclude,
    pretrain,
    seed,
    as_json,
):
    """Build the tune-type dataset: MIDI files labelled by the tune type (reel, jig, ...) in `R:`.

    Every tune with an `R:` field naming a tune type (docs/classify.md lists the mapping) is
    converted with the reference converter, written in canonical form (the same tune in
    6/8 or 12/8, 2/2 or 4/4, any key or unit length gives the same bytes; --form written
    keeps the converter's MIDI) as OUT/train/TYPE_NAME.mid or OUT/test/TYPE_NAME.mid. The
    split is stratified by seed and keeps near-duplicates (the same melody up to
    transposition over most of its length) in one split; --hold-out tests on a whole
    collection instead. Rare types, duplicates and failures are dropped and counted in
    OUT/report.json, with the classes per split and the test split's majority-class share
    and meter baseline (the type read off the time signature alone). No text is written.

    \b
    Example:
      bytesim gen-tune-types data/tune-types
      bytesim gen-tune-types data/tt-oneill --hold-out oneills1850
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
                form,
                near_threshold,
                hold_out,
                crops,
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
        f"{data['held_out_near_duplicates']} near-duplicates of held-out tunes, "
        f"{data['rare']} of rare types; {data['near_duplicate_tunes']} tunes in "
        f"{data['near_duplicate_groups']} near-duplicate groups kept in one split; "
        f"{data['windowed']} long tunes in {data['windows']} windows; "
        f"{data['train_only']} kept out of test; "
        f"{data['pretrain']} pretraining files "
        f"(see {out / 'report.json'})"
    )


DEFAULT_CLASSIFIER = "tune-types"


@click.command("classify")
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@click.option(
    "--model",
    metavar="NAME|DIR",
    default=None,
    help=f"Classifier: a model or run directory or a shipped name [default: {DEFAULT_CLASSIFIER}].",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Show the K most probable labels.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@options.json_option("Print a JSON list to stdout.")
def classify_command(files, model, top, batch_size, as_json):
    """Predict the label of each file with a classification model.

    By default the shipped tune-type classifier names each tune's type (reel, jig, hornpipe,
    slip-jig, strathspey, clog, air) from a MIDI file or from every tune of an ABC file
    (FILE#X). One line per tune: path, label, probability (with --top K, the K best).
    A tune longer than the model's window is classified from windows of it. A file that
    cannot be read is reported on one line and the others are classified (exit status 1).
    A model directory given as the first argument, before the files, is taken as --model.

    \b
    Example:
      bytesim classify tune.mid jigs.abc --top 3
      bytesim classify --model runs/tt-cls data/tune-types/test/reel_*.mid --json
    """
    from bytesim.classify import ClassifyError, classify_files, load_classifier

    files = list(files)
    if model is None and len(files) > 1 and _looks_like_a_model(files[0]):
        model = files.pop(0)
    failed: list[tuple[str, str]] = []
    try:
        m = load_classifier(model or DEFAULT_CLASSIFIER)
        predictions = classify_files(
            m, files, batch_size, top, on_error=lambda path, msg: failed.append((path, msg))
        )
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
        rows += [{"path": path, "error": msg} for path, msg in failed]
        echo(json.dumps(rows, indent=1))
    else:
        for p in predictions:
            ranked = "  ".join(f"{k} {v:.3f}" for k, v in p.top)
            echo(f"{p.path}\t{ranked}")
    for _, msg in failed:
        click.echo(f"Error: {msg}", err=True)
    if failed:
        raise SystemExit(1)


def _looks_like_a_model(arg: str) -> bool:
    """A directory, or a name that is no file and has no tune-file extension."""
    path = Path(arg)
    if path.is_dir():
        return True
    return not path.exists() and path.suffix.lower() not in (".mid", ".midi", ".abc", ".kar")


COMMANDS.extend([gen_tune_types_command, classify_command])
