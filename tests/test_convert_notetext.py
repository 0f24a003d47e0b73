"""MIDI <-> note text: the worked example, losslessness on canonical files, bad lines."""

import io

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytesim.abc_task import rich_tune
from convert import abc_to_midi, midi_to_notes
from convert.notetext import NoteTextError, midi_to_note_text, note_text_errors, note_text_to_midi


def test_worked_example_from_the_docstring():
    midi = abc_to_midi("X:1\nL:1/4\nK:C\nC\n")
    assert midi_to_note_text(midi) == "0 T500000\n0 M4/4\n0 KC\n0 60 480\n"
    assert note_text_to_midi("0 T500000\n0 M4/4\n0 KC\n0 60 480\n") == midi


def test_dt_counts_from_the_previous_line_and_chords_have_dt_zero():
    midi = abc_to_midi("X:1\nL:1/8\nK:C\nC2 [EG] z c/\n")
    lines = midi_to_note_text(midi).splitlines()[3:]
    assert lines == ["0 60 480", "480 64 240", "0 67 240", "480 72 120"]


def test_several_voices_become_tracks_each_from_time_zero():
    midi = abc_to_midi("X:1\nL:1/4\nK:C\nV:1\nC D\nV:2\nE F\n")
    text = midi_to_note_text(midi)
    assert text.count("track\n") == 1
    assert text.split("track\n")[1] == "0 64 480\n480 65 480\n"
    assert note_text_to_midi(text) == midi


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 40))
def test_canonical_files_come_back_byte_for_byte(seed, notes):
    import random

    midi = abc_to_midi(rich_tune(random.Random(seed), notes)[0])
    assert note_text_to_midi(midi_to_note_text(midi)) == midi


def test_every_line_fits_a_patch():
    midi = abc_to_midi("X:1\nL:1\nQ:1/4=20\nK:C\nZ20 C,,,8|\n")
    assert max(len(line) + 1 for line in midi_to_note_text(midi).splitlines()) <= 16


def test_other_files_keep_their_notes():
    track = mido.MidiTrack(
        [
            mido.Message("program_change", program=5, time=0),
            mido.Message("note_on", note=60, velocity=100, channel=3, time=0),
            mido.Message("note_off", note=60, velocity=0, channel=3, time=96),
        ]
    )
    midi = mido.MidiFile(ticks_per_beat=96)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    text = midi_to_note_text(buffer.getvalue())
    assert text == "0 60 480\n"
    assert midi_to_notes(note_text_to_midi(text)) == [(0.0, 60, 1.0)]


@pytest.mark.parametrize(
    ("text", "line"),
    [("0 60 480\nhello\n", 2), ("0 60 0\n", 1), ("0 200 480\n", 1), ("0 KQ\n", 1), ("0 M4\n", 1)],
)
def test_a_bad_line_is_named(text, line):
    with pytest.raises(NoteTextError, match=f"^line {line}: "):
        note_text_to_midi(text)
    assert len(note_text_errors(text)) == 1


def test_lenient_drops_the_bad_lines_and_keeps_the_rest():
    midi = note_text_to_midi("0 60 480\n480 62 4x0\n0 64 480\n", lenient=True)
    assert midi_to_notes(midi) == [(0.0, 60, 1.0), (0.0, 64, 1.0)]
