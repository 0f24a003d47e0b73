"""How steadily a conversion model reads note lengths, teacher-forced: on the ABC -> MIDI pairs
of DATA, the bits the model spends on the duration of every note line of the target (the
third number of ``dt pitch duration`` and the line end), the tune's first note against the
others.

    python benchmarks/note_length_bits.py runs/c19 data/abc/test [--pairs 130]

Prints one line: for the first note line of each tune and for all the later ones, the mean and
median bits and the share costing more than 1 bit (the model unsure between two lengths).
Interleaved layouts only (their note text is one line per patch). Deterministic: the first
PAIRS pairs in name order, the first patch_length patches of each sequence (as `eval`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytesim.checkpoint import load_model  # noqa: E402
from bytesim.data import PATCH, encode_pair, fit  # noqa: E402
from bytesim.evaluate import position_nats  # noqa: E402
from bytesim.model import INTERLEAVED  # noqa: E402

_NOTE_LINE = re.compile(rb"\d+ \d+ (\d+\n)")


def length_bits(model, abc: bytes, midi: bytes) -> list[float]:
    """Bits of each note line's duration (with its newline) in the pair's ABC -> MIDI target,
    in order."""
    example = fit(
        encode_pair(abc, "abc", midi, "mid", "target", layout=model.config.layout),
        model.config.patch_length,
    )
    ids = torch.from_numpy(example.ids).long()[None]
    counted = torch.from_numpy(example.loss_mask)[None]
    with torch.no_grad():
        nats = position_nats(model, ids, counted)[0].numpy()
    found = []
    for start in range(0, len(example.ids), PATCH):
        if not example.loss_mask[start]:
            continue
        line = bytes(x for x in example.ids[start : start + PATCH] if x < 256)
        match = _NOTE_LINE.match(line)
        if match:
            span = nats[start + match.start(1) : start + match.end(1)]
            found.append(float(span.sum() / np.log(2)))
    return found


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    x = np.array(values)
    return (
        f"mean {x.mean():.2f}, median {np.median(x):.3f}, over 1 bit {100 * (x > 1).mean():.1f} %"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model or run directory")
    parser.add_argument("data", type=Path, help="a folder of x.abc + x.mid pairs")
    parser.add_argument("--pairs", type=int, default=130, help="how many pairs to score")
    args = parser.parse_args(argv)
    model = load_model(args.model).eval()
    if model.config.layout not in INTERLEAVED:
        print(
            f"error: {args.model}: layout {model.config.layout} is not interleaved", file=sys.stderr
        )
        return 1
    pairs = [p for p in sorted(args.data.glob("*.abc")) if p.with_suffix(".mid").exists()]
    if not pairs:
        print(f"error: no x.abc + x.mid pairs in {args.data}", file=sys.stderr)
        return 1
    first, later = [], []
    for path in pairs[: args.pairs]:
        bits = length_bits(model, path.read_bytes(), path.with_suffix(".mid").read_bytes())
        first += bits[:1]
        later += bits[1:]
    print(
        f"{min(len(pairs), args.pairs)} pairs; first note's length: {summary(first)};"
        f" later notes' ({len(later)}): {summary(later)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
