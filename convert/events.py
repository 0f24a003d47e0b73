"""A parsed tune -> timed notes, per voice, with repeats, endings and parts expanded.

Two passes. ``_Tokenizer`` reads the body in text order and resolves everything that
depends on text order: pitches (key, bar accidentals, ties carrying an accidental over a
bar line), lengths (L:, broken rhythm, tuplets, chords), field changes, and ties
(``_join_ties``: as abc2midi, a tie is made once, between neighbours in the text). ``_play``
then walks the tokens in play order (repeats, endings, P: parts) and lays notes out in
time.

Times are integers in ``WHOLE`` units per whole note, which every length ABC can write
with denominators up to 1024 and tuplets of 3, 5, 7, 9, 11, 13 divides exactly.

>>> from convert.abc_parser import parse_abc
>>> score = tune_to_score(parse_abc("X:1\\nL:1/4\\nK:G\\nF>G (3ABc|\\n").tunes[0])
>>> [(on / QUARTER, pitch, length / QUARTER) for on, pitch, length in score.voices[0].notes]
[(0.0, 66, 1.5), (1.5, 67, 0.5), (2.0, 69, 0.6666666666666666), (2.6666666666666665, 71, \
0.6666666666666666), (3.3333333333333335, 72, 0.6666666666666666)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from convert.abc_parser import AbcError, Diagnostic, Line, Tune
from convert.fields import (
    FREE_METER,
    Key,
    Meter,
    parse_key,
    parse_meter,
    parse_parts,
    parse_tempo,
    parse_unit,
)

WHOLE = 2**10 * 3**4 * 5**2 * 7 * 11 * 13  # time units per whole note
QUARTER = WHOLE // 4
MAX_QUARTERS = 200_000  # longer tunes are rejected as absurd
MAX_LENGTH_FACTOR = 4096  # largest numerator or denominator of one note length

_ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_BASE_PITCH = {"C": 60, "D": 62, "E": 64, "F": 65, "G": 67, "A": 69, "B": 71}
_TOKEN = re.compile(
    r"(?P<ws>[ \t`]+)"
    r"|(?P<inline>\[(?P<ifield>[A-Za-z]):(?P<ivalue>[^\]]*)\])"
    r"|(?P<bar>(?::*\[\|\]|:*(?:\[\||\|)[\]|]*:*|::+|\.\|)(?:\[?(?P<bend>\d+(?:[,-]\d+)*))?)"
    r"|(?P<ending>\[(?P<enum>\d+(?:[,-]\d+)*))"
    r"|(?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<oct>[,']*)"
    r"(?P<nnum>\d*)(?P<nslash>/*)(?P<nden>\d*))"
    r"|(?P<chord>\[)"
    r"|(?P<chordend>\](?P<cnum>\d*)(?P<cslash>/*)(?P<cden>\d*))"
    r"|(?P<rest>[zx](?P<rnum>\d*)(?P<rslash>/*)(?P<rden>\d*))"
    r"|(?P<mrest>[ZX](?P<mnum>\d*))"
    r"|(?P<tie>\.?-)"
    r"|(?P<broken><+|>+)"
    r"|(?P<tuplet>\((?P<tp>\d+)(?::(?P<tq>\d*))?(?::(?P<tr>\d*))?)"
    r"|(?P<slur>\.?[()])"
    r"|(?P<grace>\{[^}]*\})"
    r'|(?P<quote>"[^"]*"?)'
    r"|(?P<deco>![^!\n]*!|\+[^+\n]*\+|[~.HIJKLMNOPQRSTUVWhijklmnopqrstuvwy])"
    r"|(?P<skip>[\\$*;!+#@])"
    r"|(?P<overlay>&)"
)

_RATIO = re.compile(r"MIDI\s*=?\s*ratio\s+(\d+)\s+(\d+)")
_TRANSPOSE = re.compile(r"MIDI\s*=?\s*(r?)transpose\s+([-+]?\d+)")
_VOICE_SETTING = re.compile(r"\b(octave|transpose)=(-?\d+)|\bclef=\w*([+-]8)?")
_BARLINES = re.compile(r"MIDI\s*=?\s*(no)?barlines\b")

# Token kinds (first element of each token list). A note or chord is
# [NOTE, pitches, length, tied flags, (letter, octave) places, sounding lengths].
NOTE, REST, BAR, ENDING, PART, META = "N", "R", "B", "E", "P", "M"


@dataclass
class Voice:
    """One voice (MIDI track): notes as [onset, pitch, length] in WHOLE units."""

    name: str
    notes: list[list[int]] = field(default_factory=list)
    length: int = 0  # end time of the voice in WHOLE units


@dataclass
class Score:
    """A tune laid out in time: voices, meta events (time, kind, value), warnings."""

    x: int
    title: str
    voices: list[Voice]
    metas: list[tuple[int, str, object]]  # (time, "tempo"|"meter"|"key", value)
    warnings: list[Diagnostic] = field(default_factory=list)


def tune_to_score(tune: Tune) -> Score:
    """Lay a parsed tune out in time; raise AbcError for malformed input."""
    tokenizer = _Tokenizer(tune)
    tokenizer.run()
    order = tokenizer.play_order()
    voices = []
    metas: list[tuple[int, str, object]] = list(tokenizer.header_metas)
    for state in tokenizer.voices.values():
        if not any(token[0] == NOTE for token in state.tokens):
            continue
        voice = Voice(state.name)
        _join_ties(state.tokens)
        sequence = _part_sequence(state.tokens, order, tokenizer, tune)
        voice_metas = _play(state.tokens, sequence, voice, tune)
        if not voice.notes:  # every note was in an ending that is never played
            tokenizer.warn(f"voice {state.name or '1'} plays no notes", tune.line)
            continue
        if not voices:
            metas.extend(voice_metas)
        voices.append(voice)
    if not voices:
        raise AbcError("tune has no notes", tune.x, tune.line)
    end = max(voice.length for voice in voices)
    if end > MAX_QUARTERS * QUARTER:
        raise AbcError(f"tune lasts over {MAX_QUARTERS} quarter notes", tune.x, tune.line)
    return Score(tune.x, tune.title, voices, metas, tokenizer.warnings)


# --------------------------------------------------------------------------- tokenizing


@dataclass
class _VoiceState:
    name: str
    key: Key
    meter: Meter
    unit: int  # WHOLE units of one L: length
    unit_fraction: tuple[int, int]
    tokens: list[list] = field(default_factory=list)
    bar_accidentals: dict[str, int] = field(default_factory=dict)
    last_element: list | None = None  # last note or rest token, for ties and broken rhythm
    last_written: tuple[int, int] = (0, 1)  # last_element's length, tuplet and > applied
    last_is_chord: bool = False  # last_element was written as a [chord]
    broken_next: tuple | None = None  # (element before > or <, its factor, next's factor, length)
    tuplet: tuple[int, int, int] | None = None  # (p, q, notes left)
    chord: list | None = None  # the chord token being built
    chord_written: tuple[int, int] | None = None
    overlay: bool = False  # inside a & overlay: skipped until the next bar line
    repeat_open: bool = False  # a |: (or ::) waits for its :|
    transpose: int = 0  # semitones added to every note (%%MIDI transpose)
    nobarlines: bool = False  # an accidental holds for its note only (%%MIDI nobarlines)


class _Tokenizer:
    def __init__(self, tune: Tune):
        self.tune = tune
        self.warnings: list[Diagnostic] = []
        self.parts = ""  # the header P: play order, as written
        self.parts_line = 0
        self.header_metas: list[tuple[int, str, object]] = []
        self.voices: dict[str, _VoiceState] = {}
        self.current: _VoiceState | None = None
        self.ratio = ((3, 2), (1, 2))  # what > makes of its two notes (%%MIDI ratio 3 1)
        self.reread: set[int] = set()  # bars of a second |: read as :: (warned once)
        self.part = ""  # the part (body P:) being written
        self.transpose = 0  # the last %%MIDI transpose, for voices started after it
        self.nobarlines = False  # the last %%MIDI (no)barlines, likewise
        self._header()

    # ---- diagnostics
    def warn(self, message: str, line: int, column: int = 0) -> None:
        self.warnings.append(Diagnostic(message, self.tune.x, line, column))

    def error(self, message: str, line: int, column: int = 0) -> AbcError:
        return AbcError(message, self.tune.x, line, column)

    def play_order(self) -> list[str]:
        """The header P: play order expanded; [] (play as written) when there is none or it
        cannot be read, as abc2midi."""
        if not self.parts:
            return []
        try:
            return parse_parts(self.parts)
        except ValueError as exc:
            self.warn(f"{exc}: P: ignored, the body plays as written", self.parts_line)
            return []

    # ---- header
    def _header(self) -> None:
        tune = self.tune
        meter, unit, key, tempo = FREE_METER, None, None, None
        seen_meter = False
        voice_lines: list[Line] = []
        for line in tune.header:
            try:
                if line.letter == "M":
                    meter, seen_meter = self._parse_meter(line.text, line.number), True
                elif line.letter == "L":
                    unit = parse_unit(line.text)
                elif line.letter == "K":
                    key = self._parse_key(line.text, None, line.number)
                elif line.letter == "Q":
                    tempo = line
                elif line.letter == "P":
                    self.parts, self.parts_line = line.text, line.number
                elif line.letter == "V":
                    voice_lines.append(line)
                elif line.letter == "I":
                    self._instruction(line.text, line.number)
            except ValueError as exc:
                raise self.error(str(exc), line.number) from None
        if key is None:
            raise self.error("missing K: field (the header must end with K:)", tune.line)
        if not seen_meter:
            meter = Meter(4, 4)  # abc2midi's default; L: then defaults to 1/8
        if unit is None:
            unit = meter.default_unit
        self.meter, self.unit_fraction, self.key = meter, unit, key
        bpm = parse_tempo(tempo.text, unit) if tempo else None
        self.header_metas.append((0, "tempo", bpm or 120.0))
        if meter.numerator is not None:
            self.header_metas.append((0, "meter", (meter.numerator, meter.denominator)))
        self.header_metas.append((0, "key", key))
        for line in voice_lines:
            self._voice(line.text, line.number, declare_only=True)

    def _parse_key(self, text: str, previous: Key | None, number: int) -> Key:
        messages: list[str] = []
        key = parse_key(text, previous, messages)
        for message in messages:
            self.warn(message, number)
        return key

    def _parse_meter(self, text: str, number: int) -> Meter:
        messages: list[str] = []
        meter = parse_meter(text, messages)
        for message in messages:
            self.warn(message, number)
        return meter

    def _new_voice(self, name: str) -> _VoiceState:
        unit = WHOLE * self.unit_fraction[0] // self.unit_fraction[1]
        state = _VoiceState(name, self.key, self.meter, unit, self.unit_fraction)
        state.transpose, state.nobarlines = self.transpose, self.nobarlines
        if self.part:
            state.tokens.append([PART, self.part])
        self.voices[name] = state
        return state

    def _voice(self, text: str, number: int, declare_only: bool = False) -> None:
        name = text.split()[0] if text.split() else "1"
        state = self.voices.get(name)
        if state is None:
            default = self.voices.get("")
            empty = default is not None and all(token[0] == PART for token in default.tokens)
            if empty and not declare_only:
                del self.voices[""]
            state = self._new_voice(name)
        for name, value, clef in _VOICE_SETTING.findall(text):  # as in K:, for this voice
            if name == "octave":
                state.key = replace(state.key, octave=int(value))
            elif name == "transpose":
                state.key = replace(state.key, transpose=int(value))
            elif not declare_only:  # abc2midi: a clef's octave counts in a body V: only
                state.key = replace(state.key, clef_octave=int(clef[0] + "1") if clef else 0)
        if not declare_only:
            self.current = state

    def _instruction(self, text: str, number: int, column: int = 0) -> None:
        """I: (or %%) ``MIDI transpose n`` (``rtranspose n``: by n more) and ``MIDI
        nobarlines`` (``barlines``) set the current voice and the voices started after it;
        ``MIDI ratio n m`` sets ``>`` (``_ratio``)."""
        state = self.current
        transpose = _TRANSPOSE.match(text)
        if transpose:
            relative, semitones = transpose.group(1), int(transpose.group(2))
            base = state.transpose if state is not None else self.transpose
            self.transpose = base + semitones if relative else semitones
            if state is not None:
                state.transpose = self.transpose
            return
        barlines = _BARLINES.match(text)
        if barlines:
            self.nobarlines = barlines.group(1) is not None
            if state is not None:
                state.nobarlines = self.nobarlines
            return
        match = _RATIO.match(text)
        if match:
            self._ratio(int(match.group(1)), int(match.group(2)), number, column)

    def _ratio(self, n: int, m: int, number: int, column: int) -> None:
        """``MIDI ratio n m``: ``>`` makes its notes n : m (``>>``, ``>>>`` keep 7:1, 15:1).
        Each note is n (or m) over (n + m) // 2 of its length, whole numbers doubled first
        when m + n % 2 == 1: abc2midi's arithmetic, so ``ratio 3 2`` gives 3/2 and 1, not
        6/5 and 4/5."""
        if not (0 < n <= 1000 and 0 < m <= 1000):
            self.warn(f"MIDI ratio {n} {m} ignored", number, column)
            return
        if m + n % 2 == 1:
            n, m = 2 * n, 2 * m
        half = (n + m) // 2
        self.ratio = ((n, half), (m, half))

    # ---- body
    def run(self) -> None:
        if not self.voices:
            self.current = self._new_voice("")
        else:
            self.current = next(iter(self.voices.values()))
        pending: Line | None = None  # music line ending in "\\", joined with the next one
        for line in self.tune.body:
            if line.letter:
                if pending is not None:  # a field line ends a continued music line
                    self._music(pending)
                    pending = None
                self._field(line.letter, line.text, line.number, 1)
                continue
            if pending is not None:
                line = Line(pending.number, pending.text + line.text)
            if line.text.endswith("\\"):
                pending = Line(line.number, line.text[:-1])
                continue
            pending = None
            self._music(line)
        if pending is not None:
            self._music(pending)
        last_line = self.tune.body[-1].number if self.tune.body else self.tune.line
        for state in self.voices.values():
            if state.tuplet is not None:
                self.warn(f"tuplet in voice {state.name or '1'} lacks notes at the end", last_line)
            if state.chord is not None and state.chord[1]:  # abc2midi plays it: close it here
                self.warn(f"chord in voice {state.name or '1'} not closed", last_line)
                self.current = state
                self._place(state.chord, state.chord_written, last_line, 0, chord=True)
                state.chord = None

    def _field(self, letter: str, value: str, number: int, column: int) -> None:
        state = self.current
        try:
            if letter == "K":
                key = self._parse_key(value, state.key, number) if value.strip() else state.key
                key = replace(key, octave=state.key.octave)  # abc2midi: octave= in the header only
                state.key = key
                state.bar_accidentals.clear()
                state.tokens.append([META, "key", key])
            elif letter == "M":
                meter = self._parse_meter(value, number)
                state.meter = meter
                if meter.numerator is not None:
                    state.tokens.append([META, "meter", (meter.numerator, meter.denominator)])
            elif letter == "L":
                state.unit_fraction = parse_unit(value)
                state.unit = WHOLE * state.unit_fraction[0] // state.unit_fraction[1]
            elif letter == "Q":
                bpm = parse_tempo(value, state.unit_fraction)
                if bpm:
                    state.tokens.append([META, "tempo", bpm])
            elif letter == "V":
                self._voice(value, number)
            elif letter == "P":  # a part of every voice (as abc2midi)
                label = value.strip()[:1]
                if label:
                    self.part = label
                    for voice in self.voices.values():
                        voice.tokens.append([PART, label])
            elif letter == "m":
                self.warn("macro definitions (m:) are not expanded", number, column)
            elif letter == "I":
                self._instruction(value, number, column)
        except ValueError as exc:
            raise self.error(str(exc), number, column) from None

    def _music(self, line: Line) -> None:
        text = line.text
        position = 0
        length = len(text)
        match_token = _TOKEN.match
        while position < length:
            match = match_token(text, position)
            if match is None:
                self.warn(
                    f"unexpected character {text[position]!r} skipped", line.number, position + 1
                )
                position += 1
                continue
            kind = match.lastgroup
            position = match.end()
            if kind == "ws" or kind == "deco" or kind == "quote" or kind == "skip":
                continue
            state = self.current
            if state.overlay and kind != "bar":
                continue
            column = match.start() + 1
            if kind == "note":
                self._note(match, line.number, column)
            elif kind == "bar":
                self._bar(match.group("bar"), match.group("bend"), line.number, column)
            elif kind == "broken":
                self._broken(match.group(), line.number, column)
            elif kind == "tie":
                self._tie(line.number, column)
            elif kind == "rest":
                written = _length(match.group("rnum"), match.group("rslash"), match.group("rden"))
                self._rest(written, line.number, column)
            elif kind == "chord":
                self._chord_open(line.number, column)
            elif kind == "chordend":
                self._chord_close(match, line.number, column)
            elif kind == "tuplet":
                self._tuplet(match, line.number, column)
            elif kind == "inline":
                self._field(match.group("ifield"), match.group("ivalue"), line.number, column)
            elif kind == "ending":
                state.tokens.append([ENDING, _ending_numbers(match.group("enum"))])
            elif kind == "mrest":
                self._multi_rest(match.group("mnum"), line.number, column)
            elif kind == "overlay":
                self.warn(
                    "voice overlay (&) is not supported; rest of bar skipped", line.number, column
                )
                state.overlay = True
            # "slur" and "grace" are parsed and have no effect on notes.

    # ---- elements
    def _note(self, match: re.Match, number: int, column: int) -> None:
        state = self.current
        letter = match.group("letter")
        upper = letter.upper()
        marks = match.group("oct")
        octave = (1 if letter.islower() else 0) + marks.count("'") - marks.count(",")
        accidental = match.group("acc")
        position = (upper, octave)
        pitch = None
        if accidental is None and _bar_since(state.tokens, state.last_element):
            tied = _tied_pitch(state, position)  # as abc2midi: only over a bar line
            if tied is not None:
                pitch = tied
        if pitch is None:
            if accidental is not None:
                offset = _ACCIDENTALS[accidental]
                if not state.nobarlines:
                    state.bar_accidentals[upper] = offset
            else:
                offset = state.bar_accidentals.get(upper)
                if offset is None:
                    offset = state.key.accidentals.get(upper, 0)
            pitch = _BASE_PITCH[upper] + 12 * octave + offset + state.key.shift + state.transpose
        if not 0 <= pitch <= 127:
            raise self.error(f"note {match.group()!r} is outside the MIDI range", number, column)
        written = _length(match.group("nnum"), match.group("nslash"), match.group("nden"))
        if written is None:
            raise self.error(f"bad note length in {match.group()!r}", number, column)
        if state.chord is not None:
            chord = state.chord
            if not chord[1]:
                state.chord_written = written
            chord[1].append(pitch)
            chord[3].append(False)
            chord[4].append(position)
            return
        token = [NOTE, [pitch], 0, [False], [position], []]
        self._place(token, written, number, column)

    def _chord_open(self, number: int, column: int) -> None:
        state = self.current
        if state.chord is not None:
            self.warn("'[' inside a chord ignored", number, column)
            return
        state.chord = [NOTE, [], 0, [], [], []]
        state.chord_written = None

    def _chord_close(self, match: re.Match, number: int, column: int) -> None:
        state = self.current
        chord = state.chord
        if chord is None:
            self.warn("']' without a chord ignored", number, column)
            return
        state.chord = None
        if not chord[1]:
            self.warn("empty chord ignored", number, column)
            return
        outer = _length(match.group("cnum"), match.group("cslash"), match.group("cden"))
        inner = state.chord_written
        if outer is None or inner is None:
            raise self.error("bad chord length", number, column)
        # As abc2midi: the chord's own length, if it has one, replaces its notes' lengths
        # ([F2A2]4 lasts 4); without one (or written 1, 1/1) it lasts as its first note.
        written = inner if outer == (1, 1) else outer
        self._place(chord, written, number, column, chord=True)

    def _rest(self, written: tuple[int, int] | None, number: int, column: int) -> None:
        if written is None:
            raise self.error("bad rest length", number, column)
        state = self.current
        if state.chord is not None:
            return
        self._place([REST, 0], written, number, column)

    def _multi_rest(self, count_text: str, number: int, column: int) -> None:
        state = self.current
        count = int(count_text) if count_text else 1
        if count > 1000:
            raise self.error(f"multi-bar rest of {count} bars is absurd", number, column)
        meter = state.meter
        bar = WHOLE * meter.numerator // meter.denominator if meter.numerator else WHOLE
        state.tokens.append([REST, bar * count])
        state.last_element = None
        if count > 1:  # abc2midi: a rest of several bars ends the bar's accidentals (Z1 not)
            state.bar_accidentals.clear()

    def _place(
        self, token: list, written: tuple[int, int], number: int, column: int, chord: bool = False
    ) -> None:
        """Give a note, chord or rest its length (L:, tuplet, broken rhythm) and store it."""
        state = self.current
        numerator, denominator = written
        if numerator == 0:
            self.warn("zero-length note skipped", number, column)
            return
        if numerator > MAX_LENGTH_FACTOR or denominator > MAX_LENGTH_FACTOR:
            raise self.error(f"absurd note length {numerator}/{denominator}", number, column)
        if state.tuplet is not None:
            p, q, left = state.tuplet
            numerator *= q
            denominator *= p
            state.tuplet = (p, q, left - 1) if left > 1 else None
        broken = state.broken_next
        state.broken_next = None
        if broken is not None:
            previous, first, second, previous_written, after_chord = broken
            # abc2midi compares lengths, not L units: C>[L:1/16]f2 is broken, C>[L:1/16]f not
            equal = (
                previous_written[0] * denominator == numerator * state.unit * previous_written[1]
            )
            if equal or after_chord or chord:  # abc2midi checks lengths between notes only
                index = 2 if previous[0] == NOTE else 1
                previous[index] = previous[index] * first[0] // first[1]
                numerator *= second[0]
                denominator *= second[1]
            else:
                self.warn("broken rhythm between notes of unequal length ignored", number, column)
        token[2 if token[0] == NOTE else 1] = state.unit * numerator // denominator
        state.tokens.append(token)
        state.last_element = token
        state.last_written = (numerator * state.unit, denominator)  # abc2midi: what > made
        state.last_is_chord = chord

    def _broken(self, text: str, number: int, column: int) -> None:
        state = self.current
        if state.chord is not None:  # abc2midi: "Broken rhythm not allowed in chord"
            self.warn(f"broken rhythm {text!r} inside a chord ignored", number, column)
            return
        last = state.last_element
        if last is None or _bar_since(state.tokens, last):
            self.warn(f"broken rhythm {text!r} without a note before it ignored", number, column)
            return
        steps = min(len(text), 3)
        if steps == 1:
            long, short = self.ratio
        else:
            short = (1, 2**steps)
            long = (2 ** (steps + 1) - 1, 2**steps)
        first, second = (long, short) if text[0] == ">" else (short, long)
        state.broken_next = (last, first, second, state.last_written, state.last_is_chord)

    def _tie(self, number: int, column: int) -> None:
        state = self.current
        if state.chord is not None:
            if state.chord[3]:
                state.chord[3][-1] = True
            return
        last = state.last_element
        if last is None or last[0] != NOTE:
            self.warn("tie without a note before it ignored", number, column)
            return
        last[3] = [True] * len(last[3])

    def _tuplet(self, match: re.Match, number: int, column: int) -> None:
        state = self.current
        p = int(match.group("tp"))
        q_text, r_text = match.group("tq"), match.group("tr")
        if not q_text and not 2 <= p <= 9:  # abc2midi has defaults for (2 to (9 only
            self.warn(f"tuplet ({p} without a q ignored", number, column)
            return
        if not 2 <= p <= 64:
            raise self.error(f"tuplet ({p} is absurd", number, column)
        if q_text:
            q = int(q_text)
        elif p in (2, 4, 8):
            q = 3
        elif p in (3, 6):
            q = 2
        else:
            meter = self.meter  # abc2midi: the header's meter, whatever M: the body sets
            compound = meter.numerator is not None and meter.numerator % 3 == 0
            q = 3 if compound else 2
        r = int(r_text) if r_text else p
        if q == 0 or r == 0:
            raise self.error(f"bad tuplet {match.group()!r}", number, column)
        if state.tuplet is not None:  # abc2midi: "nested tuples", the outer one goes on
            self.warn("tuplet inside another one ignored", number, column)
            return
        state.tuplet = (p, q, r)

    def _bar(self, text: str, ending: str | None, number: int, column: int) -> None:
        state = self.current
        state.bar_accidentals.clear()
        state.overlay = False
        if state.chord is not None:  # abc2midi: the chord goes on to its ]
            self.warn("bar line inside a chord", number, column)
        if ending:
            text = text[: len(text) - len(ending)].removesuffix("[")
        if text.endswith("[|]"):  # invisible bar line, colons before it mean nothing
            text = "|"
        end_repeat = text.startswith(":")
        start_repeat = text.endswith(":")
        second_start = start_repeat and not end_repeat and state.repeat_open
        if end_repeat or start_repeat:
            state.repeat_open = start_repeat
        double = "||" in text or "]" in text or "[" in text
        state.tokens.append([BAR, end_repeat, start_repeat, double, number, column, second_start])
        if ending:
            state.tokens.append([ENDING, _ending_numbers(ending)])


def _tied_pitch(state: _VoiceState, position: tuple[str, int]) -> int | None:
    last = state.last_element
    if last is None or last[0] != NOTE:
        return None
    for pitch, tie, place in zip(last[1], last[3], last[4], strict=False):
        if tie and place == position:
            return pitch
    return None


def _bar_since(tokens: list[list], last: list) -> bool:
    for token in reversed(tokens):
        if token is last:
            return False
        if token[0] == BAR:
            return True
    return True


def _length(num: str, slashes: str, den: str) -> tuple[int, int] | None:
    numerator = int(num) if num else 1
    if den:
        denominator = int(den) * 2 ** max(len(slashes) - 1, 0)
        if not slashes:
            return None
    else:
        denominator = 2 ** min(len(slashes), 12)
    if denominator == 0:
        return None
    return numerator, denominator


def _ending_numbers(text: str) -> frozenset[int]:
    numbers: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        if high:
            numbers.update(range(int(low), min(int(high), int(low) + 64) + 1))
        elif low:
            numbers.add(int(low))
    return frozenset(numbers)


# --------------------------------------------------------------------------- play order


def _part_sequence(tokens: list[list], order: list[str], tok: _Tokenizer, tune: Tune) -> list:
    """Token indices in play order: P: parts in header order, each with repeats expanded."""
    fixes = _fixes_until(tokens, tok)
    if not order:
        return _expand_repeats(tokens, 0, len(tokens), tok, fixes)
    segments: dict[str, list[tuple[int, int]]] = {}
    intro_end = len(tokens)
    bounds: list[tuple[str, int]] = []
    for index, token in enumerate(tokens):
        if token[0] == PART:
            bounds.append((token[1], index + 1))
    if not bounds:
        return _expand_repeats(tokens, 0, len(tokens), tok, fixes)
    intro_end = bounds[0][1] - 1
    for (label, start), nxt in zip(bounds, [*bounds[1:], (None, len(tokens) + 1)], strict=False):
        segments.setdefault(label, []).append((start, nxt[1] - 1))
    sequence = _expand_repeats(tokens, 0, intro_end, tok, fixes)
    for label in order:
        if label not in segments:
            tok.warn(f"part {label} of P: play order is not in the tune", tune.line)
            continue
        for start, end in segments[label]:
            sequence.extend(_expand_repeats(tokens, start, end, tok, fixes, in_part=True))
    return sequence


def _fixes_until(tokens: list[list], tok: _Tokenizer) -> int:
    """Where abc2midi's parser stops mending repeats (``_expand_repeats``): the index of the
    first ending, and -1 (no mending at all) in a tune of several voices or whose one voice
    is numbered other than 1 (``V:2``)."""
    if len(tok.voices) > 1:
        return -1
    name = next(iter(tok.voices))
    if name.isdigit() and int(name) != 1:
        return -1
    return next((i for i, token in enumerate(tokens) if token[0] == ENDING), len(tokens))


def _ending_group_over(tokens: list[list], index: int, end: int) -> bool:
    """True when no ending marker follows the bar at ``index`` (field changes aside)."""
    for token in tokens[index + 1 : end]:
        if token[0] != META:
            return token[0] != ENDING
    return True


def _expand_repeats(
    tokens: list[list],
    begin: int,
    end: int,
    tok: _Tokenizer,
    fixes_until: int = -1,
    in_part: bool = False,
) -> list[int]:
    """Token indices of tokens[begin:end] in play order, following abc2midi's repeat rules.

    ``|:`` (or ``::``) marks the repeat start, else the start of the section; a plain ``:|``
    jumps back once, and when it is reached again the repeat is over: later ``:|`` repeat
    nothing until the next ``|:``. Inside an ending a ``:|`` jumps back every time (the next
    pass picks another ending); an ending whose numbers do not include the pass is skipped up
    to the next ending marker, ``:|``, ``|:`` or double bar, and a pass that skips every
    ending of a group also ends the repeat.

    A ``::`` in an ending jumps back on the first pass only (on a later one it only starts the
    next repeat), and does not end the skipping of an ending.

    abc2midi's parser mends repeats before it plays them, in a tune of one voice
    (``fixes_until`` >= 0): a second ``|:`` before the ``:|`` of the first is read as ``::``;
    and up to its first ending (tokens before ``fixes_until``) a ``:|`` with no ``|:`` before
    it turns the last finished ``:|`` into ``::``, or a ``||`` or ``|]`` after it into ``|:``.
    """
    order: list[int] = []
    start: int | None = begin
    passno = 1
    jumped: set[int] = set()
    skipping = False
    matched = False  # an ending of the current group was played on this pass
    in_ending = False
    open_start = False  # a |: is waiting for its :|
    repeated = False  # some :| has been played; a later || or |] then starts the next repeat
    budget = 64 * (end - begin) + 1024
    index = begin
    while index < end:
        budget -= 1
        if budget < 0:
            line = next((t[4] for t in tokens[begin:end] if t[0] == BAR), 0)
            raise tok.error("repeat structure does not terminate", line)
        token = tokens[index]
        kind = token[0]
        if kind == BAR:
            _, end_repeat, start_repeat, double = token[:4]
            mend = index < fixes_until and not in_part
            if token[6] and fixes_until >= 0:
                end_repeat = True
                if index not in tok.reread:  # warn once, though parts may play it again
                    tok.reread.add(index)
                    tok.warn("|: before the :| of the previous |: read as ::", *token[4:6])
            if skipping:
                if (end_repeat or start_repeat or double) and not (end_repeat and start_repeat):
                    skipping = False
                    in_ending = False
                    if not matched and _ending_group_over(tokens, index, end):
                        start = None  # this pass played no ending: the repeat is over
                    if start_repeat and not end_repeat:
                        start, passno, jumped, open_start = index + 1, 1, set(), True
                        matched = False
                index += 1
                continue
            if end_repeat and start is not None and not (in_ending and start_repeat and passno > 1):
                if in_ending or index not in jumped:
                    jumped.add(index)
                    passno += 1
                    matched = False
                    index = start
                    continue
                if mend:  # this :| becomes a ::
                    start, passno, jumped = index + 1, 1, set()
                else:  # the pass number stays: a later [1 is skipped, [2 played
                    start = None
                open_start, repeated = False, True
            if start_repeat:
                start, passno, jumped, open_start = index + 1, 1, set(), True
                matched = False
            elif double and repeated and mend and not (open_start or end_repeat or in_ending):
                start, passno, jumped = index + 1, 1, set()
            if double or start_repeat:
                in_ending = False
            order.append(index)
        elif kind == ENDING:
            if passno in token[1]:
                skipping = False
                in_ending = matched = True
            else:
                skipping = True
        elif not skipping:
            order.append(index)
        index += 1
    return order


# --------------------------------------------------------------------------- timing


def _join_ties(tokens: list[list]) -> None:
    """Give each note of each NOTE token its sounding length (token[5]), in text order.

    As abc2midi: a tied note sounds until the end of the next note in the text if that note
    has the same pitch (a rest in between breaks the tie); the note it is tied to then sounds
    no more (length 0) but still takes its time. The tie is made once, in the written order,
    so every pass of a repeat plays it alike: ``A2-|:A B:|`` holds A for 3 and the A after
    ``|:`` is silent on both passes; ``E2-:|E`` holds E for 3 on both passes, and a tie into
    the first ending (``D-|1 D``) holds D as long when the second ending is played.
    """
    # pitch -> [(sounding lengths, index)]: a chord may tie the same pitch twice
    open_ties: dict[int, list[tuple[list[int], int]]] = {}
    for token in tokens:
        if token[0] == REST:
            open_ties = {}
        elif token[0] == NOTE:
            length = token[2]
            sounding = [length] * len(token[1])
            still_open: dict[int, list[tuple[list[int], int]]] = {}
            for index, (pitch, tie) in enumerate(zip(token[1], token[3], strict=True)):
                heads = open_ties.get(pitch)
                if heads:
                    head = heads.pop(0)
                    head[0][head[1]] += length
                    sounding[index] = 0
                else:
                    head = (sounding, index)
                if tie:
                    still_open.setdefault(pitch, []).append(head)
            open_ties = still_open
            token[5] = sounding


def _play(tokens: list[list], sequence: list[int], voice: Voice, tune: Tune) -> list:
    """Lay tokens out in time (ties are already joined). Returns the meta events."""
    time = 0
    notes = voice.notes
    metas: list[tuple[int, str, object]] = []
    for index in sequence:
        token = tokens[index]
        kind = token[0]
        if kind == NOTE:
            for pitch, sounding in zip(token[1], token[5], strict=True):
                if sounding:
                    notes.append([time, pitch, sounding])
            time += token[2]
        elif kind == REST:
            time += token[1]
        elif kind == META:
            metas.append((time, token[1], token[2]))
        if time > MAX_QUARTERS * QUARTER:
            raise AbcError(f"tune lasts over {MAX_QUARTERS} quarter notes", tune.x, tune.line)
    voice.length = time
    return metas
