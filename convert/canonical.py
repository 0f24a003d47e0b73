"""A tune's MIDI with its written form taken out: the same tune written another way gives the
same bytes.

The same jig can be written in 6/8 or 12/8, a reel in 2/2, 4/4 or 2/4 with notes half as long,
any tune in any key, with any unit length and tempo. A classifier reading the MIDI that
abc2midi (or bytesim's reference converter) writes sees all of those as different bytes, and
learns the writing habits of its training collections instead of the music. ``canonical_midi``
rewrites a MIDI file so that these choices leave no trace:

1. **meter**: the first time signature n/d becomes one of four: *compound* meters (n a multiple
   of 3, at least 6: 6/8, 9/8, 12/8, 6/4) have n/3 beats, others n beats; an even number of
   beats is written 6/8 (compound) or 2/4 (simple), three beats 9/8 or 3/4, any other count
   b as b*3/8 or b/4. No time signature reads as 4/4 (the MIDI default). 6/8 and 12/8 both
   give 6/8; 2/2, 4/4, C, C| and 2/4 all give 2/4;
2. **time scale**: the most frequent note duration (the shortest of equally frequent ones)
   becomes an eighth note (``UNIT`` = 48 ticks at 96 per quarter), every onset and duration
   scaled with it and rounded to a tick (at least one tick long). A reel in 2/4 written in
   sixteenths and the same reel in 2/2 in eighths give the same notes;
3. **key**: the notes are transposed by the t in 0..11 that puts the most of them on the
   white keys (C D E F G A B: any diatonic mode of any key becomes one with no sharps or
   flats), ties going to the transposition whose pitch-class counts, then pitch classes in
   time order, are greatest in lexicographic order; then by whole octaves so that the median
   pitch (the lower middle one) is in ``MEDIAN_RANGE`` 66..77. Both choices depend only on
   the notes' pitch classes, their order and the median, so a tune transposed by any interval
   gives exactly the same pitches;
4. **everything else goes**: tempo, key signature, text, program, channel, velocity (all 80).

What stays is the sequence of notes (onsets, durations, pitches, chords) and the meter class.
The result is a format-0 MIDI file: header, one track with the time signature, note-on events
(a note-off is a note-on of velocity 0, running status), end of track; at equal ticks note
ends come before note starts, each in pitch order.

>>> from convert import abc_to_midi
>>> a = abc_to_midi("X:1\\nM:6/8\\nL:1/8\\nK:D\\nFAd fed|cBA dAF|\\n")
>>> b = abc_to_midi("X:1\\nM:12/8\\nL:1/16\\nQ:1/4=80\\nK:G\\nB2d2g2 b2a2g2 f2e2d2 g2d2B2|\\n")
>>> canonical_midi(a) == canonical_midi(b)
True
"""

from __future__ import annotations

import io
from collections import Counter
from fractions import Fraction

import mido

from convert.midi import _variable_int

TICKS_PER_QUARTER = 96
UNIT = 48  # ticks of the most frequent duration: an eighth note
VELOCITY = 80
MEDIAN_RANGE = (66, 77)  # the median pitch lands here (inclusive)
WHITE_KEYS = frozenset({0, 2, 4, 5, 7, 9, 11})

CanonicalNote = tuple[int, int, int]  # (onset tick, pitch, duration ticks)


class CanonicalError(ValueError):
    """A MIDI file with nothing to classify (no notes) or that cannot be read."""


def canonical_meter(numerator: int, denominator: int) -> tuple[int, int]:
    """A time signature -> its class, written as a time signature (see the module docstring).

    >>> [canonical_meter(*m) for m in ((6, 8), (12, 8), (9, 8), (2, 2), (4, 4), (3, 4), (3, 8))]
    [(6, 8), (6, 8), (9, 8), (2, 4), (2, 4), (3, 4), (3, 4)]
    """
    compound = numerator >= 6 and numerator % 3 == 0
    beats = numerator // 3 if compound else numerator
    if beats % 2 == 0:
        beats = 2
    return (beats * 3, 8) if compound else (beats, 4)


