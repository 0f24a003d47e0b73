"""MIDI bytes -> a note list (onset, pitch, duration) in quarter notes.

Used by ``bytesim midi2notes`` and by every comparison. Tracks are merged; a note-on is
matched with the first following note-off (or velocity-0 note-on) of the same channel and
pitch, first in first out. Notes never switched off end at the end of their track.

>>> from convert import abc_to_midi
>>> midi_to_notes(abc_to_midi("X:1\\nL:1/4\\nK:C\\nC/D/\\n"))
[(0.0, 60, 0.5), (0.5, 62, 0.5)]
"""

from __future__ import annotations

import io

import mido

Note = tuple[float, int, float]


class MidiError(Exception):
    """Bytes that are not a readable MIDI file."""


def midi_to_notes(data: bytes, *, channels: frozenset[int] | None = None) -> list[Note]:
    """Notes of a MIDI file sorted by (onset, pitch); ``channels`` keeps only those channels."""
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise MidiError(f"not a readable MIDI file: {exc}") from None
    return _notes(midi, channels)


def _notes(midi: mido.MidiFile, channels: frozenset[int] | None) -> list[Note]:
    per_quarter = float(midi.ticks_per_beat)
    notes: list[Note] = []
    for track in midi.tracks:
        now = 0
        sounding: dict[tuple[int, int], list[int]] = {}
        for message in track:
            now += message.time
            if message.type not in ("note_on", "note_off"):
                continue
            if channels is not None and message.channel not in channels:
                continue
            key = (message.channel, message.note)
            if message.type == "note_on" and message.velocity > 0:
                sounding.setdefault(key, []).append(now)
            elif sounding.get(key):
                start = sounding[key].pop(0)
                notes.append((start / per_quarter, message.note, (now - start) / per_quarter))
        for (_, pitch), starts in sounding.items():
            for start in starts:
                notes.append((start / per_quarter, pitch, (now - start) / per_quarter))
    notes.sort()
    return notes
