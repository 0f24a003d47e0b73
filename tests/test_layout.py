"""Cutting files into patches: the paper's fixed cut and the notes layout (one unit per patch)."""

import random
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bytesim.abc_task import add_naturals, add_structure, rich_tune
from bytesim.data import EOP, PATCH, DataError, encode_pair
from bytesim.layout import (
    BAR_LINE,
    CONTEXT,
    abc_segments,
    align,
    bar_times,
    expand_bars,
    expand_replays,
    explicit_accidentals,
    file_bytes,
    input_units,
    interleave,
    key_signature,
    model_ext,
    model_patches,
    pad_segments,
    replay_labels,
    with_bars,
    with_replays,
    written_bytes,
)
from convert import abc_to_midi
from convert.fields import parse_key
from convert.notetext import midi_to_note_text, with_rests


def unpad(values: np.ndarray) -> bytes:
    return bytes(int(v) for v in values if v != EOP)


def test_worked_example_from_the_docstring():
    assert abc_segments(b"|:GA B2|") == [b"|:G", b"A", b" B2", b"|"]
    patch = model_patches(abc_to_midi("X:1\nL:1/8\nK:C\nG\n"), "mid", "notes")[-PATCH:]
    assert patch.tolist() == list(b"0 67 240\n") + [EOP] * 7


@pytest.mark.parametrize(
    ("line", "segments"),
    [
        (b"^F,2>G/", [b"^F,2>", b"G/"]),
        (b'"Am"~c3/2-c', [b'"Am"~c3/2-', b"c"]),
        (b"{ga}b !trill!c'", [b"{ga}b", b" !trill!c'"]),
        (b"[CEG]2 [K:D] d", [b"[CEG]2", b" [K:D] d"]),
        (b"|[1 A :|[2 B |]", [b"|[1 A", b" :|[2 B", b" |]"]),
        (b"(3DEF z2 x Z4", [b"(3D", b"E", b"F", b" z2", b" x", b" Z4"]),
        (b"A % a comment with B", [b"A", b" % a comment with B"]),
    ],
)
def test_abc_is_cut_after_each_note_rest_or_chord(line, segments):
    assert abc_segments(line) == segments


def test_field_and_comment_lines_are_segments_of_their_own():
    text = b"X:1\nK:G\nAB|\nM:3/4\n% c\nc|]\n"
    fields = [b"X:1\n", b"K:G\n"]
    assert abc_segments(text) == [*fields, b"A", b"B", b"|\n", b"M:3/4\n", b"% c\n", b"c", b"|]\n"]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 48))
def test_the_patches_give_the_file_back(seed, notes):
    abc = rich_tune(random.Random(seed), notes)[0].encode()
    assert b"".join(abc_segments(abc)) == abc
    patches = model_patches(abc, "abc", "notes")
    assert len(patches) % PATCH == 0
    assert unpad(patches) == abc
    midi = abc_to_midi(abc)
    assert file_bytes(unpad(model_patches(midi, "mid", "notes")), "mid", "notes") == midi


def test_in_the_notes_layout_every_note_starts_a_patch():
    abc = b"X:1\nL:1/8\nK:C\nCDEF GABc|\n"
    patches = model_patches(abc, "abc", "notes").reshape(-1, PATCH)
    firsts = [unpad(p).strip(b" |") for p in patches]
    assert firsts[3:] == [b"C", b"D", b"E", b"F", b"G", b"A", b"B", b"c", b"\n"]


def test_the_paper_layout_is_the_bytes_cut_every_16():
    data = bytes(range(40))
    assert model_patches(data, "abc", "paper").tolist() == list(data) + [EOP] * 8
    assert model_ext("mid", "paper") == "mid" and model_ext("mid", "notes") == "notes"


def test_a_pair_in_the_notes_layout_has_the_note_text_header_and_masks():
    abc = b"X:1\nL:1/4\nK:C\nC\n"
    ex = encode_pair(abc, "abc", abc_to_midi(abc), "mid", "target", layout="notes")
    patches = ex.ids.reshape(-1, PATCH)
    header = unpad(patches[6])  # header abc, X, L, K, the note, its line end, target header
    assert header == b"notes"
    assert unpad(ex.ids[ex.loss_mask]) == b"0 T500000\n0 M4/4\n0 KC\n0 60 480\n"
    assert unpad(ex.ids[ex.file_mask]) == abc + b"0 T500000\n0 M4/4\n0 KC\n0 60 480\n"


