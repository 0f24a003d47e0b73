"""Tests that kill mutants of convert/ that the other tests let live (docs/testing.md).

Each names the behaviour a surviving mutant changed: the field parsers' forms, limits and
messages (K:, M:, L:, Q:, P:), the near-duplicate candidate limits and thresholds, the MIDI
writer's rounding, event order, delta times and meta events checked against mido's writer, and
the note text's reading of other MIDI files, its limits, messages and event order, and the
comparison's tolerances, its one use of each reference note and abc2midi's prepared input.
"""

from __future__ import annotations

import io
import os
import warnings

import mido
import numpy as np
import pytest

from convert import (
    AbcError,
    abc_to_midi,
    compare,
    convert_abc,
    convert_to_dir,
    midi_to_notes,
    parse_abc,
    tune_to_score,
)
from convert.canonical import UNIT
from convert.compare import (
    abc2midi_available,
    abc2midi_notes,
    compare_notes,
    match_pitch_order,
    normalise_abc2midi,
    prepare_for_abc2midi,
)
from convert.events import QUARTER, Score, Voice
from convert.fields import (
    FREE_METER,
    Meter,
    parse_key,
    parse_meter,
    parse_parts,
    parse_tempo,
    parse_unit,
)
from convert.midi import _meta, score_to_events, score_to_midi, score_to_midi_mido, to_ticks
from convert.near_duplicates import histogram, similar_pairs, similar_to
from convert.notes import midi_layout_error, restate_track_lengths, unreadable_reason
from convert.notetext import (
    NoteTextError,
    abc_to_note_text,
    midi_to_note_text,
    note_text_errors,
    note_text_to_midi,
    score_to_note_text,
    with_rests,
)
from convert.tune_features import LogisticBaseline, features, phrase_features

# --- fields: K:, M:, L:, Q: and P: -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "qpm"),
    [
        ("1/4=120", (1, 8), 120.0),
        ("3/8=100", (1, 8), 150.0),
        ("1/4 1/8=60", (1, 8), 90.0),  # the beats add up
        ("1/1=60", (1, 8), 240.0),  # a whole-note beat is not "no beat"
        ("C=120", (1, 8), 60.0),  # C is the unit note
        ("c=120", (1, 8), 60.0),
        ("1/4 C=60", (1, 8), 90.0),
        ("x=120", (1, 8), 60.0),  # no beat read: the unit note
        ("1/0=120", (1, 8), 60.0),  # a zero denominator is no beat
        ("1/4=120 1/8=60", (1, 8), 120.0),  # the first = separates beats and tempo
        ('"a=b" 1/4=120', (1, 8), 120.0),  # quoted text is not read as a tempo
        ('"Allegro"1/4=120', (1, 8), 120.0),
        ('"Allegro"', (1, 8), 144.0),  # a quoted tempo word alone
        ("Allegro.", (1, 8), 144.0),  # trailing punctuation of a word
        ("allegro,", (1, 8), 144.0),
        ("120", (1, 8), 60.0),  # a bare number counts unit notes
        ("100", (3, 8), 150.0),
        ("0.5", (1, 4), 0.5),
        ("1/4=0.5", (1, 8), 0.5),
    ],
)
def test_parse_tempo_gives_quarter_notes_per_minute(text, unit, qpm):
    assert parse_tempo(text, unit) == pytest.approx(qpm)


@pytest.mark.parametrize("text", ["0", "1/4=0", "1/4=", "fast-ish"])
def test_parse_tempo_of_no_tempo_is_none(text):
    assert parse_tempo(text, (1, 8)) is None


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("2AB", ["A", "B"]),  # a count with nothing before it repeats nothing
        ("A2", ["A", "A"]),  # a count at the end
        ("A2 3", ["A", "A"]),  # a second count repeats nothing
        ("(2AB)", ["A", "B"]),
        ("Z", ["Z"]),  # Z is a part name
        ("(A.B)2", ["A", "B", "A", "B"]),  # "." inside a group does not close it
        ("AB)C", ["A", "B", "C"]),  # an unmatched ) is ignored
        ("(AB", ["A", "B"]),  # an unclosed group is played once
        ("((AB", ["A", "B"]),
        ("((AB)2C", ["A", "B", "A", "B", "C"]),
    ],
)
def test_parse_parts_expands_the_play_order(text, order):
    assert parse_parts(text) == order


def test_parse_parts_caps_a_count_at_100():
    assert parse_parts("A200") == ["A"] * 100


def test_parse_parts_names_the_illegal_character():
    with pytest.raises(ValueError, match=r"^character '!' in the P: play order 'A!'$"):
        parse_parts("A!")


@pytest.mark.parametrize(
    ("text", "meter"),
    [
        ("", FREE_METER),
        ("% only a comment", FREE_METER),
        ("none", FREE_METER),
        ("None", FREE_METER),
        ("NONE", FREE_METER),
        ("C|%cut time", Meter(2, 2)),  # the comment goes before the value is read
        ("2+3/8", Meter(5, 8)),
        ("1/4", Meter(1, 4)),
        ("256/4", Meter(256, 4)),
        ("4/256", Meter(4, 256)),
    ],
)
def test_parse_meter_reads_the_value(text, meter):
    warnings: list[str] = []
    assert parse_meter(text, warnings) == meter
    assert warnings == []


@pytest.mark.parametrize("text", ["0/4", "4/0", "257/4", "300/4", "4/257"])
def test_parse_meter_refuses_a_meter_out_of_range(text):
    with pytest.raises(ValueError, match=f"^meter '{text}' out of range$"):
        parse_meter(text)


def test_parse_meter_reads_the_fraction_in_other_text_and_says_so():
    warnings: list[str] = []
    assert parse_meter("FREI3/8", warnings) == Meter(3, 8)
    assert warnings == ["meter 'FREI3/8' read as 3/8"]
    assert parse_meter("FREI3/8") == Meter(3, 8)  # without a warnings list


@pytest.mark.parametrize(
    ("text", "unit"),
    [("1/8%comment", (1, 8)), ("1", (1, 1)), ("1/512", (1, 512)), ("16/1", (16, 1))],
)
def test_parse_unit_reads_the_value(text, unit):
    assert parse_unit(text) == unit


@pytest.mark.parametrize("text", ["0/4", "1/0", "1/513", "1/1024", "17/1"])
def test_parse_unit_refuses_a_unit_out_of_range(text):
    with pytest.raises(ValueError, match=f"^unit length '{text}' out of range$"):
        parse_unit(text)


def test_parse_unit_names_an_unknown_value():
    with pytest.raises(ValueError, match="^unknown unit length 'x'$"):
        parse_unit(" x ")


@pytest.mark.parametrize(
    ("text", "sharps", "minor"),
    [
        ("A m", 0, True),  # a one-letter mode word
        ("Dm dorian", -1, True),  # a second word is the mode only when the tonic has none
        ("D xyz", 2, False),  # a word that is no mode is not read as one
    ],
)
def test_parse_key_reads_the_mode_from_the_second_word(text, sharps, minor):
    warnings: list[str] = []
    key = parse_key(text, warnings=warnings)
    assert (key.sharps, key.minor, warnings) == (sharps, minor, [])


def test_parse_key_keeps_the_previous_octave_transpose_and_clef():
    previous = parse_key("C octave=1 transpose=3 bass-8")
    assert (previous.octave, previous.transpose, previous.clef_octave) == (1, 3, -1)
    key = parse_key("G", previous=previous)
    assert (key.octave, key.transpose, key.clef_octave, key.shift) == (1, 3, -1, 3)
    assert parse_key("G").shift == 0


@pytest.mark.parametrize(
    ("text", "clef_octave"),
    [("C treble", 0), ("C treble+8", 1), ("C bass-8", -1), ("C clef=alto+8", 1)],
)
def test_parse_key_reads_the_clef_octave(text, clef_octave):
    key = parse_key(text)
    assert key.clef_octave == clef_octave and key.shift == 12 * clef_octave


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "K: field names no key"),
        ("C octave=x", "bad octave= value 'octave=x' in K:"),
        ("C transpose=y", "bad transpose= value 'transpose=y' in K:"),
    ],
)
def test_parse_key_refuses_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=f"^{reason}$"):
        parse_key(text)


@pytest.mark.parametrize(
    ("text", "accidentals", "sharps", "minor"),
    [
        ("middle=d D", {"F": 1, "C": 1}, 2, False),  # name=value words are skipped
        ("clef", {}, 0, False),
        ("none", {}, 0, False),
        ("exp", {}, 0, False),  # a key with only "exp" names no tonic but is a key
        ("Hp", {"F": 1, "C": 1}, 2, False),  # bagpipe keys
        ("HP", {"F": 1, "C": 1}, 2, False),
        ("F#", {"F": 1, "C": 1, "G": 1, "D": 1, "A": 1, "E": 1}, 6, False),
        ("Amin", {}, 0, True),
        ("Aaeo", {}, 0, True),
        ("A aeolian", {}, 0, True),
        ("C#lyd", {"F": 2, "C": 1, "G": 1, "D": 1, "A": 1, "E": 1, "B": 1}, 8, False),
        ("Fb", {"B": -2, "E": -1, "A": -1, "D": -1, "G": -1, "C": -1, "F": -1}, -8, False),
    ],
)
def test_parse_key_signature(text, accidentals, sharps, minor):
    warnings: list[str] = []
    key = parse_key(text, warnings=warnings)
    assert (key.accidentals, key.sharps, key.minor, warnings) == (accidentals, sharps, minor, [])


