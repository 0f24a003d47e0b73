"""How a file's bytes are cut into 16-byte patches: the paper's fixed cut, or one musical unit per
patch (config `layout`).

- ``paper`` (SPEC 2.1): the bytes as they are, cut every 16 bytes, the last patch padded.
- ``notes``: a structure-aligned cut for ABC <-> MIDI conversion.
  ABC is cut after every note, rest or chord (with its length, broken-rhythm mark and tie), so a
  segment holds what stands before a note (bar lines, spaces, decorations, slurs, grace notes,
  chord symbols) and the note itself; field lines and comment lines are segments of their own.
  MIDI is given as note text (`convert.notetext`: one line per note or meta event, the program
  writes the binary file around them) with one line per segment. Each segment is padded with
  <eop> to a whole patch (two when it is longer than 16 bytes), so note k of a file sits at the
  start of a patch and the bytes of a patch never straddle two notes. The file's bytes are
  unchanged: the patches with the padding dropped give them back.

- ``interleaved``: the units of ``notes`` (ABC segments, note-text lines), but the two files
  are not written one after the other: ``[header abc][header notes]``, then each input unit
  followed by the output units it settles (`align`, `interleave`), the last of them followed by
  the byte `MARK` (0), which ends the group (an empty group is MARK alone). The model writes
  each unit of output right after the input it comes from; a converter feeds the input one unit
  at a time (`bytesim.neural_convert`, `BGPT.generate(steer=...)`).
- ``context``: ``interleaved`` with every input unit followed by the byte `CONTEXT` (1) and the
  fields in force once it is read, copied as text from the input (`with_context`): for ABC the
  last `K:` value (spaces dropped, its first 5 bytes), a comma and the last `L:` value. What a
  note's pitch and length depend on beyond the unit itself is then in its own patch, however
  far back the header stands (or whether the window still holds it). Note-text input is fed as
  in ``interleaved``. The output units are those of ``interleaved``.
- ``signature``: ``context`` with the key given as the signature it sets instead of its text
  (`with_context(signature=True)`): the letters it raises or lowers, as the reference
  converter's key parser reads the last `K:` (`K:D` gives ``^FC``, `K:Bb` ``_BE``, `K:Ador`
  ``^F``). The program reads the field; the model still turns each note into its pitch.
- ``fields``: ``signature``, with note-text input's tempo, meter and key lines fed as the ABC
  fields they stand for (`as_field`: ``0 KG`` is fed as ``K:G``, ``0 M3/4`` as ``M:3/4``,
  ``0 T400000`` as ``Q:1/4=150``; a dt other than 0 follows after a space), so the header the
  model writes for MIDI -> ABC holds the same bytes at the same places as an input patch.
- ``rests``: ``signature``, with the note text (input and output) holding a rest line wherever
  no note sounds (`convert.notetext.with_rests`: ``480 z 240``), so an ABC rest has a line of
  its own as a note has: MIDI -> ABC reads it instead of working it out from the next note's
  dt and the last note's duration, and ABC -> MIDI writes it for its `z`.
- ``ticks``: ``rests``, with the unit length in the context given as the ticks it lasts
  (`with_context(ticks=True)`: ``L:1/16`` is ``120``, no `L:` the header meter's default, as
  the reference converter reads them), the number a note's length multiplies.
- ``repeats``: ``rests``, with a repeat's second time written, ABC -> MIDI, as one replay line
  ``dt @ a b`` instead of the lines played again (`with_replays`): "again what the units
  numbered a up to b settled", dt the first replayed line's. The units that may start or end a
  repeated span (bar lines, repeat signs, endings, the first note after a field) carry their
  number after the context (`replay_labels`: ``|:A\x01^F,1/8,2``). The model finds the span and
  writes its numbers; the program writes the lines they name (`expand_replays`).
- ``accidentals``: ``repeats``, with the signature in the context the accidentals in force once
  the unit is read (`with_context(in_force=True)`, `bar_accidentals`): the key's, changed by
  the signs written in the bar so far, the unit's own among them (``=F`` under `K:D` gives
  ``^C``, and so does every F after it up to the bar line), so the context alone gives each
  note's accidental. Exceptions: a note tied over a bar line keeps its sign in the reference
  converter (the context gives the new bar's), and a chord that holds one letter twice, once
  with a sign, gives the sign to both.
- ``bars``: ``repeats``, with the ABC -> MIDI note text holding a bar line ``| L`` first in
  the group of every unit with a bar line, repeat sign or ending (`with_bars`): L the ticks
  since the last bar line (`bar_times`, as the reference converter plays the tune), and the
  line after a bar line timed from it, so that a wrong duration moves the notes up to the next
  bar line only. The model writes that bar line after the group's first line, which then still
  follows its unit (the copy path). A unit that plays a span again writes one more after its
  replay lines, where the span played again ends. The program reads the bar lines and drops
  them (`expand_bars`); the model writes every length.

Worked example, ``notes`` layout: the ABC body line ``|:GA B2|`` is cut into the segments
``|:G``, ``A``, `` B2`` and ``|`` (the last one carries over to the next note), and the MIDI
note ``240 67 240`` takes one patch: ``b"240 67 240\\n"`` and five <eop>.
"""

from __future__ import annotations

import contextlib
import functools
import re

import numpy as np

from bytesim.model import EOP, INTERLEAVED, LAYOUTS, PATCH
from convert.abc_parser import AbcError
from convert.fields import Key, Meter, parse_key, parse_meter, parse_unit
from convert.midi import TICKS_PER_QUARTER
from convert.notes import MidiError
from convert.notetext import abc_to_note_text, midi_to_note_text, note_text_to_midi, with_rests

