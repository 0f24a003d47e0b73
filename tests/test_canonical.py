"""convert.canonical (the written form taken out of a tune's MIDI) and convert.near_duplicates."""

import io

import mido
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from convert import abc_to_midi
from convert.canonical import (
    UNIT,
    CanonicalError,
    canonical_meter,
    canonical_midi,
    canonical_notes,
    canonical_windows,
    melody,
    read_notes,
)
from convert.near_duplicates import THRESHOLD, groups, ngrams, similar_pairs, similar_to, similarity

# ----------------------------------------------------------------------------- helpers


def midi_of(notes, tpq=480, meter=(6, 8), tempo=500_000, velocity=90, channel=0) -> bytes:
    """A format-0 file of (onset, pitch, duration) notes in ticks, with tempo, key and meter."""
    events = []
    for onset, pitch, duration in notes:
        events.append(
            (onset, 1, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel))
        )
        events.append((onset + duration, 0, mido.Message("note_off", note=pitch, channel=channel)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=tempo))
    track.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1]))
    track.append(mido.MetaMessage("key_signature", key="D"))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    mf = mido.MidiFile(type=0, ticks_per_beat=tpq)
    mf.tracks.append(track)
    out = io.BytesIO()
    mf.save(file=out)
    return out.getvalue()


tunes = st.lists(
    st.tuples(st.integers(0, 3), st.integers(48, 84), st.sampled_from([1, 2, 3])),
    min_size=1,
    max_size=40,
).map(
    # (rest before, pitch, length in eighths) -> notes in ticks of an eighth = 240
    lambda spec: _lay_out(spec)
)


def _lay_out(spec):
    notes, now = [], 0
    for rest, pitch, length in spec:
        now += rest * 240
        notes.append((now, pitch, length * 240))
        now += length * 240
    return notes


# ----------------------------------------------------------------------------- the written form


