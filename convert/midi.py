"""A Score -> canonical Standard MIDI File bytes, written with mido.

Canonical means the same score always gives the same bytes: 480 ticks per quarter;
format 0 (one track) for one voice, format 1 with one track per voice otherwise, the
tempo, time-signature and key-signature meta events in the first track; every note on
channel 0 with velocity 80; at equal ticks meta events come first, then note-offs, then
note-ons, each in ascending pitch; no names, texts or other copied fields.

A one-note tune, ``X:1 / L:1/4 / K:C / C``, becomes this track (delta ticks first)::

    0 set_tempo 500000, 0 time_signature 4/4, 0 key_signature C,
    0 note_on 60 80, 480 note_off 60 0, 0 end_of_track
"""

from __future__ import annotations

import io

import mido

from convert.events import QUARTER, Score

TICKS_PER_QUARTER = 480
VELOCITY = 80
CHANNEL = 0


def to_ticks(time: int) -> int:
    """WHOLE-unit time -> MIDI ticks, rounded to the nearest tick (halves up)."""
    return (time * TICKS_PER_QUARTER + QUARTER // 2) // QUARTER


def score_to_midi(score: Score) -> bytes:
    """Encode a score as MIDI file bytes (see the module docstring for the layout)."""
    tracks = []
    for number, voice in enumerate(score.voices):
        events: list[tuple[int, int, int, mido.Message | mido.MetaMessage]] = []
        if number == 0:
            for order, (time, kind, value) in enumerate(score.metas):
                message = _meta(kind, value)
                if message is not None:
                    events.append((to_ticks(time), 0, order, message))
        for onset, pitch, length in voice.notes:
            on = to_ticks(onset)
            off = max(to_ticks(onset + length), on + 1)
            events.append((on, 2, pitch, mido.Message("note_on", note=pitch, velocity=VELOCITY)))
            events.append((off, 1, pitch, mido.Message("note_off", note=pitch, velocity=0)))
        events.sort(key=lambda event: event[:3])
        track = mido.MidiTrack()
        now = 0
        for tick, _, _, message in events:
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        tracks.append(track)
    midi = mido.MidiFile(type=0 if len(tracks) == 1 else 1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.extend(tracks)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


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