NOTE_TEXT = "notes"  # the header (extension) of MIDI given as note text
MARK = 0  # interleaved layout: the byte after the last unit of an output group
CONTEXT = 1  # context layouts: the byte between an input unit and its context
# ABC units with context
CONTEXT_LAYOUTS = LAYOUTS[LAYOUTS.index("context") :]
# the key as its signature
SIGNATURE_LAYOUTS = LAYOUTS[LAYOUTS.index("signature") :]
# their note text has rest lines
REST_LAYOUTS = LAYOUTS[LAYOUTS.index("rests") :]
# ABC -> MIDI writes a repeat's second time as a replay line
REPLAY_LAYOUTS = LAYOUTS[LAYOUTS.index("repeats") :]
_K_FIELD = re.compile(rb"(?:^|\[)K:([^\]\n%]*)", re.M)
_L_FIELD = re.compile(rb"(?:^|\[)L:([^\]\n%]*)", re.M)
_M_FIELD = re.compile(rb"(?:^|\[)M:([^\]\n%]*)", re.M)

_FIELD_LINE = re.compile(rb"[A-Za-z+]:|%")
_META_LINE = re.compile(rb"\d+ [TMK]")
_REST_LINE = re.compile(rb"\d+ z ")
_META_PARTS = re.compile(rb"(\d+) ([TMK])(\S+)\n?")
_CLOSING = {ord('"'): ord('"'), ord("!"): ord("!"), ord("+"): ord("+"), ord("{"): ord("}")}
_NOTE_START = frozenset(b"^_=ABCDEFGabcdefgzZxX")
_OCTAVE = frozenset(b"',")
_LENGTH = frozenset(b"0123456789/")
_BROKEN = frozenset(b"<>")


class LayoutError(ValueError):
    """A file that cannot be given to the model in a layout (one clear line)."""


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")


def model_ext(ext: str, layout: str) -> str:
    """The header the model sees for a file type: `mid` is `notes` (note text) in the notes and
    interleaved layouts."""
    return NOTE_TEXT if layout != "paper" and ext == "mid" else ext


def model_patches(data: bytes, ext: str, layout: str) -> np.ndarray:
    """The file as the model reads it: values 0..256, a multiple of 16 (empty data: empty)."""
    check_layout(layout)
    if layout == "paper" or ext not in ("abc", "mid"):
        return pad_segments([data])
    return pad_segments(units(data, ext))


def units(data: bytes, ext: str, rests: bool = False) -> list[bytes]:
    """An abc or mid file's units: ABC segments (`abc_segments`), or MIDI note-text lines (with
    rest lines if `rests`)."""
    if ext == "abc":
        return abc_segments(data)
    try:
        text = midi_to_note_text(data)
        return (with_rests(text) if rests else text).encode("ascii").splitlines(keepends=True)
    except MidiError as e:
        raise LayoutError(str(e)) from None


def input_units(data: bytes, ext: str, layout: str) -> list[bytes]:
    """An input file's units as an interleaved layout feeds them: ABC `with_context` in the
    context layouts; note text as it is (with rest lines in `rests` and `ticks`, its key and meter
    events just before the header the model writes; a context after every note line made
    MIDI -> ABC worse, docs/conversion.md)."""
    if layout not in INTERLEAVED:
        raise ValueError(f"layout {layout!r} does not feed its input by units")
    found = units(data, ext, rests=layout in REST_LAYOUTS)
    if ext == "abc":
        return _abc_as_fed(found, layout)
    if layout == "fields":
        return [as_field(line) for line in found]
    return found


def _abc_as_fed(segments: list[bytes], layout: str) -> list[bytes]:
    """ABC segments as an interleaved layout feeds them: `with_context` in the context layouts,
    in `repeats` with each numbered segment's number after a comma (`replay_labels`)."""
    if layout not in CONTEXT_LAYOUTS:
        return segments
    fed = with_context(
        segments,
        layout in SIGNATURE_LAYOUTS,
        ticks=layout == "ticks",
        in_force=layout == "accidentals",
    )
    if layout in REPLAY_LAYOUTS:
        labels = replay_labels(segments)
        fed = [u if n is None else u + b",%d" % n for u, n in zip(fed, labels, strict=True)]
    return fed


def as_field(line: bytes) -> bytes:
    r"""A note-text line as the `fields` layout feeds it: a tempo, meter or key line as the ABC
    field it stands for (the tempo as quarters per minute, rounded), then its dt after a space
    unless 0; any other line as it is.

    >>> [as_field(x) for x in (b"0 KBb\n", b"0 M6/8\n", b"480 T400000\n", b"0 60 480\n")]
    [b'K:Bb\n', b'M:6/8\n', b'Q:1/4=150 480\n', b'0 60 480\n']
    """
    meta = _META_PARTS.fullmatch(line)
    if meta is None:
        return line
    dt, kind, value = meta.groups()
    if kind == b"T":
        value = b"1/4=%d" % round(60_000_000 / max(int(value), 1))
    field = {b"T": b"Q:", b"M": b"M:", b"K": b"K:"}[kind] + value
    return field + (b"" if dt == b"0" else b" " + dt) + b"\n"


