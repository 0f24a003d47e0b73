"""Values of the ABC fields that change notes or MIDI meta events: K:, M:, L:, Q:, P:.

Each parser takes the field text and returns a small value, or raises ValueError with a
message the caller turns into an AbcError with the tune and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Fifths position of each letter (C = 0): the number of sharps of its major key.
_LETTER_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
_SHARP_ORDER = "FCGDAEB"
_MODES = {  # mode -> shift in fifths from the major key on the same tonic
    "maj": 0,
    "ion": 0,
    "mix": -1,
    "dor": -2,
    "min": -3,
    "aeo": -3,
    "m": -3,
    "phr": -4,
    "loc": -5,
    "lyd": 1,
}
_ACCIDENTAL_SEMITONES = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_KEY_ACCIDENTAL = re.compile(r"(\^\^|\^|__|_|=)([A-Ga-g])\Z")
_GLUED_ACCIDENTALS = re.compile(r"([A-G][#b]?[A-Za-z]*)((?:(?:\^\^|\^|__|_|=)[A-Ga-g])+)\Z")
_ACCIDENTAL_WORD = re.compile(r"(?:\^\^|\^|__|_|=)[A-Ga-g]")
_ACCIDENTAL_WORDS = re.compile(r"(?:(?:\^\^|\^|__|_|=)[A-Ga-g])+")
_ILLEGAL_IN_PARTS = re.compile(r"[^A-Z0-9().+\- ]")
_TONIC = re.compile(r"([A-G])([#b]?)(.*)\Z")
_MAJOR_NAMES = dict(zip(range(-7, 8), "Cb Gb Db Ab Eb Bb F C G D A E B F# C#".split(), strict=True))
_MINOR_NAMES = dict(
    zip(range(-7, 8), "Abm Ebm Bbm Fm Cm Gm Dm Am Em Bm F#m C#m G#m D#m A#m".split(), strict=True)
)
_TEMPO_WORDS = {
    "larghissimo": 24,
    "grave": 35,
    "lento": 50,
    "largo": 50,
    "larghetto": 63,
    "adagio": 71,
    "adagietto": 74,
    "andante": 92,
    "andantino": 94,
    "moderato": 114,
    "allegretto": 116,
    "allegro": 144,
    "vivace": 172,
    "presto": 187,
    "prestissimo": 200,
}


@dataclass(frozen=True)
class Key:
    """A key signature: semitone offset per letter, and what the MIDI meta event says."""

    accidentals: dict[str, int]  # upper-case letter -> semitones (only letters that change)
    sharps: int  # -7..7 for the key_signature meta event
    minor: bool
    octave: int = 0  # octave=N shifts every note by N octaves
    transpose: int = 0  # transpose=N adds N semitones to every note (as abc2midi)
    clef_octave: int = 0  # a clef with +8 or -8 (clef=treble-8) shifts every note an octave

    @property
    def shift(self) -> int:
        """Semitones added to every note: octave=, transpose=, and the clef's octave."""
        return 12 * (self.octave + self.clef_octave) + self.transpose

    @property
    def midi_name(self) -> str:
        """The key name mido expects for a key_signature meta event, e.g. 'D' or 'Em'."""
        sharps = max(-7, min(7, self.sharps))
        return (_MINOR_NAMES if self.minor else _MAJOR_NAMES)[sharps]


C_MAJOR = Key({}, 0, False)


_CLEF = re.compile(r"(clef=\w*|treble|bass|alto|tenor|baritone|mezzo|soprano)([+-]8)?")


