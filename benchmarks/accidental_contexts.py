"""How often the `accidentals` layout's context names every note's accidental right on real
tunes: each tune is written again with every note given the sign its context names
(`bytesim.layout.explicit_accidentals`) and both are converted by the reference converter;
where the context is right, the two MIDI files are the same bytes.

    python benchmarks/accidental_contexts.py data/abc/train [--tunes 3000]
    python benchmarks/accidental_contexts.py data/abc/test --examples 5

Reads the first TUNES `.abc` files of DATA in name order (deterministic) and prints one line:
the tunes read, how many have a sign of their own on some note, how many play differently
written out (the context is wrong somewhere), the first of those, and the tunes the reference
cannot read (skipped).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytesim.layout import explicit_accidentals  # noqa: E402
from convert import AbcError, abc_to_midi  # noqa: E402

_SIGN = re.compile(rb"(?m)^(?![A-Za-z+]:|%).*[\^_=][A-Ga-g]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a folder of .abc files (a gen-abc-dataset split)")
    parser.add_argument("--tunes", type=int, default=3000, help="how many files to read")
    parser.add_argument("--examples", type=int, default=3, help="files named that differ")
    args = parser.parse_args(argv)
    paths = sorted(args.data.glob("*.abc"))[: args.tunes]
    if not paths:
        print(f"error: no .abc files in {args.data}", file=sys.stderr)
        return 1
    signs, differ, unreadable = 0, [], 0
    for path in paths:
        tune = path.read_bytes()
        try:
            reference = abc_to_midi(tune)
        except AbcError:
            unreadable += 1
            continue
        signs += bool(_SIGN.search(tune))
        if abc_to_midi(explicit_accidentals(tune)) != reference:
            differ.append(path.stem)
    print(
        f"{len(paths)} tunes, {signs} with a sign of their own, {len(differ)} play differently"
        f" written out ({', '.join(differ[: args.examples]) or 'none'}), {unreadable} unreadable"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