def with_context(
    segments: list[bytes], signature: bool = False, ticks: bool = False, in_force: bool = False
) -> list[bytes]:
    r"""ABC segments each followed by CONTEXT and `key,unit`, the fields in force once it is read,
    copied as text from the segments so far (not interpreted): the last `K:` and `L:` values
    (line or inline fields; the key's spaces dropped, its first 5 bytes; the unit's first 4),
    empty until a field sets them. With `signature`, the key is the signature the last `K:`
    sets (`key_signature`) instead of its text.

    >>> with_context([b"L:1/8\n", b"K:A mix\n", b"B2", b"[K:D]c"])
    [b'L:1/8\n\x01,1/8', b'K:A mix\n\x01Amix,1/8', b'B2\x01Amix,1/8', b'[K:D]c\x01D,1/8']
    >>> with_context([b"K:A mix\n", b"B2", b"[K:Bb]c"], signature=True)
    [b'K:A mix\n\x01^FC,', b'B2\x01^FC,', b'[K:Bb]c\x01_BE,']

    With `ticks`, the unit is the ticks it lasts (480 per quarter): the last `L:`, else the
    default of the header's meter (1/16 below 3/4, else 1/8; no `M:` is 4/4), as the reference
    converter reads them; a field it cannot read keeps the unit before it.

    >>> with_context([b"M:2/4\n", b"K:G\n", b"B2", b"[L:1/4]c"], ticks=True)
    [b'M:2/4\n\x01,120', b'K:G\n\x01G,120', b'B2\x01G,120', b'[L:1/4]c\x01G,480']

    With `in_force` (and `signature`), the signature is the accidentals in force once the unit
    is read: the key's, changed by those written in the bar so far, the unit's own among them
    (`bar_accidentals`), so the context alone gives each note's accidental.

    >>> with_context([b"K:D\n", b"=F", b"f", b"|f", b"^G"], signature=True, in_force=True)
    [b'K:D\n\x01^FC,', b'=F\x01^C,', b'f\x01^C,', b'|f\x01^FC,', b'^G\x01^FCG,']
    """
    key, unit = b"", b""
    previous: Key | None = None
    bar: dict[str, int] = {}
    meter, length, in_body = Meter(4, 4), None, False
    if ticks:
        unit = _ticks(meter.default_unit)
    out = []
    for u in segments:
        if ticks:
            for m in [] if in_body else _M_FIELD.finditer(u):
                with contextlib.suppress(ValueError):
                    meter = parse_meter(m.group(1).decode("latin-1"))
            for m in _L_FIELD.finditer(u):
                with contextlib.suppress(ValueError):
                    length = parse_unit(m.group(1).decode("latin-1"))
            unit = _ticks(length or meter.default_unit)
            in_body = in_body or bool(_K_FIELD.search(u))
        for m in _K_FIELD.finditer(u):
            if signature:
                previous = parse_key(m.group(1).decode("latin-1"), previous, [])
                key = key_signature(previous)
            else:
                key = re.sub(rb"\s+", b"", m.group(1))[:5]
        for m in [] if ticks else _L_FIELD.finditer(u):
            unit = m.group(1).strip()[:4]
        if in_force and signature:
            bar_accidentals(u, bar)
            key = _signature_of({**(previous.accidentals if previous else {}), **bar})
        out.append(u + bytes([CONTEXT]) + key + b"," + unit)
    return out


def _ticks(unit: tuple[int, int]) -> bytes:
    """The ticks a unit length lasts (480 per quarter), rounded: (1, 16) is b"120"."""
    return b"%d" % round(4 * TICKS_PER_QUARTER * unit[0] / unit[1])


def key_signature(key: Key) -> bytes:
    """The letters a key raises or lowers, grouped by mark (`^`, `_`, `^^`, `__`), each group's
    letters in the order of the sharps (F C G D A E B) or of the flats (B E A D G C F); at most
    10 bytes.

    >>> key_signature(parse_key("D")), key_signature(parse_key("Eb")), key_signature(parse_key("C"))
    (b'^FC', b'_BEA', b'')
    >>> key_signature(parse_key("G =f ^g _b"))
    b'^G_B'
    """
    return _signature_of(key.accidentals)


def _signature_of(accidentals: dict[str, int]) -> bytes:
    """`key_signature` of letters and their semitones (0, a natural, is left out)."""
    groups = []
    for value, mark in ((1, "^"), (-1, "_"), (2, "^^"), (-2, "__")):
        order = "FCGDAEB" if value > 0 else "BEADGCF"
        letters = "".join(x for x in order if accidentals.get(x) == value)
        if letters:
            groups.append(mark + letters)
    return "".join(groups).encode("ascii")[:10]


_SEMITONES = {b"^^": 2, b"__": -2, b"^": 1, b"_": -1, b"=": 0}
# what a bar's accidentals see of a segment: spans skipped whole (an unclosed one runs to the
# end), inline fields (a key clears), bar lines (clear), signed notes (set their letter)
_BAR_TOKEN = re.compile(
    rb'"[^"]*(?:"|\Z)|![^!]*(?:!|\Z)|\+[^+]*(?:\+|\Z)|\{[^}]*(?:\}|\Z)|%[^\n]*'
    rb"|(?P<field>\[[A-Za-z]:[^\]]*(?:\]|\Z))|(?P<bar>\||::)"
    rb"|(?P<sign>\^\^|__|\^|_|=)(?P<letter>[A-Ga-g])"
)