def read_notes(midi: bytes) -> tuple[list[CanonicalNote], int, tuple[int, int]]:
    """(notes as (onset, pitch, duration) in the file's ticks, ticks per quarter, the first time
    signature or (4, 4)). Tracks and channels merged; a note-on is ended by the first note-off
    (or velocity-0 note-on) of its channel and pitch; a note never ended ends with its track."""
    try:
        mf = mido.MidiFile(file=io.BytesIO(midi))
    except Exception as exc:  # mido raises many kinds (OSError, EOFError, ValueError, ...)
        raise CanonicalError(f"not a readable MIDI file ({exc})") from None
    meter = None
    notes: list[CanonicalNote] = []
    for track in mf.tracks:
        now = 0
        sounding: dict[tuple[int, int], list[int]] = {}
        for msg in track:
            now += msg.time
            if msg.type == "time_signature" and meter is None:
                meter = (msg.numerator, msg.denominator)
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append(now)
            elif msg.type in ("note_on", "note_off") and sounding.get((msg.channel, msg.note)):
                start = sounding[(msg.channel, msg.note)].pop(0)
                notes.append((start, msg.note, now - start))
        notes.extend((s, p, now - s) for (_, p), starts in sounding.items() for s in starts)
    return sorted(notes), mf.ticks_per_beat, meter or (4, 4)


def canonical_notes(notes: list[CanonicalNote]) -> list[CanonicalNote]:
    """Notes (any tick unit) -> the same notes on the canonical time scale and pitches."""
    if not notes:
        raise CanonicalError("no notes")
    counts = Counter(d for _, _, d in notes if d > 0)
    if not counts:
        raise CanonicalError("every note has zero length")
    mode = min(counts, key=lambda d: (-counts[d], d))
    scale = Fraction(UNIT, mode)
    t = _transposition([p for _, p, _ in notes])
    pitches = sorted(p + t for _, p, _ in notes)
    median = pitches[(len(pitches) - 1) // 2]
    t += 12 * -((median - MEDIAN_RANGE[0]) // 12)
    out = []
    for onset, pitch, duration in notes:
        start = _round(onset * scale)
        end = max(start + 1, _round((onset + duration) * scale))
        out.append((start, min(127, max(0, pitch + t)), end - start))
    return sorted(set(out))


def _round(x: Fraction) -> int:
    return int(x + Fraction(1, 2)) if x >= 0 else -int(-x + Fraction(1, 2))


def _transposition(pitches: list[int]) -> int:
    classes = Counter(p % 12 for p in pitches)

    def key(t: int):
        shifted = tuple(classes[(c - t) % 12] for c in range(12))
        in_order = tuple((p + t) % 12 for p in pitches)  # breaks symmetric ties (a tritone)
        return (sum(shifted[c] for c in WHITE_KEYS), shifted, in_order)

    return max(range(12), key=key)


def encode(notes: list[CanonicalNote], meter: tuple[int, int]) -> bytes:
    """Canonical notes and meter -> the format-0 MIDI bytes described in the module docstring."""
    events = []
    for onset, pitch, duration in notes:
        events.append((onset, 1, pitch, VELOCITY))
        events.append((onset + duration, 0, pitch, 0))
    events.sort()
    numerator, denominator = meter
    track = bytearray(b"\x00\xff\x58\x04")
    track += bytes([numerator, denominator.bit_length() - 1, 24, 8])
    now = 0
    status = None
    for tick, _, pitch, velocity in events:
        track += _variable_int(tick - now)
        if status != 0x90:
            track.append(0x90)
            status = 0x90
        track += bytes([pitch, velocity])
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1])
    header += TICKS_PER_QUARTER.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


def canonical_midi(midi: bytes) -> bytes:
    """A MIDI file -> its canonical form (module docstring). Raises CanonicalError for a file
    that cannot be read or has no notes."""
    notes, _, meter = read_notes(midi)
    return encode(canonical_notes(notes), canonical_meter(*meter))


def canonical_windows(midi: bytes, max_bytes: int) -> list[bytes]:
    """The canonical form of a MIDI file, whole if it has at most `max_bytes` bytes, else cut
    into consecutive windows of whole notes (each starting at tick 0, in the same meter), every
    one at most `max_bytes` bytes long. Onsets of a window's notes keep their place relative
    to its first note."""
    notes, _, meter = read_notes(midi)
    notes = canonical_notes(notes)
    meter = canonical_meter(*meter)
    whole = encode(notes, meter)
    if len(whole) <= max_bytes:
        return [whole]
    windows = []
    start = 0
    while start < len(notes):
        count = len(notes) - start
        while True:
            chunk = notes[start : start + count]
            first = chunk[0][0]
            data = encode([(o - first, p, d) for o, p, d in chunk], meter)
            if len(data) <= max_bytes:
                break
            if count == 1:
                raise CanonicalError(f"one note does not fit in {max_bytes} bytes")
            count = max(1, min(count - 1, count * max_bytes // len(data)))
        windows.append(data)
        start += count
    return windows


def melody(notes: list[CanonicalNote]) -> list[int]:
    """The highest pitch at each onset, in time order: the tune's line for near-duplicates."""
    top: dict[int, int] = {}
    for onset, pitch, _ in notes:
        top[onset] = max(pitch, top.get(onset, -1))
    return [top[o] for o in sorted(top)]