def test_an_unreadable_midi_side_is_a_data_error_naming_the_pair():
    with pytest.raises(DataError, match="^x.abc: not a readable MIDI file"):
        encode_pair(b"X:1\nK:C\nC\n", "abc", b"MThd", "mid", "target", "x.abc", "notes")


def test_pad_segments_skips_empty_ones_and_pads_long_ones_to_two_patches():
    out = pad_segments([b"", b"a" * 17])
    assert len(out) == 32 and unpad(out) == b"a" * 17
    assert len(pad_segments([])) == 0


# ----------------------------------------------------------------------------- interleaved

TIED_REPEAT = b"X:1\nM:6/8\nL:1/8\nK:D\n|:GA B2-B|z c>d:|e'2|]\n"


def test_each_segment_settles_the_lines_it_writes_out():
    segments, groups = align(TIED_REPEAT, abc_to_midi(TIED_REPEAT))
    by_segment = dict(zip(segments, groups, strict=True))
    assert by_segment[b"K:D\n"] == [b"0 T500000\n", b"0 M6/8\n", b"0 KD\n"]  # with K:
    assert by_segment[b"|:G"] == [b"0 67 240\n"]
    assert by_segment[b" B2-"] == []  # the tie is not over: B's length is not known yet
    assert by_segment[b"B"] == [b"240 71 720\n"]
    assert by_segment[b"|z"] == []  # a rest writes nothing; the next note's dt shows it
    assert len(by_segment[b":|e'2"]) == 6  # the repeat's second time, then e'


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 24))
def test_the_groups_joined_are_the_midi_note_text(seed, notes):
    abc = rich_tune(random.Random(seed), notes)[0].encode()
    midi = abc_to_midi(abc)
    segments, groups = align(abc, midi)
    assert b"".join(segments) == abc
    assert b"".join(line for group in groups for line in group).decode() == (
        midi_to_note_text(midi)
    )


@pytest.mark.parametrize("direction", ["abc->mid", "mid->abc"])
def test_interleaving_reads_every_input_unit_and_writes_every_output_unit_once(direction):
    midi = abc_to_midi(TIED_REPEAT)
    order = interleave(TIED_REPEAT, midi, direction)
    read = b"".join(u for u, w in order if not w)
    wrote, marks = written_bytes(pad_segments([u for u, w in order if w]))
    abc, text = TIED_REPEAT, midi_to_note_text(midi).encode()
    assert (read, wrote) == ((abc, text) if direction == "abc->mid" else (text, abc))
    assert marks == sum(not w for _, w in order)  # one output group after every input unit
    assert all(order[i][1] or order[i + 1][1] for i in range(len(order) - 1))


def test_in_mid_to_abc_a_rest_is_written_with_the_note_after_it():
    order = interleave(TIED_REPEAT, abc_to_midi(TIED_REPEAT), "mid->abc")
    after_d = [u for u, w in order[order.index((b"360 74 120\n", False)) + 1 :]][:3]
    assert after_d == [b"|z", b" c>", b"d\x00"]


def test_an_interleaved_pair_counts_only_what_the_model_writes():
    abc = b"X:1\nL:1/4\nK:C\nC\n"
    ex = encode_pair(abc, "abc", abc_to_midi(abc), "mid", "target", layout="interleaved")
    assert [unpad(p) for p in ex.ids.reshape(-1, PATCH)[:2]] == [b"abc", b"notes"]
    wrote, _ = written_bytes(ex.ids[ex.loss_mask])
    assert wrote == b"0 T500000\n0 M4/4\n0 KC\n0 60 480\n"
    with pytest.raises(DataError, match="pairs .abc with .mid"):
        encode_pair(abc, "abc", b"x", "txt", "target", layout="interleaved")


def test_generate_sends_an_interleaved_conversion_to_bytesim_convert():
    from bytesim.generate import generate_files
    from bytesim.model import BGPT, PRESETS

    model = BGPT(PRESETS["tiny"].with_overrides(layout="interleaved"))
    with pytest.raises(ValueError, match="bytesim convert"):
        generate_files(model, "abc", b"X:1\nK:C\nC\n", "mid")