@settings(max_examples=60, deadline=None)
@example(  # a tritone alone: two transpositions put the same counts on the white keys
    notes=_lay_out([(0, 48, 1), (0, 48, 1), (0, 66, 1), (0, 66, 1)]),
    shift=-1,
    scale=(1, 1),
    tpq=96,
    meters=((6, 8), (12, 8)),
)
@given(
    tunes,
    st.integers(-24, 24),
    st.sampled_from([(1, 1), (2, 1), (1, 2), (3, 2)]),
    st.sampled_from([96, 120, 384, 480]),
    st.sampled_from([((6, 8), (12, 8)), ((2, 2), (4, 4)), ((2, 4), (4, 4)), ((3, 4), (3, 8))]),
)
def test_key_time_scale_tempo_velocity_and_meter_spelling_leave_no_trace(
    notes, shift, scale, tpq, meters
):
    """The same tune transposed, with notes k times as long (another unit length), another
    tick resolution, tempo, velocity, channel and a meter of the same class: the same bytes."""
    num, den = scale
    notes = [(o, p, d) for o, p, d in notes]
    moved = [(o * num // den, p + shift, d * num // den) for o, p, d in notes]
    if not all(0 <= p <= 127 for _, p, _ in moved):
        return
    a = midi_of(notes, meter=meters[0])
    b = midi_of(moved, tpq=tpq, meter=meters[1], tempo=400_000, velocity=64, channel=3)
    assert canonical_midi(a) == canonical_midi(b)


@settings(max_examples=60, deadline=None)
@given(tunes, st.sampled_from([(6, 8), (9, 8), (2, 4), (3, 4), (5, 4), (4, 4)]))
def test_the_canonical_form_is_its_own_canonical_form(notes, meter):
    once = canonical_midi(midi_of(notes, meter=meter))
    assert canonical_midi(once) == once


def test_the_same_jig_and_reel_written_two_ways_in_abc_give_the_same_bytes():
    jig_68 = "X:1\nM:6/8\nL:1/8\nK:D\nFAd fed|cBA dAF|\n"
    jig_128 = "X:1\nM:12/8\nL:1/16\nQ:1/4=80\nK:G\nB2d2g2 b2a2g2 f2e2d2 g2d2B2|\n"
    assert canonical_midi(abc_to_midi(jig_68)) == canonical_midi(abc_to_midi(jig_128))
    reel_22 = "X:1\nM:C|\nL:1/8\nK:D\nDFAF dFAF|GBdB gBdB|\n"
    reel_24 = "X:1\nM:2/4\nL:1/16\nK:A\nAcec acec|dfaf d'faf|\n"
    assert canonical_midi(abc_to_midi(reel_22)) == canonical_midi(abc_to_midi(reel_24))


def test_a_jig_and_a_slip_jig_stay_apart():
    jig = canonical_midi(abc_to_midi("X:1\nM:6/8\nL:1/8\nK:D\nFAd fed|cBA dAF|\n"))
    slip = canonical_midi(abc_to_midi("X:1\nM:9/8\nL:1/8\nK:D\nFAd fed cBA|dAF\n"))
    assert jig != slip
    assert read_notes(jig)[2] == (6, 8) and read_notes(slip)[2] == (9, 8)


@pytest.mark.parametrize(
    ("meter", "expected"),
    [
        ((6, 8), (6, 8)),
        ((12, 8), (6, 8)),
        ((6, 4), (6, 8)),
        ((9, 8), (9, 8)),
        ((2, 2), (2, 4)),
        ((4, 4), (2, 4)),
        ((2, 4), (2, 4)),
        ((3, 4), (3, 4)),
        ((3, 8), (3, 4)),
        ((5, 4), (5, 4)),
        ((15, 8), (15, 8)),
    ],
)
def test_meter_classes(meter, expected):
    assert canonical_meter(*meter) == expected


def test_the_most_frequent_duration_becomes_an_eighth_and_the_median_pitch_lands_in_range():
    notes = canonical_notes([(0, 62, 120), (120, 64, 120), (240, 66, 240), (480, 67, 120)])
    assert [d for _, _, d in notes] == [UNIT, UNIT, 2 * UNIT, UNIT]
    pitches = sorted(p for _, p, _ in notes)
    assert 66 <= pitches[(len(pitches) - 1) // 2] <= 77
    assert all(p % 12 in {0, 2, 4, 5, 7, 9, 11} for p in pitches)  # D major -> white keys


def test_a_file_without_notes_or_not_midi_is_a_canonical_error():
    with pytest.raises(CanonicalError, match="no notes"):
        canonical_midi(midi_of([]))
    with pytest.raises(CanonicalError, match="not a readable MIDI file"):
        canonical_midi(b"MThd garbage")


def test_windows_cover_every_note_once_and_fit():
    notes = [(i * 240, 60 + i % 12, 240) for i in range(600)]
    midi = midi_of(notes)
    whole = canonical_midi(midi)
    windows = canonical_windows(midi, 1000)
    assert len(windows) > 1 and all(len(w) <= 1000 for w in windows)
    assert sum(len(read_notes(w)[0]) for w in windows) == len(read_notes(whole)[0])
    assert all(read_notes(w)[0][0][0] == 0 for w in windows)
    assert canonical_windows(midi, len(whole)) == [whole]


# ----------------------------------------------------------------------------- near-duplicates


def line(notes_text: str, key: str = "D", meter: str = "6/8") -> list[int]:
    midi = abc_to_midi(f"X:1\nM:{meter}\nL:1/8\nK:{key}\n{notes_text}\n")
    return melody(canonical_notes(read_notes(midi)[0]))


TUNE = "FAd fed|cBA dAF|GBd gfe|dcB AFD|FAd fed|cBA dAF|GBd gfe|fed d3|"
OTHER = "ABc BAG|FGA DEF|GAB AGF|EDE CDE|ABc BAG|FGA DEF|GAB AGF|E3 D3|"


def test_a_transposed_copy_with_a_changed_note_is_a_near_duplicate_another_tune_is_not():
    a = ngrams(line(TUNE))
    copy = ngrams(line(TUNE.replace("gfe|d", "gfg|d", 1), key="G", meter="12/8"))
    assert similarity(a, copy) >= THRESHOLD
    assert similarity(a, ngrams(line(OTHER))) < THRESHOLD
    assert similarity(a, a) == 1.0 and similarity(a, frozenset()) == 0.0


def test_similar_pairs_and_groups_find_the_copies():
    grams = [ngrams(line(t)) for t in (TUNE, OTHER, TUNE.replace("fed|c", "fef|c", 1))]
    pairs = similar_pairs(grams)
    assert [(i, j) for i, j, _ in pairs] == [(0, 2)]
    assert groups(3, pairs) == [0, 1, 0]
    assert similar_to([grams[2]], grams[:2]) == {0}


# ----------------------------------------------------------------------------- feature baseline


def test_the_feature_baseline_separates_jigs_from_reels_on_unseen_tunes():
    import numpy as np

    from convert.tune_features import LogisticBaseline, features

    def row(text, meter):
        midi = abc_to_midi(f"X:1\nM:{meter}\nL:1/8\nK:D\n{text}\n")
        notes, _, m = read_notes(canonical_midi(midi))
        return features(notes, m)

    jigs = ["FAd fed|cBA dAF|", "ABc BAG|FGA DEF|", "cde gec|BcB GAB|", "dcB AFD|GBd gfe|"]
    reels = [
        "DFAF dFAF|GBdB gBdB|",
        "ABcA BGEG|ABcA d2cd|",
        "gfed cBAG|FGAB c2BA|",
        "efge dcBA|GBdB AGEF|",
    ]
    x = np.array([row(t, "6/8") for t in jigs[:3]] + [row(t, "C|") for t in reels[:3]])
    model = LogisticBaseline(x, ["jig"] * 3 + ["reel"] * 3)
    assert model.predict(np.array([row(jigs[3], "12/8"), row(reels[3], "4/4")])) == ["jig", "reel"]


def test_the_quarter_note_run_features_mark_a_hornpipe_ending():
    from convert.tune_features import _quarter_runs, features

    q, e = 96, 48  # a quarter and an eighth in canonical ticks (UNIT = 48)
    runs = _quarter_runs([e] * 6 + [q, q, q, e] + [e, q, q, q])
    assert runs.tolist() == [2 * 32 / 14, 1 * 32 / 14, 1.0, 1.0, 1.0, 0.0]
    assert _quarter_runs([e] * 8).tolist() == [0.0] * 6
    midi = abc_to_midi("X:1\nM:C|\nL:1/8\nK:D\nFAdc d2 AG|FAdc d2 A2|BcdB cdec|d2 f2 d2 z2|\n")
    notes, _, m = read_notes(canonical_midi(midi))
    assert features(notes, m)[-4:].tolist() == [1.0, 1.0, 0.0, 0.0]  # d2 f2 | d2: two gaps


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [
        ([96, 48, 96], [0, 0, 1, 0, 1, 0]),  # quarter, eighth, quarter: no run
        ([96, 96, 96, 48], [8, 8, 0, 1, 1, 1]),  # a run that ends one gap before the end
        ([96], [0, 0, 1, 0, 0, 0]),
        ([48, 96], [0, 0, 1, 0, 0, 0]),
        ([96, 48, 48, 48, 48], [0, 0, 0, 0, 0, 0]),
        ([108], [0, 0, 1, 0, 0, 0]),  # a quarter within an eighth of an eighth (12 ticks)
        ([109], [0, 0, 0, 0, 0, 0]),
    ],
)
def test_quarter_runs_count_three_quarters_in_a_row_and_read_the_last_four_gaps(gaps, expected):
    from convert.tune_features import _quarter_runs

    assert _quarter_runs(gaps).tolist() == expected


def test_the_feature_vector_of_a_small_tune_entry_by_entry():
    import numpy as np

    from convert.tune_features import features

    # onsets 0, 48, 96 (a two-note chord), 192, 216; the melody 60 62 64 72 72
    notes = [(0, 60, 48), (48, 62, 48), (96, 64, 96), (96, 55, 96), (192, 72, 24), (216, 72, 72)]
    single = np.zeros(10)
    single[[2, 5, 6, 7]] = [1, 2, 1, 2]  # durations in eighths 0.5, 1, 1.5, 2 -> buckets
    pairs = np.zeros(100)
    pairs[[55, 57, 72]] = 1  # gaps 1, 1, 2, 0.5 eighths: buckets 5 5 7 2
    expected = np.concatenate(
        [
            [0, 1, 0, 0, 0],  # 9/8
            single / 6,
            pairs / 3,
            np.array([3, 1, 1, 0]) / 5,  # onsets in the quarter: 0, 2/4, 0, 0, 1/4
            np.array([1, 0, 2, 1, 1, 0]) / 5,  # in the dotted quarter: 0, 2, 4, 2, 3 sixths
            [0.25, 0.5, 0, 0.25, 0.25, 0.5, 1.0],  # steps 2 2 8 0; range 12; 5 onsets a 240
            [0, 0, 0, 1, 0, 0],  # gaps 48 48 96 24: the second last a quarter
        ]
    )
    np.testing.assert_allclose(features(notes, (9, 8)), expected)
    one = features([(0, 60, 48)], (5, 8))  # a single note: its length stands for the gap
    shape = [1, 0, 0, 0, 0, 0, 1]  # no step, no range, one onset an eighth
    assert one[:5].tolist() == [0, 0, 0, 0, 1] and one[10] == 1 and one[-13:-6].tolist() == shape


def _phrases(last_bar, pitches=None, phrases=2) -> list[tuple[int, int, int]]:
    """Canonical notes: phrases of 64 eighths, each eighth notes (pitch 60) and then a last bar
    of the given gaps (in eighths) and pitches."""
    notes, t = [], 0
    for _ in range(phrases):
        for _ in range(64 - sum(last_bar)):
            notes.append((t * 48, 60, 48))
            t += 1
        for gap, pitch in zip(last_bar, pitches or [60] * len(last_bar), strict=True):
            notes.append((t * 48, pitch, gap * 48))
            t += gap
    return notes


def test_phrase_features_read_a_hornpipe_ending_counted_back_from_the_end():
    import numpy as np

    from convert.tune_features import phrase_features

    # two phrases of 64 eighths, each ending e e q q q (d2 d2 d2): 5 onsets, 3 quarters in the
    # last bar of each; phrases 3 and 4 before the start are empty
    hornpipe = phrase_features(_phrases([1, 1, 2, 2, 2], (60, 60, 62, 62, 60)))
    expected = [10 / 4 / 8, 0, 6 / 4 / 4, 3 / 4, 1.0, 2 / 4, 2 / 8, 1.0, 1.0, 122 / 256]
    np.testing.assert_allclose(hornpipe, expected)
    reel = phrase_features(_phrases([1] * 8))  # even eighths to the end: no run anywhere
    np.testing.assert_allclose(reel, [16 / 4 / 8, 0, 0, 0, 0.5, 0, 0, 0, 0, 128 / 256])
    # a run that ends 1 or 2 eighths before a phrase end is "at" it (NEAR = 2), 3 is not
    late = phrase_features(_phrases([1, 2, 2, 2, 1], (60, 60, 62, 62, 60), phrases=1))
    assert late[5:9].tolist() == [1 / 4, 1 / 8, 1.0, 1.0]
    early = phrase_features(_phrases([2, 2, 2, 1, 1], (60, 62, 64, 60, 60), phrases=1))
    assert early[5:9].tolist() == [1 / 4, 1 / 8, 1.0, 0.0]  # no pitch repeated in the run
    earlier = phrase_features(_phrases([2, 2, 2, 1, 1, 1], phrases=1))
    assert earlier[5:8].tolist() == [0, 0, 0]


def test_feature_vector_names_its_sets():
    from convert.tune_features import feature_vector, features

    notes = _phrases([1, 1, 2, 2, 2])
    assert feature_vector(notes, (2, 4), "rhythm").tolist() == features(notes, (2, 4)).tolist()
    assert feature_vector(notes, (2, 4)).shape == (148,)
    with pytest.raises(ValueError, match="feature set must be one of rhythm, phrases, not 'x'"):
        feature_vector(notes, (2, 4), "x")


def test_softmax_rows_sum_to_one_without_overflow():
    import numpy as np

    from convert.tune_features import _softmax

    p = _softmax(np.array([[1000.0, 0.0], [0.0, np.log(3.0)]]))
    np.testing.assert_allclose(p, [[1.0, 0.0], [0.25, 0.75]])


def test_encode_writes_the_canonical_bytes_header_meter_running_status_and_end():
    from convert.canonical import encode

    expected = bytes.fromhex(
        "4d546864 00000006 0000 0001 0060"  # MThd, format 0, one track, 96 per quarter
        "4d54726b 00000019"  # MTrk, 25 bytes
        "00 ff5804 02021808"  # 2/4, 24 clocks a beat, 8 32nds a quarter
        "00 903c50 30 3c00 00 3e50 30 3e00"  # on 60; 48 later off 60 (velocity 0) then on 62
        "00 ff2f00"
    )
    assert encode([(0, 60, 48), (48, 62, 48)], (2, 4)) == expected


@pytest.mark.parametrize(
    ("x", "rounded"),
    [("1/2", 1), ("1/3", 0), ("2/3", 1), ("-1/3", 0), ("-1/2", -1), ("-2/3", -1), ("-3/2", -2)],
)
def test_round_takes_halves_away_from_zero(x, rounded):
    from fractions import Fraction

    from convert.canonical import _round

    assert _round(Fraction(x)) == rounded


def test_canonical_notes_scale_by_the_most_frequent_length_and_give_zero_lengths_a_tick():
    from convert.canonical import CanonicalError

    # the most frequent length (1 tick) becomes an eighth (48), however short
    assert [d for _, _, d in canonical_notes([(0, 60, 1), (1, 62, 1), (2, 64, 2)])] == [48, 48, 96]
    # the most frequent, not the shortest; zero lengths do not count and last one tick
    notes = canonical_notes([(0, 60, 24), (24, 62, 48), (72, 64, 48), (120, 65, 0), (120, 67, 0)])
    assert [(o, d) for o, _, d in notes] == [(0, 24), (24, 48), (72, 48), (120, 1), (120, 1)]
    with pytest.raises(CanonicalError, match="^no notes$"):
        canonical_notes([])
    with pytest.raises(CanonicalError, match="^every note has zero length$"):
        canonical_notes([(0, 60, 0)])


@pytest.mark.parametrize("pitches", [[60, 65, 67, 72, 74], [48, 50, 65, 79, 81], [60, 62, 77]])
def test_the_lower_middle_pitch_lands_in_the_median_range(pitches):
    from convert.canonical import MEDIAN_RANGE

    out = sorted(p for _, p, _ in canonical_notes([(48 * i, p, 48) for i, p in enumerate(pitches)]))
    assert MEDIAN_RANGE[0] <= out[(len(out) - 1) // 2] <= MEDIAN_RANGE[1]


def test_read_notes_velocity_one_unended_notes_and_the_default_meter():
    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=1, time=10),
            mido.Message("note_off", note=60, velocity=0, time=20),
            mido.Message("note_on", note=62, velocity=90, time=5),  # never ended
            mido.MetaMessage("end_of_track", time=40),
        ]
    )
    midi = mido.MidiFile(ticks_per_beat=96)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    assert read_notes(buffer.getvalue()) == ([(10, 60, 20), (35, 62, 40)], 96, (4, 4))


