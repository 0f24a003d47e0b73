"""MIDI as note text: one line per note or meta event, the form a byte model writes instead of
the binary file (the program writes the file: `note_text_to_midi`).

Every line is ``<dt> <event>``, dt the ticks since the previous line of the same track (480 per
quarter, as the canonical file). Events:

- a note: ``<pitch> <duration>`` (MIDI key number, ticks from its note-on to its note-off);
- ``T<microseconds per quarter>`` (set_tempo), ``M<n>/<d>`` (time_signature), ``K<key>``
  (key_signature, mido's name: ``D``, ``Bm``, ``Eb``);
- ``track`` (no dt): the next track begins, its time back at 0;
- ``z <duration>``: a rest, where no note sounds (`with_rests` writes them; the MIDI file holds
  nothing for it, and the next line's dt counts from its start).

Notes are listed by onset, then pitch; a note's line comes after the meta events of its tick.
The one-note file of ``convert.midi``'s docstring (``X:1 / L:1/4 / K:C / C``) reads::

    0 T500000
    0 M4/4
    0 KC
    0 60 480

Lossless for the canonical files ``convert.score_to_midi`` writes: `note_text_to_midi` gives
them back byte for byte (channel 0, velocity 80). Of any other MIDI file it keeps the notes,
tempo, meter and key and drops the rest (channels, velocities, programs, controllers, texts).
Every line fits one 16-byte patch (``99999 127 99999`` and a line end are 16 bytes), which is
why the model's `notes` layout gives each line a patch of its own.
"""

from __future__ import annotations

import re
import struct

import mido

from convert import first_tune
from convert.events import Score, tune_to_score
from convert.midi import END_OF_TRACK, TICKS_PER_QUARTER, VELOCITY, _variable_int, to_ticks
from convert.midi import _meta as _score_meta
from convert.notes import read_midi


class NoteTextError(ValueError):
    """Note text that cannot be written as MIDI; the message names the line."""


_META_TYPES = {"set_tempo": "T", "time_signature": "M", "key_signature": "K"}


def midi_to_note_text(data: bytes) -> str:
    """The note text of a MIDI file (see the module docstring); MidiError if unreadable."""
    midi = read_midi(data)
    scale = TICKS_PER_QUARTER / midi.ticks_per_beat
    lines: list[str] = []
    for number, track in enumerate(midi.tracks):
        if number:
            lines.append("track")
        events = _track_events(track, scale)
        now = 0
        for tick, text in events:
            lines.append(f"{tick - now} {text}")
            now = tick
    return "".join(line + "\n" for line in lines)


def _track_events(track, scale: float) -> list[tuple[int, str]]:
    """(tick, event text) of one track, metas in file order before the notes of their tick."""
    now = 0
    metas: list[tuple[int, int, int, str]] = []
    notes: list[tuple[int, int, int, str]] = []
    sounding: dict[tuple[int, int], list[int]] = {}
    for message in track:
        now += message.time
        tick = round(now * scale)
        if message.type in _META_TYPES:
            metas.append((tick, 0, len(metas), _META_TYPES[message.type] + _meta_value(message)))
        elif message.type == "note_on" and message.velocity > 0:
            sounding.setdefault((message.channel, message.note), []).append(tick)
        elif message.type in ("note_on", "note_off"):
            starts = sounding.get((message.channel, message.note))
            if starts:
                start = starts.pop(0)
                notes.append((start, 1, message.note, f"{message.note} {tick - start}"))
    end = round(now * scale)
    for (_, pitch), starts in sounding.items():  # never switched off: they end with the track
        notes += [(start, 1, pitch, f"{pitch} {end - start}") for start in starts]
    return [(tick, text) for tick, _, _, text in sorted(metas + notes)]


def _meta_value(message) -> str:
    if message.type == "set_tempo":
        return str(message.tempo)
    if message.type == "time_signature":
        return f"{message.numerator}/{message.denominator}"
    return message.key


_NOTE = re.compile(r"(\d{1,5}) (\d{1,3}) (\d{1,6})")
_REST = re.compile(r"(\d{1,5}) z (\d{1,6})")
_META = re.compile(r"(\d{1,5}) ([TMK])(\S+)")


def note_text_to_midi(text: str | bytes, lenient: bool = False) -> bytes:
    """Canonical MIDI bytes of a note text; NoteTextError naming the first bad line, or with
    `lenient` the bad lines dropped (`note_text_errors` lists them)."""
    tracks, errors = _parse(text, stop_at_error=not lenient)
    if errors and not lenient:
        raise NoteTextError(errors[0])
    return _write(tracks)


def note_text_errors(text: str | bytes) -> list[str]:
    """One message per line that is not note text (a model's output may hold some)."""
    return _parse(text, stop_at_error=False)[1]