# ----------------------------------------------------------------------------- context


def test_the_context_layout_is_the_interleaved_one_with_each_abc_unit_followed_by_its_fields():
    midi = abc_to_midi(TIED_REPEAT)
    plain = interleave(TIED_REPEAT, midi, "abc->mid")
    fed = interleave(TIED_REPEAT, midi, "abc->mid", "context")
    assert [w for _, w in fed] == [w for _, w in plain]
    assert [u for u, w in fed if w] == [u for u, w in plain if w]  # the same output
    for (u, w), (p, _) in zip(fed, plain, strict=True):
        if not w:
            assert u.startswith(p + bytes([CONTEXT]))
    assert (b"|:G\x01D,1/8", False) in fed
    # MIDI -> ABC reads its note text as the interleaved layout does
    assert interleave(TIED_REPEAT, midi, "mid->abc", "context") == interleave(
        TIED_REPEAT, midi, "mid->abc"
    )


def test_a_key_or_unit_changed_in_the_body_changes_the_context_from_there_on():
    tune = b"X:1\nL:1/8\nK:G\nF|[K:Bb]B [L:1/4]B|\nK:Ador % a comment\nc|\n"
    fed = input_units(tune, "abc", "context")
    contexts = [u.split(bytes([CONTEXT]))[1] for u in fed if u[:1] not in b"XLK"]
    assert contexts == [b"G,1/8", b"Bb,1/8", b"Bb,1/4", b"Bb,1/4", b"Ador,1/4", b"Ador,1/4"]
    assert input_units(tune, "abc", "interleaved") == abc_segments(tune)
    with pytest.raises(ValueError, match="does not feed its input by units"):
        input_units(tune, "abc", "paper")


def test_a_context_pair_trains_on_what_the_model_writes_only():
    abc = b"X:1\nL:1/4\nK:C\nC\n"
    ex = encode_pair(abc, "abc", abc_to_midi(abc), "mid", "target", layout="context")
    wrote, _ = written_bytes(ex.ids[ex.loss_mask])
    assert wrote == b"0 T500000\n0 M4/4\n0 KC\n0 60 480\n"
    assert b"C\n\x01C,1/4" in bytes(int(v) for v in ex.ids if v != EOP)


def test_the_signature_layout_gives_each_abc_unit_the_signature_its_key_sets():
    tune = b"X:1\nL:1/8\nK:G\nF|[K:Bb]B [L:1/4]B|\nK:Ador =f % a comment\nc|\n"
    fed = input_units(tune, "abc", "signature")
    contexts = [u.split(bytes([CONTEXT]))[1] for u in fed if u[:1] not in b"XLK"]
    assert contexts == [b"^F,1/8", b"_BE,1/8", b"_BE,1/4", b"_BE,1/4", b",1/4", b",1/4"]
    midi = abc_to_midi(TIED_REPEAT)
    plain = interleave(TIED_REPEAT, midi, "abc->mid", "context")
    fed_pairs = interleave(TIED_REPEAT, midi, "abc->mid", "signature")
    assert [u for u, w in fed_pairs if w] == [u for u, w in plain if w]  # the same output
    assert (b"|:G\x01^FC,1/8", False) in fed_pairs
    assert interleave(TIED_REPEAT, midi, "mid->abc", "signature") == interleave(
        TIED_REPEAT, midi, "mid->abc"
    )


def test_the_fields_layout_feeds_note_text_metas_as_the_abc_fields_they_stand_for():
    tune = b"X:1\nM:3/4\nL:1/8\nQ:1/4=150\nK:Bb\nB2 c2 d2|[M:2/4][K:D] e2 f2|\n"
    midi = abc_to_midi(tune)
    fed = input_units(midi, "mid", "fields")
    assert fed[:4] == [b"Q:1/4=150\n", b"M:3/4\n", b"K:Bb\n", b"0 70 480\n"]
    assert b"M:2/4 480\n" in fed and b"K:D\n" in fed  # a dt other than 0 after the field
    pairs = interleave(tune, midi, "mid->abc", "fields")
    plain = interleave(tune, midi, "mid->abc", "signature")
    assert [u for u, w in pairs if w] == [u for u, w in plain if w]  # the same output
    assert [u for u, w in pairs if not w] == fed
    key = next(u for u, w in pairs if w and u.startswith(b"K:"))
    assert key == fed[2] + bytes([0])  # the key written holds the bytes of an input patch
    assert interleave(tune, midi, "abc->mid", "fields") == interleave(
        tune, midi, "abc->mid", "signature"
    )


