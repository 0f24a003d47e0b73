"""MIDI <-> note text: the worked example, losslessness on canonical files, bad lines."""

import io

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytesim.abc_task import rich_tune
from convert import abc_to_midi, midi_to_notes
from convert.notetext import (
    NoteTextError,
    midi_to_note_text,
    note_text_errors,
    note_text_to_midi,
    with_rests,
)


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


def test_rest_lines_stand_where_no_note_sounds_and_only_there():
    tune = "X:1\nL:1/8\nK:G\nz2 G2 [CE]2G2 z A | z2 z2 B2 [K:D] z c|\n"
    text = with_rests(midi_to_note_text(abc_to_midi(tune)))
    assert text.splitlines()[3:] == [
        "0 z 480",  # a rest before the first note, after the metas of tick 0
        "480 67 480",
        "480 60 480",
        "0 64 480",
        "480 67 480",
        "480 z 240",
        "240 69 240",
        "240 z 960",  # z2 z2: one rest
        "960 71 480",
        "480 KD",  # the key change at the tick the rest starts, before the rest
        "0 z 240",
        "240 73 240",
    ]


def test_a_rest_line_is_time_alone_and_each_track_has_its_own():
    assert note_text_to_midi("0 z 480\n480 60 240\n") == note_text_to_midi("480 60 240\n")
    assert note_text_errors("7 z 480\n") == []
    held = "0 60 960\n480 64 240\n480 67 240\n"  # the 60 sounds on under the 64: no rest
    assert with_rests(held) == held
    text = with_rests("0 60 240\ntrack\n480 62 240\n")
    assert text == "0 60 240\ntrack\n0 z 480\n480 62 240\n"
    with pytest.raises(NoteTextError, match="'0 60' is neither"):
        with_rests("0 60\n")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 40))
def test_rest_lines_lose_nothing_and_are_written_once(seed, notes):
    import random

    midi = abc_to_midi(rich_tune(random.Random(seed), notes)[0])
    text = with_rests(midi_to_note_text(midi))
    assert note_text_to_midi(text) == midi
    assert with_rests(text) == text
    assert max(len(line) + 1 for line in text.splitlines()) <= 16
