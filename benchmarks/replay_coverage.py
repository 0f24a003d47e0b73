"""What the `repeats` layout does to the ABC -> MIDI targets of real pairs: how many tunes play a
part again, how many of those get replay lines, whether every group comes back from them, and
how many note-text lines the model writes with and without them.

    python benchmarks/replay_coverage.py data/abc/train [--pairs 800] [--seed 0]

Draws PAIRS pairs of DATA (shuffled with SEED; pairs the reference alignment cannot read are
skipped and counted), aligns each (`bytesim.layout.align` with rest lines), writes its replay
lines (`with_replays`) and expands them again (`expand_replays`). A group "plays a part again"
when its segment may replay (`most_settled` None, field lines aside) and it holds more lines
than the segment's own notes plus 2 (the most a segment that cannot replay settles). Prints one
line of counts. Deterministic.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytesim.layout import (  # noqa: E402
    REPLAY_LINE,
    LayoutError,
    align,
    expand_replays,
    most_settled,
    own_notes,
    replay_labels,
    with_replays,
)
from convert import AbcError  # noqa: E402

FIELD = re.compile(rb"[A-Za-z+]:")  # a field line (K:, P:, ...), never counted as replaying


def coverage(pairs: list[tuple[bytes, bytes]]) -> dict[str, int]:
    """The counts `main` prints, for (abc, midi) pairs."""
    found = dict.fromkeys(
        [
            "tunes",
            "skipped",
            "replaying",
            "with_lines",
            "lines",
            "short",
            "lossy",
            "before",
            "after",
        ],
        0,
    )
    for abc, midi in pairs:
        try:
            segments, groups = align(abc, midi, True)
        except (AbcError, LayoutError, UnicodeDecodeError):
            found["skipped"] += 1
            continue
        labels = replay_labels(segments)
        replayed = with_replays(segments, groups, labels)
        lines = [x for g in replayed for x in g if REPLAY_LINE.fullmatch(x)]
        found["tunes"] += 1
        found["replaying"] += any(
            most_settled(s) is None and not FIELD.match(s) and len(g) > own_notes(s) + 2
            for s, g in zip(segments, groups, strict=True)
        )
        found["with_lines"] += bool(lines)
        found["lines"] += len(lines)
        found["short"] += sum(REPLAY_LINE.fullmatch(x).group(3) is None for x in lines)
        found["lossy"] += expand_replays(replayed, labels) != (groups, 0)
        found["before"] += sum(map(len, groups))
        found["after"] += sum(map(len, replayed))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a folder of .abc/.mid pairs")
    parser.add_argument("--pairs", type=int, default=800, help="pairs drawn")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw")
    args = parser.parse_args(argv)
    names = sorted(p for p in args.data.glob("*.abc") if p.with_suffix(".mid").is_file())
    if not names:
        print(f"{args.data}: no .abc/.mid pairs", file=sys.stderr)
        return 1
    random.Random(args.seed).shuffle(names)
    found = coverage(
        [(p.read_bytes(), p.with_suffix(".mid").read_bytes()) for p in names[: args.pairs]]
    )
    print(
        f"{found['tunes']} tunes ({found['skipped']} skipped): {found['replaying']} play a part "
        f"again, {found['with_lines']} get replay lines ({found['lines']}, {found['short']} of "
        f"them `dt @ a`), {found['lossy']} do not come back whole; note-text lines "
        f"{found['before']:,} -> {found['after']:,}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
