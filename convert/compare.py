"""Note-level comparison (SPEC section 3.4) and the abc2midi reference it is made against.

``compare_notes`` matches two note lists: a pair matches when the pitches are equal and
the onsets and durations differ by at most ``tol`` quarter notes. ``abc2midi_notes`` runs
abc2midi with its performance conventions off and normalises its output, so that a tune
converted both ways can be compared note for note.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from convert.abc_parser import _FIELD_LINE, _NOTE_DIRECTIVE, strip_comment
from convert.notes import Note, midi_to_notes

TOLERANCE = 3 / 480
ABC2MIDI_FLAGS = ("-NGRA", "-NFER", "-NGUI", "-NFNP", "-NCOM", "-silent")


@dataclass(frozen=True)
class CompareResult:
    """Counts of a note-list comparison; ``a`` is the candidate, ``b`` the reference."""

    matched: int
    count_a: int
    count_b: int

    @property
    def precision(self) -> float:
        return self.matched / self.count_a if self.count_a else float(self.count_b == 0)

    @property
    def recall(self) -> float:
        return self.matched / self.count_b if self.count_b else float(self.count_a == 0)

    @property
    def f1(self) -> float:
        total = self.count_a + self.count_b
        return 2 * self.matched / total if total else 1.0

    @property
    def agree(self) -> bool:
        """Both lists match note for note."""
        return self.matched == self.count_a == self.count_b


def compare_pitch_order(a: list[Note], b: list[Note]) -> CompareResult:
    """Match the melodies of ``a`` and ``b``, timing ignored: ``matched`` is the length of the
    longest common subsequence of their pitches, each list in order of onset (then pitch).

    A conversion that gets one duration wrong shifts every later onset, and ``compare_notes``
    then matches nothing after it; this counts the notes it still writes in the right order.
    Bit-parallel: one row of the LCS table is an integer's bits (Allison and Dix, 1986), so a
    pair of 500-note tunes costs 500 big-integer steps.

    >>> compare_pitch_order([(0.0, 60, 1.0), (1.0, 62, 1.0), (2.0, 64, 1.0)],
    ...                     [(0.0, 60, 2.0), (2.0, 64, 2.0)]).matched
    2
    """
    first = [pitch for _, pitch, _ in sorted(a)]
    second = [pitch for _, pitch, _ in sorted(b)]
    width = len(first)
    everything = (1 << width) - 1
    where: dict[int, int] = defaultdict(int)  # pitch -> bits of the positions it has in `first`
    for i, pitch in enumerate(first):
        where[pitch] |= 1 << i
    row = everything  # a 0 bit marks a position where the common subsequence grew
    for pitch in second:
        hits = row & where.get(pitch, 0)
        row = ((row + hits) | (row - hits)) & everything
    return CompareResult(width - row.bit_count(), len(a), len(b))


def match_pitch_order(
    a: list[Note], b: list[Note], tol: float = TOLERANCE
) -> list[tuple[Note, Note]]:
    """``compare_pitch_order``'s match note by note: the pairs (note of ``a``, note of ``b``) of
    a longest common subsequence of their pitches (each list in order of onset, then pitch),
    and of all such subsequences the one that pairs the most notes of equal duration (within
    ``tol``), so that the durations it gets wrong are counted without favouring a tie-break.

    >>> match_pitch_order([(0.0, 60, 1.0), (1.0, 60, 0.5), (2.0, 64, 1.0)],
    ...                   [(0.0, 60, 0.5), (2.0, 64, 1.0)])
    [((1.0, 60, 0.5), (0.0, 60, 0.5)), ((2.0, 64, 1.0), (2.0, 64, 1.0))]
    """
    first, second = sorted(a), sorted(b)
    n, m = len(first), len(second)
    if not n or not m:
        return []
    # Heaviest common subsequence: a pair of equal pitches weighs `big` (more than all the
    # duration points together), plus 1 when the durations agree. One row per note of `first`:
    # row[j] = max(up[j], up[j - 1] + weight[j]) and then a running maximum along the row.
    big = min(n, m) + 1
    pitch_b = np.array([p for _, p, _ in second])
    duration_b = np.array([d for _, _, d in second], dtype=float)
    table = np.zeros((n + 1, m + 1), dtype=np.int32)  # (n + 1)(m + 1) cells: 4 MB at 1,000²
    for i, (_, pitch, duration) in enumerate(first, 1):
        same = pitch_b == pitch
        weight = np.where(same, big + (np.abs(duration_b - duration) <= tol + 1e-9), 0)
        up = table[i - 1]
        row = np.maximum(up[1:], np.where(same, up[:-1] + weight, 0))
        table[i, 1:] = np.maximum.accumulate(row)
    pairs = []
    i, j = n, m
    while i and j:
        value = table[i, j]
        x, y = first[i - 1], second[j - 1]
        if x[1] == y[1] and value == table[i - 1, j - 1] + big + (abs(x[2] - y[2]) <= tol + 1e-9):
            pairs.append((x, y))
            i, j = i - 1, j - 1
        elif value == table[i - 1, j]:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def compare_notes(a: list[Note], b: list[Note], tol: float = TOLERANCE) -> CompareResult:
    """Match notes of ``a`` to notes of ``b`` (same pitch, onset and duration within tol).

    >>> compare_notes([(0.0, 60, 1.0)], [(0.004, 60, 0.998), (1.0, 62, 1.0)]).matched
    1
    """
    by_pitch: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for onset, pitch, duration in b:
        by_pitch[pitch].append((onset, duration))
    for candidates in by_pitch.values():
        candidates.sort()
    used: dict[int, list[bool]] = {pitch: [False] * len(c) for pitch, c in by_pitch.items()}
    matched = 0
    eps = tol + 1e-9
    for onset, pitch, duration in a:
        candidates = by_pitch.get(pitch)
        if not candidates:
            continue
        flags = used[pitch]
        index = bisect_left(candidates, (onset - eps, float("-inf")))
        while index < len(candidates) and candidates[index][0] <= onset + eps:
            if not flags[index] and abs(candidates[index][1] - duration) <= eps:
                flags[index] = True
                matched += 1
                break
            index += 1
    return CompareResult(matched, len(a), len(b))


def abc2midi_available() -> bool:
    """True when the abc2midi program is on PATH."""
    return shutil.which("abc2midi") is not None


def prepare_for_abc2midi(tune_text: str) -> str:
    """Tune text with abc2midi's performance inputs removed (SPEC section 3.4).

    Drops R: lines (hornpipe swing), %%MIDI directives but those that change the notes
    (``ratio``, ``transpose``, ``rtranspose``, ``nobarlines``, ``barlines``, which bytesim
    follows too), and every decoration
    (``~ . T H M R u v``, ``!..!``, ``+..+``) from music lines; adds ``%%MIDI chordattack 0``
    after the K: line so chord notes start together.
    """
    from convert.events import _TOKEN  # the converter's own tokenizer finds decorations

    out = []
    in_body = False
    for raw in tune_text.splitlines():
        if raw.startswith("%"):
            if not raw.startswith("%%MIDI") or _NOTE_DIRECTIVE.match(raw):
                out.append(raw)
            continue
        text = strip_comment(raw)
        match = _FIELD_LINE.match(text.lstrip())
        if match and not (
            in_body and match.group(1) in "ABCDEFGabcdefg" and match.group(2)[:1] in ("|", ":", "]")
        ):
            if match.group(1) == "R":
                continue
            out.append(text)
            if match.group(1) == "K" and not in_body:
                in_body = True
                out.append("%%MIDI chordattack 0")
            continue
        if not in_body:
            out.append(text)
            continue
        pieces = []
        position = 0
        while position < len(text):
            token = _TOKEN.match(text, position)
            if token is None:
                pieces.append(text[position])
                position += 1
                continue
            if token.lastgroup != "deco":
                pieces.append(token.group())
            position = token.end()
        out.append("".join(pieces))
    return "\n".join(out) + "\n"


def abc2midi_notes(tune_text: str, timeout: float = 20.0) -> list[Note] | None:
    """abc2midi's notes for one tune (its input prepared, its 1-tick delay removed).

    Returns None when abc2midi writes no MIDI file for the tune.
    """
    with tempfile.TemporaryDirectory(prefix="bytesim-abc2midi-") as folder:
        source = os.path.join(folder, "tune.abc")
        target = os.path.join(folder, "tune.mid")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write(prepare_for_abc2midi(tune_text))
        try:
            subprocess.run(
                ["abc2midi", source, "-o", target, *ABC2MIDI_FLAGS],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
        if not os.path.exists(target):
            return None
        with open(target, "rb") as handle:
            data = handle.read()
    return normalise_abc2midi(midi_to_notes(data))


def normalise_abc2midi(notes: list[Note]) -> list[Note]:
    """Undo abc2midi's 1-tick note-on delay: onsets 1/480 earlier, durations 1/480 longer."""
    tick = 1 / 480
    return sorted(
        (max(onset - tick, 0.0), pitch, duration + tick) for onset, pitch, duration in notes
    )


def compare_tune_with_abc2midi(tune) -> str:
    """One tune of ``parse_abc`` against abc2midi: 'agree', 'differ', 'ours_failed',
    'abc2midi_failed' or 'both_failed'."""
    from convert.abc_parser import AbcError
    from convert.events import tune_to_score
    from convert.midi import score_to_midi

    reference = abc2midi_notes(tune.text)
    try:
        ours = midi_to_notes(score_to_midi(tune_to_score(tune)))
    except AbcError:
        return "both_failed" if reference is None else "ours_failed"
    if reference is None:
        return "abc2midi_failed"
    return "agree" if compare_notes(ours, reference).agree else "differ"
