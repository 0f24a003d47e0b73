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

``phrase_features`` (the ``phrases`` set: ``feature_vector(notes, meter, "phrases")``, the 138
above and 10 more) reads where those endings fall. A reel's or hornpipe's part is 8 bars of 8
eighths (``PHRASE``), and a tune ends at the end of a part, so its phrase ends are found by
counting back from the tune's end, whatever its pickup: the onsets in the last bar before each
of the last four phrase ends, the quarter gaps among them, and which quarter-note runs end at a
phrase end or half-phrase end (its docstring). Chosen by 5-fold
cross-validation on the training splits (``benchmarks/tune_type_features.py``, docs/classify.md).

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
L2 = 1e-2  # weight decay, chosen by 5-fold cross-validation (docs/classify.md)
STEPS = 600
STEP_SIZE = 0.5
PHRASE = 64  # eighths in a part of a reel or hornpipe: 8 bars of 8
CADENCE = 8  # eighths in the bar that ends a phrase
NEAR = 2  # eighths within which a run ends "at" a phrase end
FEATURE_SETS = ("rhythm", "phrases")  # feature_vector's sets: features, features + phrase_features


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
    q = [_is_quarter(g) for g in gaps]
    runs = _runs_of_three(q)
    ending = [i for i in runs if i + 3 < len(q) and not q[i + 3]]
    per = 32 / max(1, len(q))
    last = [float(len(q) >= k and q[-k]) for k in (1, 2, 3, 4)]
    return np.array([len(runs) * per, len(ending) * per, *last])


def feature_vector(
    notes: Sequence[CanonicalNote], meter: tuple[int, int], feature_set: str = "phrases"
) -> np.ndarray:
    """The features of one set (``FEATURE_SETS``): ``rhythm`` is ``features``, ``phrases`` the
    same followed by ``phrase_features``."""
    if feature_set not in FEATURE_SETS:
        names = ", ".join(FEATURE_SETS)
        raise ValueError(f"feature set must be one of {names}, not {feature_set!r}")
    base = features(notes, meter)
    return base if feature_set == "rhythm" else np.concatenate([base, phrase_features(notes)])


def phrase_features(notes: Sequence[CanonicalNote]) -> np.ndarray:
    """Ten features of how a tune's phrases end, counted back from the tune's end (the end of
    its last-sounding note), a phrase being ``PHRASE`` eighths:

    - in the last bar (``CADENCE`` eighths) before each of the last four phrase ends: the
      onsets per eighth, mean and least over the four; the gaps that are a quarter (the last
      gap ending at the phrase end) per 4, mean and most; the share of the four bars with at
      most 5 onsets (a hornpipe's ``d2 d2 d2``);
    - the quarter-note runs (three quarter gaps in a row, the last gap to the tune's end) that
      end within ``NEAR`` eighths of a phrase end, per 4, and of a half-phrase end, per 8; the
      share of runs ending at a phrase end, and of runs with a repeated pitch (of the melody:
      the highest note at each onset); the tune's length in onsets / 256 (at most 2).
    """
    onsets = sorted({o for o, _, _ in notes})
    end = max(o + d for o, _, d in notes)
    counts, quarters = [], []
    for k in range(4):
        stop = end - k * PHRASE * UNIT
        inside = [o for o in onsets if stop - CADENCE * UNIT <= o < stop]
        gaps = [b - a for a, b in zip(inside, [*inside[1:], stop], strict=False)]  # none if empty
        counts.append(len(inside))
        quarters.append(sum(_is_quarter(g) for g in gaps))
    counts_a, quarters_a = np.array(counts, float), np.array(quarters, float)
    gaps = [b - a for a, b in zip(onsets, [*onsets[1:], end], strict=True)]
    runs = _runs_of_three([_is_quarter(g) for g in gaps])
    top = {o: p for o, p, _ in sorted(notes)}  # the highest pitch at each onset
    at_phrase = at_half = repeated = 0
    for i in runs:
        back = (end - onsets[i + 2] - gaps[i + 2]) / UNIT
        at_phrase += _near(back % PHRASE, PHRASE)
        at_half += _near(back % (PHRASE / 2), PHRASE / 2)
        a, b, c = (top[onsets[j]] for j in (i, i + 1, i + 2))
        repeated += a == b or b == c
    n = max(1, len(runs))
    return np.array(
        [
            counts_a.mean() / CADENCE,
            counts_a.min() / CADENCE,
            quarters_a.mean() / 4,
            quarters_a.max() / 4,
            np.mean(counts_a <= 5),
            at_phrase / 4,
            at_half / 8,
            at_phrase / n,
            repeated / n,
            min(len(gaps), 512) / 256,
        ]
    )


def _is_quarter(gap: int) -> bool:
    return abs(gap - 2 * UNIT) <= UNIT // 4


def _runs_of_three(flags: list[bool]) -> list[int]:
    """Where three flags in a row are set (the index of the first)."""
    return [i for i in range(len(flags) - 2) if flags[i] and flags[i + 1] and flags[i + 2]]


def _near(offset: float, period: float) -> bool:
    """Whether an offset into a period lies within NEAR eighths of the period's ends."""
    return min(offset, period - offset) <= NEAR


class LogisticBaseline:
    """Multinomial logistic regression on standardised features (module docstring)."""

    def __init__(self, x: np.ndarray, labels: Sequence[str], l2: float = L2):
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
            self.w -= STEP_SIZE * (z.T @ g + 2 * l2 * self.w)
            self.b -= STEP_SIZE * g.sum(0)

    def predict(self, x: np.ndarray) -> list[str]:
        z = (x - self.mean) / self.scale
        return [self.classes[i] for i in np.argmax(z @ self.w + self.b, axis=1)]


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
