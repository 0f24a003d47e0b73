"""The non-neural tune-type baseline on a `gen-tune-types` split, with and without the
quarter-note run features (`convert.tune_features`), measured in the same run.

    python benchmarks/tune_type_features.py data/tune-types
    python benchmarks/tune_type_features.py data/tt-oneill        # the held-out collection

DATA is a `bytesim gen-tune-types` folder: DATA/train and DATA/test hold `TYPE_NAME.mid` files.
Fits `LogisticBaseline` on the training files' features and prints the test accuracy, the
majority class's, and the most frequent errors (true -> predicted), for all the features and for
them without the last 6 (the quarter-note runs). Deterministic: no random draw anywhere.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convert.canonical import canonical_meter, canonical_notes, read_notes  # noqa: E402
from convert.tune_features import LogisticBaseline, features  # noqa: E402

RUN_FEATURES = 6  # the last entries of `features`: quarter-note runs, the last four gaps


def load(folder: Path) -> tuple[np.ndarray, list[str]]:
    rows, labels = [], []
    for path in sorted(folder.glob("*.mid")):
        notes, _, meter = read_notes(path.read_bytes())
        rows.append(features(canonical_notes(notes), canonical_meter(*meter)))
        labels.append(path.name.split("_", 1)[0])
    if not rows:
        raise SystemExit(f"error: no .mid files in {folder}")
    return np.array(rows), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a gen-tune-types folder (train/, test/)")
    args = parser.parse_args()
    x, y = load(args.data / "train")
    xt, yt = load(args.data / "test")
    majority = Counter(y).most_common(1)[0][0]
    print(f"{len(y)} training tunes, {len(yt)} test tunes")
    print(f"majority ({majority}): {np.mean([t == majority for t in yt]):.1%}")
    for name, columns in (("without quarter-note runs", -RUN_FEATURES), ("all features", None)):
        model = LogisticBaseline(x[:, :columns], y)
        guess = model.predict(xt[:, :columns])
        errors = Counter((t, g) for t, g in zip(yt, guess, strict=True) if t != g)
        accuracy = np.mean([t == g for t, g in zip(yt, guess, strict=True)])
        common = ", ".join(f"{t} -> {g} {n}" for (t, g), n in errors.most_common(4))
        print(f"{name}: {accuracy:.1%} (errors: {common})")


if __name__ == "__main__":
    main()