def test_the_melody_steps_are_counted_in_their_bands_edges_included():
    from convert.tune_features import features

    pitches = [60, 60, 61, 63, 66, 73, 81]  # steps 0, 1, 2, 3, 7, 8
    notes = [(48 * i, p, 48) for i, p in enumerate(pitches)]
    shape = features(notes, (2, 4))[-13:-6]
    assert shape[:4].tolist() == [1 / 6, 2 / 6, 2 / 6, 1 / 6]
    two = features([(0, 60, 48), (48, 65, 48)], (2, 4))[-13:-6]
    assert two[:4].tolist() == [0, 0, 1, 0]  # one step of 5: the middle band


def test_gap_pairs_count_every_pair_and_a_chord_alone_has_one_gap():
    import numpy as np

    from convert.tune_features import features

    pairs = slice(5 + 10, 5 + 10 + 100)
    even = features([(48 * i, 60 + i, 48) for i in range(5)], (2, 4))[pairs]
    assert even[55] == 1.0 and even.sum() == 1.0  # four eighths: 3 pairs (1, 1) of 3
    three = features([(0, 60, 48), (48, 62, 48), (96, 64, 96)], (2, 4))[pairs]
    assert three[55] == 1.0  # two gaps, one pair, divided by 1
    chord = features([(0, 60, 48), (0, 64, 96)], (2, 4))
    np.testing.assert_array_equal(chord[pairs], np.zeros(100))
    assert chord[-4:].tolist() == [0, 0, 0, 0]  # its gap is the first note's length, an eighth


