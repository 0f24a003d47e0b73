"""ABC -> MIDI reference converter (mido, no torch).

Three stages: ``parse_abc`` (text -> tunes), ``tune_to_score`` (a tune -> timed notes with
repeats, endings and parts expanded), ``score_to_midi`` (notes -> canonical MIDI bytes).

>>> midi = abc_to_midi("X:1\\nT:Scale\\nL:1/4\\nK:D\\nDEFG|\\n")
>>> [pitch for _, pitch, _ in midi_to_notes(midi)]
[62, 64, 66, 67]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from convert.abc_parser import AbcError, Diagnostic, ParseResult, Tune, decode_abc, parse_abc
from convert.compare import CompareResult, compare_notes, compare_pitch_order, match_pitch_order
from convert.events import Score, tune_to_score
from convert.midi import score_to_midi
from convert.notes import MidiError, midi_layout_error, midi_to_notes, restate_track_lengths
from cpu.files import write_atomic as write_file_atomic

__all__ = [
    "AbcError",
    "CompareResult",
    "Diagnostic",
    "MidiError",
    "ParseResult",
    "Score",
    "Tune",
    "TuneResult",
    "abc_to_midi",
    "compare_notes",
    "compare_pitch_order",
    "convert_abc",
    "convert_to_dir",
    "convert_tune",
    "decode_abc",
    "match_pitch_order",
    "midi_layout_error",
    "midi_to_notes",
    "parse_abc",
    "restate_track_lengths",
    "score_to_midi",
    "tune_to_score",
    "write_file_atomic",
]


@dataclass
class TuneResult:
    """The outcome of converting one tune: MIDI bytes, or the error that stopped it."""

    x: int
    title: str
    line: int  # line of the tune's X: field in the source
    midi: bytes | None
    error: AbcError | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    path: Path | None = None  # the file written by convert_to_dir


def convert_tune(tune: Tune) -> bytes:
    """One parsed tune -> MIDI bytes; raises AbcError."""
    return score_to_midi(tune_to_score(tune))


def convert_abc(text: str | bytes) -> list[TuneResult]:
    """Convert every tune of an ABC text; a bad tune does not stop the others.

    Raises AbcError only when the text itself is unreadable (not UTF-8).
    """
    parsed = parse_abc(text)
    results = []
    for tune in parsed.tunes:
        try:
            score = tune_to_score(tune)
            midi = score_to_midi(score)
        except AbcError as exc:
            results.append(TuneResult(tune.x, tune.title, tune.line, None, exc))
            continue
        results.append(TuneResult(tune.x, tune.title, tune.line, midi, None, score.warnings))
    return results


def abc_to_midi(text: str | bytes) -> bytes:
    """The MIDI bytes of the first tune in ``text`` (a text without X: is one tune).

    Raises AbcError, naming the tune and line, when the tune cannot be converted.
    """
    return convert_tune(first_tune(text))


def first_tune(text: str | bytes) -> Tune:
    """The first parsed tune of ``text`` (a text without X: is one tune); AbcError naming the
    line of an X: field that is not a number."""
    if isinstance(text, bytes):
        text = decode_abc(text)
    parsed = parse_abc(text)
    if not parsed.tunes:
        if parsed.errors:
            raise AbcError(parsed.errors[0].message, None, parsed.errors[0].line)
        parsed = parse_abc("X:1\n" + text)  # no X: line: the text is one tune
    return parsed.tunes[0]


def convert_to_dir(text: str | bytes, out_dir: str | os.PathLike, stem: str) -> list[TuneResult]:
    """Convert every tune and write ``<stem>-<X>.mid`` files (``-2``, ``-3`` … on repeats).

    Returns one result per tune; ``result.path`` is the file written (None on error).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    results = convert_abc(text)
    for result in results:
        name = f"{stem}-{result.x}"
        number = 2
        while name in taken:
            name, number = f"{stem}-{result.x}-{number}", number + 1
        taken.add(name)
        if result.midi is not None:
            result.path = out / f"{name}.mid"
            write_file_atomic(result.path, result.midi)
    return results