def parse_key(text: str, previous: Key | None = None, warnings: list[str] | None = None) -> Key:
    """Parse a K: value: tonic + mode, ``none``, ``HP``/``Hp``, extra accidentals, ``exp``.

    >>> parse_key("D").accidentals
    {'F': 1, 'C': 1}
    >>> parse_key("A dorian =c").accidentals
    {'F': 1}
    """
    words = []
    for word in text.split():  # "Dmix=c" is "Dmix =c"
        glued = _GLUED_ACCIDENTALS.match(word)
        if glued:
            tonic, marks = glued.groups()
            if len(tonic) == 1 and marks[0] in "^_":
                # abc2midi reads "C^f^c" as key C with the unknown mode "^f", then ^c: the
                # first mark, up to the next ^ _ or =, is a mode (read as major, a warning).
                cut = re.match(r".[^\^_=]*", marks).end()
                tonic, marks = tonic + marks[:cut], marks[cut:]
            words.append(tonic)
            words.extend(_ACCIDENTAL_WORD.findall(marks))
        elif _ACCIDENTAL_WORDS.fullmatch(word):  # "^f^c^a" is "^f ^c ^a"
            words.extend(_ACCIDENTAL_WORD.findall(word))
        else:
            words.append(word)
    octave = previous.octave if previous else 0
    transpose = previous.transpose if previous else 0
    clef_octave = previous.clef_octave if previous else 0
    extra: list[tuple[str, int]] = []
    explicit = False
    rest: list[str] = []
    for word in words:
        lower = word.lower()
        match = _KEY_ACCIDENTAL.match(word)
        if match:
            extra.append((match.group(2).upper(), _ACCIDENTAL_SEMITONES[match.group(1)]))
        elif lower == "exp":
            explicit = True
        elif lower.startswith("octave="):
            try:
                octave = int(lower[7:])
            except ValueError:
                raise ValueError(f"bad octave= value {word!r} in K:") from None
        elif lower.startswith("transpose="):
            try:
                transpose = int(lower[10:])
            except ValueError:
                raise ValueError(f"bad transpose= value {word!r} in K:") from None
        elif _CLEF.fullmatch(lower):
            clef_octave = {"+8": 1, "-8": -1}.get(_CLEF.fullmatch(lower).group(2) or "", 0)
        elif "=" in word:
            continue  # middle=, stafflines=: no effect on notes
        else:
            rest.append(word)
    if not rest or rest[0].lower() in ("none", "clef", "treble", "bass", "alto", "tenor"):
        sharps, minor = 0, False
        if not rest and not extra and not words:
            raise ValueError("K: field names no key")
    elif rest[0] in ("HP", "Hp"):
        sharps, minor = 2, False
    else:
        sharps, minor = _tonic_and_mode(rest[0], rest[1] if len(rest) > 1 else "", warnings)
    accidentals = {} if explicit else _signature(sharps)
    for letter, semitones in extra:
        if semitones == 0:
            accidentals.pop(letter, None)
        else:
            accidentals[letter] = semitones
    return Key(accidentals, sharps, minor, octave, transpose, clef_octave)


def _tonic_and_mode(first: str, second: str, warnings: list[str] | None) -> tuple[int, bool]:
    match = _TONIC.match(first)
    if not match:
        raise ValueError(f"unknown key {first!r}")
    letter, accidental, mode_text = match.groups()
    if not mode_text and second and second[0].isalpha() and second.lower()[:3] in _MODES:
        mode_text = second
    mode = _mode(mode_text)
    if mode is None:  # abc2midi also reports it and reads the key as major
        if warnings is not None:
            warnings.append(f"unknown mode {mode_text!r} in key {first!r} read as major")
        mode = "maj"
    shift = {"#": 7, "b": -7, "": 0}[accidental]
    return _LETTER_FIFTHS[letter] + shift + _MODES[mode], mode in ("min", "aeo", "m")


def _mode(text: str) -> str | None:
    lower = text.lower()  # mode names are case-insensitive: "EM" is E minor
    if not lower or lower.startswith("maj"):
        return "maj"
    if lower == "m":
        return "m"
    return lower[:3] if lower[:3] in _MODES else None


def _signature(sharps: int) -> dict[str, int]:
    accidentals: dict[str, int] = {}
    if sharps > 0:
        for index in range(sharps):
            letter = _SHARP_ORDER[index % 7]
            accidentals[letter] = accidentals.get(letter, 0) + 1
    for index in range(-sharps):
        letter = _SHARP_ORDER[6 - index % 7]
        accidentals[letter] = accidentals.get(letter, 0) - 1
    return accidentals


@dataclass(frozen=True)
class Meter:
    """A time signature; ``None`` numerator means free meter (M:none)."""

    numerator: int | None
    denominator: int

    @property
    def default_unit(self) -> tuple[int, int]:
        """L: default: 1/16 when the meter is below 3/4, else 1/8 (free meter: 1/8)."""
        if self.numerator is not None and 4 * self.numerator < 3 * self.denominator:
            return (1, 16)
        return (1, 8)


FREE_METER = Meter(None, 4)


