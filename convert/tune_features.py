"""A non-neural tune-type baseline: rhythm and melody features and a logistic regression.

The bar a neural classifier has to clear beyond the majority class and the meter rule:
hand-made features of a tune's canonical notes (``convert.canonical``, so the features do not
depend on how the tune was written either) and a multinomial logistic regression fitted on the
training split. ``generate_tune_types`` reports its test accuracy (``test_feature_baseline``).

Features (``features``), each a share of the tune's notes or note pairs unless said:

- the meter class (one-hot: 6/8, 9/8, 2/4, 3/4, other);
- durations in eighths, bucketed (``BUCKETS``), and the pairs of consecutive buckets (the
  dotted "long-short" of hornpipes, the "short-long" snap of strathspeys, the even runs of
  reels and jigs);
- onsets modulo a quarter and modulo a dotted quarter (eighths 0..1 and 0..2: where notes fall
  against a duple and a triple pulse);
- melody: shares of repeated notes, steps (1-2 semitones), leaps (3-7), larger leaps, mean
  absolute interval / 12, the pitch range / 24, notes per eighth (density).
- quarter-note runs: three onsets in a row a quarter apart, and the same followed by an onset
  that is not (the "three crotchets" that end a hornpipe's parts: ``d2 d2 d2``), each per 32
  notes; and whether each of the tune's last four gaps between onsets is a quarter. On the
  default dataset's test split these take the regression from 79.9 % to 89.1 %, most of it
  hornpipes named reels (``benchmarks/tune_type_features.py``).

The model: features standardised by the training mean and deviation, weights fitted by full-
batch gradient descent on the mean cross-entropy plus ``L2`` x |W|^2 (``STEPS`` steps, fixed
step size; deterministic, no random start).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convert.canonical import UNIT, CanonicalNote, melody

METERS = [(6, 8), (9, 8), (2, 4), (3, 4)]
BUCKETS = [0.26, 0.4, 0.6, 0.7, 0.8, 1.1, 1.6, 2.1, 3.1]  # upper edges, in eighths
L2 = 1e-3
STEPS = 600
STEP_SIZE = 0.5


def _bucket(duration: int) -> int:
    x = duration / UNIT
    for i, edge in enumerate(BUCKETS):
        if x < edge:
            return i
    return len(BUCKETS)


def features(notes: Sequence[CanonicalNote], meter: tuple[int, int]) -> np.ndarray:
    """The feature vector of a tune's canonical notes and canonical meter (module docstring)."""
    nb = len(BUCKETS) + 1
    meter_1hot = np.zeros(len(METERS) + 1)
    meter_1hot[METERS.index(meter) if meter in METERS else len(METERS)] = 1
    line = melody(list(notes))
    onsets = sorted({o for o, _, _ in notes})
    durations = [d for _, _, d in notes]
    # durations of the melody notes, for pairs: the gap to the next onset (or the length)
    gaps = [b - a for a, b in zip(onsets, onsets[1:], strict=False)] or durations[:1]
    single = np.bincount([_bucket(d) for d in durations], minlength=nb) / len(durations)
    pairs = np.zeros((nb, nb))
    for a, b in zip(gaps, gaps[1:], strict=False):
        pairs[_bucket(a), _bucket(b)] += 1
    pairs = pairs.ravel() / max(1, len(gaps) - 1)
    quarter = np.bincount([(o % (2 * UNIT)) * 4 // (2 * UNIT) for o in onsets], minlength=4)
    dotted = np.bincount([(o % (3 * UNIT)) * 6 // (3 * UNIT) for o in onsets], minlength=6)
    steps = np.abs(np.diff(line)) if len(line) > 1 else np.zeros(1)
    shape = [
        np.mean(steps == 0),
        np.mean((steps >= 1) & (steps <= 2)),
        np.mean((steps >= 3) & (steps <= 7)),
        np.mean(steps > 7),
        np.mean(steps) / 12,
        (max(line) - min(line)) / 24,
        len(onsets) * UNIT / max(1, onsets[-1] + gaps[-1]),
    ]
    return np.concatenate(
        [meter_1hot, single, pairs, quarter / len(onsets), dotted / len(onsets), shape]
        + [_quarter_runs(gaps)]
    ).astype(np.float64)


def _quarter_runs(gaps: list[int]) -> np.ndarray:
    """Runs of three quarter-note gaps per 32 gaps, those runs that end the run, and whether
    each of the last four gaps is a quarter (last first)."""
    q = [abs(g - 2 * UNIT) <= UNIT // 4 for g in gaps]
    runs = [i for i in range(len(q) - 2) if q[i] and q[i + 1] and q[i + 2]]
    ending = [i for i in runs if i + 3 < len(q) and not q[i + 3]]
    per = 32 / max(1, len(q))
    last = [float(len(q) >= k and q[-k]) for k in (1, 2, 3, 4)]
    return np.array([len(runs) * per, len(ending) * per, *last])


class LogisticBaseline:
    """Multinomial logistic regression on standardised features (module docstring)."""

    def __init__(self, x: np.ndarray, labels: Sequence[str]):
        self.classes = sorted(set(labels))
        y = np.array([self.classes.index(k) for k in labels])
        self.mean = x.mean(0)
        self.scale = x.std(0) + 1e-6
        z = (x - self.mean) / self.scale
        n, f = z.shape
        self.w = np.zeros((f, len(self.classes)))
        self.b = np.zeros(len(self.classes))
        onehot = np.eye(len(self.classes))[y]
        for _ in range(STEPS):
            p = _softmax(z @ self.w + self.b)
            g = (p - onehot) / n
            self.w -= STEP_SIZE * (z.T @ g + 2 * L2 * self.w)
            self.b -= STEP_SIZE * g.sum(0)

    def predict(self, x: np.ndarray) -> list[str]:
        z = (x - self.mean) / self.scale
        return [self.classes[i] for i in np.argmax(z @ self.w + self.b, axis=1)]


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