def test_parse_key_warns_of_an_unknown_mode_and_reads_major():
    warnings: list[str] = []
    assert parse_key("Cxyz", warnings=warnings).sharps == 0
    assert warnings == ["unknown mode 'xyz' in key 'Cxyz' read as major"]
    warnings.clear()
    parse_key("C", warnings=warnings)  # no mode is major, not an unknown mode
    assert warnings == []


# --- near_duplicates: candidate pairs, thresholds, the histogram -------------------------------

A, B, C = (1,), (2,), (3,)


def spread(shared: int, count: int = 100) -> list[frozenset]:
    """``count`` tunes with one n-gram each of their own; the first ``shared`` also share A."""
    return [frozenset({(100 + i,), A} if i < shared else {(100 + i,)}) for i in range(count)]


def test_an_ngram_in_more_than_two_of_few_tunes_proposes_no_pair():
    assert similar_pairs([frozenset({A})] * 2) == [(0, 1, 1.0)]
    assert similar_pairs([frozenset({A})] * 3) == []
    assert similar_to([frozenset({A})], [frozenset({A})] * 2) == {0, 1}
    assert similar_to([frozenset({A})], [frozenset({A})] * 3) == set()


def test_an_ngram_in_up_to_5_percent_of_the_tunes_proposes_pairs():
    pairs = similar_pairs(spread(4), threshold=0.5)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert similar_to([frozenset({A})], spread(4), threshold=0.5) == {0, 1, 2, 3}
    assert similar_pairs(spread(6), threshold=0.5) == []  # 6 of 100: too common


def test_a_too_common_ngram_does_not_stop_the_search():
    grams = [frozenset({A}), frozenset({A, B}), frozenset({A, B})]  # A in 3 tunes, B in 2
    assert similar_pairs(grams) == [(1, 2, 1.0)]


def test_a_similarity_equal_to_the_threshold_is_similar():
    a, b = frozenset({A, B}), frozenset({A, C})
    assert similar_pairs([a, b], threshold=0.5) == [(0, 1, 0.5)]
    assert similar_to([a], [b], threshold=0.5) == {0}


def test_histogram_counts_candidate_pairs_per_similarity_bin_in_order():
    grams = [
        frozenset({C}),
        frozenset({C}),  # similarity 1.0: the last bin
        frozenset({A, B}),
        frozenset({A, (4,)}),  # 0.5
        frozenset({(7,), (8,), (9,)}),
        frozenset({(7,), (10,), (11,)}),  # 1/3
    ]
    counts = histogram(grams)
    assert list(counts.items()) == [("0.3-0.4", 1), ("0.5-0.6", 1), ("0.9-1.0", 1)]
    assert histogram(grams, bins=4) == {"0.2-0.5": 1, "0.5-0.8": 1, "0.8-1.0": 1}


def test_histogram_counts_every_pair_however_low():
    quarter = [frozenset({(20,), (21,), (22,), (23,)}), frozenset({(20,), (24,), (25,), (26,)})]
    same = [frozenset({C}), frozenset({C}), frozenset({B}), frozenset({B})]  # two pairs at 1.0
    assert histogram(quarter + same) == {"0.2-0.3": 1, "0.9-1.0": 2}


# --- midi: ticks, event order, the mido reference writer ------------------------------------


def test_two_voices_give_a_format_1_file_from_both_writers():
    score = tune_to_score(parse_abc("X:1\nL:1/4\nK:C\nV:1\nCDEF|\nV:2\nC,D,E,F,|\n").tunes[0])
    midi = score_to_midi(score)
    assert midi[8:14] == b"\x00\x01\x00\x02\x01\xe0"  # format 1, 2 tracks, 480 ticks
    assert score_to_midi_mido(score) == midi


