"""How much of an interleaved ABC -> MIDI model's note F1 is lost to time that runs on wrong.

Note F1 counts a note right only at its onset, and the note text gives each note's time as dt
from the line before, so one wrong duration moves every later note. This converts the pairs
ABC -> MIDI (greedy, as `eval-conversion`), keeps what the model wrote after each input unit,
and scores its notes three ways, each against the reference's note text in ticks (pitch,
onset and duration within 3 ticks, as `compare_notes`):

- ``as written``: the model's own times (the figure `eval-conversion` gives, in ticks);
- ``each bar on time``: the model's times, but at each unit with a bar line, repeat sign or
  ending its clock set to the reference's there, so a wrong time is wrong up to the next bar
  only (what a model that wrote each bar's length right would get);
- ``each unit on time``: the clock set to the reference's at every unit, so only what a unit's
  own lines say (the pitches, durations and times within the unit) counts.

    python benchmarks/bar_resync.py data/abc/test [--model abc-midi] [--limit N]

An output whose units do not match the input's one to one (cut short) is scored as written in
all three. For a model of the `bars` layout only ``as written`` means what it says: the lines
it writes after a bar line are timed from its own bar lines. Prints a markdown table;
`--json FILE` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytesim.conversion_eval import load_pairs  # noqa: E402
from bytesim.layout import align, has_bar_sign  # noqa: E402
from bytesim.neural_convert import (  # noqa: E402
    INTERLEAVED,
    convert_many,
    load_conversion_model,
)
from convert.compare import CompareResult, compare_notes  # noqa: E402

TICKS_TOLERANCE = 3  # ticks, as TOLERANCE (3/480 of a quarter) at 480 ticks a quarter
MODES = ("as written", "each bar on time", "each unit on time")


def line_time(line: bytes) -> tuple[int, tuple[int, int] | None] | None:
    """(dt, (pitch, duration) for a note line or None) of a note-text line; None if unreadable."""
    parts = line.split()
    if not parts or not parts[0].isdigit():
        return None
    note = None
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        note = (int(parts[1]), int(parts[2]))
    return int(parts[0]), note


def timeline(groups: list[list[bytes]], resync: dict[int, int]) -> list[tuple[int, int, int]]:
    """The (onset, pitch, duration) notes of groups of note-text lines in ticks; at group j in
    `resync` the clock (the time of the line before) is set to resync[j] first."""
    now, notes = 0, []
    for j, group in enumerate(groups):
        now = resync.get(j, now)
        for line in group:
            found = line_time(line)
            if found is None:
                continue
            now += found[0]
            if found[1] is not None:
                notes.append((now, found[1][0], found[1][1]))
    return notes


def clocks(groups: list[list[bytes]]) -> list[int]:
    """The reference's clock at the start of each group."""
    out, now = [], 0
    for group in groups:
        out.append(now)
        for line in group:
            found = line_time(line)
            if found is not None:
                now += found[0]
    return out


def score_pair(
    abc: bytes, midi: bytes, unit_lines: list[list[bytes]]
) -> tuple[dict[str, CompareResult], bool]:
    """The notes of what a model wrote after each ABC unit against the reference's, with each
    of the three clocks (MODES), and whether the output's units match the input's one to one
    (if not, all three are scored as written)."""
    segments, ref_groups = align(abc, midi, rests=True)
    reference = timeline(ref_groups, {})
    one_to_one = len(unit_lines) == len(ref_groups)
    starts = clocks(ref_groups)
    every = {j: starts[j] for j in range(len(ref_groups))} if one_to_one else {}
    bars = {j: t for j, t in every.items() if has_bar_sign(segments[j])}
    results = {
        mode: compare_notes(timeline(unit_lines, resync), reference, tol=TICKS_TOLERANCE)
        for mode, resync in zip(MODES, ({}, bars, every), strict=True)
    }
    return results, one_to_one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="a folder of x.abc + x.mid pairs (data/abc/test)")
    parser.add_argument("--model", default="abc-midi", help="an interleaved conversion model")
    parser.add_argument("--limit", type=int, help="this many pairs, spread over the folder")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    model = load_conversion_model(args.model)
    if model.config.layout not in INTERLEAVED:
        parser.error(f"{args.model}: layout {model.config.layout!r} is not interleaved")
    pairs, _ = load_pairs(args.data, args.limit)
    convs = convert_many(
        model,
        [(p.abc, "abc", "mid") for p in pairs],
        args.batch_size,
        names=[p.name for p in pairs],
    )
    totals = {mode: [0, 0, 0] for mode in MODES}  # matched, output notes, reference notes
    aligned = 0
    for pair, conv in zip(pairs, convs, strict=True):
        lines = getattr(conv, "unit_lines", None) or []
        results, one_to_one = score_pair(pair.abc, pair.mid, lines)
        aligned += one_to_one
        for mode, result in results.items():
            for k, v in enumerate((result.matched, result.count_a, result.count_b)):
                totals[mode][k] += v
    figures = {
        mode: round(200 * m / (a + b), 1) if a + b else None for mode, (m, a, b) in totals.items()
    }
    print(f"{args.model} on {len(pairs)} pairs of {args.data} ({aligned} outputs unit for unit)\n")
    print("| clock | note F1 |\n|---|---:|")
    for mode, f1 in figures.items():
        print(f"| {mode} | {f1} % |")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"pairs": len(pairs), "aligned": aligned, "note_f1": figures}) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