def test_the_rests_layout_gives_a_rest_its_own_line_written_for_its_own_z():
    midi = abc_to_midi(TIED_REPEAT)
    segments, groups = align(TIED_REPEAT, midi, rests=True)
    by_segment = dict(zip(segments, groups, strict=True))
    assert by_segment[b"|z"] == [b"720 z 240\n"]  # where interleaved writes nothing
    assert by_segment[b" c>"] == []  # its length waits for the d, as without rests
    assert (
        b"".join(line for group in groups for line in group)
        == with_rests(midi_to_note_text(midi)).encode()
    )
    order = interleave(TIED_REPEAT, midi, "mid->abc", "rests")
    at = order.index((b"720 z 240\n", False))
    assert order[at + 1] == (b"|z\x00", True)  # the rest's line, then its segment alone
    assert [u for u, w in order if not w] == input_units(midi, "mid", "rests")
    fed = interleave(TIED_REPEAT, midi, "abc->mid", "rests")
    assert (b"|z\x01^FC,1/8", False) in fed  # ABC units with their signature, as `signature`
    assert fed[fed.index((b"|z\x01^FC,1/8", False)) + 1] == (b"720 z 240\n\x00", True)


def test_in_the_rests_layout_two_rests_make_one_line_and_a_leading_rest_is_settled_by_its_z():
    tune = b"X:1\nL:1/8\nK:C\nz2 C z2 z2 D|\n"
    segments, groups = align(tune, abc_to_midi(tune), rests=True)
    assert groups[segments.index(b"z2")] == [b"0 z 480\n"]
    assert groups[segments.index(b" z2")] == []  # the rest goes on
    assert groups[segments.index(b" z2", segments.index(b" z2") + 1)] == [b"240 z 960\n"]


def test_the_ticks_layout_gives_the_unit_as_the_ticks_it_lasts_and_writes_as_rests():
    tune = b"X:1\nM:3/8\nK:D\nA2 z|[L:1/4]B [M:2/4] c|\nL:1/2 % half notes\nd|[L:x]e|\n"
    fed = input_units(tune, "abc", "ticks")
    assert [u.split(bytes([CONTEXT]))[1] for u in fed] == [
        b",240",  # no M: yet: 4/4, whose default unit is 1/8
        b",120",  # 3/8 is below 3/4: 1/16
        b"^FC,120",
        b"^FC,120",
        b"^FC,120",
        b"^FC,480",  # [L:1/4]
        b"^FC,480",  # a meter in the body does not change the unit
        b"^FC,480",
        b"^FC,960",  # an L: line, its comment dropped
        b"^FC,960",
        b"^FC,960",  # an unreadable L: keeps the unit
        b"^FC,960",
    ]
    assert [u.split(bytes([CONTEXT]))[0] for u in fed] == abc_segments(tune)
    midi = abc_to_midi(TIED_REPEAT)
    for direction in ("abc->mid", "mid->abc"):
        ticks = interleave(TIED_REPEAT, midi, direction, "ticks")
        rests = interleave(TIED_REPEAT, midi, direction, "rests")
        assert [u for u, w in ticks if w] == [u for u, w in rests if w]
    assert interleave(TIED_REPEAT, midi, "mid->abc", "ticks") == rests


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 24))
def test_in_the_rests_layout_the_groups_joined_are_the_note_text_with_rests(seed, notes):
    abc = rich_tune(random.Random(seed), notes)[0].encode()
    midi = abc_to_midi(abc)
    _, groups = align(abc, midi, rests=True)
    assert b"".join(line for group in groups for line in group).decode() == (
        with_rests(midi_to_note_text(midi))
    )


