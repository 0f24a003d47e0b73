"""Near-duplicate tunes: the same melody up to transposition over most of its length.

Collections share tunes: O'Neill's and Ryan's both print many of the same reels, one with a
note or an ornament changed, in another key or with another unit length. Identical MIDI files
are easy to find; these are not, and a tune in train with its near-copy in test makes a test
score measure memory. Two tunes are **near-duplicates** when

    shared n-grams / n-grams of the shorter  >=  threshold

where a tune's n-grams are the distinct runs of ``N`` consecutive intervals (semitones, signed)
of its melody (``canonical.melody``: the highest note at each onset). Intervals do not change
under transposition, unit length or meter, and one changed note spoils at most N of a tune's
n-grams. ``N`` = 8 and ``THRESHOLD`` = 0.3 are set from the corpus (docs/classify.md gives
the distribution: pairs of different tunes rarely share a tenth of their 8-grams, the pairs
fall steeply up to 0.3 and stay flat above it, and a tune and its variant in another
collection share most).

Near-duplicates are grouped transitively (``groups``: connected components), and a group goes
to one split whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

N = 8
THRESHOLD = 0.3
COMMON = 0.05  # an n-gram in more than this share of tunes does not propose candidate pairs


def ngrams(line: Sequence[int], n: int = N) -> frozenset[tuple[int, ...]]:
    """The distinct runs of n consecutive intervals of a melody (pitches in time order).

    >>> sorted(ngrams([60, 62, 64, 62, 60], n=2))
    [(-2, -2), (2, -2), (2, 2)]
    """
    steps = [b - a for a, b in zip(line, line[1:], strict=False)]
    return frozenset(tuple(steps[i : i + n]) for i in range(len(steps) - n + 1))


def similarity(a: frozenset, b: frozenset) -> float:
    """Shared n-grams over the n-grams of the one with fewer (0 when either has none)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def similar_pairs(
    grams: Sequence[frozenset], threshold: float = THRESHOLD
) -> list[tuple[int, int, float]]:
    """Every pair (i, j, similarity), i < j, with similarity >= threshold.

    Candidates are the pairs sharing at least one n-gram found in at most ``COMMON`` of the
    tunes (at least 2); a pair sharing only n-grams more common than that is not checked (a
    pair whose similarity reaches the threshold shares many n-grams, not just scale runs)."""
    postings: dict[tuple[int, ...], list[int]] = {}
    for i, g in enumerate(grams):
        for gram in g:
            postings.setdefault(gram, []).append(i)
    limit = max(2, int(COMMON * len(grams)))
    candidates: set[tuple[int, int]] = set()
    for tunes in postings.values():
        if len(tunes) > limit:
            continue
        for x, i in enumerate(tunes):
            for j in tunes[x + 1 :]:
                candidates.add((i, j))
    out = []
    for i, j in sorted(candidates):
        s = similarity(grams[i], grams[j])
        if s >= threshold:
            out.append((i, j, s))
    return out


def similar_to(
    queries: Sequence[frozenset], items: Sequence[frozenset], threshold: float = THRESHOLD
) -> set[int]:
    """Indices of the items with similarity >= threshold to at least one query (candidates as
    in ``similar_pairs``: sharing an n-gram found in at most ``COMMON`` of the items)."""
    postings: dict[tuple[int, ...], list[int]] = {}
    for i, g in enumerate(items):
        for gram in g:
            postings.setdefault(gram, []).append(i)
    limit = max(2, int(COMMON * len(items)))
    out: set[int] = set()
    for q in queries:
        candidates = {
            i for gram in q for i in postings.get(gram, ()) if len(postings[gram]) <= limit
        }
        out.update(i for i in candidates if similarity(q, items[i]) >= threshold)
    return out


def groups(count: int, pairs: Sequence[tuple[int, int, float]]) -> list[int]:
    """Connected components of the pairs: a group number per item (the smallest item in it).

    >>> groups(5, [(0, 3, 0.9), (3, 4, 0.6)])
    [0, 1, 2, 0, 0]
    """
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(count)]


def histogram(grams: Sequence[frozenset], bins: int = 10) -> dict[str, int]:
    """How many candidate pairs fall in each similarity bin [k/bins, (k+1)/bins): the
    distribution the threshold is read from."""
    counts: Counter = Counter()
    for _, _, s in similar_pairs(grams, threshold=0.0):
        k = min(bins - 1, int(s * bins))
        counts[f"{k / bins:.1f}-{(k + 1) / bins:.1f}"] += 1
    return dict(sorted(counts.items()))
