"""How well a `repeats`-layout model has learned its replay lines, teacher-forced: on the
ABC -> MIDI pairs of DATA whose tune has a `:|`, every replay line ``dt @ a b`` of the target
(`bytesim.layout.with_replays`), the probability the model gives its `@`, then its first number
given the `@`, then the rest of the line given the first (`` b`` and the line end, or the line
end alone where the span ends at the unit being read).

    python benchmarks/replay_lines.py runs/c12 data/abc/test [--pairs 8]

Prints one line: the replay lines scored, at how many the `@` is the most likely byte, and the
median of each probability. Greedy conversion writes a replay line only where `@` is the most
likely byte, and then the span it names: both numbers must come out right. Deterministic: the
first PAIRS tunes with a `:|` in name order, the first patch_length patches of each sequence.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytesim.checkpoint import load_model  # noqa: E402
from bytesim.data import PATCH, encode_pair  # noqa: E402
from bytesim.layout import REPLAY_LAYOUTS  # noqa: E402


def replay_probabilities(model, abc: bytes, midi: bytes) -> list[tuple[float, bool, float, float]]:
    """(P(@), @ the most likely byte, P(a | @), P(b | a)) for each replay line of the pair's
    ABC -> MIDI target that fits the model's patch_length."""
    ids = encode_pair(abc, "abc", midi, "mid", "target", layout=model.config.layout).ids
    ids = torch.from_numpy(ids[: model.config.patch_length * PATCH]).long()[None]
    with torch.no_grad():
        probs = model(ids)[0][0].softmax(-1)  # (P - 1, 16, 257): patch k + 1 from patch k
    targets = ids[0].view(-1, PATCH)[1:]
    found = []
    for p, row in enumerate(targets.tolist()):
        line = bytes(v for v in row if v < 256).rstrip(b"\x00")  # MARK may end the group
        if b" @ " not in line or not line.endswith(b"\n"):
            continue
        at = line.index(b"@")
        end = next(k for k in range(at + 2, len(line)) if line[k] in b" \n")  # after a

        def chance(start: int, end: int, p: int = p, row: list[int] = row) -> float:
            return float(np.prod([float(probs[p, j, row[j]]) for j in range(start, end)]))

        found.append(
            (
                float(probs[p, at, ord("@")]),
                int(probs[p, at].argmax()) == ord("@"),
                chance(at + 1, end),
                chance(end, len(line)),
            )
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a run folder or model of the repeats layout")
    parser.add_argument("data", type=Path, help="a folder of .abc/.mid pairs")
    parser.add_argument("--pairs", type=int, default=8, help="tunes with a :| scored")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    if model.config.layout not in REPLAY_LAYOUTS:
        print(
            f"{args.model}: layout {model.config.layout!r} writes no replay lines", file=sys.stderr
        )
        return 1
    tunes = [p for p in sorted(args.data.glob("*.abc")) if b":|" in p.read_bytes()]
    found = []
    for path in tunes[: args.pairs]:
        found += replay_probabilities(
            model, path.read_bytes(), path.with_suffix(".mid").read_bytes()
        )
    if not found:
        print(
            f"{args.data}: no replay lines in the first {args.pairs} tunes with a :|",
            file=sys.stderr,
        )
        return 1
    at, top, first, second = zip(*found, strict=True)
    print(
        f"{len(found)} replay lines in {min(args.pairs, len(tunes))} tunes: @ the most likely "
        f"byte at {sum(top)}; median P(@) {np.median(at):.3f}, P(a | @) {np.median(first):.3f}, "
        f"P(rest | a) {np.median(second):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
