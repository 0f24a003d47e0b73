"""Where a neural conversion gets pitches wrong: the first notes of each output against the
reference MIDI, note by note, by the key signature of the reference.

    python benchmarks/pitch_errors.py runs/out-MODEL/abc-to-mid data/abc/test [--notes 16]
    python benchmarks/pitch_errors.py runs/out-MODEL/mid-to-abc data/abc/test

OUTPUTS holds the files `bytesim eval-conversion ... --outputs DIR` wrote: MIDI files
(DIR/abc-to-mid), or ABC files (DIR/mid-to-abc), which the reference converter plays (one that
does not convert counts as no notes). Each is compared with the MIDI file of the same stem in
DATA. The notes of both, in order of onset and pitch, are paired one to one over the first N; a
pair's difference is output pitch minus reference pitch. A model that ignores the key signature
plays F for F# in G major (-1) and B for Bb in F major (+1): those show as -1 in sharp keys and
+1 in flat keys. Prints a markdown table: one row per key, and the files whose first pitch
error comes within the first 8 notes.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

import mido

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convert import AbcError, abc_to_midi  # noqa: E402
from convert.notes import midi_to_notes  # noqa: E402


def key_of(path: Path) -> str:
    """The first key signature of a MIDI file ('none' without one)."""
    for track in mido.MidiFile(path).tracks:
        for msg in track:
            if msg.type == "key_signature":
                return msg.key
    return "none"


def _played(path: Path) -> list:
    """The notes of an output file: a MIDI file's, or those the reference converter plays from
    an ABC file (none when it does not convert)."""
    if path.suffix == ".mid":
        return midi_to_notes(path.read_bytes())
    try:
        return midi_to_notes(abc_to_midi(path.read_text(errors="replace")))
    except AbcError:
        return []


def compare(outputs: Path, data: Path, first: int) -> tuple[dict[str, Counter], int, int]:
    """Per key: a Counter of pitch differences (and 'files'); files with an early error; files."""
    by_key: dict[str, Counter] = defaultdict(Counter)
    early = files = 0
    for out in sorted([*outputs.glob("*.mid"), *outputs.glob("*.abc")]):
        ref = data / (out.stem + ".mid")
        if not ref.exists():
            raise SystemExit(f"{out}: no reference {ref}")
        want = sorted(midi_to_notes(ref.read_bytes()))[:first]
        got = sorted(_played(out))[:first]
        row = by_key[key_of(ref)]
        row["files"] += 1
        files += 1
        diffs = [g[1] - w[1] for w, g in zip(want, got, strict=False)]
        row.update(diffs)
        wrong = [i for i, d in enumerate(diffs) if d]
        early += bool(wrong) and wrong[0] < 8
    return by_key, early, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", type=Path, help="folder of output MIDI or ABC files")
    parser.add_argument("data", type=Path, help="folder of the reference MIDI files")
    parser.add_argument("--notes", type=int, default=16, help="notes compared per file")
    args = parser.parse_args()
    by_key, early, files = compare(args.outputs, args.data, args.notes)
    if not files:
        raise SystemExit(f"{args.outputs}: no .mid or .abc files")
    print("| key | files | notes paired | right pitch | -1 | +1 | other |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total: Counter = Counter()
    for key, row in sorted(by_key.items(), key=lambda kv: -kv[1]["files"]):
        total.update(row)
        print(_row(key, row))
    print(_row("**all**", total))
    print(f"\nfiles whose first pitch error is among their first 8 notes: {early} of {files}")


def _row(key: str, row: Counter) -> str:
    paired = sum(n for d, n in row.items() if d != "files")
    other = paired - row[0] - row[-1] - row[1]

    def pct(n: int) -> str:
        return f"{100 * n / paired:.1f} %" if paired else "-"

    return (
        f"| {key} | {row['files']} | {paired} | {pct(row[0])} | {pct(row[-1])} | {pct(row[1])} "
        f"| {pct(other)} |"
    )


if __name__ == "__main__":
    main()
