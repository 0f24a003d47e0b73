"""`bytesim` commands for the convert area: abc2midi, midi2notes, gen-abc-dataset."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from cli import options
from cli.output import cannot_write, echo, removed_if_failed, stopped_by_ctrl_c, write_file

COMMANDS: list[click.Command] = []

_err = Console(stderr=True, highlight=False)


def _read_abc(path: Path) -> str:
    from convert import AbcError, decode_abc

    try:
        return decode_abc(path.read_bytes(), str(path))
    except AbcError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror}") from None


@click.command("abc2midi")
@click.argument("abc_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="MIDI file for one tune (default: <input stem>.mid).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every tune as <input stem>-<X>.mid in this folder.",
)
@click.option("--tune", "x", type=int, help="X number of the tune to convert (default: first).")
@options.json_option("Print a JSON summary to stdout.")
def abc2midi_command(
    abc_file: Path, output: Path | None, out_dir: Path | None, x: int | None, as_json: bool
) -> None:
    """Convert ABC to MIDI: the score as notated (docs/abc.md), 480 ticks per quarter.

    Without --out-dir one tune is converted (the first, or --tune X). With --out-dir every
    tune is; a tune that fails is reported and the others are still written. Exit status 1
    if any tune failed.

    \b
    Example:
      bytesim abc2midi examples/jig.abc -o jig.mid
      bytesim abc2midi tunes.abc --out-dir midi/
    """
    from convert import convert_abc, convert_to_dir

    if output and out_dir:
        raise click.BadParameter("use either -o or --out-dir, not both", param_hint="-o")
    text = _read_abc(abc_file)
    if out_dir is not None:
        try:
            with removed_if_failed(out_dir):
                results = convert_to_dir(text, out_dir, abc_file.stem)
        except OSError as err:
            raise cannot_write(out_dir, err) from None
    else:
        results = [r for r in convert_abc(text) if x is None or r.x == x][:1]
        if not results:
            raise click.ClickException(f"{abc_file}: no tune" + (f" X:{x}" if x else ""))
        result = results[0]
        if result.midi is not None:
            result.path = output or Path(f"{abc_file.stem}.mid")
            write_file(result.path, result.midi)
    failed = [r for r in results if r.error is not None]
    single = len(results) == 1 and not as_json  # its error is the command's one error line
    for result in results:
        for warning in result.warnings:
            _err.print(f"[yellow]warning[/]: {abc_file}: {warning}")
        if result.error is not None and not single:
            _err.print(f"[red]error[/]: {abc_file}: {result.error}")
    if as_json:
        summary = [
            {
                "x": r.x,
                "title": r.title,
                "path": str(r.path) if r.path else None,
                "error": str(r.error) if r.error else None,
                "warnings": [str(w) for w in r.warnings],
            }
            for r in results
        ]
        echo(json.dumps(summary, indent=1))
    elif not (single and failed):
        _err.print(f"wrote {len(results) - len(failed)} MIDI file(s), {len(failed)} failed")
    if failed:
        if single:
            raise click.ClickException(f"{abc_file}: {failed[0].error}")
        raise click.exceptions.Exit(1)


@click.command("midi2notes")
@click.argument("midi_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@options.json_option("Print a JSON list of [onset, pitch, duration].")
def midi2notes_command(midi_file: Path, as_json: bool) -> None:
    """Print the notes of a MIDI file: onset, pitch, duration (quarter notes).

    All tracks and channels are merged; one note per line, sorted by onset then pitch.

    \b
    Example:
      bytesim midi2notes jig.mid
      0.0000   67  1.5000
    """
    from convert import MidiError, midi_to_notes
    from convert.notes import unreadable_reason

    data = midi_file.read_bytes()
    try:
        notes = midi_to_notes(data)
    except MidiError as exc:
        message = str(exc)
        if message.endswith(": "):  # mido said nothing
            message += unreadable_reason(data)
        raise click.ClickException(f"{midi_file}: {message}") from None
    if as_json:
        echo(json.dumps([list(note) for note in notes]))
        return
    lines = [f"{onset:.4f}  {pitch:3d}  {duration:.4f}" for onset, pitch, duration in notes]
    if lines:
        echo("\n".join(lines))


@click.command("gen-abc-dataset")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.argument("dirs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="ABC file or folder (repeatable); 'music21' (the default when no DIRS are "
    "given) is the ABC corpus that ships with music21.",
)
@click.option("--test-fraction", type=click.FloatRange(0.0, 1.0), default=0.01, show_default=True)
@options.seed_option("Seed of the train/test split.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@options.json_option("Print the report as JSON to stdout.")
def gen_abc_dataset_command(
    out: Path,
    dirs: tuple[Path, ...],
    sources: tuple[str, ...],
    test_fraction: float,
    seed: int,
    workers: int,
    as_json: bool,
) -> None:
    """Build the ABC -> MIDI conversion dataset: OUT/train, OUT/test with NAME.abc + NAME.mid.

    Sources are the DIRS (ABC files or folders) and --source values; with none, music21's
    corpus (about 13,000 tunes).

    Every tune of the sources is converted; failures are listed in OUT/report.json and
    counted on stderr, never dropped silently. Same sources and seed give the same files.

    \b
    Example:
      bytesim gen-abc-dataset data/abc --workers 2
      bytesim gen-abc-dataset data/mine tunes/ more.abc --test-fraction 0.1 --seed 1
    """
    from rich.progress import Progress

    from convert.dataset import generate_abc_dataset
    from cpu.workers import WorkerError

    with Progress(console=_err, transient=True) as bar:
        task = bar.add_task("converting", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        chosen = [*sources, *dirs] or ["music21"]
        stopped = f"{out}: interrupted; the same command writes the dataset again"
        try:
            with stopped_by_ctrl_c(lambda: stopped):
                report = generate_abc_dataset(out, chosen, test_fraction, seed, workers, progress)
        except (FileNotFoundError, ValueError, WorkerError) as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        echo(json.dumps(report.to_json(), indent=1))
    failed = len(report.failures)
    _err.print(
        f"{report.train} train + {report.test} test pairs in {out}; "
        f"{failed} tune(s) failed (listed in {out / 'report.json'})"
    )


COMMANDS.extend([abc2midi_command, midi2notes_command, gen_abc_dataset_command])
