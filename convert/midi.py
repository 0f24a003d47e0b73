"""A Score -> canonical Standard MIDI File bytes, byte for byte what mido's writer produces.

Canonical means the same score always gives the same bytes: 480 ticks per quarter;
format 0 (one track) for one voice, format 1 with one track per voice otherwise, the
tempo, time-signature and key-signature meta events in the first track; every note on
channel 0 with velocity 80; at equal ticks meta events come first, then note-offs, then
note-ons, each in ascending pitch; no names, texts or other copied fields.

A one-note tune, ``X:1 / L:1/4 / K:C / C``, becomes this track (delta ticks first)::

    0 set_tempo 500000, 0 time_signature 4/4, 0 key_signature C,
    0 note_on 60 80, 480 note_off 60 0, 0 end_of_track

``score_to_midi`` encodes meta events with mido and note events directly (fast);
``score_to_midi_mido`` builds the whole file with mido. Tests assert both are identical.
"""

from __future__ import annotations

import io
import struct

import mido

from convert.events import QUARTER, Score

END_OF_TRACK = b"\xff\x2f\x00"  # the meta event every track ends with

TICKS_PER_QUARTER = 480
VELOCITY = 80
CHANNEL = 0


def to_ticks(time: int) -> int:
    """WHOLE-unit time -> MIDI ticks, rounded to the nearest tick (halves up)."""
    return (time * TICKS_PER_QUARTER + QUARTER // 2) // QUARTER


def score_to_events(score: Score) -> list[list[tuple[int, int, int, object]]]:
    """Per track, the sorted events (tick, rank, key, message); rank 0 meta, 1 off, 2 on.

    Note messages are (status, pitch, velocity) tuples; meta events are mido MetaMessages.
    """
    tracks = []
    for number, voice in enumerate(score.voices):
        events: list[tuple[int, int, int, object]] = []
        if number == 0:
            for order, (time, kind, value) in enumerate(score.metas):
                message = _meta(kind, value)
                if message is not None:
                    events.append((to_ticks(time), 0, order, message))
        for onset, pitch, length in voice.notes:
            on = to_ticks(onset)
            off = max(to_ticks(onset + length), on + 1)
            events.append((on, 2, pitch, (0x90 | CHANNEL, pitch, VELOCITY)))
            events.append((off, 1, pitch, (0x80 | CHANNEL, pitch, 0)))
        events.sort(key=lambda event: event[:3])
        tracks.append(events)
    return tracks


def score_to_midi(score: Score) -> bytes:
    """Encode a score as MIDI file bytes (see the module docstring for the layout).

    Meta events are encoded by mido; note events are encoded here, byte for byte as
    mido's writer does (running status included), because building a mido Message per
    note costs 6x the whole conversion. ``score_to_midi_mido`` is the all-mido reference
    and the tests assert both give identical bytes.
    """
    tracks = score_to_events(score)
    out = bytearray(b"MThd\x00\x00\x00\x06")
    out += struct.pack(">hhh", 0 if len(tracks) == 1 else 1, len(tracks), TICKS_PER_QUARTER)
    for events in tracks:
        data = bytearray()
        now = 0
        running = None
        for tick, _, _, message in events:
            data += _DELTAS[tick - now] if tick - now < 128 else _variable_int(tick - now)
            now = tick
            if type(message) is tuple:
                if message[0] != running:
                    data.append(message[0])
                    running = message[0]
                data.append(message[1])
                data.append(message[2])
            else:
                data += bytes(message.bytes())
                running = None
        data += b"\x00" + END_OF_TRACK  # delta 0
        out += b"MTrk" + struct.pack(">L", len(data)) + data
    return bytes(out)


def score_to_midi_mido(score: Score) -> bytes:
    """The same bytes as ``score_to_midi``, built from mido Messages and MidiFile.save."""
    tracks = []
    for events in score_to_events(score):
        track = mido.MidiTrack()
        now = 0
        for tick, _, _, message in events:
            if type(message) is tuple:
                kind = "note_on" if message[0] & 0xF0 == 0x90 else "note_off"
                message = mido.Message(
                    kind, channel=message[0] & 0x0F, note=message[1], velocity=message[2]
                )
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        tracks.append(track)
    midi = mido.MidiFile(type=0 if len(tracks) == 1 else 1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.extend(tracks)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _variable_int(value: int) -> bytes:
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


_DELTAS = [bytes([value]) for value in range(128)]


def _meta(kind: str, value: object) -> mido.MetaMessage | None:
    if kind == "tempo":
        return mido.MetaMessage("set_tempo", tempo=round(60_000_000 / float(value)))
    if kind == "meter":
        numerator, denominator = value
        if denominator & (denominator - 1) or numerator > 255:
            return None  # MIDI can only write power-of-two denominators
        return mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)
    if kind == "key":
        return mido.MetaMessage("key_signature", key=value.midi_name)
    return None