def test_to_ticks_rounds_to_the_nearest_tick_halves_up():
    tick = QUARTER // 480
    assert [to_ticks(tick * k // 10) for k in (4, 5, 6, 10, 15)] == [0, 1, 1, 1, 2]


def test_a_note_shorter_than_a_tick_lasts_one_tick():
    score = Score(1, "", [Voice("1", [[0, 60, 0], [0, 62, QUARTER // 480 // 4]])], [])
    assert [(tick, rank, key) for tick, rank, key, _ in score_to_events(score)[0]] == [
        (0, 2, 60),
        (0, 2, 62),
        (1, 1, 60),
        (1, 1, 62),
    ]


def test_meta_events_come_before_note_offs_at_the_same_tick_whatever_their_number():
    metas = [(0, "tempo", 120.0)] + [(QUARTER, "tempo", 100.0 + i) for i in range(4)]
    score = Score(1, "", [Voice("1", [[0, 2, QUARTER]])], metas)
    events = score_to_events(score)[0]
    assert [(tick, rank) for tick, rank, _, _ in events] == [(0, 0), (0, 2)] + [(480, 0)] * 4 + [
        (480, 1)
    ]
    assert score_to_midi_mido(score) == score_to_midi(score)


@pytest.mark.parametrize("ticks", [127, 128, 129, 16384])
def test_delta_times_from_one_to_several_bytes_as_mido_writes_them(ticks):
    length = QUARTER * ticks // 480
    score = Score(1, "", [Voice("1", [[0, 60, length], [length, 62, length]])], [])
    assert score_to_midi(score) == score_to_midi_mido(score)


def test_tempo_meta_is_microseconds_per_quarter_rounded():
    assert _meta("tempo", 120.0).tempo == 500_000
    assert _meta("tempo", 4.5).tempo == 13_333_333  # 13,333,333.33: not 60,000,001 / 4.5


@pytest.mark.parametrize(
    ("meter", "written"), [((4, 1), True), ((255, 4), True), ((256, 4), False), ((3, 3), False)]
)
def test_a_time_signature_needs_a_power_of_two_denominator_and_a_byte_numerator(meter, written):
    message = _meta("meter", meter)
    if written:
        assert (message.numerator, message.denominator) == meter
    else:
        assert message is None


# --- note text: other MIDI files, limits, messages, order -----------------------------------


def _midi_file(messages, ticks_per_beat=480) -> bytes:
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    midi.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def test_a_note_on_of_velocity_zero_ends_the_note_and_velocity_one_starts_one():
    data = _midi_file(
        [
            mido.Message("note_on", note=60, velocity=1, time=0),
            mido.Message("note_on", note=60, velocity=0, time=480),
            mido.Message("note_on", note=62, velocity=0, time=0),  # nothing sounding: ignored
            mido.Message("note_on", note=64, velocity=90, time=0),
            mido.Message("note_off", note=64, velocity=0, time=240),
            mido.Message("note_on", note=65, velocity=90, time=720),  # ends with the track
            mido.Message("note_off", note=67, velocity=0, time=480),
        ]
    )
    assert midi_to_note_text(data) == "0 60 480\n480 64 240\n960 65 480\n"


def test_notes_never_switched_off_end_with_the_track_in_its_ticks_and_by_pitch():
    data = _midi_file(
        [
            mido.Message("note_on", note=62, velocity=90, time=24),
            mido.Message("note_on", note=60, velocity=90, time=0),  # never switched off
            mido.Message("note_off", note=62, velocity=0, time=48),
            mido.MetaMessage("end_of_track", time=48),
        ],
        ticks_per_beat=96,  # 5 ticks of the note text per tick of the file
    )
    assert midi_to_note_text(data) == "120 60 480\n0 62 240\n"


def test_meta_events_come_before_the_notes_of_their_tick_whatever_the_pitch():
    data = _midi_file(
        [
            mido.Message("note_on", note=0, velocity=90, time=0),
            mido.MetaMessage("set_tempo", tempo=400_000, time=0),
            mido.Message("note_off", note=0, velocity=0, time=480),
        ]
    )
    assert midi_to_note_text(data) == "0 T400000\n0 0 480\n"


def test_note_text_limits_of_pitch_and_duration():
    assert midi_to_notes(note_text_to_midi("0 127 1\n")) == [(0.0, 127, 1 / 480)]
    for line in ("0 128 480", "0 60 0"):
        with pytest.raises(NoteTextError, match="a note needs pitch 0..127 and duration >= 1"):
            note_text_to_midi(line + "\n")


def test_the_messages_name_what_is_wrong():
    with pytest.raises(
        NoteTextError, match="^line 1: 'x' is neither a note, a rest, a meta event nor"
    ):
        note_text_to_midi("x\n")
    with pytest.raises(NoteTextError, match="^line 1: T4x:"):
        note_text_to_midi("0 T4x\n")
    assert note_text_errors("x\n0 60 480\ny\n") == [
        "line 1: 'x' is neither a note, a rest, a meta event nor 'track'",
        "line 3: 'y' is neither a note, a rest, a meta event nor 'track'",
    ]


def test_bytes_are_read_as_ascii_each_bad_byte_replaced():
    assert note_text_errors(b"0 60 480\n\xc3\xa9\n") == [
        "line 2: '\ufffd\ufffd' is neither a note, a rest, a meta event nor 'track'"
    ]
    assert note_text_to_midi(b"0 60 480\n") == note_text_to_midi("0 60 480\n")


def test_a_meta_line_counts_its_dt_from_the_previous_line():
    midi = note_text_to_midi("480 60 480\n480 T400000\n")
    events = [
        (message.time, message.type) for message in mido.MidiFile(file=io.BytesIO(midi)).tracks[0]
    ]
    assert events == [(480, "note_on"), (480, "set_tempo"), (0, "note_off"), (0, "end_of_track")]


def test_a_meta_event_comes_before_a_note_off_of_its_tick_whatever_the_pitch():
    midi = note_text_to_midi("0 0 480\n480 T400000\n")
    types = [message.type for message in mido.MidiFile(file=io.BytesIO(midi)).tracks[0]]
    assert types == ["note_on", "set_tempo", "note_off", "end_of_track"]


@pytest.mark.parametrize(
    "abc",
    [
        "X:1\nL:1/8\nQ:1/4=100\nM:6/8\nK:G\nGAB cde|[M:3/4][K:F] B2 [Q:1/4=80]c2 d2|\n",
        "X:1\nL:1/4\nM:3/6\nK:C\nC D E|\n",  # a meter MIDI cannot write is left out
        "X:1\nL:1/8\nK:D\nV:1\n(3ABc d2 [DF]2|\nV:2\nD,4 z2 F,2|\n",
    ],
)
def test_the_note_text_of_a_score_is_that_of_its_midi(abc):
    score = tune_to_score(parse_abc(abc).tunes[0])
    assert score_to_note_text(score) == midi_to_note_text(score_to_midi(score))


def test_the_note_text_of_a_score_orders_its_notes_and_gives_a_zero_length_note_one_tick():
    metas = [(0, "tempo", 120.0), (QUARTER, "tempo", 90.0)]
    voices = [Voice("1", [[QUARTER, 62, QUARTER], [QUARTER, 0, 0], [0, 64, QUARTER]])]
    text = score_to_note_text(Score(1, "", voices, metas))
    assert text == "0 T500000\n0 64 480\n480 T666667\n0 0 1\n0 62 480\n"
    assert text == midi_to_note_text(score_to_midi(Score(1, "", voices, metas)))


def test_abc_to_note_text_reads_the_first_tune_with_or_without_x():
    assert abc_to_note_text("L:1/4\nK:C\nC\n") == "0 T500000\n0 M4/4\n0 KC\n0 60 480\n"
    two = "X:1\nL:1/4\nK:C\nC\n\nX:2\nL:1/4\nK:C\nD\n"
    assert abc_to_note_text(two) == "0 T500000\n0 M4/4\n0 KC\n0 60 480\n"
    with pytest.raises(AbcError, match="missing K: field"):
        abc_to_note_text("")


# --- compare: tolerances, matching, abc2midi's input ----------------------------------------


def test_compare_notes_accepts_exactly_the_tolerance_on_onset_and_duration():
    assert compare_notes([(0.0, 60, 1.0)], [(0.25, 60, 1.25)], tol=0.25).matched == 1
    assert compare_notes([(0.0, 60, 1.0)], [(0.25, 60, 1.5)], tol=0.25).matched == 0


def test_compare_notes_uses_each_reference_note_once_and_goes_on_past_a_missing_pitch():
    assert compare_notes([(0.0, 60, 1.0), (0.0, 60, 1.0)], [(0.0, 60, 1.0)]).matched == 1
    assert compare_notes([(0.0, 61, 1.0), (1.0, 60, 1.0)], [(1.0, 60, 1.0)]).matched == 1


def test_compare_notes_looks_only_at_reference_notes_inside_the_onset_window():
    reference = [(0.0, 60, 2.0), (0.0, 60, 1.0), (5.0, 60, 3.0), (5.0, 60, 1.0)]
    assert compare_notes([(5.0, 60, 2.0)], reference).matched == 0


def test_match_pitch_order_prefers_the_duration_within_exactly_the_tolerance():
    a = [(0.0, 60, 1.0), (1.0, 60, 2.0)]
    b = [(0.0, 60, 1.25)]
    assert match_pitch_order(a, b, tol=0.25) == [((0.0, 60, 1.0), (0.0, 60, 1.25))]


def test_normalise_abc2midi_moves_onsets_a_tick_earlier_and_lengthens_by_a_tick():
    tick = 1 / 480
    notes = normalise_abc2midi([(10 * tick, 62, 0.5), (0.0, 60, 0.25)])
    assert notes == [(0.0, 60, 0.25 + tick), (10 * tick - tick, 62, 0.5 + tick)]


@pytest.mark.parametrize(
    ("line", "prepared"),
    [
        ("G:|~A|", "G:|A|"),  # a note before a repeat sign is music, not a G: field
        ("e:|~f|", "e:|f|"),
        ("A::.B", "A::B"),
        ("c:]~d", "c:]d"),
        ("C?D ~E|", "C?D E|"),  # a character no token reads is kept, the rest still read
    ],
)
def test_prepare_for_abc2midi_reads_a_note_before_a_colon_as_music(line, prepared):
    text = prepare_for_abc2midi(f"X:1\nK:C\n{line}\n")
    assert text == f"X:1\nK:C\n%%MIDI chordattack 0\n{prepared}\n"


def test_prepare_for_abc2midi_keeps_comment_lines_and_drops_body_r_fields():
    text = prepare_for_abc2midi("X:1\nK:C\n% a comment\nR::x\nC ~D|\n")
    assert text == "X:1\nK:C\n%%MIDI chordattack 0\n% a comment\nC D|\n"


def test_abc2midi_available_looks_on_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not abc2midi_available()
    program = tmp_path / "abc2midi"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert abc2midi_available()


@pytest.mark.skipif(not abc2midi_available(), reason="abc2midi not installed")
def test_abc2midi_notes_leaves_no_file_and_gives_up_at_its_timeout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tune = "X:1\nL:1/4\nK:C\nC\n"
    assert abc2midi_notes(tune) == [(0.0, 60, 1.0)]
    assert os.listdir(tmp_path) == []
    assert abc2midi_notes(tune, timeout=1e-6) is None


def test_prepare_for_abc2midi_keeps_header_lines_that_are_no_field():
    text = prepare_for_abc2midi("X:1\nT:t\nfree text\nK:C\nC|\n")
    assert text == "X:1\nT:t\nfree text\nK:C\n%%MIDI chordattack 0\nC|\n"


@pytest.mark.parametrize(
    ("tune", "reference", "verdict"),
    [
        ("X:1\nL:1/4\nK:C\nC D|\n", [(0.0, 60, 1.0), (1.0, 62, 1.0)], "agree"),
        ("X:1\nL:1/4\nK:C\nC D|\n", [(0.0, 60, 1.0), (1.0, 64, 1.0)], "differ"),
        ("X:1\nL:1/4\nK:C\nC D|\n", None, "abc2midi_failed"),
        ("X:1\nL:1/4\nC D|\n", [(0.0, 60, 1.0)], "ours_failed"),  # no K: for ours
        ("X:1\nL:1/4\nC D|\n", None, "both_failed"),
    ],
)
def test_compare_tune_with_abc2midi_names_who_failed(tune, reference, verdict, monkeypatch):
    asked = []
    monkeypatch.setattr(compare, "abc2midi_notes", lambda text: asked.append(text) or reference)
    assert compare.compare_tune_with_abc2midi(parse_abc(tune).tunes[0]) == verdict
    assert asked == [parse_abc(tune).tunes[0].text]


def test_a_chord_comes_back_byte_for_byte_in_running_status():
    midi = abc_to_midi("X:1\nL:1/4\nK:C\n[CEG] [DF]2 [CEG]|\n")
    assert b"\x00\x40\x50\x00\x43\x50" in midi  # note-ons after the first without status
    assert note_text_to_midi(midi_to_note_text(midi)) == midi


# --- notes: velocities, channels, unclosed notes, the chunk layout ---------------------------


def test_midi_to_notes_reads_velocities_channels_and_notes_never_switched_off():
    data = _midi_file(
        [
            mido.Message("note_on", note=60, velocity=1, time=0),
            mido.Message("note_off", note=60, velocity=64, time=96),  # an off with a velocity
            mido.Message("note_on", note=62, velocity=80, channel=3, time=0),
            mido.Message("note_on", note=62, velocity=0, channel=3, time=48),
            mido.Message("note_on", note=64, velocity=80, time=0),  # never switched off
            mido.Message("program_change", program=3, time=0),
            mido.MetaMessage("end_of_track", time=336),
        ]
    )
    assert midi_to_notes(data) == [(0.0, 60, 0.2), (0.2, 62, 0.1), (0.3, 64, 0.7)]
    assert midi_to_notes(data, channels=frozenset({3})) == [(0.2, 62, 0.1)]


def _header(tracks: int) -> bytes:
    return b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + tracks.to_bytes(2, "big")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_header(0) + b"\x01\xe0", None),  # 14 bytes: a whole header, no track
        (_header(256) + b"\x01\xe0", "track 0: no MTrk chunk at byte offset 14"),
        (_header(1) + b"\x01\xe0XTrk\x00\x00\x00\x03\xff\x2f\x00", "track 0: no MTrk chunk"),
        (_header(1) + b"\x01\xe0MTrk\x00\x00", "track 0: no MTrk chunk at byte offset 14"),
        (_header(1) + b"\x01\xe0MTrk\x00\x00\x00\x00", "track 0 does not end with end-of-track"),
        (_header(1) + b"\x01\xe0MTrk\x00\x00\x00\x03\xff\x2f\x00", None),
        (_header(0) + b"\x01\xe0\x00\x00", "2 bytes after the header and its 0 tracks"),
    ],
)
def test_midi_layout_error_at_the_edges_of_the_chunks(data, error):
    found = midi_layout_error(data)
    assert found == error if error is None else found.startswith(error)


def test_a_file_of_only_a_header_is_read_for_its_layout_not_as_ending_early():
    assert unreadable_reason(_header(1) + b"\x01\xe0") == (
        "track 0: no MTrk chunk at byte offset 14"
    )


def test_restate_track_lengths_leaves_what_is_no_track_as_it_is():
    midi = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    wrong = midi[:18] + (7).to_bytes(4, "big") + midi[22:]
    assert restate_track_lengths(b"XThd" + wrong[4:]) == b"XThd" + wrong[4:]
    two = midi[:10] + (2).to_bytes(2, "big") + midi[12:] + b"XTrk\x00\x00\x00\x07\x00\xff\x2f\x00"
    assert restate_track_lengths(two) == two  # the second chunk is no MTrk: kept
    cut = _header(1) + b"\x01\xe0MTrk\x00\x00"
    assert restate_track_lengths(cut) == cut


# --- convert/__init__: results, errors, file names -------------------------------------------


def test_convert_abc_gives_each_tune_its_title_and_line_converted_or_not():
    results = convert_abc("X:1\nT:Good\nK:C\nC|\n\nX:2\nT:Bad\nC|\n")
    assert [(r.x, r.title, r.line, r.midi is None) for r in results] == [
        (1, "Good", 1, False),
        (2, "Bad", 6, True),
    ]


def test_abc_to_midi_names_the_line_of_a_bad_x_field():
    with pytest.raises(AbcError) as caught:
        abc_to_midi("T:x\nX:\nK:C\nC\n")
    assert (caught.value.message, caught.value.line) == ("X: field '' is not a number", 2)
    assert str(caught.value) == "line 2: X: field '' is not a number"


def test_convert_to_dir_makes_nested_folders_and_numbers_repeated_x(tmp_path):
    text = "".join(f"X:1\nT:t{i}\nK:C\nC|\n\n" for i in range(3))
    results = convert_to_dir(text, tmp_path / "a" / "b", "tune")
    assert [r.path.name for r in results] == ["tune-1.mid", "tune-1-2.mid", "tune-1-3.mid"]
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == [
        "tune-1-2.mid",
        "tune-1-3.mid",
        "tune-1.mid",
    ]


# ----------------------------------------------------------------------------- convert/dataset


def _corpus(tmp_path):
    """Two folders of ABC files: repeated names, a tune that fails, a file that is not ABC."""
    a, b = tmp_path / "src" / "a b", tmp_path / "src" / "deeper" / "b"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    (a / "one.abc").write_bytes(
        b"X:1\nT:first\nK:G\nGABc|\n\nX:1\nT:same X\nK:D\nDEF|\n\nX:1\nK:C\nC|\n\n"
        b"X:4\nT:fails\nM:7/1000\nK:C\nC|\n"
    )
    (b / "two.abc").write_bytes(b"X:2\nL:1/4\nK:A\nAB|\n")
    (b / "notes.txt").write_bytes(b"X:9\nK:C\nC|\n")
    return tmp_path / "src"


def test_find_abc_files_searches_folders_keeps_files_and_names_what_is_missing(tmp_path):
    from convert.dataset import find_abc_files

    src = _corpus(tmp_path)
    one, two = src / "a b" / "one.abc", src / "deeper" / "b" / "two.abc"
    assert find_abc_files([src]) == [one, two]
    assert find_abc_files([two, src, one]) == [one, two]  # once each, sorted
    assert find_abc_files([src / "deeper" / "b" / "notes.txt"]) == [src / "deeper/b/notes.txt"]
    with pytest.raises(FileNotFoundError, match=r"nope: no such file or folder$"):
        find_abc_files([src, tmp_path / "nope"])


def test_music21_corpus_is_the_corpus_folder_or_a_clear_error(monkeypatch):
    import importlib.util

    from convert import dataset

    assert dataset.music21_corpus().name == "corpus"
    assert dataset.music21_corpus().parent.name == "music21"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        FileNotFoundError, match=r"^music21 is not installed; pass ABC folders as sources$"
    ):
        dataset.music21_corpus()


def test_convert_file_gives_every_tune_with_its_x_line_and_midi_or_error(tmp_path):
    from convert.dataset import convert_file

    path = _corpus(tmp_path) / "a b" / "one.abc"
    found = convert_file(path)
    assert [(stem, x, line) for stem, x, line, *_ in found] == [
        ("a_b_one", 1, 1),
        ("a_b_one", 1, 6),
        ("a_b_one", 1, 11),
        ("a_b_one", 4, 15),
    ]
    assert found[1][3] == "X:1\nT:same X\nK:D\nDEF|\n"
    assert found[1][4] == abc_to_midi(found[1][3]) and found[1][5] is None
    assert found[3][4] is None and "7/1000" in found[3][5]
    bad = tmp_path / "bad.abc"
    bad.write_bytes(b"X:1\nK:C\n\xff\xfe\x00C|\n")
    (stem, x, line, text, midi, error), *rest = convert_file(bad)
    assert (stem, x, line, text, midi, rest) == (f"{tmp_path.name}_bad", 0, 0, "", None, [])
    assert str(bad) in error


def test_safe_names_keep_letters_digits_dot_dash_underscore_and_join_the_rest():
    from convert.dataset import _safe, _unique

    assert _safe("a b//c") == "a_b_c" and _safe("x.y-z_1") == "x.y-z_1"
    assert _safe("é+ü") == "_"
    taken = {"t": 0, "t-2": 0, "t-3": 0}
    found = (_unique("u", taken), _unique("t", taken), _unique("t-2", taken))
    assert found == ("u", "t-4", "t-2-2")


@pytest.mark.parametrize("workers", [1, 2])
def test_generate_abc_dataset_writes_the_split_the_seed_draws_and_the_report(tmp_path, workers):
    import json
    import random

    from convert.dataset import generate_abc_dataset

    src = _corpus(tmp_path)
    calls = []
    report = generate_abc_dataset(
        tmp_path / "out", [src], 0.5, seed=7, workers=workers, progress=lambda *a: calls.append(a)
    )
    assert calls == [(1, 2), (2, 2)]
    names = ["a_b_one-1", "a_b_one-1-2", "a_b_one-1-3", "b_two-2"]
    shuffled = sorted(names)
    random.Random(7).shuffle(shuffled)
    for split, chosen in (("test", shuffled[:2]), ("train", shuffled[2:])):
        files = sorted(p.name for p in (tmp_path / "out" / split).iterdir())
        assert files == sorted([f"{n}.abc" for n in chosen] + [f"{n}.mid" for n in chosen])
    pair = tmp_path / "out" / ("test" if "b_two-2" in shuffled[:2] else "train") / "b_two-2"
    assert pair.with_suffix(".abc").read_bytes() == b"X:2\nL:1/4\nK:A\nAB|\n"
    assert pair.with_suffix(".mid").read_bytes() == abc_to_midi(b"X:2\nL:1/4\nK:A\nAB|\n")
    written = (tmp_path / "out" / "report.json").read_text()
    assert written == json.dumps(report.to_json(), indent=1, sort_keys=True) + "\n"
    assert (report.train, report.test) == (2, 2)
    (failure,) = json.loads(written)["failures"]
    assert failure["source"] == str(src / "a b" / "one.abc")
    assert (failure["x"], failure["line"]) == (4, 15) and "7/1000" in failure["error"]
    assert json.loads(written)["failed"] == 1


def test_generate_abc_dataset_test_fraction_bounds(tmp_path):
    from convert.dataset import generate_abc_dataset

    src = _corpus(tmp_path)
    for fraction in (-0.01, 1.01):
        with pytest.raises(ValueError, match=f"test fraction {fraction} is not between 0 and 1"):
            generate_abc_dataset(tmp_path / "x", [src], fraction)
    assert not (tmp_path / "x").exists()
    assert generate_abc_dataset(tmp_path / "all", [src], 1.0).to_json()["test"] == 4
    none = generate_abc_dataset(tmp_path / "none", [src], 0.0)
    assert (none.train, none.test) == (4, 0) and (tmp_path / "none" / "test").is_dir()
    assert generate_abc_dataset(tmp_path / "r", [src], 0.375).test == 2  # round(1.5) is 2
    assert generate_abc_dataset(tmp_path / "r2", [src], 0.125).test == 0  # round(0.5) is 0


# ----------------------------------------------------------------------------- convert/abc_parser


@pytest.mark.parametrize(
    "args, text",
    [
        (("bad",), "bad"),
        (("bad", 3), "tune X:3: bad"),
        (("bad", 3, 4), "tune X:3, line 4: bad"),
        (("bad", 3, 4, 2), "tune X:3, line 4:2: bad"),
        (("bad", None, 4, 2), "line 4:2: bad"),
        (("bad", 3, 0, 2), "tune X:3: bad"),  # a column without a line is not shown
    ],
)
def test_an_abc_error_names_its_tune_line_and_column(args, text):
    from convert.abc_parser import Diagnostic

    error = AbcError(*args)
    assert str(error) == text and error.args == (text,)
    assert str(Diagnostic(*args)) == text


def test_decode_abc_names_the_source_and_the_first_bad_byte():
    from convert.abc_parser import decode_abc

    assert decode_abc("é|".encode()) == "é|"
    with pytest.raises(AbcError, match=r"^f\.abc: not UTF-8 text \(byte offset 3\)$"):
        decode_abc(b"ab\n\xff\xfe", "f.abc")


def test_a_midi_directive_is_an_i_field_line_at_its_line_number():
    tune = parse_abc("X:1\n%%MIDI transpose 2\nK:C\nC|\n%%MIDI ratio 3 1 % why\nD|\n").tunes[0]
    header = [(x.number, x.letter, x.text) for x in tune.header if x.letter == "I"]
    body = [(x.number, x.letter, x.text) for x in tune.body if x.letter == "I"]
    assert header == [(2, "I", "MIDI transpose 2")] and body == [(5, "I", "MIDI ratio 3 1")]


@pytest.mark.parametrize(
    "letter, rest, field",
    [
        ("K", "G", True),
        ("K", "|G", True),  # a field letter that is no note stays a field
        ("w", "la la", True),
        ("Y", "abc", True),  # a letter that is no note and no body field: a field
        ("G", "|abc", False),  # a note before a bar line
        ("g", ":|", False),
        ("c", "]", False),
        ("a", "|", False),
        ("G", "A", False),
        ("z", "4", False),
        ("G", "", False),
    ],
)
def test_a_body_line_is_a_field_unless_it_is_music(letter, rest, field):
    from convert.abc_parser import _is_body_field

    assert _is_body_field(letter) is field  # what follows the colon does not matter


# ----------------------------------------------------------------------------- convert/tune_types


def test_meter_baseline_counts_every_training_tune():
    from convert.tune_types import meter_baseline

    train = [("6/8", "slide")] * 3 + [("6/8", "jig")] * 2 + [("4/4", "reel")] * 2
    train += [("4/4", "hornpipe"), ("2/4", "polka"), ("2/4", "march")]
    test = [("6/8", "slide"), ("6/8", "jig"), ("4/4", "reel"), ("9/8", "slide")]
    test += [("2/4", "march"), ("2/4", "polka")]
    # 6/8 -> slide (3 against 2), 4/4 -> reel, unseen 9/8 -> slide (3 overall), 2/4 ties -> march
    assert meter_baseline(train, test) == 4 / 6


def test_a_near_duplicate_group_belongs_to_its_most_frequent_type_and_is_never_a_whole_type():
    from convert.tune_types import split_stratified

    items = [("a", "reel"), ("b", "reel"), ("c", "jig"), ("d", "jig"), ("e", "jig")]
    groups = {"a": "g", "b": "g", "c": "g"}
    for seed in range(6):
        split = split_stratified(items, 0.5, seed, groups=groups)
        # the group is reel's (2 of its 3): reel's only group stays in train; jig has d and e
        assert {"a", "b", "c"} <= set(split["train"]) and len(split["test"]) == 1
    two = split_stratified([("x", "air"), ("y", "air")], 0.9, 0, groups={"x": "g", "y": "g"})
    assert two == {"train": ["x", "y"], "test": []}


def test_rhythm_keys_drop_a_plural_s_of_words_longer_than_three_letters():
    from convert.tune_types import _key

    assert _key(" Reels. ") == "reel" and _key("bus") == "bus" and _key("Highlands;]") == "highland"
    assert _key("class") == "class" and _key("jigs") == "jig" and _key("SS") == "ss"
    assert _key("slip_jigs, ") == "slip jig" and _key("xx reels xx") == "xx reel xx"


def test_pieces_window_a_long_canonical_tune_and_count_it():
    from convert.canonical import canonical_midi, canonical_windows
    from convert.tune_types import TuneTypeReport, _pieces, _Tune

    long = canonical_midi(abc_to_midi("X:1\nL:1/8\nK:G\n" + "GABc dBAG|" * 24 + "\n"))
    tune, report = _Tune("t", "reel", long), TuneTypeReport()
    windows = canonical_windows(long, 200)
    assert len(windows) > 2
    assert _pieces(tune, 200, "canonical", report) == [
        (f"-w{i}", w) for i, w in enumerate(windows, 1)
    ]
    _pieces(tune, 200, "canonical", report)
    assert (report.windowed, report.windows) == (2, 2 * len(windows))
    assert _pieces(tune, 200, "written", report) == [("", long)]
    assert _pieces(tune, len(long), "canonical", report) == [("", long)]
    assert (report.windowed, report.windows) == (2, 2 * len(windows))


def test_crops_are_runs_of_notes_from_tick_0_cut_to_the_first_window():
    from convert.canonical import canonical_midi, canonical_windows, read_notes
    from convert.tune_types import _crops, _Tune

    tune = _Tune("t", "reel", canonical_midi(abc_to_midi("X:1\nL:1/8\nK:G\n" + "GABc dBAG|" * 5)))
    notes = read_notes(tune.midi)[0]
    assert _crops(tune, 0, 1, 10_000) == [] and len(_crops(tune, 1, 1, 10_000)) == 1
    crops = _crops(tune, 12, 1, 10_000)
    assert [name for name, _ in crops] == [f"-c{i}" for i in range(1, 13)]
    for _, data in crops:
        got = read_notes(data)[0]
        assert got[0][0] == 0 and len(notes) // 2 <= len(got) <= len(notes) * 9 // 10
        pitches, run = [n[1] for n in notes], [n[1] for n in got]
        assert any(pitches[i : i + len(run)] == run for i in range(len(notes)))  # a run of it
    short = _crops(tune, 3, 1, 120)
    for (_, cut), (_, whole) in zip(short, _crops(tune, 3, 1, 10_000), strict=True):
        assert cut == canonical_windows(whole, 120)[0] != whole


def _typed_tunes(tmp_path):
    """Two files of typed tunes: reels first, jigs after, one reel long enough for windows."""

    def tune(x, rhythm, body, meter="4/4"):
        return f"X:{x}\nT:T{x}\nR:{rhythm}\nM:{meter}\nL:1/8\nK:D\n{body}\n\n"

    reels = ["DFAF dFAF|", "GABG dGBG|", "ABcA eAcA|", "FAdA FAdA|", "EFGA BcdB|"]
    jigs = ["DFA dAF|", "GBd gdB|", "Ace aec|", "FAd fdA|", "dcB AFD|"]
    folder = tmp_path / "src" / "coll"
    folder.mkdir(parents=True)
    text = "".join(tune(i + 1, "reel", b) for i, b in enumerate(reels))
    text += tune(6, "reel", "|".join(f"{a}{b}cd efge" for a in "DEFGAB" for b in "ABcdef"))
    (folder / "a.abc").write_text(text)
    (folder / "b.abc").write_text(
        "".join(tune(i + 11, "jig", b, "6/8") for i, b in enumerate(jigs))
    )
    return tmp_path / "src"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_fraction": 1.0}, r"^test fraction 1\.0 is not in \[0, 1\)$"),
        ({"test_fraction": 1.5}, r"^test fraction 1\.5 is not in \[0, 1\)$"),
        ({"test_fraction": -0.1}, r"^test fraction -0\.1 is not in \[0, 1\)$"),
        ({"min_count": 0}, r"^min count and max bytes must be >= 1$"),
        ({"max_bytes": 0}, r"^min count and max bytes must be >= 1$"),
        ({"form": "raw"}, r"^form 'raw' is not one of canonical, written$"),
        ({"crops": 2, "form": "written"}, r"^crops are written in the canonical form only$"),
        ({"notes_only": True}, r"^notes only applies to the written form \(the canonical form"),
        ({"hold_out": ["x", "y"]}, r"^no source file is in a folder named x, y$"),
    ],
)
def test_generate_tune_types_refuses_bad_settings_with_their_message(tmp_path, kwargs, message):
    from convert.tune_types import generate_tune_types

    with pytest.raises(ValueError, match=message):
        generate_tune_types(tmp_path / "out", [_typed_tunes(tmp_path)], **kwargs)
    assert not (tmp_path / "out").exists()


def test_generate_tune_types_settings_report_progress_and_rerun(tmp_path):
    import json

    from convert import near_duplicates as near
    from convert.tune_types import generate_tune_types

    src, out = _typed_tunes(tmp_path), tmp_path / "a" / "b" / "out"
    calls = []
    report = generate_tune_types(
        out,
        [src],
        min_count=2,
        test_fraction=0.2,
        max_bytes=300,
        progress=lambda *a: calls.append(a),
    )
    assert calls == [(1, 2), (2, 2)]
    assert report.settings == {
        "min_count": 2,
        "test_fraction": 0.2,
        "seed": 0,
        "max_bytes": 300,
        "notes_only": False,
        "exclude_from": [],
        "pretrain": False,
        "form": "canonical",
        "near_threshold": near.THRESHOLD,
        "near_ngram": near.N,
        "hold_out": [],
        "crops": 0,
    }
    text = (out / "report.json").read_text()
    assert text == json.dumps(report.to_json(), indent=1, sort_keys=True) + "\n"
    assert list(report.meters) == ["jig", "reel"]  # by type, whatever the order of the names
    assert report.windowed == 1 and any("-w2.mid" in p.name for p in out.rglob("*.mid"))
    files = sorted(p.relative_to(out) for p in out.rglob("*.mid"))
    again = generate_tune_types(out, [src], min_count=2, test_fraction=0.2, max_bytes=300)
    assert sorted(p.relative_to(out) for p in out.rglob("*.mid")) == files  # the same split
    assert again.to_json() == report.to_json()
    other = generate_tune_types(tmp_path / "s1", [src], 2, 0.2, seed=1, max_bytes=300)
    assert sorted(p.name for p in (tmp_path / "s1" / "test").iterdir()) != sorted(
        p.name for p in (out / "test").iterdir()
    )
    assert other.settings["seed"] == 1


def test_generate_tune_types_crops_use_the_seed(tmp_path):
    from convert.tune_types import DEFAULT_MAX_BYTES, _crops, _Tune, generate_tune_types

    src, out = _typed_tunes(tmp_path), tmp_path / "out"
    generate_tune_types(out, [src], min_count=2, test_fraction=0.2, seed=3, crops=2)
    whole = [p for p in sorted((out / "train").glob("*.mid")) if "-c" not in p.stem]
    assert len(whole) >= 6 and not list((out / "test").glob("*-c1.mid"))
    for path in whole:
        kind, name = path.stem.split("_", 1)
        if "-w" in name:  # a window of the long tune: its crops are of the whole tune
            continue
        expected = _crops(_Tune(name, kind, path.read_bytes()), 2, 3, DEFAULT_MAX_BYTES)
        assert [(out / "train" / f"{path.stem}{s}.mid").read_bytes() for s, _ in expected] == [
            data for _, data in expected
        ]


FILE_WITH_HEADER = (
    "%abc-2.1\nL:1/4\n% a comment\nM:3/4\n%%MIDI transpose 1\n\n"
    "X:7\nT:one\nK:C\nC|\nX:8b\nT:two\nthe words here run on past thirty characters\nK:G\nG|\n"
)


def test_parse_abc_gives_each_tune_the_file_header_and_splits_at_an_x_line():
    result = parse_abc(FILE_WITH_HEADER)
    assert parse_abc(FILE_WITH_HEADER.encode()) == result  # bytes are decoded first
    one, two = result.tunes
    file_header = [(2, "1/4", "L"), (4, "3/4", "M"), (5, "MIDI transpose 1", "I")]
    assert [(x.number, x.text, x.letter) for x in one.header] == [
        *file_header,
        (8, "one", "T"),
        (9, "C", "K"),
    ]
    assert [(x.number, x.text, x.letter) for x in two.header] == [
        *file_header,
        (12, "two", "T"),
        (14, "G", "K"),
    ]
    assert (one.x, one.line, two.x, two.line) == (7, 7, 8, 11)
    assert one.text == "X:7\nT:one\nK:C\nC|\n" and two.text == "X:8b\nT:two\n" + (
        "the words here run on past thirty characters\nK:G\nG|\n"
    )
    assert [(x.number, x.text, x.letter) for x in one.body] == [(10, "C|", "")]
    assert [(x.number, x.text, x.letter) for x in two.body] == [(15, "G|", "")]
    assert [str(w) for w in result.warnings] == [
        "tune X:8, line 11: X: field '8b' read as 8",
        "tune X:8, line 13:1: text before K: ignored: 'the words here run on past thi'",
    ]
    assert result.errors == []


def test_a_tune_whose_x_is_no_number_is_an_error_and_skipped_to_the_next_x():
    result = parse_abc("X:abc\nK:C\nC|\nX: 2 % two\nK:D\nD|\n")
    assert [str(e) for e in result.errors] == ["line 1: X: field 'abc' is not a number"]
    ((x, line, text),) = [(t.x, t.line, t.text) for t in result.tunes]
    assert (x, line, text) == (2, 4, "X: 2 % two\nK:D\nD|\n") and result.warnings == []


def test_dataset_edges_the_corpus_source_parse_errors_defaults_and_reruns(tmp_path):
    from convert.dataset import _safe, convert_file, find_abc_files, generate_abc_dataset

    corpus = find_abc_files(["music21"])
    assert len(corpus) > 100 and all("corpus" in p.parts for p in corpus)
    bad = tmp_path / "bad.abc"
    bad.write_text("X:abc\nK:C\nC|\n")
    stem = f"{tmp_path.name}_bad"
    assert convert_file(bad) == [(stem, 0, 1, "", None, "line 1: X: field 'abc' is not a number")]
    assert _safe("AbC-z_9.") == "AbC-z_9."
    src = _corpus(tmp_path)
    first = generate_abc_dataset(tmp_path / "out", [src], 0.5)
    again = generate_abc_dataset(tmp_path / "out", [src], 0.5, seed=0)  # into the same folder
    assert first.to_json() == again.to_json()
    assert generate_abc_dataset(tmp_path / "d", [src]).test == 0  # 1 % of 4 tunes


def test_read_file_names_counts_and_records_every_tune(tmp_path):
    from convert.tune_types import TuneTypeReport, _read_file

    def tune(x, rhythm, body="ABcd efga|", meter="4/4", key="D"):
        r = f"R:{rhythm}\n" if rhythm else ""
        return f"X:{x}\nT:Tune {x}\n{r}M:{meter}\nL:1/8\nK:{key}\n{body}\n\n"

    folder = tmp_path / "my coll"
    folder.mkdir()
    path = folder / "a b.abc"
    path.write_text(
        tune(1, "reel")
        + tune(1, "reel", "GABc dBAG|")
        + tune(1, "reels", "FGAB cdef|")
        + tune(2, "jig", "ABc dcB A2c|", "9/8")
        + tune(3, "jig", "dcB ABc d2B|", "9/8")
        + tune(4, None)
        + tune(5, None)
        + tune(6, "Liebes-Lied")
        + tune(7, "Liebes-Lied")
        + tune(8, "reel", key="Q")
        + tune(9, "reel", "ABcd efga|" * 40)
    )
    report = TuneTypeReport()
    labelled, others = _read_file(path, report, 400, False, True, "written")
    assert [(t.name, t.kind) for t in labelled] == [
        ("my-coll-a-b-1", "reel"),
        ("my-coll-a-b-1-2", "reel"),
        ("my-coll-a-b-1-3", "reel"),
        ("my-coll-a-b-2", "slip-jig"),
        ("my-coll-a-b-3", "slip-jig"),
    ]
    assert [(t.name, t.kind) for t in others] == [(f"my-coll-a-b-{x}", "") for x in (4, 5, 6, 7)]
    assert report.tunes == 11 and report.without_rhythm == 2
    assert report.unrecognised == {"Liebes-Lied": 2} and report.relabelled == {"jig in 9/8": 2}
    assert report.recognised == {"reel": 4, "reels": 1, "jig": 2}
    (failed,) = report.failed
    assert failed == {
        "source": str(path),
        "x": 8,
        "line": 71,
        "error": "tune X:8, line 76: unknown key 'Q'",
    }
    assert report.too_long == 1 and report.text_events_stripped == 0  # T: writes no text event
    bad = folder / "bad.abc"
    bad.write_bytes(b"X:1\nR:reel\nK:D\n\xff|\n")
    again = TuneTypeReport()
    assert _read_file(bad, again, 400, False, True, "written") == ([], [])
    assert again.failed == [
        {"source": str(bad), "x": 0, "line": 0, "error": f"{bad}: not UTF-8 text (byte offset 15)"}
    ]


# --- convert/events: what the differential tests leave open -----------------------------------


def _score(text: str):
    from convert.abc_parser import parse_abc
    from convert.events import tune_to_score

    return tune_to_score(parse_abc(text).tunes[0])


def _eighths(text: str) -> list[tuple]:
    """(onset, pitch, length) of every note, in eighths."""
    from convert.events import WHOLE

    eighth = WHOLE // 8
    return [
        (onset / eighth, pitch, length / eighth)
        for voice in _score(text).voices
        for onset, pitch, length in voice.notes
    ]


def test_events_warnings_name_the_tune_line_and_column():
    from convert.abc_parser import Diagnostic

    score = _score("X:7\nT:t\nL:1/8\nK:C\nCD] [[CE]] []|\nI:MIDI ratio 0 2\nA>B|\n")
    assert score.warnings == [
        Diagnostic("']' without a chord ignored", 7, 5, 3),
        Diagnostic("'[' inside a chord ignored", 7, 5, 6),
        Diagnostic("']' without a chord ignored", 7, 5, 10),
        Diagnostic("empty chord ignored", 7, 5, 13),
        Diagnostic("MIDI ratio 0 2 ignored", 7, 6, 1),
    ]


@pytest.mark.parametrize(
    "ratio, lengths",
    [
        ("2 1", [4 / 3, 2 / 3]),  # m + n % 2 == 1: doubled first, 4:2 over 3
        ("3 2", [1.5, 1.0]),  # abc2midi's arithmetic: 3/2 and 1, not 6/5 and 4/5
        ("3 1", [1.5, 0.5]),  # the default
        ("1001 2", [1.5, 0.5]),  # out of range: ignored (warned)
        ("1 1001", [1.5, 0.5]),
        ("2 0", [1.5, 0.5]),
        ("1000 1000", [1.0, 1.0]),  # the largest allowed
    ],
)
def test_events_midi_ratio_sets_broken_rhythm(ratio, lengths):
    notes = _eighths(f"X:1\nL:1/8\nK:C\nI:MIDI ratio {ratio}\nA>B|\n")
    assert [length for _, _, length in notes] == pytest.approx(lengths)
    assert notes[1][0] == pytest.approx(lengths[0])


def test_events_a_chords_own_length_replaces_its_notes_lengths():
    assert _eighths("X:1\nL:1/8\nK:C\n[C2E2][CE]3[C2E2]1|\n") == [
        (0.0, 60, 2.0),
        (0.0, 64, 2.0),
        (2.0, 60, 3.0),
        (2.0, 64, 3.0),
        (5.0, 60, 2.0),  # written 1: as its first note
        (5.0, 64, 2.0),
    ]


def test_events_multi_bar_rests_last_their_bars_and_end_accidentals_from_two_bars():
    # 3/4: a bar is 6 eighths; Z1 keeps the bar's F sharp, Z2 ends it
    assert _eighths("X:1\nL:1/8\nM:3/4\nK:C\n^F Z1 F Z2 F|\n") == [
        (0.0, 66, 1.0),
        (7.0, 66, 1.0),
        (20.0, 65, 1.0),
    ]
    assert _eighths("X:1\nL:1/8\nM:none\nK:C\nZ C|\n") == [(8.0, 60, 1.0)]  # no meter: a whole


@pytest.mark.parametrize(
    "body, message",
    [
        ("Z1001|", "line 3:1: multi-bar rest of 1001 bars is absurd"),
        ("[CE]/0|", "line 3:4: bad chord length"),
        ("(65:2C|", "line 3:1: tuplet \\(65 is absurd"),
        ("(1:2C|", "line 3:1: tuplet \\(1 is absurd"),
        ("(3:0C|", "line 3:1: bad tuplet '\\(3:0'"),
        ("(3:2:0C|", "line 3:1: bad tuplet '\\(3:2:0'"),
    ],
)
def test_events_errors_name_the_place(body, message):
    from convert.abc_parser import AbcError

    with pytest.raises(AbcError, match=message):
        _score(f"X:1\nK:C\n{body}\n")


def test_events_a_voice_field_without_a_name_is_voice_1():
    voices = _score("X:1\nK:C\nV:\nCD|\nV:1\nEF|\n").voices
    assert [(voice.name, len(voice.notes)) for voice in voices] == [("1", 4)]


@pytest.mark.parametrize(
    "text, numbers",
    [("1", {1}), ("1,3", {1, 3}), ("2-4", {2, 3, 4}), ("1,3-4", {1, 3, 4}), ("", set())],
)
def test_events_ending_numbers(text, numbers):
    from convert.events import _ending_numbers

    assert _ending_numbers(text) == frozenset(numbers)
    assert _ending_numbers("2-1000") == frozenset(range(2, 67))  # a range holds 65 at most


@pytest.mark.parametrize(
    "head, voice, pitch",
    [
        ("", "V:1 octave=1", 72),
        ("", "V:1 octave=-1", 48),
        ("", "V:1 clef=treble-8", 48),  # a body V:'s clef octave counts
        ("", "V:1 clef=bass+8", 72),
        ("", "V:1 clef=bass", 60),
        ("V:1 clef=treble-8\n", "V:1", 60),  # a header V:'s does not (abc2midi)
        ("V:1 octave=1\n", "V:1", 72),  # its octave does
    ],
)
def test_events_voice_octave_and_clef(head, voice, pitch):
    assert _eighths(f"X:1\nL:1/8\n{head}K:C\n{voice}\nC|\n") == [(0.0, pitch, 1.0)]


def test_events_tuplet_bounds_and_a_missing_q():
    from convert.abc_parser import Diagnostic

    score = _score("X:1\nL:1/8\nK:C\n(10CDEFGABCDE|\n")
    assert score.warnings == [Diagnostic("tuplet (10 without a q ignored", 1, 4, 1)]
    assert [length for _, _, length in _eighths("X:1\nL:1/8\nK:C\n(64:2C|\n")] == [2 / 64]
    assert [length for _, _, length in _eighths("X:1\nL:1/8\nK:C\n(3:1CDE|\n")] == pytest.approx(
        [1 / 3] * 3
    )


def test_events_a_chord_length_with_a_denominator_and_a_rest_inside_a_chord():
    assert _eighths("X:1\nL:1/8\nK:C\n[CE]3/2 C|\n") == [
        (0.0, 60, 1.5),
        (0.0, 64, 1.5),
        (1.5, 60, 1.0),
    ]
    assert _eighths("X:1\nL:1/8\nK:C\n[Cz]2 C|\n") == [(0.0, 60, 2.0), (2.0, 60, 1.0)]


def test_events_a_bad_rest_length_names_the_place():
    from convert.abc_parser import AbcError

    with pytest.raises(AbcError, match="line 4:3: bad rest length"):
        _score("X:1\nL:1/8\nK:C\nC z/0|\n")


def test_events_rtranspose_adds_to_the_current_voices_own_transposition():
    text = "X:1\nL:1/8\nK:C\nV:1\nV:2\nV:1\nI:MIDI transpose 5\nC|\nV:2\nI:MIDI rtranspose 1\nC|\n"
    assert _eighths(text) == [(0.0, 65, 1.0), (0.0, 61, 1.0)]  # V:2 began at 0: 0 + 1
    assert _eighths("X:1\nL:1/8\nK:C\nI:MIDI rtranspose 1\nI:MIDI rtranspose 2\nC|\n") == [
        (0.0, 63, 1.0)
    ]


def test_events_a_rest_of_1000_bars_is_played():
    assert _eighths("X:1\nL:1/8\nM:2/4\nK:C\nZ1000|C|\n") == [(4000.0, 60, 1.0)]


def test_events_body_meter_and_tempo_fields_are_meta_events_at_their_time():
    from convert.abc_parser import Diagnostic
    from convert.events import WHOLE

    eighth = WHOLE // 8
    score = _score("X:1\nL:1/8\nM:2/4\nQ:1/4=100\nK:C\nCD|\nM:3/4\nQ:1/4=120\nEFG|[M:none]A|\n")
    body = [(time / eighth, kind, value) for time, kind, value in score.metas if time]
    assert body == [(2.0, "meter", (3, 4)), (2.0, "tempo", 120.0)]  # M:none adds nothing
    macro = _score("X:3\nK:C\nC|\nm: ~G2 = G/A/G\n")
    assert macro.warnings == [Diagnostic("macro definitions (m:) are not expanded", 3, 4, 1)]


@pytest.mark.parametrize(
    "field, message",
    [("K:Hmm", "line 5:1: unknown key 'Hmm'"), ("M:x/y", "line 5:1: unknown meter 'x/y'")],
)
def test_events_a_bad_body_field_names_its_place(field, message):
    from convert.abc_parser import AbcError

    with pytest.raises(AbcError, match=message):
        _score(f"X:1\nL:1/8\nK:C\nC|\n{field}\nD|\n")


def test_events_an_empty_inline_key_keeps_the_key():
    assert _eighths("X:1\nL:1/8\nK:G\nF [K:] F|\n") == [(0.0, 66, 1.0), (1.0, 66, 1.0)]


def test_events_broken_rhythm_and_ties_out_of_place_are_warned_and_ignored():
    from convert.abc_parser import Diagnostic

    text = "X:2\nL:1/8\nK:C\n[C>E] | >C - C D>>>>E|\n"
    assert _eighths(text) == [
        (0.0, 60, 1.0),
        (0.0, 64, 1.0),
        (1.0, 60, 2.0),  # tied
        (3.0, 62, 1.875),  # >>>> counts as >>>: 15/8 and 1/8
        (4.875, 64, 0.125),
    ]
    assert _score(text).warnings == [
        Diagnostic("broken rhythm '>' inside a chord ignored", 2, 4, 3),
        Diagnostic("broken rhythm '>' without a note before it ignored", 2, 4, 9),
    ]
    tie = Diagnostic("tie without a note before it ignored", 2, 3, 1)
    assert _score("X:2\nK:C\n-C|\n").warnings == [tie]


def _pitches(text: str) -> list[int]:
    return [pitch for _, pitch, _ in _eighths(text)]


@pytest.mark.parametrize(
    "text, pitches",
    [
        ("X:1\nP:ABA\nL:1/8\nK:C\nC|\nP:A\nD|\nP:B\nE|\n", [60, 62, 64, 62]),  # intro first
        ("X:1\nP:AB\nL:1/8\nK:C\nP:A\n|:D:|\nP:B\nE|\n", [62, 62, 64]),  # repeats in a part
        ("X:1\nP:BA\nL:1/8\nK:C\nC D|\n", [60, 62]),  # no parts in the body: as written
    ],
)
def test_events_a_play_order_plays_the_parts(text, pitches):
    assert _pitches(text) == pitches


def test_events_a_part_missing_from_the_tune_is_warned_and_skipped():
    from convert.abc_parser import Diagnostic

    text = "X:4\nP:ACB\nL:1/8\nK:C\nP:A\nD|\nP:B\nE|\n"
    assert _pitches(text) == [62, 64]
    assert _score(text).warnings == [
        Diagnostic("part C of P: play order is not in the tune", 4, 1, 0)
    ]


def test_events_bar_lines_invisible_double_and_inside_a_chord():
    from convert.abc_parser import Diagnostic

    # every kind of bar line ends the bar's accidentals
    assert _pitches("X:1\nL:1/8\nK:C\n^C || C ^D [| D ^E |] E ^F [|] F|\n") == [
        61,
        60,
        63,
        62,
        65,
        64,
        66,
        65,
    ]
    chord = _score("X:5\nL:1/8\nK:C\n[C|E] D|\n")
    assert _pitches("X:5\nL:1/8\nK:C\n[C|E] D|\n") == [60, 64, 62]  # the chord goes on
    assert chord.warnings == [Diagnostic("bar line inside a chord", 5, 4, 3)]


def test_events_a_meter_read_another_way_is_warned_at_its_line():
    from convert.abc_parser import Diagnostic

    score = _score("X:6\nL:1/8\nM:FREI3/8\nK:C\nC|\n")
    assert score.warnings == [Diagnostic("meter 'FREI3/8' read as 3/8", 6, 3, 0)]


@pytest.mark.parametrize(
    "body, pitches",
    [  # abc2midi 4.84 plays the same (checked with convert.compare.abc2midi_notes)
        ("C || D :| E|", [60, 62, 60, 62, 64]),
        ("C :| D || E :| F|", [60, 60, 62, 64, 64, 65]),
        ("C |1 D :|2 E |1 F :|2 G|]", [60, 62, 60, 64, 67]),
        ("C D |: E :| F |] G :| A|", [60, 62, 64, 64, 65, 67, 67, 69]),
    ],
)
def test_events_repeats_without_a_start_and_a_second_ending_group(body, pitches):
    assert _pitches(f"X:1\nL:1/8\nK:C\n{body}\n") == pitches


def test_events_a_tuplet_inside_another_is_warned_and_the_outer_goes_on():
    from convert.abc_parser import Diagnostic

    text = "X:1\nL:1/8\nK:C\n(3C(3DE F|\n"
    assert [length for _, _, length in _eighths(text)] == pytest.approx([2 / 3] * 3 + [1])
    assert _score(text).warnings == [Diagnostic("tuplet inside another one ignored", 1, 4, 4)]


def test_events_a_start_repeat_before_the_end_of_the_last_is_read_as_a_double_repeat():
    from convert.abc_parser import Diagnostic

    text = "X:3\nL:1/8\nK:C\n|: C |: D :| E|\n"
    assert _pitches(text) == [60, 60, 62, 62, 64]  # as abc2midi 4.84
    message = "|: before the :| of the previous |: read as ::"
    assert _score(text).warnings == [Diagnostic(message, 3, 4, 6)]


def test_events_pitch_and_length_bounds_and_their_messages_with_place():
    from convert.abc_parser import Diagnostic

    score = _score("X:1\nL:1/8\nK:C\nC,,,,, g'''' A4096 A/4096\n")
    assert [n[1] for v in score.voices for n in v.notes] == [0, 127, 69, 69]
    for note, message in [
        ("^g''''", "note \"^g''''\" is outside the MIDI range"),
        ("A/0", "bad note length in 'A/0'"),
        ("A4097", "absurd note length 4097/1"),
        ("A/4097", "absurd note length 1/4097"),
    ]:
        with pytest.raises(AbcError) as refused:
            _score(f"X:1\nL:1/8\nK:C\nB {note}\n")
        assert str(refused.value) == f"tune X:1, line 4:3: {message}"
    score = _score("X:2\nL:1/8\nK:C\nB A0 B|C>D2\n")
    assert score.warnings == [
        Diagnostic("zero-length note skipped", 2, 4, 3),
        Diagnostic("broken rhythm between notes of unequal length ignored", 2, 4, 10),
    ]


def test_events_what_is_left_open_at_the_end_is_warned_at_the_last_line():
    from convert.abc_parser import Diagnostic

    score = _score("X:1\nL:1/8\nK:C\nA B|\nc d [CE\n")
    assert score.warnings == [Diagnostic("chord in voice 1 not closed", 1, 5, 0)]
    notes = [n for v in score.voices for n in v.notes]
    assert [n[1] for n in notes] == [69, 71, 72, 74, 60, 64]
    assert notes[-1][0] == notes[-2][0] == 4 * notes[0][2]  # the chord placed after the 4 notes
    assert notes[-1][2] == notes[-2][2] == notes[0][2]
    score = _score("X:1\nL:1/8\nK:C\nA B|\nc d (3AB\n")
    assert score.warnings == [Diagnostic("tuplet in voice 1 lacks notes at the end", 1, 5, 0)]
    score = _score("X:1\nL:1/8\nK:C\nB z0 B\n")
    assert score.warnings == [Diagnostic("zero-length note skipped", 1, 4, 3)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("A B \\\nC ^g''''", "line 4:7: note \"^g''''\" is outside the MIDI range"),  # joined
        ("A B|\nK:Hm\nA", "line 5:1: unknown key 'Hm'"),
        ("A B|\nM:x/y\nA", "line 5:1: unknown meter 'x/y'"),
    ],
)
def test_events_errors_in_joined_lines_and_body_fields_name_their_line(body, message):
    with pytest.raises(AbcError) as refused:
        _score(f"X:1\nL:1/8\nK:C\n{body}\n")
    assert str(refused.value) == f"tune X:1, {message}"


