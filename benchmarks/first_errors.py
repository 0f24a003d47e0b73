"""What goes wrong first in each output of a neural conversion: the notes of an output against the
reference MIDI in order, up to the first that differs, and what differs there.

    python benchmarks/first_errors.py runs/out-MODEL/abc-to-mid data/abc/test
    python benchmarks/first_errors.py runs/out-MODEL/mid-to-abc data/abc/test [--examples 3]

OUTPUTS holds the files `bytesim eval-conversion ... --outputs DIR` wrote: MIDI files
(DIR/abc-to-mid), or ABC files (DIR/mid-to-abc), which the reference converter plays. Each is
compared with the MIDI file of the same stem in DATA, note by note (onset, pitch, duration in
quarters, in order of onset and pitch). Note F1 counts a note right only at its onset, so one
wrong duration or a rest left out moves every note after it; this names the first fault:

- ``exact``: every note right;
- ``rest left out`` / ``rest added``: the first wrong note has the right pitch and duration but
  comes early / late (the note before it is right, so the time between them is wrong);
- ``duration``: right onset and pitch, wrong duration;
- ``semitone``, ``whole tone``, ``pitch``: right onset and duration, a pitch 1, 2 or more
  semitones off;
- ``notes missing`` / ``notes added``: all notes right up to the end of the shorter;
- ``other``: more than one of these at once;
- ``unplayable``: an output the reference converter cannot read.

Prints a markdown table: each kind, how many files, and the first files of it; then the first
faults per reference note read. If each reference note were the first fault with one
probability p (a geometric first fault, the notes after it lost, as when the clock runs on
wrong), p's estimate is the faults over the notes read up to and including them (``fault_rate``;
an output with extra notes after all of the reference's has no fault within them). Beside the
measured share of the reference's notes right before the first fault, it prints that share
as p predicts it for these reference lengths, and the p that would give 90 % and 99 %.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convert import AbcError, abc_to_midi  # noqa: E402
from convert.notes import MidiError, midi_to_notes  # noqa: E402

Note = tuple[float, int, float]


def agreeing(reference: list[Note], output: list[Note]) -> int:
    """How many notes `output` has right, in order, before it first leaves `reference`."""
    i = 0
    while i < min(len(reference), len(output)) and reference[i] == output[i]:
        i += 1
    return i


def faults_and_notes_read(records: list[tuple[int, int]]) -> tuple[int, int]:
    """(first faults, reference notes read up to and including them): `records` holds
    (reference notes, notes right before the first fault) per output; right == notes is an
    output without a fault."""
    faults = sum(right < notes for notes, right in records)
    read = sum(right + 1 if right < notes else notes for notes, right in records)
    return faults, read


def fault_rate(records: list[tuple[int, int]]) -> float:
    """First faults per reference note read (`faults_and_notes_read`)."""
    faults, read = faults_and_notes_read(records)
    return faults / read if read else 0.0


def expected_share(p: float, lengths: list[int]) -> float:
    """The share of the notes of references this long that come before a first fault at rate
    `p` per note (the mean of a geometric first fault cut at each length)."""
    total = sum(lengths)
    if p <= 0 or not total:
        return 1.0
    if p >= 1:
        return 0.0
    return sum((1 - (1 - p) ** n) / p for n in lengths) / total


def rate_for_share(share: float, lengths: list[int]) -> float:
    """The fault rate per note at which `expected_share` is `share` (bisection)."""
    low, high = 0.0, 1.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if expected_share(mid, lengths) > share else (low, mid)
    return (low + high) / 2


def first_fault(reference: list[Note], output: list[Note]) -> str:
    """The kind of the first note where `output` leaves `reference` (see the module docstring)."""
    i = agreeing(reference, output)
    if i == len(reference) == len(output):
        return "exact"
    if i == len(output):
        return "notes missing"
    if i == len(reference):
        return "notes added"
    (on_r, pitch_r, dur_r), (on_o, pitch_o, dur_o) = reference[i], output[i]
    if pitch_r == pitch_o and dur_r == dur_o:
        return "rest left out" if on_o < on_r else "rest added"
    if pitch_r == pitch_o and on_r == on_o:
        return "duration"
    if on_r == on_o and dur_r == dur_o:
        return {1: "semitone", 2: "whole tone"}.get(abs(pitch_o - pitch_r), "pitch")
    return "other"


def output_notes(path: Path) -> list[Note] | None:
    """The notes of an output file (None when the reference converter cannot read it)."""
    try:
        if path.suffix == ".abc":
            return midi_to_notes(abc_to_midi(path.read_bytes()))
        return midi_to_notes(path.read_bytes())
    except (AbcError, MidiError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", type=Path, help="abc-to-mid or mid-to-abc folder of --outputs")
    parser.add_argument("data", type=Path, help="the folder of the pairs (their .mid files)")
    parser.add_argument("--examples", type=int, default=3, help="files named per kind")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.outputs.iterdir() if p.suffix in (".mid", ".abc"))
    if not files:
        print(f"{args.outputs}: no .mid or .abc outputs", file=sys.stderr)
        return 1
    kinds: Counter[str] = Counter()
    named: defaultdict[str, list[str]] = defaultdict(list)
    records: list[tuple[int, int]] = []  # (reference notes, notes right before the first fault)
    for path in files:
        reference_path = args.data / (path.stem + ".mid")
        if not reference_path.is_file():
            print(f"{reference_path}: no reference MIDI for {path.name}", file=sys.stderr)
            return 1
        reference = midi_to_notes(reference_path.read_bytes())
        notes = output_notes(path)
        kind = "unplayable" if notes is None else first_fault(reference, notes)
        kinds[kind] += 1
        named[kind].append(path.stem)
        if reference:
            right = 0 if notes is None else agreeing(reference, notes)
            records.append((len(reference), right))
    print(f"| first fault ({len(files)} files) | files | first of them |")
    print("|---|---:|---|")
    for kind, count in kinds.most_common():
        print(f"| {kind} | {count} | {', '.join(named[kind][: args.examples])} |")
    lengths = [notes for notes, _ in records]
    if sum(lengths):
        faults, read = faults_and_notes_read(records)
        p = faults / read
        right = sum(r for _, r in records) / sum(lengths)
        print(
            f"\nfirst faults per reference note read: {faults} in {read}, p = {100 * p:.2f} %; "
            f"the reference's notes right before the first fault: {100 * right:.1f} % "
            f"(at p: {100 * expected_share(p, lengths):.1f} %); "
            f"90 % needs p = {100 * rate_for_share(0.9, lengths):.3f} %, "
            f"99 % p = {100 * rate_for_share(0.99, lengths):.4f} %"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
