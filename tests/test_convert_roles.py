"""convert.roles: what each byte of a MIDI or ABC file is for."""

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convert import abc_to_midi, midi_to_notes
from convert.roles import ABC_ROLES, MIDI_ROLES, abc_byte_roles, midi_byte_roles

ONE_NOTE = abc_to_midi("X:1\nL:1/4\nK:C\nC\n")
TUNES = [
    "X:1\nL:1/4\nK:C\nC\n",
    "X:2\nT:Jig\nM:6/8\nL:1/8\nK:G\nGAB c2d|e2d BAG|\n",
    "X:3\nT:Chords\nL:1/4\nK:D\n[DFA]2 [EG]B|c4|]\n",
    "X:4\nT:Two voices\nL:1/4\nK:C\nV:1\nCDEF|\nV:2\nC,D,E,F,|\n",
]


def test_the_one_note_file_is_named_byte_by_byte():
    # MThd + header, MTrk + length; tempo, time and key signatures; note on, note off; end
    expected = (
        ["header"] * 18
        + ["track length"] * 4
        + ["delta"]
        + ["meta"] * 6
        + ["delta"]
        + ["meta"] * 7
        + ["delta"]
        + ["meta"] * 5
        + ["delta", "status", "pitch", "velocity"]
        + ["delta", "delta", "status", "off pitch", "velocity"]  # 480 ticks: two delta bytes
        + ["delta"]
        + ["meta"] * 3
    )
    assert midi_byte_roles(ONE_NOTE) == expected


def test_running_status_data_bytes_are_pitch_and_velocity():
    track = mido.MidiTrack()
    for note in (60, 62, 64):  # three note-ons in a row: the status byte is written once
        track.append(mido.Message("note_on", note=note, velocity=80, time=0))
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0)
    midi.tracks.append(track)
    path_bytes = _save(midi)
    roles = midi_byte_roles(path_bytes)
    events = roles[22:]
    assert events == ["delta", "status", "pitch", "velocity"] + [
        "delta",
        "pitch",
        "velocity",
    ] * 2 + ["delta", "meta", "meta", "meta"]


def test_other_events_are_other():
    track = mido.MidiTrack(
        [
            mido.Message("control_change", control=7, value=100, time=0),
            mido.Message("program_change", program=5, time=0),
            mido.MetaMessage("end_of_track", time=0),
        ]
    )
    midi = mido.MidiFile(type=0)
    midi.tracks.append(track)
    roles = midi_byte_roles(_save(midi))[22:]
    assert roles == ["delta"] + ["other"] * 3 + ["delta"] + ["other"] * 2 + ["delta"] + ["meta"] * 3


@pytest.mark.parametrize("cut", range(len(ONE_NOTE) + 1))
def test_a_file_cut_short_keeps_its_roles_up_to_the_cut_event_then_other(cut):
    whole = midi_byte_roles(ONE_NOTE)
    roles = midi_byte_roles(ONE_NOTE[:cut])
    assert len(roles) == cut
    first_other = roles.index("other") if "other" in roles else cut
    assert roles[:first_other] == whole[:first_other]
    assert set(roles[first_other:]) <= {"other"}
    assert cut < 14 or first_other >= 14  # a whole MThd chunk is always named


def test_bytes_that_are_not_midi_are_all_other():
    assert midi_byte_roles(b"X:1\nK:C\nC\n") == ["other"] * 10
    assert midi_byte_roles(b"") == []


@pytest.mark.parametrize("text", TUNES)
def test_every_note_of_a_reference_file_has_its_pitch_on_and_off_and_two_velocities(text):
    data = abc_to_midi(text)
    roles = midi_byte_roles(data)
    assert len(roles) == len(data) and "other" not in roles
    notes = len(midi_to_notes(data))
    assert roles.count("pitch") == roles.count("off pitch") == notes
    assert roles.count("velocity") == 2 * notes
    assert [data[i] for i, r in enumerate(roles) if r == "velocity"].count(80) == notes
    ons = sorted(data[i] for i, r in enumerate(roles) if r == "pitch")
    offs = sorted(data[i] for i, r in enumerate(roles) if r == "off pitch")
    assert ons == offs == sorted(pitch for _, pitch, _ in midi_to_notes(data))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=80).map(lambda b: ONE_NOTE[:30] + b)))
def test_any_bytes_get_one_known_role_each(data):
    roles = midi_byte_roles(data)
    assert len(roles) == len(data) and set(roles) <= set(MIDI_ROLES)
    abc = abc_byte_roles(data)
    assert len(abc) == len(data) and set(abc) <= set(ABC_ROLES)