@pytest.mark.parametrize(
    "key", ["C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb",
            "Ador", "Emin", "Bphr", "Flyd", "Dmix", "D =c", "C ^^f __b", "none"]
)  # fmt: skip
def test_a_key_signature_names_every_letter_the_key_changes_and_no_other(key):
    sig = key_signature(parse_key(key)).decode()
    found: dict[str, int] = {}
    for mark, letters in re.findall(r"(\^\^|__|\^|_)([A-G]+)", sig):
        for letter in letters:
            found[letter] = {"^": 1, "_": -1, "^^": 2, "__": -2}[mark]
    assert "".join(re.findall(r"(?:\^\^|__|\^|_)[A-G]+", sig)) == sig
    assert found == {k: v for k, v in parse_key(key).accidentals.items() if v}


ENDINGS = b"X:1\nL:1/8\nK:G\nG2|:AB c2|[1 d2:|[2 e2|]\n"  # G A B c d A B c e


def test_the_repeats_layout_writes_a_repeat_played_again_as_one_replay_line():
    midi = abc_to_midi(ENDINGS)
    fed = interleave(ENDINGS, midi, "abc->mid", "repeats")
    rests = interleave(ENDINGS, midi, "abc->mid", "rests")
    # the units that may start or end a span carry their number after the context
    assert [u for u, w in fed if not w] == input_units(ENDINGS, "abc", "repeats")
    numbered = [u.rsplit(b",", 1)[1] for u, w in fed if not w and u.count(b",") == 2]
    assert numbered == [b"1", b"2", b"3", b"4", b"5"]  # G2, |:A, |[1 d2, :|[2 e2, |]
    assert [u for u, w in fed if not w] == [
        u + (b",%d" % n if n else b"")
        for (u, w), n in zip(
            [x for x in rests if not x[1]], replay_labels(abc_segments(ENDINGS)), strict=True
        )
    ]
    # the second time through A B c is "again from unit 2 up to unit 3", then e (a span up to
    # the unit being read leaves its end out: `dt @ a`)
    at = [u for u, w in fed].index(b":|[2 e2\x01^F,1/8,4")
    assert fed[at + 1 : at + 3] == [(b"480 @ 2 3\n", True), (b"480 76 480\n\x00", True)]
    assert [u for u, w in fed if w] != [u for u, w in rests if w]
    plain = b"X:1\nL:1/8\nK:G\n|:AB c2:|d2|]\n"  # no ending: the span ends where it is read
    written = [u for u, w in interleave(plain, abc_to_midi(plain), "abc->mid", "repeats") if w]
    assert b"480 @ 1\n" in written
    # MIDI -> ABC reads the whole note text, as in rests
    assert interleave(ENDINGS, midi, "mid->abc", "repeats") == interleave(
        ENDINGS, midi, "mid->abc", "rests"
    )


def test_replay_lines_expand_to_what_they_name_and_a_bad_one_is_kept_and_counted():
    segments, groups = align(ENDINGS, abc_to_midi(ENDINGS), rests=True)
    labels = replay_labels(segments)
    back, bad = expand_replays(with_replays(segments, groups, labels), labels)
    assert (back, bad) == (groups, 0)
    model = [list(g) for g in groups]
    model[-2] = [b"480 @ 2 9\n", b"1 @ 3 2\n", b"2 @ 4 4\n", b"480 @ 1 2\n"]
    back, bad = expand_replays(model, labels)
    assert bad == 3 and back[-2][:3] == model[-2][:3]  # no unit 9, an empty span, backwards
    assert back[-2][3:] == [b"480 67 480\n"]  # from G2 up to |:A: the G again
    model[-1] = [b"0 @ 1 5\n"]  # a span up to the unit being read: its own group is not in it
    assert expand_replays(model, labels)[0][-1][0] == b"0 67 480\n"
    short = [*groups[:-1], [b"0 @ 4\n"]]  # the short form: up to the unit being read
    assert expand_replays(short, labels)[0][-1] == [
        b"0 69 240\n",
        b"240 71 240\n",
        b"240 72 480\n",
        b"480 76 480\n",
    ]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 24))