def test_events_slashes_with_a_number_and_many_slashes_as_the_converter_reads_them():
    from convert.events import QUARTER

    eighth = QUARTER // 2
    notes = [n for v in _score("X:1\nL:1/8\nK:C\nA A//4 A/////////////\n").voices for n in v.notes]
    assert [n[2] for n in notes] == [eighth, eighth // 8, eighth // 4096]  # 2 ** 12 at most


def test_events_a_tune_may_last_max_quarters_and_not_one_more():
    from convert.events import MAX_QUARTERS

    whole, rest = divmod(MAX_QUARTERS, 4096)
    body = "A4096 " * whole + (f"A{rest}" if rest else "")
    assert len(_score(f"X:3\nL:1/4\nK:C\n{body}\n").voices[0].notes) == whole + bool(rest)
    with pytest.raises(AbcError) as refused:
        _score(f"%\nX:3\nL:1/4\nK:C\n{body} A\n")
    assert str(refused.value) == f"tune X:3, line 2: tune lasts over {MAX_QUARTERS} quarter notes"


# --- convert/tune_features: phrase ends, the logistic baseline ---------------------------------


def _quarters(count: int) -> list[tuple[int, int, int]]:
    """`count` quarter notes of one pitch, one after the other: (onset, pitch, duration)."""
    return [(k * 2 * UNIT, 60, 2 * UNIT) for k in range(count)]


def test_phrase_features_of_quarter_notes_counted_by_hand():
    # 101 quarters end 202 eighths in; each of the 99 quarter runs ends `back` = 0, 2, ..., 196
    # eighths before the end: 11 within 2 of a phrase end (back % 64 in 0, 2, 62), 20 of a
    # half-phrase end (back % 32 in 0, 2, 30); each cadence bar holds 4 onsets, 4 quarter gaps
    expected = [0.5, 0.5, 1.0, 1.0, 1.0, 11 / 4, 20 / 8, 11 / 99, 1.0, 101 / 256]
    assert phrase_features(_quarters(101)).tolist() == pytest.approx(expected)
    assert phrase_features(_quarters(600))[-1] == 2.0  # the length in onsets stops at 512


def test_phrase_features_count_a_cadence_bar_of_six_onsets_as_not_at_most_five():
    # quarters up to eighth 190, eighths at 192..196, a last quarter 197..199: the last
    # cadence bar [191, 199) holds 6 onsets, the three before it 4 each
    notes = _quarters(96)
    notes += [(e * UNIT, 62, UNIT) for e in range(192, 197)] + [(197 * UNIT, 64, 2 * UNIT)]
    features_ = phrase_features(notes)
    assert features_[0] == pytest.approx(18 / 4 / 8)
    assert features_[1] == pytest.approx(4 / 8)
    assert features_[4] == 0.75


def test_rhythm_features_need_no_deprecated_numpy_casts():
    notes = [(0, 60, UNIT // 2), (UNIT // 2, 62, UNIT // 2), (UNIT, 64, 3 * UNIT)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vector = features(notes, (6, 8))
    assert np.isfinite(vector).all()


def test_logistic_baseline_weights_minimise_the_penalised_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    labels = ["a" if v > 0 else "b" for v in x[:, 0] + 0.5 * rng.normal(size=60)]
    l2 = 0.05
    model = LogisticBaseline(x, labels, l2=l2)
    z = (x - model.mean) / model.scale
    p = np.exp(z @ model.w + model.b)
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(2)[[model.classes.index(k) for k in labels]]
    gradient = z.T @ (p - onehot) / len(x) + 2 * l2 * model.w
    assert np.abs(gradient).max() < 1e-6  # at the minimum of the loss + l2 * |w|^2
    free = LogisticBaseline(x, labels, l2=0.0)
    assert np.linalg.norm(model.w) < np.linalg.norm(free.w)


def test_with_rests_reads_on_past_a_blank_line():
    text = with_rests("0 60 240\n\n480 62 240\n")
    assert text == "0 60 240\n240 z 240\n240 62 240\n"