def test_onsets_off_the_eighth_grid_fall_in_their_quarter_and_dotted_quarter_bins():
    from convert.tune_features import features

    row = features([(0, 60, 84), (84, 62, 12)], (6, 8))
    quarter, dotted = row[115:119], row[119:125]
    assert quarter.tolist() == [0.5, 0, 0, 0.5]  # 84 of 96 ticks: the last quarter
    assert dotted.tolist() == [0.5, 0, 0, 0.5, 0, 0]  # 84 of 144: the fourth sixth
    tiny = features([(0, 60, 1)], (2, 4))
    assert tiny[-7] == 48  # one onset in 1 tick: 48 onsets an eighth


def test_the_baseline_learns_the_class_prior_and_standardises_each_feature():
    import numpy as np

    from convert.tune_features import LogisticBaseline, _softmax

    # uninformative features: the more frequent label wins (sorted first is the other one),
    # and the fitted bias gives the labels' shares
    prior = LogisticBaseline(np.zeros((5, 2)), ["a", "a", "b", "b", "b"])
    assert prior.predict(np.zeros((2, 2))) == ["b", "b"]
    np.testing.assert_allclose(_softmax(prior.b[None, :])[0], [0.4, 0.6], atol=1e-3)
    # a label told by a tiny feature beside a large one: each is scaled by its own deviation,
    # at fitting and at prediction, so the tiny one outweighs the prior of the larger class
    tiny = [0, 0, 0] + [1e-3] * 5
    large = [1e3, -1e3, 1e3, -1e3, 1e3, -1e3, 1e3, -1e3]
    model = LogisticBaseline(np.array([tiny, large]).T, ["a"] * 3 + ["b"] * 5)
    test = np.array([[0, 1e3], [1e-3, 1e3], [0, -1e3], [1e-3, -1e3]])
    assert model.predict(test) == ["a", "b", "a", "b"]
