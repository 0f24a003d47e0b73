"""The non-neural tune-type baseline on a `gen-tune-types` split, for each feature set
(`convert.tune_features`), measured in the same run: 5-fold cross-validation on the training
files (how the set and the weight decay were chosen) and the test accuracy.

    python benchmarks/tune_type_features.py data/tune-types
    python benchmarks/tune_type_features.py data/tt-oneill        # the held-out collection
    python benchmarks/tune_type_features.py data/tune-types --l2 1e-3 1e-2 3e-2

DATA is a `bytesim gen-tune-types` folder: DATA/train and DATA/test hold `TYPE_NAME.mid` files.
For each set (the rhythm features without their last 6, the quarter-note runs; `rhythm`;
`phrases`) and each weight decay, fits `LogisticBaseline` and prints the cross-validated
accuracy on the training files (folds drawn with seed 0), the test accuracy and the most
frequent test errors (true -> predicted). Deterministic.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convert.canonical import canonical_meter, canonical_notes, read_notes  # noqa: E402
from convert.tune_features import L2, LogisticBaseline, feature_vector  # noqa: E402

SETS = {"rhythm without quarter-note runs": 132, "rhythm": 138, "phrases": 148}
FOLDS = 5


def load(folder: Path) -> tuple[np.ndarray, list[str]]:
    rows, labels = [], []
    for path in sorted(folder.glob("*.mid")):
        notes, _, meter = read_notes(path.read_bytes())
        rows.append(feature_vector(canonical_notes(notes), canonical_meter(*meter)))
        labels.append(path.name.split("_", 1)[0])
    if not rows:
        raise SystemExit(f"error: no .mid files in {folder}")
    return np.array(rows), labels


def cross_validated(x: np.ndarray, y: list[str], l2: float) -> float:
    order = np.random.default_rng(0).permutation(len(y))
    right = 0
    for fold in range(FOLDS):
        held = order[fold::FOLDS]
        train = np.setdiff1d(order, held)
        model = LogisticBaseline(x[train], [y[i] for i in train], l2)
        right += sum(g == y[i] for g, i in zip(model.predict(x[held]), held, strict=True))
    return right / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a gen-tune-types folder (train/, test/)")
    parser.add_argument("--l2", type=float, nargs="+", default=[L2], help="weight decays")
    args = parser.parse_args()
    x, y = load(args.data / "train")
    xt, yt = load(args.data / "test")
    majority = Counter(y).most_common(1)[0][0]
    print(f"{len(y)} training tunes, {len(yt)} test tunes")
    print(f"majority ({majority}): {np.mean([t == majority for t in yt]):.1%}")
    for name, columns in SETS.items():
        for l2 in args.l2:
            cv = cross_validated(x[:, :columns], y, l2)
            guess = LogisticBaseline(x[:, :columns], y, l2).predict(xt[:, :columns])
            errors = Counter((t, g) for t, g in zip(yt, guess, strict=True) if t != g)
            accuracy = np.mean([t == g for t, g in zip(yt, guess, strict=True)])
            common = ", ".join(f"{t} -> {g} {n}" for (t, g), n in errors.most_common(4))
            print(f"{name}, L2 {l2:g}: {FOLDS}-fold {cv:.1%}, test {accuracy:.1%} ({common})")


if __name__ == "__main__":
    main()