def parse_meter(text: str, warnings: list[str] | None = None) -> Meter:
    """Parse an M: value: ``6/8``, ``C``, ``C|``, ``2+3/8``, ``(2+2+3)/8``, ``none``."""
    value = text.split("%")[0].strip()
    if value in ("", "none", "None", "NONE"):
        return FREE_METER
    if value == "C":
        return Meter(4, 4)
    if value == "C|":
        return Meter(2, 2)
    match = re.fullmatch(r"\(?\s*(\d+(?:\s*\+\s*\d+)*)\s*\)?\s*/\s*(\d+)(?:\s.*)?", value)
    if not match:
        match = re.search(r"()(\d+)\s*/\s*(\d+)", value)
        if not match:
            raise ValueError(f"unknown meter {value!r}")
        if warnings is not None:  # e.g. Essen's "FREI4/4": abc2midi reads the fraction too
            warnings.append(f"meter {value!r} read as {match.group(2)}/{match.group(3)}")
        return parse_meter(f"{match.group(2)}/{match.group(3)}")
    numerator = sum(int(part) for part in match.group(1).split("+"))
    denominator = int(match.group(2))
    if numerator == 0 or denominator == 0 or numerator > 256 or denominator > 256:
        raise ValueError(f"meter {value!r} out of range")
    return Meter(numerator, denominator)


def parse_unit(text: str) -> tuple[int, int]:
    """Parse an L: value like ``1/8`` (or ``1``) into (numerator, denominator)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:/\s*(\d+))?\s*", text.split("%")[0])
    if not match:
        raise ValueError(f"unknown unit length {text.strip()!r}")
    numerator, denominator = int(match.group(1)), int(match.group(2) or 1)
    if numerator == 0 or denominator == 0 or denominator > 512 or numerator > 16:
        raise ValueError(f"unit length {text.strip()!r} out of range")
    return numerator, denominator


def parse_tempo(text: str, unit: tuple[int, int]) -> float | None:
    """Quarter notes per minute from a Q: value, or None if it names no tempo.

    Forms: ``1/4=120``, ``3/8=100``, ``1/4 1/8=60`` (beats add up), ``120`` (unit notes per
    minute), ``C=120``, ``"Allegro" 1/4=132``, and a tempo word alone (``Allegro`` = 144).
    """
    value = re.sub(r'"[^"]*"', " ", text).strip()
    words = re.findall(r'"([^"]*)"', text)
    if "=" in value:
        beats, _, bpm_text = value.partition("=")
        match = re.match(r"\s*(\d+(?:\.\d+)?)", bpm_text)
        if not match:
            return None
        bpm = float(match.group(1))
        whole = 0.0
        for beat in beats.split():
            parts = re.fullmatch(r"(\d+)/(\d+)", beat)
            if parts and int(parts.group(2)):
                whole += int(parts.group(1)) / int(parts.group(2))
            elif beat.upper().startswith("C"):
                whole += unit[0] / unit[1]
        if whole == 0.0:
            whole = unit[0] / unit[1]
        return bpm * whole * 4 if bpm > 0 else None
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        bpm = float(value)
        return bpm * unit[0] / unit[1] * 4 if bpm > 0 else None
    for word in [*words, *value.split()]:
        key = word.strip().lower().rstrip(".,")
        if key in _TEMPO_WORDS:
            return float(_TEMPO_WORDS[key])
    return None


def parse_parts(text: str) -> list[str]:
    """Expand a header P: play order: ``AABB``, ``A2B``, ``(AB)3C``, ``(AB)2.C``.

    Part names are single capital letters; spaces, ``.``, ``-`` and ``+`` are ignored. Any
    other character makes the play order unusable (ValueError): abc2midi then ignores the
    P: field and plays the body as written.

    >>> parse_parts("(AB)2.C")
    ['A', 'B', 'A', 'B', 'C']
    """
    illegal = _ILLEGAL_IN_PARTS.search(text)
    if illegal:
        raise ValueError(f"character {illegal.group()!r} in the P: play order {text!r}")
    stack: list[list[str]] = [[]]
    last: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit():
            end = index
            while end < len(text) and text[end].isdigit():
                end += 1
            count = min(int(text[index:end]), 100)
            stack[-1].extend(last * (count - 1))
            last = []
            index = end
            continue
        if "A" <= char <= "Z":
            last = [char]
            stack[-1].append(char)
        elif char == "(":
            stack.append([])
            last = []
        elif char == ")" and len(stack) > 1:
            group = stack.pop()
            stack[-1].extend(group)
            last = group
        index += 1
    while len(stack) > 1:
        group = stack.pop()
        stack[-1].extend(group)
    return stack[0]