def bar_accidentals(segment: bytes, bar: dict[str, int]) -> None:
    r"""Update `bar`, the accidentals written in the bar so far (upper-case letter -> semitones),
    with an ABC segment read in order, as the reference converter keeps them: a bar line or a
    key field clears them; a note marked ``^ ^^ _ __ =`` sets its letter, in every octave.
    Chord symbols, decorations, grace notes, comments and other fields are skipped.

    >>> bar = {}
    >>> bar_accidentals(b'"Am"=F{^g}_B|^c', bar), bar
    (None, {'C': 1})
    >>> bar_accidentals(b"[=E^G]", bar), bar
    (None, {'C': 1, 'E': 0, 'G': 1})
    >>> bar_accidentals(b"[K:D]F", bar), bar
    (None, {})
    >>> bar_accidentals(b"=F % a comment\n|", bar), bar  # a comment ends at its line's end
    (None, {})
    """
    if _FIELD_LINE.match(segment):
        if segment.startswith(b"K:"):
            bar.clear()
        return
    for token in _BAR_TOKEN.finditer(segment):
        field, sign = token.group("field"), token.group("sign")
        if token.group("bar") is not None or (field is not None and field[1:2] == b"K"):
            bar.clear()
        elif sign is not None:
            bar[token.group("letter").decode().upper()] = _SEMITONES[sign]


_SKIPPED = rb'"[^"]*"|![^!]*!|\+[^+]*\+|\{[^}]*\}|\[[A-Za-z]:[^\]]*\]|%.*'
_MARKED_NOTE = re.compile(rb"(" + _SKIPPED + rb")|(\^\^|__|\^|_|=)?([A-Ga-g])")
_SIGNATURE_GROUP = re.compile(rb"(\^\^|__|\^|_)([A-G]+)")


def explicit_accidentals(tune: bytes) -> bytes:
    r"""The tune with every note that has no sign of its own given the one the `accidentals`
    layout's context names for it (``=`` where none): a check of that context, since where it
    is right the reference converter plays both alike.

    >>> explicit_accidentals(b"X:1\nK:D\nF=F f|c\n")
    b'X:1\nK:D\n^F=F =f|^c\n'
    """
    out = []
    for fed in input_units(tune, "abc", "accidentals"):
        segment, context = fed.split(bytes([CONTEXT]), 1)
        if _FIELD_LINE.match(segment):
            out.append(segment)
            continue
        marks = {}
        for mark, letters in _SIGNATURE_GROUP.findall(context.split(b",")[0]):
            marks.update({chr(x): mark for x in letters})

        def marked(m: re.Match, marks=marks) -> bytes:
            if m.group(1) is not None or m.group(2):  # a skipped part, or a note with its sign
                return m.group(0)
            return marks.get(m.group(3).decode().upper(), b"=") + m.group(3)

        out.append(_MARKED_NOTE.sub(marked, segment))
    return b"".join(out)


def file_bytes(data: bytes, ext: str, layout: str) -> bytes:
    """The file a model's output stands for: in the notes layout MIDI written around the note
    text (lines that are not note text dropped: `convert.notetext.note_text_errors` names
    them), else the bytes themselves."""
    if layout != "paper" and ext == "mid":
        return note_text_to_midi(data, lenient=True)
    return data