def test_abc_bytes_are_named_by_what_they_notate():
    text = b'T:x\nK:G\n"G"^F,2 [K:D] z/|: (3abc !trill!d>e-e :|]  % end\n'
    roles = abc_byte_roles(text)
    named = list(zip(text.decode(), roles, strict=True))
    assert named[:8] == [(c, "field") for c in "T:x"] + [("\n", "space")] + [
        (c, "field") for c in "K:G"
    ] + [("\n", "space")]
    assert [r for _, r in named[8:11]] == ["other"] * 3  # "G", a chord symbol
    assert named[11:15] == [
        ("^", "pitch mark"),
        ("F", "note"),
        (",", "pitch mark"),
        ("2", "length"),
    ]
    assert [r for _, r in named[16:21]] == ["field"] * 5  # [K:D]
    assert named[22:24] == [("z", "note"), ("/", "length")]
    assert [r for c, r in named if c == "!"] == ["other", "other"]
    assert [r for c, r in named[22:] if c in "|:]"] == ["structure"] * 5
    assert named[27:29] == [("(", "structure"), ("3", "length")]  # a triplet
    assert named[-1] == ("\n", "space") and roles[-6:-1] == ["other"] * 5  # the comment


def _save(midi: mido.MidiFile) -> bytes:
    import io

    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _file(*tracks: bytes) -> bytes:
    """A MIDI file of the given track data (each an MTrk chunk stating its true length)."""
    head = b"MThd\x00\x00\x00\x06\x00\x01" + len(tracks).to_bytes(2, "big") + b"\x00\x60"
    return head + b"".join(b"MTrk" + len(t).to_bytes(4, "big") + t for t in tracks)


TRACK_HEAD = ["header"] * 18 + ["track length"] * 4


@pytest.mark.parametrize("data", [b"X" * 20, b"MThd\x00\x00\x00\x06\x00\x00"])
def test_a_file_not_starting_with_a_whole_mthd_chunk_is_all_other(data):
    assert midi_byte_roles(data) == ["other"] * len(data)


def test_events_of_every_channel_and_size_are_walked_to_the_chunks_end():
    track = (
        b"\x00\xf0\x02\x01\xf7"  # sysex F0, its length, data
        + b"\x00\xf7\x01\x90"  # an F7 escape, length 1
        + b"\x00\xef\x00\x40"  # pitch bend on channel 15 (status EF)
        + b"\x00\xc1\x05"  # program change on channel 1: one data byte
        + b"\x00\xd0\x40"  # channel pressure: one data byte
        + b"\x80\x00\x91\x3c\x40"  # a two-byte zero delta, note-on on channel 1
        + b"\x00\xff\x01\x81\x00"  # a text meta 128 bytes long (two-byte length)
        + b"a" * 128
        + b"\x00\x81\x3c\x00"  # note-off on channel 1, ending exactly at the chunk's end
    )
    expected = (
        ["delta"] + ["other"] * 4
        + ["delta"] + ["other"] * 3
        + ["delta"] + ["other"] * 3
        + ["delta"] + ["other"] * 2
        + ["delta"] + ["other"] * 2
        + ["delta"] * 2 + ["status", "pitch", "velocity"]
        + ["delta"] + ["meta"] * (4 + 128)
        + ["delta", "status", "off pitch", "velocity"]
    )  # fmt: skip
    assert midi_byte_roles(_file(track)) == TRACK_HEAD + expected


def test_an_empty_last_track_and_bad_event_starts_are_named_as_far_as_they_parse():
    assert midi_byte_roles(_file(b"")) == TRACK_HEAD  # MTrk and a zero length, nothing after
    # a data byte with no status before it, a delta five bytes long: other from there on
    assert midi_byte_roles(_file(b"\x00\x40\x40")) == TRACK_HEAD + ["delta", "other", "other"]
    assert midi_byte_roles(_file(b"\x80\x80\x80\x80\x00\x90\x3c\x40")) == TRACK_HEAD + ["other"] * 8


@pytest.mark.parametrize(
    ("text", "roles"),
    [
        (b"A\x0c\n", ["note", "other", "space"]),  # only a line end is stripped as the ending
        (b"BX\n", ["note", "other", "space"]),
        (b'"C"A"G"', ["other"] * 3 + ["note"] + ["other"] * 3),  # each quote closes its own
        (b'""A', ["other", "other", "note"]),
        (b"[CE]", ["structure", "note", "note", "structure"]),  # a chord, not a field
        (b"[CE][K:G]A", ["structure", "note", "note", "structure"] + ["field"] * 5 + ["note"]),
        (b"A[K:G", ["note"] + ["field"] * 4),  # an inline field left open runs to the line end
    ],
)
def test_abc_quotes_chords_and_inline_fields_end_where_they_close(text, roles):
    assert abc_byte_roles(text) == roles
