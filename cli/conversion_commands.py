"""`bytesim convert` and `bytesim eval-conversion`: neural ABC <-> MIDI conversion (issue 6)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.options import json_option, model_option, sampling_options, seed_option
from cli.output import echo, stopped_by_ctrl_c

COMMANDS: list[click.Command] = []

DEFAULT_MODEL = "abc-midi"  # bytesim.neural_convert.DEFAULT_MODEL (kept here: no torch import)
DIRECTION_CHOICES = ("abc->mid", "mid->abc", "both")


def _console():
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)  # messages stay one line; tables still fit


def _load(name: str):
    from bytesim.neural_convert import ConversionError, load_conversion_model

    try:
        return load_conversion_model(name)
    except ConversionError as e:
        raise click.ClickException(str(e)) from None


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _rate(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _percent(v) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"


# ----------------------------------------------------------------------------- convert


@click.command("convert")
@click.argument("input_path", metavar="IN", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    metavar="OUT",
    type=click.Path(dir_okay=False),
    help="Output file: .mid for an .abc input, .abc for a .mid input.",
)
@model_option(DEFAULT_MODEL, "Model directory, training run directory or shipped model name.")
@sampling_options
@seed_option("Seed of the sampling.")
@click.option(
    "--check", is_flag=True, help="Compare the result with the reference converter, note by note."
)
@click.option(
    "--restate-lengths",
    is_flag=True,
    help="ABC -> MIDI: re-state each track's length from the events the model wrote.",
)
@click.option(
    "--model-key",
    is_flag=True,
    help="MIDI -> ABC: keep the K: the model writes instead of the input's key signature.",
)
@json_option()
def convert_command(
    input_path,
    output_path,
    model_name,
    temperature,
    seed,
    top_k,
    top_p,
    check,
    restate_lengths,
    model_key,
    as_json,
):
    """Convert an ABC tune to MIDI, or a MIDI file to ABC, with the neural model.

    The direction comes from the two extensions (IN.abc -> OUT.mid, IN.mid -> OUT.abc).
    Greedy by default; --temperature > 0 samples (the same --seed gives the same bytes).
    An output that reaches the model's length limit is cut there: it is still written, and
    stderr says so. A model of an interleaved layout (`interleaved` and those built on it, the
    shipped `repeats` among them) converts a tune of any length: past its patch_length it goes
    on in pieces, each starting from the newest half of the last; it cuts only when a whole
    piece reads no new part of the input.
    --check runs the reference converter too (SPEC 3.4): for ABC -> MIDI the
    note precision / recall / F1 of OUT against the reference MIDI and whether the bytes are
    identical; for MIDI -> ABC the notes of OUT (converted by the reference) against IN's.
    A model of the paper's layout states a MIDI track's length before writing its events and
    rarely gets it exact (in the interleaved layouts the program writes the container);
    --restate-lengths writes OUT with each length re-stated from the events that follow it
    (up to their end-of-track event), the events unchanged, and --check then scores that file.
    MIDI -> ABC: the program writes the header's K: value, the input's first key signature;
    the notes' letters are the model's (--model-key keeps the model's own K:).

    \b
    Examples:
      bytesim convert tune.abc -o tune.mid --check
      bytesim convert tune.abc -o tune.mid --restate-lengths
      bytesim convert tune.mid -o tune.abc --model runs/conv
      bytesim convert tune.abc -o tune.mid --temperature 0.8 --seed 3 --json
    """
    from bytesim.conversion_eval import check_against_reference
    from bytesim.neural_convert import ConversionError, convert_bytes, direction_of, file_kind
    from convert import restate_track_lengths, write_file_atomic

    try:
        src, dst = file_kind(input_path), file_kind(output_path)
        direction = direction_of(src, dst)
    except ConversionError as e:
        raise click.ClickException(str(e)) from None
    if restate_lengths and dst != "mid":
        raise click.UsageError("--restate-lengths is for ABC -> MIDI (OUT a .mid file)")
    data = Path(input_path).read_bytes()
    model = _load(model_name)
    try:
        conv = convert_bytes(
            model, data, src, dst, temperature, seed, top_k, top_p, input_path, not model_key
        )
    except ConversionError as e:
        raise click.ClickException(str(e)) from None
    written = restate_track_lengths(conv.data) if restate_lengths else conv.data
    try:
        write_file_atomic(output_path, written)
    except OSError as e:
        raise click.ClickException(f"{output_path}: cannot write ({e.strerror})") from None
    try:
        report = check_against_reference(data, src, written, dst) if check else None
    except ConversionError as e:
        raise click.ClickException(f"{input_path}: --check: {e} ({output_path} written)") from None
    console = _console()
    for line in conv.warnings(str(output_path)):
        console.print(f"[yellow]warning:[/] {line}")
    result = {
        "input": str(input_path),
        "output": str(output_path),
        "direction": direction,
        "model": str(model_name),
        "bytes": len(written),
        "lengths_restated": written != conv.data if restate_lengths else None,
        **conv.figures(),
        "check": report,
    }
    if as_json:
        echo(json.dumps(result, indent=2))
        return
    size = f"{conv.patches} of {conv.limit} patches"
    if conv.pieces > 1:
        size = f"{conv.patches} patches in {conv.pieces} pieces of at most {conv.limit}"
    console.print(
        f"wrote {output_path}: {len(written)} bytes, {size}, {conv.seconds:.2f} s"
        + ("" if conv.finished else " (cut at the limit)")
    )
    if written != conv.data:
        console.print("track lengths re-stated from the events the model wrote")
    elif restate_lengths:
        console.print("track lengths kept as written: " + _why_not_restated(conv))
    if report is not None:
        _print_check(console, report)


def _why_not_restated(conv) -> str:
    """Why `--restate-lengths` left a MIDI output as the model wrote it."""
    from convert import midi_layout_error

    if midi_layout_error(conv.data) is None:
        return "they are right"
    if not conv.finished:
        return "the output is cut before a track's end-of-track event, the end to measure it to"
    return "a track has no end-of-track event to measure it to"


def _print_check(console, report: dict) -> None:
    if not report["valid"]:
        readable = " (mido reads it, notes below)" if report["readable"] else ""
        console.print(f"[red]invalid output{readable}:[/] {report['invalid_reason']}")
        if report.get("valid_restated"):
            console.print(
                "  (valid once its track lengths are re-stated: `--restate-lengths`; note F1 "
                f"then {_percent(report['note_f1_restated'])})"
            )
    if report["identical"] is not None:
        console.print("bytes identical to the reference converter's: " + _fmt(report["identical"]))
    console.print(
        f"notes: precision {_percent(report['note_precision'])}, recall "
        f"{_percent(report['note_recall'])}, F1 {_percent(report['note_f1'])} "
        f"({report['notes_matched']} matched; {report['notes_output']} in the output, "
        f"{report['notes_reference']} in the reference)"
    )
    console.print(
        f"melody (pitch order only, timing ignored): F1 {_percent(report['melody_f1'])}; "
        f"durations of its matched notes right: {_percent(report['melody_duration_accuracy'])}"
    )


COMMANDS.append(convert_command)


# ----------------------------------------------------------------------------- eval-conversion


def _data_paths(ctx, param, values):
    """Existing paths, or one `gen:abc?...` source (checked by the evaluation)."""
    for value in values:
        if not value.startswith("gen:") and not Path(value).exists():
            raise click.BadParameter(f"{value}: no such file or folder", ctx, param)
    return values


@click.command("eval-conversion")
@click.argument("model_name", metavar="MODEL")
@click.argument("data", nargs=-1, required=True, callback=_data_paths)
@click.option(
    "--direction",
    type=click.Choice(DIRECTION_CHOICES),
    default="both",
    show_default=True,
    help="Which way to convert the pairs.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), help="Use N pairs, evenly spread over the sorted list."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Conversions generated together (32 was the fastest measured: docs/conversion.md).",
)
@click.option(
    "--bits/--no-bits",
    default=True,
    show_default=True,
    help="Also report the teacher-forced bits per target byte (as bytesim eval --conversion).",
)
@click.option(
    "--bits-only",
    is_flag=True,
    help="Generate nothing: only the bits per target byte, by part, and after another input.",
)
@seed_option("Seed of the random tunes of a gen:abc DATA.")
@click.option(
    "--outputs",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every generated file into this folder (abc-to-mid/, mid-to-abc/) and one JSON "
    "line per input, with its scores, into its files.jsonl.",
)
@click.option(
    "--model-key",
    is_flag=True,
    help="MIDI -> ABC: keep the K: the model writes instead of the input's key signature.",
)
@json_option()
def eval_conversion_command(
    model_name,
    data,
    direction,
    limit,
    batch_size,
    bits,
    bits_only,
    seed,
    outputs,
    model_key,
    as_json,
):
    """Score greedy neural conversions of x.abc + x.mid pairs against the reference.

    Per direction: exact-file rate (output bytes == the pair's other file), valid rate (MIDI laid
    out as the standard says, every track as long as its header states, that mido reads with at
    least one note / ABC that the reference converter turns into MIDI with notes), readable rate
    (the same without the layout check: mido drops a track's bytes past its stated length), MIDI
    valid once its track lengths are re-stated, note precision / recall / F1 against the
    reference notes (SPEC 3.4), micro over all notes and mean per file, the melody F1 (pitch
    order only) and the share of its matched notes with the right duration, each with its chance
    level against another pair's reference, outputs cut at the length limit, inputs too long for
    the model
    (skipped and counted), throughput, and bits per target byte (the same figure as
    `bytesim eval MODEL DATA --conversion A->B --json`; --no-bits skips it), split by part of the
    target file (MIDI: header, track length, delta, status, pitch, off pitch, velocity, meta;
    ABC: field, note, pitch mark, length, structure, space; both: end, the padding and final
    <eop> patch), and the same bits with each target after another pair's input (how much the
    model reads its input); and the main scores again by the length of the reference (1-48,
    49-96, 97+ notes).

    DATA is folders, files or tar shards of pairs, or one `gen:abc?...` source: --limit (default
    100) random tunes and their reference MIDI drawn from --seed (docs/conversion.md).
    MIDI -> ABC outputs get the input's key in their header's K: as `bytesim convert` writes
    them (--model-key: the model's own K:).
    --bits-only skips the conversions (seconds instead of minutes). --outputs DIR keeps the
    generated files and a per-file record (finished or cut, valid and why not, note F1) to
    look at.

    \b
    Examples:
      bytesim eval-conversion abc-midi data/abc/test
      bytesim eval-conversion abc-midi data/abc/test --limit 20 --outputs out/conv
      bytesim eval-conversion runs/conv data/abc/test --direction 'abc->mid' --limit 50 --json
      bytesim eval-conversion abc-midi 'gen:abc?max=32' --direction 'abc->mid' --bits-only
    """
    from rich.progress import Progress

    from bytesim.conversion_eval import evaluate_conversion
    from bytesim.neural_convert import DIRECTIONS, ConversionError

    if outputs is not None and bits_only:
        raise click.UsageError("--outputs keeps generated files: --bits-only generates none")
    directions = DIRECTIONS if direction == "both" else (direction,)
    model = _load(model_name)
    console = _console()
    stopped = "eval-conversion: interrupted; nothing reported"
    if outputs is not None:  # written at the end: Ctrl-C leaves no files.jsonl, at most some files
        stopped += f", {outputs / 'files.jsonl'} not written"
    with Progress(console=console, transient=True) as bar, stopped_by_ctrl_c(lambda: stopped):
        task = bar.add_task("converting", total=None)
        try:
            result = evaluate_conversion(
                model,
                list(data),
                directions,
                limit,
                batch_size,
                progress=lambda n, total: bar.update(task, advance=n, total=total),
                bits=bits or bits_only,
                generate=not bits_only,
                seed=seed,
                outputs=outputs,
                input_key=not model_key,
            )
        except ConversionError as e:
            raise click.ClickException(str(e)) from None
    result["model"] = str(model_name)
    if as_json:
        echo(json.dumps(result, indent=2))
        return
    for line, count in result["warnings"].items():
        console.print(f"[yellow]warning:[/] {count} x {line}")
    for d in directions:
        _print_direction(console, d, result[d], result)
    if outputs is not None:
        console.print(f"generated files and per-file scores in {outputs} (files.jsonl)")


ROWS = (
    ("files", "files", _fmt),
    ("converted", "converted", _fmt),
    ("scored (nothing generated)", "scored", _fmt),
    ("skipped: input too long", "skipped_too_long", _fmt),
    ("rejected inputs", "rejected_inputs", _fmt),
    ("exact files", "exact_file_rate", _percent),
    ("valid outputs", "valid_rate", _percent),
    ("readable outputs (mido / the parser reads them)", "readable_rate", _percent),
    ("valid and ended by the model", "valid_finished_rate", _percent),
    ("valid once track lengths are re-stated", "valid_restated_rate", _percent),
    ("note precision", "note_precision", _percent),
    ("note recall", "note_recall", _percent),
    ("note F1", "note_f1", _percent),
    ("note F1 once track lengths are re-stated", "note_f1_restated", _percent),
    ("melody F1 (pitch order only, timing ignored)", "melody_f1", _percent),
    ("melody F1 once track lengths are re-stated", "melody_f1_restated", _percent),
    ("melody F1 against another pair's reference (chance)", "melody_f1_other_reference", _percent),
    ("melody notes with the right duration", "melody_duration_accuracy", _percent),
    (
        "the same against another pair's reference (chance)",
        "melody_duration_accuracy_other_reference",
        _percent,
    ),
    ("mean file F1", "mean_file_f1", _percent),
    ("cut at the length limit", "cut_at_limit", _fmt),
    ("converted in pieces (interleaved layout)", "converted_in_pieces", _fmt),
    ("output groups ended for a looping model", "groups_ended_for_the_model", _fmt),
    ("replay lines written out (repeats layout)", "replays", _fmt),
    ("bits per target byte", "bits_per_target_byte", _fmt),
    ("files / s", "files_per_second", _rate),
    ("output bytes / s", "output_bytes_per_second", _rate),
)


def _print_direction(console, direction: str, summary: dict, result: dict) -> None:
    from rich.table import Table

    reach = f"inputs up to {result['max_input_patches']} patches"
    if result["max_input_patches"] is None:
        reach = f"any length, in pieces; units up to {result['max_unit_patches']} patches"
    table = Table("measure", "value", title=f"{direction}, model {result['model']} ({reach})")
    for label, key, fmt in ROWS:
        if key in summary:
            table.add_row(label, fmt(summary[key]))
    console.print(table)
    for example in summary.get("invalid_examples", []):
        console.print(f"  invalid: {example}")
    if summary.get("by_reference_notes"):
        console.print(_groups_table(direction, summary["by_reference_notes"]))
    if summary.get("bits_by_part"):
        console.print(_parts_table(direction, summary))


GROUP_COLUMNS = (
    ("files", "files", _fmt),
    ("valid", "valid_rate", _percent),
    ("valid restated", "valid_restated_rate", _percent),
    ("note F1", "note_f1", _percent),
    ("note F1 restated", "note_f1_restated", _percent),
    ("melody F1", "melody_f1", _percent),
    ("cut", "cut_at_limit", _fmt),
)


def _groups_table(direction: str, groups: dict):
    """The main scores per length of the reference (its note count); a column only where the
    direction reports it (the re-stated ones for MIDI targets)."""
    from rich.table import Table

    columns = [c for c in GROUP_COLUMNS if any(c[1] in g for g in groups.values())]
    table = Table(
        "reference notes",
        *(label for label, _, _ in columns),
        title=f"{direction}: by the length of the reference",
    )
    for name, g in groups.items():
        table.add_row(name, *(fmt(g.get(key)) for _, key, fmt in columns))
    return table


def _parts_table(direction: str, summary: dict):
    """Where the teacher-forced bits go: per part of the target file, its bytes and bits, and
    its bits after another pair's input."""
    from rich.table import Table

    parts = summary["bits_by_part"]
    other = summary.get("bits_by_part_other_input", {})
    table = Table(
        "part",
        "bytes",
        "bits / byte",
        "share of the bits",
        "bits / byte, another pair's input",
        title=f"{direction}: bits per target byte by part of the target file",
    )
    total = sum(p["bits_per_byte"] * p["bytes"] for p in parts.values()) or 1.0
    for name, p in sorted(parts.items(), key=lambda kv: -kv[1]["bits_per_byte"] * kv[1]["bytes"]):
        share = p["bits_per_byte"] * p["bytes"] / total
        ablated = other.get(name, {}).get("bits_per_byte")
        row = (_fmt(p["bytes"]), _fmt(p["bits_per_byte"]), _percent(share), _fmt(ablated))
        table.add_row(name, *row)
    table.add_row(
        "all",
        _fmt(sum(p["bytes"] for p in parts.values())),
        _fmt(summary["bits_per_target_byte"]),
        _percent(1.0),
        _fmt(summary.get("bits_per_target_byte_other_input")),
    )
    return table


COMMANDS.append(eval_conversion_command)
