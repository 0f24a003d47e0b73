"""ABC <-> MIDI training pairs drawn fresh at every step: random tunes and their reference MIDI.

`bytesim train gen:abc?...` writes a random tune in the style of the corpus (`random_tune`:
X/M/L/K fields, notes with lengths, bars where the meter says), converts it with the reference
converter (`convert.abc_to_midi`) and encodes the pair for one direction (SPEC 2.2), the loss
on the target file only.

Why: on real tunes the shipped conversion model learned to predict a melody from the melodies
it has seen and not to read the input (docs/conversion.md, "Where the bits go"): its note-on
pitches cost as many bits with another tune's ABC as the input. Random notes cannot be guessed
from a prior, so every pitch has to be read from the input.

Options (all optional), e.g. ``gen:abc?min=4&max=48&direction=both&curriculum=2000``:

- ``min``, ``max``: notes per tune (rests included), default 4 and 48;
- ``curriculum``: steps over which the upper bound grows linearly from ``min`` (at least
  ``curriculum_start``, default 8) to ``max``; 0 (default) draws from the full range at once;
- ``direction``: ``abc->mid``, ``mid->abc`` or ``both`` (default: each example one of the two,
  drawn at random);
- ``lengths``: ``plain`` (default: L:1/8 and whole multiples of it, as every run so far) or
  ``rich``: also L:1/16 and L:1/4, lengths ``8``, ``/``, ``/2``, ``//``, ``3/`` and ``3/2``,
  broken rhythm (``>``, ``<``) and triplets (``(3``), the common ways the corpus writes lengths
  (of the bundled training tunes 39 % use L:1/16, 13 % ``/``, 13 % broken rhythm, 8 %
  triplets), which plain tunes never show;
- ``structure``: the share of tunes (default 0) given the structure real tunes have and the
  other options never write (`add_structure`): a title and other header fields, a tempo in
  another beat, repeats (``|:`` ... ``:|``), first and second endings, chords, ties, grace
  notes and decorations;
- ``naturals``: the share of notes (default 0) whose letter the key signature alters (F and C
  in D major) written with an explicit accidental (`add_naturals`): ``=`` two times in three,
  else the key's own sign. Real tunes write naturals against the key (the Essen songs often);
  random tunes, whose accidentals fall on any letter, seldom do. ABC -> MIDI examples only
  (as with ``units``): as a MIDI -> ABC target the choice would be noise the MIDI cannot tell;
- ``units``: the share of tunes (default 0) written in another unit length (`relength`): L:1/2,
  1/4, 1/8, 1/16, 1/32 or no L: line at all (the meter's default unit), every length rewritten
  so that the tune plays the same. The corpus writes all of these (Essen's L:1/32 and L:1/2,
  O'Neill's tunes without L:); the other options write L:1/8, 1/16 and 1/4 only. ABC -> MIDI
  examples only;
- ``keys``: the share of tunes (default 0) whose key is drawn from every key the reference
  converter reads (`rekey`, `WIDE_KEYS`: all 15 major and minor signatures, dorian and
  mixolydian ones) instead of the 15 common keys (`KEYS`): the corpus writes E flat, A flat,
  C minor and F minor (the Essen songs), which `KEYS` never draws. Both directions;
- ``pairs``, ``real``: a folder of real pairs (``x.abc`` + ``x.mid``, as ``bytesim
  gen-abc-dataset`` writes) and the share of examples drawn from it instead (default 0.5 when
  ``pairs`` is given), in the same direction(s), so a run can learn to read the input without
  forgetting real tunes.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from bytesim.data import (
    GENERATED_SOURCES,
    DataError,
    Example,
    FileSource,
    curriculum_bound,
    encode_pair,
    source_options,
)
from convert import abc_to_midi

KEYS = ("C", "G", "D", "A", "E", "F", "Bb", "Am", "Em", "Bm", "Dm", "Gm", "Ador", "Dmix", "Edor")
MAJORS = ("C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb")
MINORS = ("Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m", "Dm", "Gm", "Cm", "Fm", "Bbm")
MINORS += ("Ebm", "Abm")
MODES = ("Ddor", "Ador", "Edor", "Bdor", "F#dor", "Gdor", "Cdor", "Fdor", "Gmix", "Dmix", "Amix")
MODES += ("Emix", "Cmix", "Fmix", "Bbmix")
WIDE_KEYS = MAJORS + MINORS + MODES  # `keys`: every signature from 7 flats to 7 sharps
METERS = {"4/4": 8, "3/4": 6, "2/4": 4, "6/8": 6, "9/8": 9, "C": 8}  # meter -> eighths per bar
PITCHES = ("G,", "A,", "B,", "C", "D", "E", "F", "G", "A", "B", "c", "d", "e", "f", "g", "a", "b")
PITCHES += ("c'", "d'")
LENGTHS = ((1, "", 10), (2, "2", 6), (3, "3", 2), (4, "4", 2), (6, "6", 1))  # eighths, text, weight
DIRECTIONS = ("abc->mid", "mid->abc")
LENGTH_STYLES = ("plain", "rich")
# lengths="rich": the unit (L:, weight) and the lengths in units of it (factor, text, weight)
RICH_UNITS = ((Fraction(1, 8), 5), (Fraction(1, 16), 4), (Fraction(1, 4), 1))
RICH_LENGTHS = (
    (Fraction(1), "", 10),
    (Fraction(2), "2", 5),
    (Fraction(3), "3", 2),
    (Fraction(4), "4", 2),
    (Fraction(6), "6", 1),
    (Fraction(8), "8", 1),
    (Fraction(1, 2), "/", 3),
    (Fraction(1, 2), "/2", 1),
    (Fraction(1, 4), "//", 1),
    (Fraction(3, 2), "3/", 1),
    (Fraction(3, 2), "3/2", 1),
)


def random_tune(rng: random.Random, notes: int, lengths: str = "plain") -> str:
    """A random one-voice tune of `notes` notes and rests, the first a note (L:1/8; a bar line
    once the notes since the last one fill the meter's bar or more: a long note may overrun it,
    and the next bar counts from zero, as notation that ignores the meter would).
    `lengths="rich"` writes lengths the ways the corpus does (`rich_tune`)."""
    if notes < 1:
        raise ValueError(f"a tune needs at least one note, not {notes}")
    if lengths not in LENGTH_STYLES:
        raise ValueError(f"lengths must be plain or rich, not {lengths!r}")
    if lengths == "rich":
        return rich_tune(rng, notes)[0]
    meter = rng.choice(list(METERS))
    body = _Body(_header(rng, meter, "1/8"), METERS[meter])
    weights = [w for _, _, w in LENGTHS]
    for i in range(notes):
        eighths, text, _ = rng.choices(LENGTHS, weights)[0]
        rest = rng.random() < 0.06 and i > 0  # a rest; never first, so every tune has a note
        body.add(rng, ("z" if rest else _pitch(rng)) + text, eighths)
    return body.text()


def _pitch(rng: random.Random) -> str:
    """A random pitch from `PITCHES`, 8 % of them with an accidental."""
    note = rng.choice(PITCHES)
    return rng.choice("^_=") + note if rng.random() < 0.08 else note


def _header(rng: random.Random, meter: str, unit: str) -> list[str]:
    """X, M, L, an optional Q (3 tunes in 10) and K."""
    lines = ["X:1", f"M:{meter}", f"L:{unit}"]
    if rng.random() < 0.3:
        lines.append(f"Q:1/4={rng.randrange(60, 181, 4)}")
    return [*lines, f"K:{rng.choice(KEYS)}"]


class _Body:
    """A random tune's body: a bar line once the notes since the last one fill the bar (in the
    unit of `bar`) or more, four bars a line, and now and then a space between notes."""

    def __init__(self, header: list[str], bar):
        self.header, self.bar = header, bar
        self.lines: list[str] = []
        self.line, self.filled, self.bars = "", 0, 0

    def add(self, rng: random.Random, text: str, length) -> None:
        self.line += text
        self.filled += length
        if self.filled >= self.bar:
            self.filled, self.bars = 0, self.bars + 1
            self.line += "|"
            if self.bars % 4 == 0:
                self.lines.append(self.line)
                self.line = ""
            else:
                self.line += " "
        elif rng.random() < 0.3:
            self.line += " "

    def text(self) -> str:
        lines = [*self.lines, self.line.rstrip()] if self.line.strip() else list(self.lines)
        lines[-1] = lines[-1].rstrip("|") + "|]"
        return "\n".join(self.header + lines) + "\n"


def rich_tune(rng: random.Random, notes: int) -> tuple[str, list[tuple[Fraction, bool]]]:
    """A random tune as `random_tune` writes one, with the corpus's common ways of writing a
    length: L:1/8, 1/16 or 1/4; lengths from `RICH_LENGTHS`; now and then two notes in broken
    rhythm (`a>b`: 3/2 and 1/2 of the length; `a<b` the other way) or a triplet (`(3abc`: three
    notes in the time of two). Returns the text and, per note or rest written, its length in
    whole notes and whether it is a note (False: a rest): what the reference converter plays."""
    if notes < 1:
        raise ValueError(f"a tune needs at least one note, not {notes}")
    meter = rng.choice(list(METERS))
    unit = rng.choices([u for u, _ in RICH_UNITS], [w for _, w in RICH_UNITS])[0]
    body = _Body(_header(rng, meter, str(unit)), Fraction(METERS[meter], 8))
    weights = [w for _, _, w in RICH_LENGTHS]
    played: list[tuple[Fraction, bool]] = []

    while len(played) < notes:
        factor, text, _ = rng.choices(RICH_LENGTHS, weights)[0]
        length = factor * unit
        left = notes - len(played)
        group = rng.random()
        if group < 0.08 and left >= 2 and played:  # broken rhythm
            sign = rng.choice("><")
            first, second = (3, 1) if sign == ">" else (1, 3)
            written = _pitch(rng) + text + sign + _pitch(rng) + text
            played += [(length * first / 2, True), (length * second / 2, True)]
            body.add(rng, written, 2 * length)
        elif 0.08 <= group < 0.13 and left >= 3:  # a triplet: three notes in the time of two
            written = "(3" + "".join(_pitch(rng) + text for _ in range(3))
            played += [(length * 2 / 3, True)] * 3
            body.add(rng, written, 2 * length)
        else:
            rest = rng.random() < 0.06 and bool(played)  # a rest; never first
            written = ("z" if rest else _pitch(rng)) + text
            played.append((length, not rest))
            body.add(rng, written, length)
    return body.text(), played


TITLE_WORDS = ("The", "Lass", "of", "Glen", "Reel", "Jig", "Miller's", "Old", "Road", "Hill")
FIELDS = ("R:reel", "R:jig", "C:Trad.", "Z:transcribed", "O:Ireland", "N:a note", "S:a book")
BEATS = ("1/4", "1/2", "1/8", "3/8", "3/4")
DECORATIONS = ("~", ".", "!trill!", "T", "H")
_NOTE = re.compile(r"(?P<pitch>[\^_=]?[A-Ga-g][,']*)(?P<length>\d*/*\d*)")


def add_structure(rng: random.Random, text: str) -> str:
    """`text` (a tune of `random_tune`) with what real tunes have and random ones lack, each
    drawn at random: a title and other header fields (a comment line among them), a tempo
    in another beat (`Q:1/2=60`), a repeated span of bars with or without first and second
    endings (``|: ... |1 ... :|2 ... |``), and, note by note, chords (``[CEG]2``), ties to the
    same pitch (``C2-C2``), grace notes (``{g}C``) and decorations (``~C``). The reference
    converter plays the result; the notes are no longer one per written note."""
    lines = text.rstrip("\n").split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    header, body = lines[:k], lines[k + 1 :]
    if rng.random() < 0.7:
        title = " ".join(rng.choice(TITLE_WORDS) for _ in range(rng.randint(1, 4)))
        header.insert(1, f"T:{title}")
    header += rng.sample(FIELDS, rng.choice((0, 0, 1, 2)))
    if rng.random() < 0.1:
        header.append("% " + rng.choice(TITLE_WORDS).lower())
    header = [_other_beat(rng, line) if line.startswith("Q:") else line for line in header]
    music = _repeats(rng, "\n".join(body))
    music = _NOTE.sub(lambda m: _dress(rng, m.group("pitch"), m.group("length")), music)
    return "\n".join([*header, lines[k], music]) + "\n"


_NOT_A_NOTE = r'"[^"]*"|![^!]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]]*\]|%.*'
_BODY_NOTE = re.compile(_NOT_A_NOTE + r"|(?P<sign>[\^_=]*)(?P<letter>[A-Ga-g])")
# a field line of the body; a note letter before a colon is music (`a:|]`), as the reference
# converter reads it (convert.abc_parser._is_body_field)
_FIELD_LINE = re.compile(r"(?![A-Ga-gz]:)[A-Za-z+]:")


def add_naturals(rng: random.Random, text: str, share: float) -> str:
    """`text` with `share` of the notes whose letter the header's key alters written with an
    accidental: ``=`` (two times in three) or the key's own sign. Only notes without a sign of
    their own, outside chord symbols, decorations, inline fields and comments; field lines
    are left alone. The reference converter plays the result (a sign holds to the bar's end).

    >>> add_naturals(random.Random(0), "X:1\\nL:1/8\\nK:D\\nFGAB cdef|\\n", 1.0)
    'X:1\\nL:1/8\\nK:D\\n^FGAB =cde=f|\\n'
    """
    from convert.fields import parse_key

    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    altered = parse_key(lines[k][2:]).accidentals
    if not altered:
        return text

    def dress(m: re.Match) -> str:
        letter = m.group("letter")
        if letter is None or m.group("sign") or letter.upper() not in altered:
            return m.group(0)
        if rng.random() >= share:
            return m.group(0)
        own = "^" if altered[letter.upper()] > 0 else "_"
        return ("=" if rng.random() < 2 / 3 else own) + letter

    body = [
        line if _FIELD_LINE.match(line) else _BODY_NOTE.sub(dress, line) for line in lines[k + 1 :]
    ]
    return "\n".join([*lines[: k + 1], *body])


UNITS = (Fraction(1, 2), Fraction(1, 4), Fraction(1, 8), Fraction(1, 16), Fraction(1, 32), None)
_LENGTHED = re.compile(
    _NOT_A_NOTE
    + r"|\{[^}]*\}|(?P<chord>\[(?![A-Za-z]:)[^\]]*\])(?P<chord_length>\d*/*\d*)"
    + r"|(?P<note>[\^_=]*[A-Ga-gz][,']*)(?P<length>\d*/*\d*)"
)


def rekey(rng: random.Random, text: str) -> str:
    """`text` with its header's key drawn from `WIDE_KEYS` instead (the notes stay as written,
    so they sound in the new key).

    >>> rekey(random.Random(7), "X:1\\nL:1/8\\nK:G\\nGABc|\\n")
    'X:1\\nL:1/8\\nK:G#m\\nGABc|\\n'
    """
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    lines[k] = f"K:{rng.choice(WIDE_KEYS)}"
    return "\n".join(lines)


def relength(rng: random.Random, text: str) -> str:
    """`text` written in another unit length, drawn from `UNITS` (None: no L: line, the
    meter's default unit, 1/16 below 3/4 and 1/8 from it), every note's, rest's and chord's
    length multiplied so that each plays as long as before. Grace notes keep their text.
    A tune without an L: line comes back as it is.

    >>> relength(random.Random(1), "X:1\\nM:6/8\\nL:1/8\\nK:G\\nG2A B>c d/e/|[GB]3 z3|]\\n")
    'X:1\\nM:6/8\\nL:1/4\\nK:G\\nGA/ B/>c/ d/4e/4|[GB]3/2 z3/2|]\\n'
    """
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    at = next((i for i in range(k) if lines[i].startswith("L:")), None)
    if at is None:
        return text
    old = Fraction(lines[at][2:].strip())
    meter = next((line[2:].strip() for line in lines[:k] if line.startswith("M:")), "4/4")
    meter = {"C": "4/4", "C|": "2/2"}.get(meter, meter)
    new = rng.choice(UNITS)
    header = lines[:k]
    if new is None:
        new = Fraction(1, 16) if Fraction(meter) < Fraction(3, 4) else Fraction(1, 8)
        del header[at]
    else:
        header[at] = f"L:{new}"
    ratio = old / new

    def scaled(m: re.Match) -> str:
        if m.group("chord") is not None:
            return m.group("chord") + _length_text(_length_value(m.group("chord_length")) * ratio)
        if m.group("note") is None:
            return m.group(0)
        return m.group("note") + _length_text(_length_value(m.group("length")) * ratio)

    body = [
        line if _FIELD_LINE.match(line) else _LENGTHED.sub(scaled, line) for line in lines[k + 1 :]
    ]
    return "\n".join([*header, lines[k], *body])


def _length_value(text: str) -> Fraction:
    """An ABC length in units: '' 1, '3' 3, '/' 1/2, '//' 1/4, '/4' 1/4, '3/' 3/2, '3/2' 3/2."""
    head, slashes, tail = re.fullmatch(r"(\d*)(/*)(\d*)", text).groups()
    value = Fraction(int(head) if head else 1)
    if tail:
        return value / int(tail)
    return value / 2 ** len(slashes)


def _length_text(value: Fraction) -> str:
    if value == 1:
        return ""
    if value.denominator == 1:
        return str(value.numerator)
    if value.numerator == 1:
        return "/" if value.denominator == 2 else f"/{value.denominator}"
    return f"{value.numerator}/{value.denominator}"


def _other_beat(rng: random.Random, line: str) -> str:
    """Q:1/4=N written as the same tempo in another beat, now and then."""
    quarters = int(line.split("=")[1])
    beat = Fraction(rng.choice(BEATS))
    per_minute = quarters * Fraction(1, 4) / beat
    if per_minute.denominator != 1 or rng.random() < 0.5:
        return line
    return f"Q:{beat}={per_minute}"


def _repeats(rng: random.Random, music: str) -> str:
    """One span of bars repeated (|: ... :|), half the time with first and second endings."""
    bars = music.removesuffix("|]").split("|")  # the text between bar lines
    if len(bars) < 2 or rng.random() < 0.3:
        return music
    start = rng.randrange(len(bars) - 1)
    end = rng.randrange(start + 1, len(bars))  # bars[start:end + 1] repeat
    marks = ["|"] * (len(bars) - 1) + ["|]"]  # the bar line after each bar
    prefix = "|:" if start == 0 else ""
    if start > 0:
        marks[start - 1] = "|:"
    if end + 1 < len(bars) and end > start and rng.random() < 0.5:
        marks[end - 1], marks[end] = "|1", ":|2"  # bars[end] is the first ending, then the second
    else:
        marks[end] = ":|" if end + 1 < len(bars) else ":|]"
    return prefix + "".join(bar + mark for bar, mark in zip(bars, marks, strict=True))


def _dress(rng: random.Random, pitch: str, length: str) -> str:
    """A note as written, or now and then a chord, a tie, a grace note or a decoration."""
    roll = rng.random()
    if roll < 0.04:  # a chord of two or three notes on this one
        return "[" + pitch + "".join(_pitch(rng) for _ in range(rng.randint(1, 2))) + "]" + length
    if roll < 0.07:
        return f"{pitch}{length}-{pitch}{length}"
    if roll < 0.09:
        return "{" + _pitch(rng) + "}" + pitch + length
    if roll < 0.12:
        return rng.choice(DECORATIONS) + pitch + length
    return pitch + length


@dataclass(frozen=True)
class AbcSource:
    min_notes: int = 4
    max_notes: int = 48
    curriculum: int = 0
    curriculum_start: int = 8
    direction: str = "both"
    lengths: str = "plain"  # how note lengths are written (LENGTH_STYLES)
    structure: float = 0.0  # share of tunes given repeats, chords, ... (`add_structure`)
    units: float = 0.0  # share of tunes written in another unit length (`relength`)
    naturals: float = 0.0  # share of key-altered notes written with an accidental (`add_naturals`)
    keys: float = 0.0  # share of tunes given a key from every signature (`rekey`)
    pairs: str = ""  # a folder of real pairs to mix in
    real: float = -1.0  # share of real pairs (-1: 0.5 with pairs, else 0)
    layout: str = "paper"  # how pairs are cut into patches: the model's (bytesim.layout)
    _real_source: FileSource | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if not 1 <= self.min_notes <= self.max_notes <= 1000:
            raise DataError(
                f"gen:abc needs 1 <= min <= max <= 1000, got {self.min_notes}..{self.max_notes}"
            )
        if self.direction not in (*DIRECTIONS, "both"):
            raise DataError(
                f"gen:abc direction must be abc->mid, mid->abc or both, not {self.direction!r}"
            )
        if self.lengths not in LENGTH_STYLES:
            raise DataError(f"gen:abc lengths must be plain or rich, not {self.lengths!r}")
        if self.curriculum < 0:
            raise DataError("gen:abc curriculum must be >= 0 steps")
        if not 0.0 <= self.structure <= 1.0:
            raise DataError(
                f"gen:abc structure must be a share between 0 and 1, not {self.structure}"
            )
        if not 0.0 <= self.units <= 1.0:
            raise DataError(f"gen:abc units must be a share between 0 and 1, not {self.units}")
        if not 0.0 <= self.naturals <= 1.0:
            raise DataError(
                f"gen:abc naturals must be a share between 0 and 1, not {self.naturals}"
            )
        if not 0.0 <= self.keys <= 1.0:
            raise DataError(f"gen:abc keys must be a share between 0 and 1, not {self.keys}")
        real = self.real if self.real >= 0 else (0.5 if self.pairs else 0.0)
        if not 0.0 <= real <= 1.0:
            raise DataError(f"gen:abc real must be a share between 0 and 1, not {self.real}")
        if real > 0 and not self.pairs:
            raise DataError("gen:abc real needs pairs=FOLDER (the real pairs to draw from)")
        object.__setattr__(self, "real", real)
        if self.pairs:
            conversion = "abc&mid" if self.direction == "both" else self.direction
            try:
                source = FileSource([self.pairs], conversion, "target", layout=self.layout)
            except DataError as e:
                raise DataError(f"gen:abc pairs: {e}") from None
            object.__setattr__(self, "_real_source", source)

    @classmethod
    def from_options(cls, options: dict[str, str]) -> AbcSource:
        fields = {
            "min": ("min_notes", int),
            "max": ("max_notes", int),
            "curriculum": ("curriculum", int),
            "curriculum_start": ("curriculum_start", int),
            "direction": ("direction", str),
            "lengths": ("lengths", str),
            "structure": ("structure", float),
            "naturals": ("naturals", float),
            "units": ("units", float),
            "keys": ("keys", float),
            "pairs": ("pairs", str),
            "real": ("real", float),
        }
        return cls(**source_options("abc", options, fields))

    def with_layout(self, layout: str) -> AbcSource:
        """The same source cutting its pairs into patches as `layout` says."""
        if layout == self.layout:
            return self
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return AbcSource(**{**fields, "layout": layout})

    def upper_bound(self, step: int) -> int:
        """The most notes drawn at `step` (the curriculum's current bound)."""
        return curriculum_bound(
            step, self.min_notes, self.max_notes, self.curriculum, self.curriculum_start
        )

    def random_pair(
        self, draw: random.Random, step: int | None = None, dress: bool = True
    ) -> tuple[bytes, bytes]:
        """A random tune's (ABC, reference MIDI) bytes, as long as the curriculum allows at
        `step` (None: its end, up to `max` notes); `dress` False leaves out `naturals` and
        `units`."""
        most = self.max_notes if step is None else self.upper_bound(step)
        text = random_tune(draw, draw.randint(self.min_notes, most), self.lengths)
        if self.structure and draw.random() < self.structure:
            text = add_structure(draw, text)
        if self.keys and draw.random() < self.keys:
            text = rekey(draw, text)
        if dress and self.naturals:
            text = add_naturals(draw, text, self.naturals)
        if dress and self.units and draw.random() < self.units:
            text = relength(draw, text)
        return text.encode(), abc_to_midi(text)

    def sample(self, rng: np.random.Generator, step: int) -> Example:
        draw = random.Random(int(rng.integers(2**63)))
        if self._real_source is not None and draw.random() < self.real:
            return self._real_source.example(draw.randrange(len(self._real_source)))

        def direction_drawn() -> str:
            return self.direction if self.direction != "both" else draw.choice(DIRECTIONS)

        if self.naturals or self.units:
            # spellings the MIDI cannot tell: for ABC -> MIDI only, not as a target to write
            direction = direction_drawn()
            abc, mid = self.random_pair(draw, step, dress=direction == "abc->mid")
        else:  # the draws in the order of runs made before these options
            abc, mid = self.random_pair(draw, step)
            direction = direction_drawn()
        if direction == "abc->mid":
            return encode_pair(abc, "abc", mid, "mid", "target", "random.abc", self.layout)
        return encode_pair(mid, "mid", abc, "abc", "target", "random.mid", self.layout)


GENERATED_SOURCES["abc"] = AbcSource.from_options