def pad_segments(segments: list[bytes]) -> np.ndarray:
    """Each segment padded with <eop> to a multiple of 16; empty segments are skipped."""
    parts = []
    for seg in segments:
        if seg:
            padded = np.full(-(-len(seg) // PATCH) * PATCH, EOP, dtype=np.int64)
            padded[: len(seg)] = np.frombuffer(seg, dtype=np.uint8)
            parts.append(padded)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def abc_segments(data: bytes) -> list[bytes]:
    """ABC bytes cut after every note, rest or chord; field and comment lines on their own.

    The segments joined give `data` back.
    """
    segments: list[bytes] = []
    pending = b""  # what stands before the next note
    for line in data.splitlines(keepends=True):
        if _FIELD_LINE.match(line) or not line.strip():
            if pending:
                segments.append(pending)
                pending = b""
            segments.append(line)
            continue
        start = 0
        for end in _note_ends(line):
            segments.append(pending + line[start:end])
            pending, start = b"", end
        pending += line[start:]
    if pending:
        segments.append(pending)
    return segments


def _note_ends(line: bytes):
    """Offsets just after every note, rest or chord of a body line (with length, broken-rhythm
    marks and tie), skipping chord symbols, decorations, grace notes, comments, inline fields."""
    i, n = 0, len(line)
    while i < n:
        byte = line[i]
        if byte == ord("%"):
            return
        if byte in _CLOSING:
            close = line.find(bytes([_CLOSING[byte]]), i + 1)
            i = n if close < 0 else close + 1
            continue
        if byte == ord("["):
            if i + 1 < n and line[i + 1] in _NOTE_START:  # a chord
                close = line.find(b"]", i + 1)
                i = n if close < 0 else close + 1
                yield _after_length(line, i)
                i = _after_length(line, i)
                continue
            close = line.find(b"]", i + 1) if _FIELD_LINE.match(line, i + 1) else -1
            i = i + 1 if close < 0 else close + 1  # an inline field, or `[1` / `[|`
            continue
        if byte in _NOTE_START:
            while i < n and line[i] in b"^_=":
                i += 1
            if i < n and line[i] in _NOTE_START:
                i += 1
            while i < n and line[i] in _OCTAVE:
                i += 1
            i = _after_length(line, i)
            yield i
            continue
        i += 1


def _after_length(line: bytes, i: int) -> int:
    """Past a length (`3/2`, `//`), broken-rhythm marks (`>`, `<<`) and a tie (`-`)."""
    n = len(line)
    while i < n and line[i] in _LENGTH:
        i += 1
    while i < n and line[i] in _BROKEN:
        i += 1
    if i < n and line[i] == ord("-"):
        i += 1
    return i


# ----------------------------------------------------------------------------- interleaved


_NOT_NOTES = re.compile(rb'"[^"]*"|![^!]*!|\+[^+\n]*\+|\{[^}]*\}|\[[A-Za-z]:[^\]]*\]|%.*')
_MAY_REPLAY = re.compile(rb":|\|\]|\|\|")  # a repeat sign or field, a part's end


def most_settled(segment: bytes) -> int | None:
    """The most note-text lines an ABC segment settles (`align`), when it cannot replay notes:
    its own notes (the letters outside annotations, decorations, grace notes and inline
    fields) and 2 held from before it (a note ended by its broken rhythm or tie). None for a
    segment that may replay what came before: a repeat sign (`:`), `|]` or `||` (which may end
    a part or start a repeat), a field. Over a tenth of the training tunes, 14 of 93,873
    segments that this bounds settle more (parts played again in tunes with `P:`).

    >>> most_settled(b" [CEG]2"), most_settled(b'"Am"{g}A>'), most_settled(b"|:G")
    (5, 3, None)
    """
    if _MAY_REPLAY.search(_NOT_NOTES.sub(b"", segment)):
        return None
    return own_notes(segment) + 2


def own_notes(segment: bytes) -> int:
    """The note letters of an ABC segment outside annotations, decorations, grace notes and
    inline fields.

    >>> own_notes(b'"Am"{g}A>B'), own_notes(b" :|[CEG]2")
    (2, 3)
    """
    return len(re.findall(rb"[A-Ga-g]", _NOT_NOTES.sub(b"", segment)))


@functools.lru_cache(maxsize=4096)  # a pair is read in both directions, and again each epoch
def align(abc: bytes, midi: bytes, rests: bool = False) -> tuple[list[bytes], list[list[bytes]]]:
    """The ABC segments of a tune and, for each, the note-text lines of its MIDI it settles.

    A line is settled by the first segment after which the tune's prefix converts (reference
    converter) to note text that agrees with the whole tune's up to that line: a note is
    settled once it is written out (a tied note when its tie ends, a repeat's second time
    when its `:|` is read). The groups joined are the MIDI's note text. With `rests` the note
    text has rest lines (`with_rests`), and a rest line is settled once the prefix, followed by
    a probe note, agrees with it: by the segment of its `z` (`z2 z2` makes one line, settled by
    the second).
    """
    segments = abc_segments(abc)
    final = units(midi, "mid", rests)
    groups: list[list[bytes]] = []
    settled, prefix = 0, b""
    for j, segment in enumerate(segments):
        prefix += segment
        agree = len(final) if j == len(segments) - 1 else _agreeing(prefix, final, rests)
        groups.append(final[settled : max(settled, agree)])
        settled = max(settled, agree)
    return segments, groups


def _agreeing(prefix: bytes, final: list[bytes], rests: bool = False) -> int:
    """How many leading lines of `final` the note text of an ABC prefix agrees with.

    A prefix without notes yet (the header) does not convert; its tempo, meter and key (and
    with `rests` a rest before the first note) are then those of the prefix and one probe
    note, whose own line never counts. With `rests`, a rest line next in `final` agrees when
    the prefix and a probe note give it."""

    def note_text(abc: str) -> list[bytes]:
        found = abc_to_note_text(abc)
        return (with_rests(found) if rests else found).encode().splitlines(keepends=True)

    text = prefix.decode("utf-8", errors="replace")
    try:
        n = _common(note_text(text), final)
    except AbcError:
        try:
            lines = note_text(text + "C\n")
        except AbcError:
            return 0
        kept = [x for x in lines if _META_LINE.match(x) or (rests and _REST_LINE.match(x))]
        return _common(kept, final)
    if rests and n < len(final) and _REST_LINE.match(final[n]):
        try:
            probed = _common(note_text(text + "C\n"), final)
        except AbcError:
            return n
        while n < probed and _REST_LINE.match(final[n]):
            n += 1
    return n


def _common(lines: list[bytes], final: list[bytes]) -> int:
    """How many leading lines the two lists share."""
    n = 0
    for a, b in zip(lines, final, strict=False):
        if a != b:
            break
        n += 1
    return n


def interleave(
    abc: bytes, midi: bytes, direction: str, layout: str = "interleaved"
) -> list[tuple[bytes, bool]]:
    """The units of a pair in the order the interleaved layout reads and writes them, each with
    True for what the model writes; every output group ends with `MARK`.

    abc->mid: each ABC segment, then the note-text lines it settles. mid->abc: each note-text
    line, then the ABC segments written once it is read: a segment whose lines end with this
    one, with the segments that settle nothing just before it (a rest is written with the note
    after it, whose dt shows it); segments after the last line go with the last line. In the
    context layouts each ABC segment is fed `with_context`; in `fields` each note-text line
    `as_field`; in `rests` the note text has rest lines (`align`), so a rest is written after
    its own line.
    """
    segments, groups = align(abc, midi, layout in REST_LAYOUTS)
    if direction == "abc->mid":
        fed = _abc_as_fed(segments, layout)
        if layout in REPLAY_LAYOUTS:
            replayed = with_replays(segments, groups, replay_labels(segments))
            if layout == "bars":  # (the rare tune with_bars cannot write keeps no bar lines)
                replayed = with_bars(segments, groups, replayed, bar_times(abc)) or replayed
            groups = replayed
        out: list[tuple[bytes, bool]] = []
        for segment, group in zip(fed, groups, strict=True):
            out.append((segment, False))
            out += _group(group)
        return out
    lines = [line for group in groups for line in group]
    after: list[list[bytes]] = [[] for _ in lines]
    waiting: list[bytes] = []
    end = 0
    for segment, group in zip(segments, groups, strict=True):
        waiting.append(segment)
        if group:
            end += len(group)
            after[end - 1] += waiting
            waiting = []
    if lines:
        after[-1] += waiting
    out = []
    for line, written in zip(lines, after, strict=True):
        out.append((as_field(line) if layout == "fields" else line, False))
        out += _group(written)
    return out


def _group(units_written: list[bytes]) -> list[tuple[bytes, bool]]:
    """An output group: its units, the last followed by MARK (MARK alone when empty)."""
    if not units_written:
        return [(bytes([MARK]), True)]
    return [(u, True) for u in units_written[:-1]] + [(units_written[-1] + bytes([MARK]), True)]


def interleaved_patches(units_in_order: list[tuple[bytes, bool]]) -> tuple[np.ndarray, np.ndarray]:
    """(values, written mask): every unit padded to whole patches."""
    values = pad_segments([u for u, _ in units_in_order])
    mask = np.concatenate(
        [np.full(-(-len(u) // PATCH) * PATCH, w, dtype=bool) for u, w in units_in_order if u]
    )
    return values, mask


def written_bytes(values) -> tuple[bytes, int]:
    """The bytes of written patches with padding and MARK dropped, and how many MARKs."""
    kept = [int(v) for v in values if v != EOP]
    return bytes(v for v in kept if v != MARK), kept.count(MARK)


# ----------------------------------------------------------------------------- replays

REPLAY_LINE = re.compile(rb"(\d+) @ (\d+)(?: (\d+))?\n?")
_BAR_SIGN = re.compile(rb"[|:]|\[\d")  # a bar line, repeat sign or ending


def has_bar_sign(segment: bytes) -> bool:
    """Whether an ABC segment (not a field line) holds a bar line, repeat sign or ending
    outside its annotations, decorations, grace notes and inline fields.

    >>> has_bar_sign(b" :|d"), has_bar_sign(b'"A:m"c'), has_bar_sign(b"[1 d2")
    (True, False, True)
    """
    return _BAR_SIGN.search(_NOT_NOTES.sub(b"", segment)) is not None


def replay_labels(segments: list[bytes]) -> list[int | None]:
    """The number the `repeats` layout gives an ABC segment, or None: the segments that may
    start or end a repeated span are numbered 1, 2, ... in order. Those are the segments with
    a bar line, repeat sign or ending (`|`, `:`, `[1`) outside annotations, and the first
    segment with a note after a field line (the start of the tune or of a part).

    >>> replay_labels([b"K:G\\n", b"G", b"A", b" |:B", b'"A:m"c', b" :|d"])
    [None, 1, None, 2, None, 3]
    """
    labels: list[int | None] = []
    count, after_field = 0, True
    for segment in segments:
        if _FIELD_LINE.match(segment) or not segment.strip():
            labels.append(None)
            after_field = True
            continue
        if has_bar_sign(segment) or after_field:
            count += 1
            labels.append(count)
        else:
            labels.append(None)
        after_field = False
    return labels


def _event(line: bytes) -> bytes:
    """A note-text line without its dt."""
    return line.split(b" ", 1)[-1]


def with_replays(
    segments: list[bytes], groups: list[list[bytes]], labels: list[int | None]
) -> list[list[bytes]]:
    """`align`'s groups with each repeat's second time written as a replay line: where the
    group of a segment that may replay (`most_settled` None) holds again the lines of the
    groups of segments labelled a up to (not with) the segment labelled b, those lines become
    ``dt @ a b``: dt the first replayed line's, the rest of them as written before; ``dt @ a``
    when the span ends at the segment being read (most repeats: a first ending ends it
    sooner). The longest such span is taken first; spans of one line stay as they are.
    `expand_replays` gives the groups back.

    >>> segments = [b"K:C\\n", b"|:C", b"D", b" :|E"]
    >>> groups = [[b"0 KC\\n"], [b"0 60 240\\n"], [b"240 62 240\\n"],
    ...           [b"240 60 240\\n", b"240 62 240\\n", b"240 64 240\\n"]]
    >>> with_replays(segments, groups, replay_labels(segments))[3]
    [b'240 @ 1\\n', b'240 64 240\\n']
    """
    starts, flat = [], []
    for group in groups:
        starts.append(len(flat))
        flat += group
    starts.append(len(flat))
    out: list[list[bytes]] = []
    for j, (segment, group) in enumerate(zip(segments, groups, strict=True)):
        if most_settled(segment) is not None or len(group) < 2:
            out.append(group)
            continue
        spans = [i for i in range(j + 1) if i == j or labels[i] is not None]
        new: list[bytes] = []
        i = 0
        while i < len(group):
            best = None  # (length, a, b)
            for a in spans[:-1]:
                start = starts[a]
                if start >= starts[j] or _event(flat[start]) != _event(group[i]):
                    continue
                n = 1
                while (
                    i + n < len(group) and start + n < starts[j] and group[i + n] == flat[start + n]
                ):
                    n += 1
                for b in spans:
                    length = starts[b] - start
                    if b > a and 1 < length <= n and (best is None or length > best[0]):
                        best = (length, a, b)
            if best is None:
                new.append(group[i])
                i += 1
                continue
            length, a, b = best
            dt = group[i].split(b" ", 1)[0]
            end = b"" if b == j else b" %d" % labels[b]
            new.append(b"%s @ %d%s\n" % (dt, labels[a], end))
            i += length
        out.append(new)
    return out


def expand_replays(
    groups: list[list[bytes]], labels: list[int | None]
) -> tuple[list[list[bytes]], int]:
    """The groups of a `repeats` output with every replay line ``dt @ a b`` replaced by the
    lines of the groups from the segment labelled a up to the one labelled b (``dt @ a``: up to
    the group's own segment; the lines as they stand expanded, the first with the given dt),
    and how many replay lines named no span before them: those
    stay as they are (not note text, which `note_text_to_midi(lenient=True)` drops and
    `note_text_errors` names). Group k is the group of segment k.

    >>> labels = [None, 1, None, 2]
    >>> groups = [[b"0 KC\\n"], [b"0 60 240\\n"], [b"240 62 240\\n"],
    ...           [b"240 @ 1 2\\n", b"240 64 240\\n"]]
    >>> expand_replays(groups, labels)[0][3]
    [b'240 60 240\\n', b'240 62 240\\n', b'240 64 240\\n']
    """
    where = {label: k for k, label in enumerate(labels) if label is not None}
    done: list[list[bytes]] = []
    dropped = 0
    for j, group in enumerate(groups):
        lines: list[bytes] = []
        for line in group:
            m = REPLAY_LINE.fullmatch(line)
            if m is None:
                lines.append(line)
                continue
            a = where.get(int(m.group(2)))
            b = j if m.group(3) is None else where.get(int(m.group(3)))
            span = [] if a is None or b is None or not a < b <= j else done[a:b]
            span = [x for lines_k in span for x in lines_k]
            if not span:
                dropped += 1
                lines.append(line)
                continue
            lines += [m.group(1) + b" " + _event(span[0]), *span[1:]]
        done.append(lines)
    return done, dropped


# ----------------------------------------------------------------------------- bar lines

BAR_LINE = re.compile(rb"\| (-?\d+)\n?")
_BAR_PART = re.compile(rb"(" + _SKIPPED + rb")|([|:]|\[\d)")


def _probe_time(prefix: bytes) -> int | None:
    """The time in ticks at the end of an ABC prefix, as the reference converter plays it: the
    onset of a note put after it (None when the prefix does not convert)."""
    try:
        text = abc_to_note_text(prefix.decode("utf-8", errors="replace") + "C\n")
    except AbcError:
        return None
    now, found = 0, None
    for line in text.splitlines():
        dt, _, event = line.partition(" ")
        if not dt.isdigit():  # `track`: several voices, each timed from 0 (no bar lines)
            return None
        now += int(dt)
        if event[:1].isdigit():
            found = now
    return found


@functools.lru_cache(maxsize=4096)
def bar_times(abc: bytes) -> tuple[tuple[int, int] | None, ...]:
    """For each ABC segment with a bar line, repeat sign or ending (outside annotations, as
    `replay_labels` finds them), the time in ticks where it stands, before and after what it
    plays again (the same for a sign that cannot replay, `most_settled`); None for the others
    and where the prefix does not convert. Times are the reference converter's: the onset of a
    probe note after the prefix.

    >>> bar_times(b"X:1\\nL:1/8\\nK:C\\nC2 D2 | E2 :|F\\n")[3:7]
    (None, None, (960, 960), (1440, 2880))
    """
    out: list[tuple[int, int] | None] = []
    prefix = b""
    for segment in abc_segments(abc):
        times = None
        if not _FIELD_LINE.match(segment) and segment.strip() and has_bar_sign(segment):
            ends = [m.end() for m in _BAR_PART.finditer(segment) if m.group(2)]
            if ends:  # (the bar part read up to its last sign)
                before = _probe_time(prefix)
                replays = most_settled(segment) is None
                after = _probe_time(prefix + segment[: ends[-1]]) if replays else before
                if before is not None and after is not None:
                    times = (before, after)
        out.append(times)
        prefix += segment
    return tuple(out)


def _run_bars(lines: list[bytes], clock: int, bar: int, last: int) -> tuple[int, int, int, list]:
    """Lines of `bars` note text read from a state (clock: the time dt counts from; bar: the
    time the last bar line set; last: the previous line's onset): the new state and the lines
    as plain note text (dt from the line before). A bar line ``| L`` moves the bar on by L
    ticks and sets the clock there; any other line starts dt after the clock. A line that
    does not start with a number is kept as it is."""
    plain = []
    for line in lines:
        m = BAR_LINE.fullmatch(line)
        if m is not None:
            bar += int(m.group(1))
            clock = bar
            continue
        dt, sep, event = line.partition(b" ")
        try:
            onset = clock + int(dt)
        except ValueError:
            plain.append(line)
            continue
        plain.append(b"%d%s%s" % (onset - last, sep, event))
        clock = last = onset
    return clock, bar, last, plain


def _play(
    span: list[bytes], dt: int, clock: int, bar: int, last: int
) -> tuple[int, int, int, list[bytes]]:
    """A span of `bars` lines played again from a state, its first line `dt` after the clock
    (`_run_bars`' state and plain lines). The bar lines the span starts with are left out, and
    the bar is set so that its first line stands as far from the bar as the first time (the
    span's bar lines then fall as they did)."""
    from_bar = False
    while span and BAR_LINE.fullmatch(span[0]):
        span, from_bar = span[1:], True
    first_dt, _, event = span[0].partition(b" ")
    onset = clock + dt
    bar = onset - int(first_dt) if from_bar else onset
    plain = [b"%d %s" % (onset - last, event)]
    clock, bar, last, rest = _run_bars(span[1:], onset, bar, onset)
    return clock, bar, last, plain + rest


def _replayed_span(line: bytes, j: int, where: dict, played: list[list[bytes]]) -> list[bytes]:
    """The `bars` lines a replay line in group j plays (empty when it names no span): those of
    the groups from the one labelled a up to the one labelled b, replays in them played."""
    m = REPLAY_LINE.fullmatch(line)
    if m is None:
        return []
    a = where.get(int(m.group(2)))
    b = j if m.group(3) is None else where.get(int(m.group(3)))
    if a is None or b is None or not a < b <= j or None in played[a:b]:
        return []  # (a span with a replay of its own is not played again: not written so)
    span = [x for g in played[a:b] for x in g]
    return span if any(not BAR_LINE.fullmatch(x) for x in span) else []


def expand_bars(
    groups: list[list[bytes]], labels: list[int | None]
) -> tuple[list[list[bytes]], int]:
    """The groups of a `bars` output as plain note text: replay lines played (`_play`), bar
    lines read and dropped, every dt from the line before; and how many replay lines named no
    span (kept as they are, as `expand_replays` keeps them).

    >>> groups = [[b"0 KC\\n"], [b"0 60 480\\n"], [b"| 960\\n", b"0 62 480\\n"]]
    >>> expand_bars(groups, [None, 1, 2])[0]
    [[b'0 KC\\n'], [b'0 60 480\\n'], [b'960 62 480\\n']]
    """
    where = {label: k for k, label in enumerate(labels) if label is not None}
    played: list[list[bytes] | None] = []  # None: a group with a replay line
    out: list[list[bytes]] = []
    clock = bar = last = dropped = 0
    for j, group in enumerate(groups):
        plain: list[bytes] = []
        replays = False
        group = _bars_early(group)
        for line in group:
            span = _replayed_span(line, j, where, played) if REPLAY_LINE.fullmatch(line) else []
            if span:
                dt = int(line.split(b" ", 1)[0])
                clock, bar, last, lines = _play(span, dt, clock, bar, last)
                replays = True
            else:
                dropped += REPLAY_LINE.fullmatch(line) is not None
                clock, bar, last, lines = _run_bars([line], clock, bar, last)
            plain += lines
        played.append(None if replays else group)
        out.append(plain)
    return out, dropped


def with_bars(
    segments: list[bytes],
    groups: list[list[bytes]],
    replayed: list[list[bytes]],
    times: tuple[tuple[int, int] | None, ...],
) -> list[list[bytes]] | None:
    """The groups of the `bars` layout, ABC -> MIDI: `replayed` (`with_replays` of `groups`,
    `align`'s) with a bar line ``| L`` first in the group of every segment with a bar sign
    (`bar_times`): L the ticks since the last bar line, so that the clock is right again at
    every bar whatever went before; a line after a bar line gives its dt from the bar line.
    Where a segment plays a span again, a second bar line after the replay lines sets the
    clock at the end of the span played again. None when the result would not give `groups`
    back through `expand_bars`: a tune of several voices, a span played again that holds a
    replay of its own (1 of 500 training tunes, docs/conversion.md).
    """
    labels = replay_labels(segments)
    where = {label: k for k, label in enumerate(labels) if label is not None}
    onsets, now = [], 0
    for group in groups:
        onsets.append([])
        for line in group:
            dt = line.split(b" ", 1)[0]
            if not dt.isdigit():  # `track`: several voices (no bar lines)
                return None
            now += int(dt)
            onsets[-1].append(now)
    out: list[list[bytes]] = []
    played: list[list[bytes] | None] = []  # as in expand_bars
    clock = bar = last = 0
    for j, group in enumerate(replayed):
        new: list[bytes] = []
        k = 0  # the next of groups[j]'s lines
        after = None
        if times[j] is not None:
            before, after = times[j]
            new.append(b"| %d\n" % (before - bar))
            clock = bar = before
            after = None if after == before else after
        replays = False
        for line in group:
            if k >= len(onsets[j]):
                return None
            onset = onsets[j][k]
            is_replay = REPLAY_LINE.fullmatch(line) is not None
            if after is not None and not is_replay and onset >= after:
                new.append(b"| %d\n" % (after - bar))
                clock = bar = after
                after = None
            if not is_replay:
                new.append(b"%d %s" % (onset - clock, line.split(b" ", 1)[1]))
                clock = last = onset
                k += 1
                continue
            replay = b"%d @ %s" % (onset - clock, line.split(b" @ ", 1)[1])
            span = _replayed_span(replay, j, where, played)
            if not span:
                return None
            new.append(replay)
            clock, bar, last, plain = _play(span, onset - clock, clock, bar, last)
            k += len(plain)
            replays = True
        if after is not None:
            new.append(b"| %d\n" % (after - bar))
            clock = bar = after
        out.append(new)
        played.append(None if replays else new)
    out = [_bars_late(group) for group in out]
    if expand_bars(out, labels)[0] != groups:
        return None
    return out


def _bars_late(group: list[bytes]) -> list[bytes]:
    """A group as the model writes it: a bar line that starts it after the line that follows,
    so that the line a unit settles first still comes right after the unit (its copy path,
    `prev_patch`); `_bars_early` puts it back."""
    if len(group) > 1 and BAR_LINE.fullmatch(group[0]) and not BAR_LINE.fullmatch(group[1]):
        return [group[1], group[0], *group[2:]]
    return group


def _bars_early(group: list[bytes]) -> list[bytes]:
    """A group as `_bars_late` wrote it, its bar line back first."""
    if len(group) > 1 and BAR_LINE.fullmatch(group[1]) and not BAR_LINE.fullmatch(group[0]):
        return [group[1], group[0], *group[2:]]
    return group