def _parse(text: str | bytes, stop_at_error: bool):
    """(events per track, messages of the bad lines)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    tracks: list[list[tuple[int, int, int, object]]] = [[]]
    errors: list[str] = []
    now = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line == "track":
            tracks.append([])
            now = 0
        elif line.strip():
            try:
                now = _add_line(tracks[-1], line, now)
            except NoteTextError as e:
                errors.append(f"line {number}: {e}")
                if stop_at_error:
                    break
    return tracks, errors


def _add_line(events: list, line: str, now: int) -> int:
    """Add one note or meta line's events at `now` + its dt; returns the new time."""
    note = _NOTE.fullmatch(line)
    if note:
        dt, pitch, length = map(int, note.groups())
        if pitch > 127 or length < 1:
            raise NoteTextError(f"{line!r}: a note needs pitch 0..127 and duration >= 1")
        now += dt
        events.append((now, 2, pitch, (0x90, pitch, VELOCITY)))
        events.append((now + length, 1, pitch, (0x80, pitch, 0)))
        return now
    rest = _REST.fullmatch(line)
    if rest:
        return now + int(rest.group(1))
    meta = _META.fullmatch(line)
    if not meta:
        raise NoteTextError(f"{line!r} is neither a note, a rest, a meta event nor 'track'")
    message = _meta(meta.group(2), meta.group(3))
    now += int(meta.group(1))
    events.append((now, 0, len(events), message))
    return now


def _meta(kind: str, value: str) -> mido.MetaMessage:
    try:
        if kind == "T":
            return mido.MetaMessage("set_tempo", tempo=int(value))
        if kind == "M":
            numerator, denominator = (int(v) for v in value.split("/"))
            return mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)
        return mido.MetaMessage("key_signature", key=value)
    except (ValueError, TypeError) as exc:
        raise NoteTextError(f"{kind}{value}: {exc}") from None


def _write(tracks: list[list[tuple[int, int, int, object]]]) -> bytes:
    """Events (tick, rank, key, message) per track -> canonical MIDI (as `score_to_midi`)."""
    out = bytearray(b"MThd\x00\x00\x00\x06")
    out += struct.pack(">hhh", 0 if len(tracks) == 1 else 1, len(tracks), TICKS_PER_QUARTER)
    for events in tracks:
        events.sort(key=lambda event: event[:3])
        data = bytearray()
        now, running = 0, None
        for tick, _, _, message in events:
            data += _variable_int(tick - now) if tick - now else b"\x00"
            now = tick
            if isinstance(message, tuple):
                if message[0] != running:
                    data.append(message[0])
                    running = message[0]
                data += bytes(message[1:])
            else:
                data += bytes(message.bytes())
                running = None
        data += b"\x00" + END_OF_TRACK
        out += b"MTrk" + struct.pack(">L", len(data)) + data
    return bytes(out)


def score_to_note_text(score: Score) -> str:
    """The note text of `score_to_midi(score)`, built from the score (no MIDI file between)."""
    lines: list[str] = []
    for number, voice in enumerate(score.voices):
        if number:
            lines.append("track")
        events: list[tuple[int, int, int, str]] = []
        if number == 0:
            for order, (time, kind, value) in enumerate(score.metas):
                message = _score_meta(kind, value)
                if message is not None:
                    text = _META_TYPES[message.type] + _meta_value(message)
                    events.append((to_ticks(time), 0, order, text))
        for onset, pitch, length in voice.notes:
            on = to_ticks(onset)
            off = max(to_ticks(onset + length), on + 1)
            events.append((on, 1, pitch, f"{pitch} {off - on}"))
        now = 0
        for tick, _, _, text in sorted(events):
            lines.append(f"{tick - now} {text}")
            now = tick
    return "".join(line + "\n" for line in lines)


def abc_to_note_text(text: str) -> str:
    """The note text of the first tune of an ABC text (as `convert.abc_to_midi` reads it);
    AbcError when it cannot be converted."""
    return score_to_note_text(tune_to_score(first_tune(text)))


def with_rests(text: str) -> str:
    """Note text with a rest line (``<dt> z <duration>``) wherever no note sounds before the next
    one starts: at the end of the notes so far (after the meta lines of that tick), lasting to
    the next note's onset, which then counts its dt from the rest. A rest line stands for time
    alone, so `note_text_to_midi` gives the same file with or without them; an ABC rest (``z2``)
    then has a line of its own, as a note has. No rest ends a track (the file holds no time
    after its last note). Rest lines already there are written anew; NoteTextError names a line
    that is not note text.

    >>> print(with_rests("0 KG\\n480 67 240\\n480 69 480\\n"), end="")
    0 KG
    0 z 480
    480 67 240
    240 z 240
    240 69 480
    """
    out: list[str] = []
    for number, track in enumerate(text.split("track\n")):
        if number:
            out.append("track")
        events: list[tuple[int, int, int, str]] = []  # (tick, rank, order, event text)
        now = end = 0
        for order, line in enumerate(track.splitlines(), start=1):
            if not line.strip():
                continue
            note, rest, meta = _NOTE.fullmatch(line), _REST.fullmatch(line), _META.fullmatch(line)
            if not (note or rest or meta):
                raise NoteTextError(f"{line!r} is neither a note, a rest, a meta event nor 'track'")
            now += int(line.split(" ", 1)[0])
            if note:
                if now > end:
                    events.append((end, 1, order, f"z {now - end}"))
                end = max(end, now + int(note.group(3)))
            if not rest:
                events.append((now, 0, order, line.split(" ", 1)[1]))
        tick = 0
        for at, _, _, event in sorted(events):
            out.append(f"{at - tick} {event}")
            tick = at
    return "".join(line + "\n" for line in out)