def test_in_the_repeats_layout_replays_lose_nothing(seed, notes):
    rng = random.Random(seed)
    abc = add_structure(rng, rich_tune(rng, notes)[0]).encode()
    midi = abc_to_midi(abc)
    segments, groups = align(abc, midi, rests=True)
    labels = replay_labels(segments)
    replayed = with_replays(segments, groups, labels)
    assert expand_replays(replayed, labels) == (groups, 0)
    for segment, before, after in zip(segments, groups, replayed, strict=True):
        if before != after:  # only a repeat sign replays, in fewer lines
            assert b":" in segment and len(after) < len(before)


def _letter_twice(chord: bytes) -> bool:
    letters = [x.upper() for x in re.findall(rb"[A-Ga-g]", chord)]
    return len(letters) != len(set(letters)) and bool(re.search(rb"[_^=][A-Ga-g]", chord))


ACCIDENTALS_TUNE = (
    b'X:1\nL:1/8\nK:D\n"D"=F2 f{^g}f|F=cc [=E^GB]e|[K:Bb]B=B b|\nK:Ador\n^cc !trill!c::c|]\n'
)


def test_the_accidentals_layout_gives_each_unit_the_accidentals_in_force():
    fed = input_units(ACCIDENTALS_TUNE, "abc", "accidentals")
    body = [u for u in fed if u[:1] not in b"XLK"]
    contexts = [u.split(bytes([CONTEXT]))[1].split(b",")[0] for u in body]
    assert contexts[:8] == [b"^C", b"^C", b"^C", b"^FC", b"^F", b"^F", b"^FG", b"^FG"]
    assert contexts[8:12] == [b"_BE", b"_E", b"_E", b"_BE"]  # a key change clears, =B sets B
    assert contexts[12:] == [b"^FC", b"^FC", b"^FC", b"^F", b"^F"]  # so does :: (and K:)
    assert abc_to_midi(explicit_accidentals(ACCIDENTALS_TUNE)) == abc_to_midi(ACCIDENTALS_TUNE)
    assert explicit_accidentals(ACCIDENTALS_TUNE) != ACCIDENTALS_TUNE


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 32))
def test_a_tune_with_every_accidental_its_context_names_plays_the_same(seed, notes):
    rng = random.Random(seed)
    abc = add_naturals(rng, add_structure(rng, rich_tune(rng, notes)[0]), 0.5).encode()
    # the context is the state once a unit is read: a chord that holds a letter twice, once
    # with a sign, gives the sign to both (the reference plays the one before the sign without)
    assume(not any(_letter_twice(chord) for chord in re.findall(rb"\[[^\]:]*\]", abc)))
    assert abc_to_midi(explicit_accidentals(abc)) == abc_to_midi(abc)


