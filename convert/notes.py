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

from convert.midi import END_OF_TRACK

Note = tuple[float, int, float]


class MidiError(Exception):
    """Bytes that are not a readable MIDI file."""


def midi_to_notes(data: bytes, *, channels: frozenset[int] | None = None) -> list[Note]:
    """Notes of a MIDI file sorted by (onset, pitch); ``channels`` keeps only those channels."""
    return _notes(read_midi(data), channels)


def read_midi(data: bytes) -> mido.MidiFile:
    """The parsed MIDI file, or MidiError with mido's words (empty when mido gives none: see
    :func:`unreadable_reason`)."""
    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise MidiError(f"not a readable MIDI file: {exc}") from None


def unreadable_reason(data: bytes) -> str:
    """Why ``data`` cannot be read when mido's error says nothing (it ends early).

    >>> unreadable_reason(b"")
    'empty file'
    >>> unreadable_reason(b"MThd\\x00\\x00")
    'the file ends early (after 6 bytes)'
    """
    if not data:
        return "empty file"
    layout = midi_layout_error(data) if len(data) >= 14 else None  # shorter: no whole header
    return layout or f"the file ends early (after {len(data)} bytes)"


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


def midi_layout_error(data: bytes) -> str | None:
    """Why ``data`` is not laid out as a Standard MIDI File says it must be, or None.

    Checks the chunk structure only, as a strict reader would and mido does not: an ``MThd``
    chunk, then as many ``MTrk`` chunks as it announces, each exactly as long as its header
    states and ending with the end-of-track event (``FF 2F 00``), and nothing after the last
    one. (mido reads a track until it has consumed its stated length and ignores what follows
    the last track, so a track that states fewer bytes than it holds can still be read, with
    its tail dropped.) The events themselves are left to a reader such as ``midi_to_notes``.

    >>> from convert import abc_to_midi
    >>> midi = abc_to_midi("X:1\\nL:1/4\\nK:C\\nCDEF|\\n")
    >>> midi_layout_error(midi) is None
    True
    >>> midi_layout_error(midi + b"\\x00")
    'track 0 states 61 bytes (at byte offset 18) but 62 follow'
    """
    n = len(data)
    if n < 14 or data[:4] != b"MThd":
        return "no MThd header chunk"
    pos = 8 + int.from_bytes(data[4:8], "big")
    tracks = int.from_bytes(data[10:12], "big")
    for track in range(tracks):
        if data[pos : pos + 4] != b"MTrk" or pos + 8 > n:
            return f"track {track}: no MTrk chunk at byte offset {pos}"
        size = int.from_bytes(data[pos + 4 : pos + 8], "big")
        end = pos + 8 + size
        if end > n or (track == tracks - 1 and end != n):
            return (
                f"track {track} states {size} bytes (at byte offset {pos + 4}) "
                f"but {n - pos - 8} follow"
            )
        if size < 3 or data[end - 3 : end] != END_OF_TRACK:
            return f"track {track} does not end with end-of-track at its stated end (byte {end})"
        pos = end
    if pos < n:
        return f"{n - pos} bytes after the header and its {tracks} tracks (byte offset {pos})"
    return None


def restate_track_lengths(data: bytes) -> bytes:
    """``data`` with each ``MTrk`` length re-stated as the bytes up to its end-of-track event.

    A writer must state a track's length before its events; a model that writes MIDI byte by
    byte guesses it. This re-states every track's length from its events, walking them from the
    ``MTrk`` tag to the first end-of-track meta event (``FF 2F 00``) as a reader would; the next
    track is looked for right after it. Tracks from the first one without an end-of-track event
    (or without an ``MTrk`` tag where one is due) keep the length they state. Bytes, order and
    events are otherwise unchanged: a file ``midi_layout_error`` passes comes back as it was.

    >>> from convert import abc_to_midi
    >>> midi = abc_to_midi("X:1\\nL:1/4\\nK:C\\nCDEF|\\n")
    >>> wrong = midi[:18] + (7).to_bytes(4, "big") + midi[22:]
    >>> midi_layout_error(wrong)
    'track 0 states 7 bytes (at byte offset 18) but 61 follow'
    >>> restate_track_lengths(wrong) == midi
    True
    """
    from convert.roles import midi_byte_roles

    out = bytearray(data)
    n = len(out)
    if n < 14 or out[:4] != b"MThd":
        return bytes(data)
    pos = 8 + int.from_bytes(out[4:8], "big")
    for _ in range(int.from_bytes(out[10:12], "big")):
        if pos + 8 > n or out[pos : pos + 4] != b"MTrk":
            break
        stated = bytes(out[pos + 4 : pos + 8])
        out[pos + 4 : pos + 8] = (n - pos - 8).to_bytes(4, "big")  # walk to the end of the file
        roles = midi_byte_roles(bytes(out))
        end = next(
            (
                i + 3
                for i in range(pos + 9, n - 2)
                if roles[i] == "meta" and roles[i - 1] == "delta" and out[i : i + 3] == END_OF_TRACK
            ),
            None,
        )
        if end is None:
            out[pos + 4 : pos + 8] = stated
            break
        out[pos + 4 : pos + 8] = (end - pos - 8).to_bytes(4, "big")
        pos = end
    return bytes(out)
