"""Scoring neural ABC <-> MIDI conversions against the reference converter, and evaluating a
model on pairs (`evaluate_conversion`, behind `bytesim eval-conversion`).

Scoring (`score_output`, used by `evaluate_conversion`), per converted file:
- exact: the output bytes equal the reference target file (the pair's other side);
- readable: a MIDI output is read by mido and has at least one note; an ABC output is UTF-8
  text that the reference parser reads and the reference converter turns into MIDI with at
  least one note;
- valid: readable and, for MIDI, laid out as the standard says (`convert.midi_layout_error`:
  every track exactly as long as its header states, ending with end-of-track, nothing after
  it). mido reads a track only as far as its stated length, so a model that states a track
  shorter than what it writes gives a readable file whose tail mido drops; that is readable,
  not valid. For ABC, valid = readable;
- valid restated (MIDI only): valid once every track's length is re-stated from its events
  (`convert.restate_track_lengths`): how many outputs only the stated track length spoils;
- notes restated (MIDI only): the note and melody scores below of the output with its track
  lengths re-stated (what `bytesim convert --restate-lengths` writes). A stated length longer
  than the events makes the raw file unreadable (no notes) and a shorter one hides the notes
  past it, so the raw note F1 counts the length and the notes as one failure; this one
  scores the notes alone;
- notes (SPEC 3.4, `convert.compare_notes`): abc->mid compares the notes of the output with the
  notes of the pair's .mid; mid->abc converts the output with the reference converter and
  compares its notes with the notes of the source .mid (a readable MIDI output's notes are
  the ones mido reads). An unreadable output has no notes;
- melody (`convert.compare_pitch_order`, `convert.match_pitch_order`): the same notes compared
  by pitch order alone, timing ignored (the longest common subsequence of the pitches): one
  wrong duration shifts every later onset, and then the note match counts nothing after it
  while this still does. Two tunes in one key share much of their pitch order by chance, so
  `melody_f1_other_reference` scores each output against the next pair's reference too: the
  chance level to beat;
- melody durations (`convert.match_pitch_order`): of the notes the melody match pairs up, the
  share whose duration is the reference note's (within SPEC 3.4's tolerance): whether the notes
  the model gets in the right order also get the right length. Most notes of these tunes are
  eighths, so `melody_duration_accuracy_other_reference` (against the next pair's reference)
  is its chance level too.

`by_reference_notes` repeats the main scores for the files grouped by the length of their
reference (its note count, `LENGTH_GROUPS`): the conversion gets harder with every note, since
one wrong duration shifts every later onset and a longer file is more often cut at the limit.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bytesim.data import (
    DataError,
    Example,
    FileSource,
    encode_pair,
    generated_source,
)
from bytesim.model import INTERLEAVED
from bytesim.neural_convert import (
    DEFAULT_BATCH,
    DIRECTIONS,
    MIDI_MAGIC,
    Conversion,
    ConversionError,
    InputTooLong,
    check_input,
    check_model,
    convert_many,
    direction_of,
    max_input_bytes,
    max_input_patches,
    max_unit_patches,
    prompt_ids,
)
from convert import (
    AbcError,
    MidiError,
    abc_to_midi,
    compare_notes,
    match_pitch_order,
    midi_layout_error,
    midi_to_notes,
    restate_track_lengths,
)
from convert.abc_parser import decode_abc
from convert.compare import TOLERANCE, CompareResult
from convert.notes import Note
from convert.roles import abc_byte_roles, midi_byte_roles
from cpu.files import write_atomic

# ----------------------------------------------------------------------------- scoring


@dataclass
class FileScore:
    exact: bool  # output bytes == the reference target file
    valid: bool  # see the module docstring
    notes: CompareResult  # output notes (a) against the reference notes (b)
    reason: str = ""  # why the output is invalid
    readable: bool = False  # see the module docstring (valid implies readable)
    valid_restated: bool | None = None  # MIDI: valid once its track lengths are re-stated
    melody: CompareResult = CompareResult(0, 0, 0)  # pitch order only (module docstring)
    output_notes: list[Note] = field(default_factory=list)
    melody_durations: int = 0  # melody-matched notes with the reference note's duration
    notes_restated: CompareResult | None = None  # MIDI: the notes once lengths are re-stated
    melody_restated: CompareResult | None = None  # MIDI: the melody once lengths are re-stated

    @property
    def melody_duration_accuracy(self) -> float | None:
        return self.melody_durations / self.melody.matched if self.melody.matched else None


def notes_of(data: bytes, ext: str) -> list[Note]:
    """The notes a file stands for: a MIDI file's own, an ABC tune's through the reference
    converter. Raises ConversionError (with the reason) when there are none to be had."""
    try:
        notes = midi_to_notes(data if ext == "mid" else abc_to_midi(decode_abc(data, "output")))
    except (AbcError, MidiError) as e:  # what the reference raises for any bytes (tested in
        raise ConversionError(str(e).rstrip(": ")) from None  # test_convert_properties); else a bug
    if not notes:
        raise ConversionError("no notes")
    return notes


def score_output(
    output: bytes, dst_ext: str, reference: bytes, reference_notes: list[Note]
) -> FileScore:
    """Score one generated file against the reference target and the reference notes."""
    try:
        notes, readable, reason = notes_of(output, dst_ext), True, ""
    except ConversionError as e:
        notes, readable, reason = [], False, str(e)
    valid = readable
    if dst_ext == "mid":
        layout = midi_layout_error(output)
        if readable:
            valid, reason = layout is None, layout or ""
        elif layout:  # why mido could not read it, when the layout says
            reason = f"{reason.rstrip(': ')}: {layout}"
    compared = compare_notes(notes, reference_notes)
    melody, durations = melody_match(notes, reference_notes)
    score = FileScore(
        output == reference, valid, compared, reason, readable, None, melody, notes, durations
    )
    if dst_ext == "mid":
        score.valid_restated, score.notes_restated, score.melody_restated = valid, compared, melody
        fixed = output if valid else restate_track_lengths(output)
        if fixed != output:
            try:
                fixed_notes = notes_of(fixed, "mid")
            except ConversionError:
                fixed_notes = []
            score.valid_restated = bool(fixed_notes) and midi_layout_error(fixed) is None
            score.notes_restated = compare_notes(fixed_notes, reference_notes)
            score.melody_restated = melody_match(fixed_notes, reference_notes)[0]
    return score


def melody_match(notes: list[Note], reference_notes: list[Note]) -> tuple[CompareResult, int]:
    """The melody match (pitch order only) and how many of its pairs share the duration."""
    pairs = match_pitch_order(notes, reference_notes)
    durations = sum(abs(x[2] - y[2]) <= TOLERANCE + 1e-9 for x, y in pairs)
    return CompareResult(len(pairs), len(notes), len(reference_notes)), durations


@dataclass
class DirectionTally:
    """Sums over the files of one direction; `summary()` gives the reported figures."""

    files: int = 0
    too_long: int = 0
    rejected: int = 0  # inputs failing another check (counted, never converted)
    exact: int = 0
    valid: int = 0
    readable: int = 0
    valid_finished: int = 0  # valid and ended by the model, not cut at the length limit
    valid_restated: int | None = None  # MIDI targets only: valid once lengths are re-stated
    restated_matched: int = 0  # MIDI targets only: notes matched once lengths are re-stated
    restated_out: int = 0  # ... the output's notes then
    restated_melody: int = 0  # ... melody notes matched then
    cut: int = 0
    in_pieces: int = 0  # interleaved layout: converted in more than one piece
    groups_ended: int = 0  # interleaved layout: output groups ended for a looping model
    replays: int = 0  # repeats layout: replay lines written that named a span
    matched: int = 0
    count_out: int = 0
    count_ref: int = 0
    melody_matched: int = 0
    melody_durations: int = 0
    file_precision: float = 0.0
    file_recall: float = 0.0
    file_f1: float = 0.0
    output_bytes: int = 0
    seconds: float = 0.0
    invalid_examples: list[str] = field(default_factory=list)

    @property
    def converted(self) -> int:
        return self.files - self.too_long - self.rejected

    def add(self, name: str, conv: Conversion, score: FileScore) -> None:
        self.exact += score.exact
        self.valid += score.valid
        self.readable += score.readable
        self.valid_finished += score.valid and conv.finished
        self.in_pieces += conv.pieces > 1
        self.groups_ended += conv.groups_ended
        self.replays += conv.replays
        if score.valid_restated is not None:
            self.valid_restated = (self.valid_restated or 0) + score.valid_restated
        if score.notes_restated is not None and score.melody_restated is not None:
            self.restated_matched += score.notes_restated.matched
            self.restated_out += score.notes_restated.count_a
            self.restated_melody += score.melody_restated.matched
        self.cut += not conv.finished
        n = score.notes
        self.matched += n.matched
        self.count_out += n.count_a
        self.count_ref += n.count_b
        self.melody_matched += score.melody.matched
        self.melody_durations += score.melody_durations
        self.file_precision += n.precision
        self.file_recall += n.recall
        self.file_f1 += n.f1
        self.output_bytes += len(conv.data)
        if not score.valid and len(self.invalid_examples) < 5:
            self.invalid_examples.append(f"{name}: {score.reason}")

    def _restated_notes(self) -> dict:
        notes = CompareResult(self.restated_matched, self.restated_out, self.count_ref)
        melody = CompareResult(self.restated_melody, self.restated_out, self.count_ref)
        return {
            "note_precision_restated": notes.precision,
            "note_recall_restated": notes.recall,
            "note_f1_restated": notes.f1,
            "melody_f1_restated": melody.f1,
        }

    def summary(self) -> dict:
        k = self.converted

        def rate(x):
            return x / k if k else None

        micro = CompareResult(self.matched, self.count_out, self.count_ref)
        melody = CompareResult(self.melody_matched, self.count_out, self.count_ref)
        return {
            "files": self.files,
            "converted": k,
            "skipped_too_long": self.too_long,
            "rejected_inputs": self.rejected,
            "exact_file_rate": rate(self.exact),
            "valid_rate": rate(self.valid),
            "readable_rate": rate(self.readable),
            "valid_finished_rate": rate(self.valid_finished),
            **(
                {"valid_restated_rate": rate(self.valid_restated)}
                if self.valid_restated is not None
                else {}
            ),
            **(self._restated_notes() if self.valid_restated is not None and k else {}),
            "note_precision": micro.precision if k else None,
            "note_recall": micro.recall if k else None,
            "note_f1": micro.f1 if k else None,
            "melody_precision": melody.precision if k else None,
            "melody_recall": melody.recall if k else None,
            "melody_f1": melody.f1 if k else None,
            "melody_duration_accuracy": (
                self.melody_durations / self.melody_matched if self.melody_matched else None
            ),
            "mean_file_precision": rate(self.file_precision),
            "mean_file_recall": rate(self.file_recall),
            "mean_file_f1": rate(self.file_f1),
            "notes_matched": self.matched,
            "notes_output": self.count_out,
            "notes_reference": self.count_ref,
            "cut_at_limit": self.cut,
            "converted_in_pieces": self.in_pieces,
            "groups_ended_for_the_model": self.groups_ended,
            "replays": self.replays,
            "seconds": self.seconds,
            "files_per_second": k / self.seconds if self.seconds else None,
            "output_bytes_per_second": self.output_bytes / self.seconds if self.seconds else None,
            "invalid_examples": self.invalid_examples,
        }


def check_against_reference(data: bytes, src_ext: str, output: bytes, dst_ext: str) -> dict:
    """Compare a conversion with the reference converter, note by note (SPEC 3.4).

    abc->mid: the output's notes against the reference MIDI of the input, and whether the
    bytes are identical. mid->abc: the output re-converted by the reference converter, its notes
    against the input's notes (`identical` is None: there is no reference ABC).
    """
    direction = direction_of(src_ext, dst_ext)
    reference = None
    try:
        if direction == "abc->mid":
            reference = abc_to_midi(data)
            reference_notes = midi_to_notes(reference)
        else:
            reference_notes = midi_to_notes(data)
    except (AbcError, MidiError) as e:
        raise ConversionError(f"the reference converter cannot read the input: {e}") from None
    score = score_output(output, dst_ext, reference or b"", reference_notes)
    return score_fields(score, identical=score.exact if reference is not None else None)


def score_fields(score: FileScore, **first) -> dict:
    """A file's score as named figures (after the `first` keys): valid, readable,
    invalid_reason, [valid_restated, note_f1_restated], note_precision / recall / f1,
    notes_matched / output / reference, melody_f1 / matched / duration_accuracy."""
    n = score.notes
    return {
        **first,
        "valid": score.valid,
        "readable": score.readable,
        "invalid_reason": score.reason or None,
        **({} if score.valid_restated is None else {"valid_restated": score.valid_restated}),
        **({} if score.notes_restated is None else {"note_f1_restated": score.notes_restated.f1}),
        "note_precision": n.precision,
        "note_recall": n.recall,
        "note_f1": n.f1,
        "notes_matched": n.matched,
        "notes_output": n.count_a,
        "notes_reference": n.count_b,
        "melody_f1": score.melody.f1,
        "melody_matched": score.melody.matched,
        "melody_duration_accuracy": score.melody_duration_accuracy,
    }


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Pair:
    name: str  # the pair's path without the extension
    abc: bytes
    mid: bytes

    def side(self, ext: str) -> bytes:
        return self.abc if ext == "abc" else self.mid


RANDOM_PAIRS = 100  # pairs drawn from a gen:abc source when no limit is given


def load_pairs(
    sources: str | Path | Sequence[str | Path], limit: int | None = None, seed: int = 0
) -> tuple[list[Pair], dict[str, int]]:
    """The x.abc + x.mid pairs under files, folders or tar shards, and the warning counts.

    `limit` keeps N pairs evenly spread over the sorted list (not the first N: dataset names
    start with their collection, so the first N would all come from one collection).
    A single `gen:abc?...` source gives `limit` (default 100) random tunes and their reference
    MIDI instead (`bytesim.abc_task`; at the end of any curriculum), drawn from `seed`.
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    if any(str(s).startswith("gen:") for s in sources):
        return _random_pairs(sources, limit, seed), {}
    try:
        src = FileSource(list(sources), "abc->mid")
        records = src.records
        if limit is not None and limit < len(records):
            records = [records[i * len(records) // limit] for i in range(limit)]
        pairs = [Pair(r.parts[0].name[:-4], r.parts[0].read(), r.parts[1].read()) for r in records]
    except DataError as e:
        raise ConversionError(str(e)) from None
    except OSError as e:
        raise ConversionError(f"{e.filename}: cannot read ({e.strerror})") from None
    return pairs, dict(src.warnings.counts)


def _random_pairs(sources, limit: int | None, seed: int) -> list[Pair]:
    spec = str(sources[0])
    if len(sources) > 1 or not (spec == "gen:abc" or spec.startswith("gen:abc?")):
        raise ConversionError(
            f"{', '.join(map(str, sources))}: the only generated pairs are one gen:abc source"
        )
    try:
        source = generated_source(spec)
    except DataError as e:
        raise ConversionError(str(e)) from None
    if source.real > 0:
        raise ConversionError(f"{spec}: evaluation draws random tunes only (drop pairs=, real=)")
    draw = random.Random(seed)
    n = limit if limit is not None else RANDOM_PAIRS
    width = len(str(n - 1))
    return [Pair(f"random-{i:0{width}d}", *source.random_pair(draw)) for i in range(n)]


def evaluate_conversion(
    model,
    data_dir_or_files: str | Path | Sequence[str | Path],
    directions: Sequence[str] = DIRECTIONS,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
    bits: bool = True,
    generate: bool = True,
    seed: int = 0,
    outputs: str | Path | None = None,
    input_key: bool = True,
) -> dict:
    """Greedy conversions of every pair in both (or the given) directions, scored.

    Returns {"pairs", "warnings", "patch_length", "max_input_bytes", direction: summary...};
    each summary as `DirectionTally.summary` plus `by_reference_notes` (the main scores per
    `LENGTH_GROUPS` group of the reference's note count) and, with `bits`,
    `bits_per_target_byte` (the teacher-forced bits per byte of the reference target, as
    `bytesim eval --conversion`) and
    `bits_by_part`: the same bits split by what each target byte is (`target_roles`); with two
    pairs or more also `bits_per_target_byte_other_input` and `bits_by_part_other_input`: the
    same targets after another pair's input (`other_inputs`).
    `progress(n, total)` is called as n more of the total conversions are done. `generate`
    False skips the conversions: only the inputs' checks and the bits. `seed` draws the pairs of
    a `gen:abc` source (`load_pairs`). `outputs`, a folder: every generated file is written
    there (`save_outputs`) with one line per input in its `files.jsonl`. `input_key` False keeps
    the `K:` the model writes for MIDI -> ABC (`neural_convert.with_input_key`).
    """
    check_model(model)
    for d in directions:
        if d not in DIRECTIONS:
            raise ConversionError(f"direction {d!r}: expected one of {', '.join(DIRECTIONS)}")
    pairs, warnings = load_pairs(data_dir_or_files, limit, seed)
    result: dict = {
        "pairs": len(pairs),
        "warnings": warnings,
        "patch_length": model.config.patch_length,
        "max_input_bytes": max_input_bytes(model),
        "max_input_patches": max_input_patches(model),
        "max_unit_patches": (
            max_unit_patches(model) if model.config.layout in INTERLEAVED else None
        ),
    }
    total = len(directions) * len(pairs)

    def advance(n: int) -> None:
        if progress is not None:
            progress(n, total)

    records: list[dict] = []
    for d in directions:
        if generate:
            result[d] = _evaluate_direction(
                model, pairs, d, batch_size, advance, bits, records, input_key
            )
        else:
            result[d] = _bits_only(model, pairs, d, advance)
    if outputs is not None and generate:
        save_outputs(outputs, records)
    return result


def save_outputs(folder: str | Path, records: Sequence[dict]) -> None:
    """Write each record's generated file to FOLDER/<direction>/<input name>.<ext> (`abc-to-mid`,
    `mid-to-abc`) and every record, its file's bytes left out, as one JSON line in
    FOLDER/files.jsonl (the record's `output`: the written file relative to FOLDER, or None for
    an input that was not converted). Each file is written whole or not at all."""
    folder = Path(folder)
    lines, taken = [], set()
    try:
        for record in records:
            record = dict(record)
            data = record.pop("data")
            record["output"] = None
            if data is not None:
                sub = record["direction"].replace("->", "-to-")
                stem = Path(record["input"]).name.rsplit(".", 1)[0]
                ext = record["direction"][-3:]
                name, n = f"{sub}/{stem}.{ext}", 1
                while name in taken:  # two inputs of one name from different folders
                    n += 1
                    name = f"{sub}/{stem}-{n}.{ext}"
                taken.add(name)
                (folder / sub).mkdir(parents=True, exist_ok=True)
                write_atomic(folder / name, data)
                record["output"] = name
            lines.append(json.dumps(record) + "\n")
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "files.jsonl", "".join(lines).encode())
    except OSError as e:
        raise ConversionError(f"{e.filename or folder}: cannot write ({e.strerror})") from None


def _bits_only(model, pairs, direction, progress) -> dict:
    """The inputs' checks and the teacher-forced bits of a direction, nothing generated."""
    src, dst = direction.split("->")
    done, too_long, rejected = [], 0, 0
    for pair in pairs:
        name = f"{pair.name}.{src}"
        try:
            check_input(pair.side(src), src, name)
            prompt_ids(model, pair.side(src), src, dst, name)
            done.append(pair)
        except InputTooLong:
            too_long += 1
        except ConversionError:
            rejected += 1
    summary = {
        "files": len(pairs),
        "scored": len(done),
        "skipped_too_long": too_long,
        "rejected_inputs": rejected,
    }
    summary.update(_bits(model, done, src, dst))
    progress(len(pairs))
    return summary


def _bits(model, done, src, dst) -> dict:
    """Bits per target byte, by part, and both again after another pair's input."""
    measured = target_bits_by_part(model, done, src, dst)
    out = {
        "bits_per_target_byte": measured["bits_per_target_byte"],
        "bits_by_part": measured["per_role"],
    }
    if len(done) >= 2:  # the same targets, each after the next pair's input
        ablated = target_bits_by_part(model, other_inputs(done, src), src, dst)
        out["bits_per_target_byte_other_input"] = ablated["bits_per_target_byte"]
        out["bits_by_part_other_input"] = ablated["per_role"]
    return out


# Groups of the reference's note count for `by_reference_notes`: up to 48 notes is what the
# random-tune sources draw by default (docs/conversion.md), the rest split in two.
LENGTH_GROUPS = ((1, 48), (49, 96), (97, None))


def length_group(notes: int) -> str:
    """The `LENGTH_GROUPS` label of a reference with this many notes: '1-48', '49-96', '97+'
    ('0' for a reference without notes)."""
    for low, high in LENGTH_GROUPS:
        if notes >= low and (high is None or notes <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return "0"


_GROUP_KEYS = (
    "files",
    "valid_rate",
    "valid_restated_rate",
    "note_f1",
    "note_f1_restated",
    "melody_f1",
    "cut_at_limit",
)


def _group_summaries(groups: dict[str, DirectionTally]) -> dict:
    """The main scores of each length group, shortest first."""
    out = {}
    for label in ["0"] + [length_group(low) for low, _ in LENGTH_GROUPS]:
        if label in groups:
            summary = groups[label].summary()
            out[label] = {k: summary[k] for k in _GROUP_KEYS if k in summary}
    return out


def _evaluate_direction(
    model, pairs, direction, batch_size, progress, bits, records, input_key=True
) -> dict:
    """Convert and score one direction; append one record per pair to `records` (the output
    bytes under `data`, as `save_outputs` reads them)."""
    src, dst = direction.split("->")
    tally = DirectionTally(files=len(pairs))
    started = time.perf_counter()
    jobs = [(p.side(src), src, dst) for p in pairs]
    names = [f"{p.name}.{src}" for p in pairs]
    convs = convert_many(model, jobs, batch_size, progress, names, input_key)
    tally.seconds = time.perf_counter() - started
    done = []
    groups: dict[str, DirectionTally] = {}
    melodies: list[tuple[list[Note], list[Note]]] = []
    for pair, name, conv in zip(pairs, names, convs, strict=True):
        if isinstance(conv, ConversionError):
            if isinstance(conv, InputTooLong):
                tally.too_long += 1
            else:
                tally.rejected += 1
                if len(tally.invalid_examples) < 5:
                    tally.invalid_examples.append(f"input rejected: {conv}")
            records.append(
                {"direction": direction, "input": name, "data": None, "rejected": str(conv)}
            )
            progress(1)
            continue
        reference_notes = _reference_notes(pair)
        score = score_output(conv.data, dst, pair.side(dst), reference_notes)
        tally.add(name, conv, score)
        group = groups.setdefault(length_group(len(reference_notes)), DirectionTally())
        group.files += 1
        group.add(name, conv, score)
        records.append(_record(direction, name, conv, score))
        done.append(pair)
        melodies.append((score.output_notes, reference_notes))
    summary = tally.summary()
    summary["by_reference_notes"] = _group_summaries(groups)
    if len(melodies) >= 2:  # chance level: each output against the next pair's reference
        other = [
            melody_match(out, melodies[(i + 1) % len(melodies)][1])
            for i, (out, _) in enumerate(melodies)
        ]
        matched = sum(c.matched for c, _ in other)
        summary["melody_f1_other_reference"] = CompareResult(
            matched, sum(c.count_a for c, _ in other), sum(c.count_b for c, _ in other)
        ).f1
        summary["melody_duration_accuracy_other_reference"] = (
            sum(d for _, d in other) / matched if matched else None
        )
    if bits:
        summary.update(_bits(model, done, src, dst))
    return summary


def _record(direction: str, name: str, conv: Conversion, score: FileScore) -> dict:
    return score_fields(
        score,
        direction=direction,
        input=name,
        data=conv.data,
        output_bytes=len(conv.data),
        finished=conv.finished,
        exact=score.exact,
    )


def other_inputs(pairs: Sequence[Pair], src: str) -> list[Pair]:
    """Each pair's target after the next pair's input (the last after the first's).

    The bits of a target that no longer follows from its input show how much of the model's
    prediction reads the input: a part whose bits do not rise is predicted from the target's
    own context (the file format, the tune so far), not converted.
    """
    out = []
    for i, pair in enumerate(pairs):
        other = pairs[(i + 1) % len(pairs)].side(src)
        out.append(
            Pair(pair.name, other, pair.mid) if src == "abc" else Pair(pair.name, pair.abc, other)
        )
    return out


def _reference_notes(pair: Pair) -> list[Note]:
    """The reference for both directions: the notes of the pair's .mid."""
    try:
        return midi_to_notes(pair.mid)
    except MidiError:
        return []


def target_bits(model, pairs: Sequence[Pair], src: str, dst: str) -> float | None:
    """Teacher-forced bits per byte of the target side (as `bytesim eval --conversion`)."""
    return target_bits_by_part(model, pairs, src, dst)["bits_per_target_byte"]


def target_bits_by_part(model, pairs: Sequence[Pair], src: str, dst: str) -> dict:
    """`bits_per_target_byte` and `per_role` ({part: {bits_per_byte, bytes}}, `target_roles`)."""
    from bytesim.evaluate import evaluate

    if not pairs:
        return {"bits_per_target_byte": None, "per_role": {}}
    layout = model.config.layout
    examples = (
        encode_pair(p.side(src), src, p.side(dst), dst, "target", p.name, layout) for p in pairs
    )
    return evaluate(model, examples, roles=target_roles)


def target_roles(example: Example) -> list[str | None]:
    """What each target byte of a conversion example is (None outside the target).

    The target file's bytes get `convert.roles`' parts (MIDI: header, track length, delta,
    status, pitch, off pitch, velocity, meta, other; ABC: field, note, pitch mark, length,
    structure, space, other); its padding and the final <eop> patch get `end` (predicting them
    is ending the file).
    """
    names: list[str | None] = [None] * len(example.ids)
    for position in np.flatnonzero(example.loss_mask):
        names[position] = "end"
    own = np.flatnonzero(example.loss_mask & example.file_mask)
    data = example.ids[own].astype(np.uint8).tobytes()
    if not example.kind.endswith("mid"):
        parts = abc_byte_roles(data)
    elif data.startswith(MIDI_MAGIC):
        parts = midi_byte_roles(data)
    else:  # the notes layout: MIDI given as note text
        parts = ["note text"] * len(data)
    for position, part in zip(own, parts, strict=True):
        names[position] = part
    return names