def test_the_accidental_contexts_benchmark_counts_the_tunes_that_play_differently(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "accidental_contexts.py"
    spec = importlib.util.spec_from_file_location("accidental_contexts", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (tmp_path / "a.abc").write_bytes(ACCIDENTALS_TUNE)
    (tmp_path / "b.abc").write_bytes(b"X:1\nL:1/4\nK:D\n_B2-|B2|\n")  # a tie over the bar line
    (tmp_path / "c.abc").write_bytes(b"X:1\nL:1/8\nAB\n")  # no K: field: unreadable
    assert bench.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "3 tunes, 2 with a sign of their own, 1 play differently written out (b), 1 unreadable\n"
    )
    assert bench.main([str(tmp_path / "none")]) == 1


# ----------------------------------------------------------------------------- bar lines

TIED = b"X:1\nL:1/8\nK:D\nA2-|A2 B>c|d2 z2|]\n"  # a note tied over a bar line


def test_the_bars_layout_gives_each_bar_its_length_and_times_its_notes_from_there():
    written = [
        u.rstrip(b"\x00") for u, w in interleave(ENDINGS, abc_to_midi(ENDINGS), "abc->mid", "bars")
    ]
    at = written.index(b":|[2 e2\x01^F,1/8,4")
    # the bar of d2 ended (480: written after the group's first line, which stays right after
    # its unit), A B c again, the bar of A B c ended (960), then e at 0
    assert written[at + 1 : at + 5] == [b"0 @ 2 3\n", b"| 480\n", b"| 960\n", b"0 76 480\n"]
    at = written.index(b"|:A\x01^F,1/8,2")
    assert written[at + 1 : at + 3] == [b"0 69 240\n", b"| 480\n"]  # after the pickup G2
    # a note tied over the bar line is settled after it: its dt goes back from the bar line
    tied = [u.rstrip(b"\x00") for u, w in interleave(TIED, abc_to_midi(TIED), "abc->mid", "bars")]
    at = tied.index(b"|A2\x01^FC,1/8,2")
    assert tied[at + 1 : at + 3] == [b"-480 69 960\n", b"| 480\n"]
    # MIDI -> ABC is the repeats layout's
    assert interleave(ENDINGS, abc_to_midi(ENDINGS), "mid->abc", "bars") == interleave(
        ENDINGS, abc_to_midi(ENDINGS), "mid->abc", "repeats"
    )


@pytest.mark.parametrize("seed", range(12))
def test_bar_lines_give_the_note_text_back(seed):
    rng = random.Random(seed)
    tune = add_structure(rng, rich_tune(rng, rng.randint(4, 40))[0]).encode()
    for text in (tune, ENDINGS, TIED):
        segments, groups = align(text, abc_to_midi(text), rests=True)
        labels = replay_labels(segments)
        bars = with_bars(segments, groups, with_replays(segments, groups, labels), bar_times(text))
        assert bars is not None and expand_bars(bars, labels) == (groups, 0)
        assert sum(BAR_LINE.fullmatch(x) is not None for g in bars for x in g) >= 2


def test_a_wrong_time_is_wrong_up_to_the_next_bar_line_only():
    tune = b"X:1\nL:1/8\nK:C\nC2 D2 | E2 F2 | G2 A2 |]\n"
    segments, groups = align(tune, abc_to_midi(tune), rests=True)
    labels = replay_labels(segments)
    bars = with_bars(segments, groups, with_replays(segments, groups, labels), bar_times(tune))
    wrong = [[b"240 62 480\n" if x == b"480 62 480\n" else x for x in g] for g in bars]
    plain = [x for g in expand_bars(wrong, labels)[0] for x in g]
    assert plain[3:] == [b"0 60 480\n", b"240 62 480\n", b"720 64 480\n", b"480 65 480\n",
                         b"480 67 480\n", b"480 69 480\n"]  # fmt: skip
    # a replay naming no span and a line that is not note text are kept as written
    odd = [*bars[:-1], [b"0 @ 9\n", b"junk\n"]]
    back, dropped = expand_bars(odd, labels)
    assert dropped == 1 and back[-1] == [b"0 @ 9\n", b"junk\n"]


def test_a_part_played_again_whole_keeps_its_replays_without_bar_lines():
    tune = b"X:1\nL:1/8\nP:ABA\nK:G\nP:A\n|:GABc:|\nP:B\n|:defg:|\n"
    segments, groups = align(tune, abc_to_midi(tune), rests=True)
    labels = replay_labels(segments)
    replayed = with_replays(segments, groups, labels)
    assert with_bars(segments, groups, replayed, bar_times(tune)) is None  # a replay in a replay
    written = [u for u, w in interleave(tune, abc_to_midi(tune), "abc->mid", "bars") if w]
    assert written == [
        u for u, w in interleave(tune, abc_to_midi(tune), "abc->mid", "repeats") if w
    ]


def test_a_tune_of_several_voices_gets_no_bar_lines():
    tune = b"X:1\nL:1/8\nK:C\nV:1\nCDEF|GABc|]\nV:2\nC,D,E,F,|G,A,B,C|]\n"
    midi = abc_to_midi(tune)
    assert b"track" in midi_to_note_text(midi).encode()
    segments, groups = align(tune, midi, rests=True)
    second = segments.index(b"V:2\n")  # from there the prefixes play in two tracks
    assert bar_times(tune)[second:] == (None,) * (len(segments) - second)
    assert (960, 960) in bar_times(tune)[:second]
    labels = replay_labels(segments)
    assert (
        with_bars(segments, groups, with_replays(segments, groups, labels), bar_times(tune)) is None
    )
    written = [u for u, w in interleave(tune, midi, "abc->mid", "bars") if w]
    assert written == [u for u, w in interleave(tune, midi, "abc->mid", "repeats") if w]
