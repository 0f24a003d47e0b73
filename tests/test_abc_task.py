"""gen:abc: random tunes and their reference MIDI as fresh conversion pairs."""

import random
import re
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bytesim.abc_task import (
    AbcSource,
    add_naturals,
    add_structure,
    random_tune,
    relength,
    rich_tune,
)
from bytesim.data import PATCH, DataError, generated_source
from bytesim.layout import interleave
from cli.main import cli
from convert import abc_to_midi, midi_to_notes, parse_abc
from convert.notetext import midi_to_note_text


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 120))
def test_a_random_tune_converts_to_one_midi_note_per_written_note(seed, notes):
    text = random_tune(random.Random(seed), notes)
    result = parse_abc(text)
    assert len(result.tunes) == 1 and not result.errors
    body = text.split("\n", 4)[-1] if "Q:" not in text else text.split("\n", 5)[-1]
    written = sum(1 for c in body if c in "ABCDEFGabcdefg")
    rests = body.count("z")
    assert written + rests == notes
    assert len(midi_to_notes(abc_to_midi(text))) == written
    assert text.endswith("|]\n")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 120))
def test_a_rich_tune_plays_every_length_it_writes(seed, notes):
    text, played = rich_tune(random.Random(seed), notes)
    result = parse_abc(text)
    assert len(result.tunes) == 1 and not result.errors and not result.warnings
    assert len(played) == notes and played[0][1]  # the first is a note
    heard = midi_to_notes(abc_to_midi(text))  # in order of onset, as written (one voice)
    onset, expected = Fraction(0), []
    for length, is_note in played:  # each note starts where the notes and rests before end
        if is_note:
            expected.append((round(4 * float(onset), 6), round(4 * float(length), 6)))
        onset += length
    assert [(round(o, 6), round(d, 6)) for o, _, d in heard] == expected
    assert text == random_tune(random.Random(seed), notes, "rich")


def test_rich_lengths_use_the_corpus_spellings():
    texts = [rich_tune(random.Random(seed), 40)[0] for seed in range(200)]
    bodies = [t.split("\nK:")[1].split("\n", 1)[1] for t in texts]  # the lines after K:
    for spelling in ("L:1/16", "L:1/4", "L:1/8"):
        assert any(spelling in t for t in texts), spelling
    for spelling in ("3/2", "3/", "//", "8", ">", "<", "(3", "z"):
        assert any(spelling in b for b in bodies), spelling
    assert any(re.search(r"[A-Ga-g][,']*/(?![/\d])", b) for b in bodies)  # a bare /
    plain = [random_tune(random.Random(seed), 40) for seed in range(200)]
    assert not any("L:1/16" in t for t in plain)
    plain_bodies = [t.split("\nK:")[1].split("\n", 1)[1] for t in plain]
    assert not any(s in b for b in plain_bodies for s in ("(3", ">", "<", "/"))


def structured(seed: int, notes: int) -> str:
    draw = random.Random(seed)
    return add_structure(draw, random_tune(draw, notes, "rich"))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 64))
def test_a_structured_tune_is_clean_abc_whose_interleaved_groups_make_its_midi(seed, notes):
    text = structured(seed, notes)
    result = parse_abc(text)
    assert len(result.tunes) == 1 and not result.errors and not result.warnings
    midi = abc_to_midi(text)
    assert midi_to_notes(midi)
    written = b"".join(u for u, w in interleave(text.encode(), midi, "abc->mid") if w)
    assert written.replace(b"\0", b"").decode() == midi_to_note_text(midi)
    assert text == structured(seed, notes)


def test_structure_writes_what_real_tunes_have():
    texts = [structured(seed, 40) for seed in range(200)]
    for mark in ("T:", "R:", "|:", ":|", "|1", ":|2", "[", "-", "{", "~", "!trill!", "% "):
        assert any(mark in t for t in texts), mark
    assert any(re.search(r"Q:(1/2|1/8|3/8|3/4)=", t) for t in texts)
    repeated = next(t for t in texts if ":|" in t and "|1" not in t)
    assert len(midi_to_notes(abc_to_midi(repeated))) > len(
        midi_to_notes(abc_to_midi(repeated.replace(":|", "|").replace("|:", "|")))
    )  # a repeat plays its bars twice
    source = AbcSource(structure=0.5)
    drawn = [source.random_pair(random.Random(seed))[0] for seed in range(40)]
    assert 5 < sum(b"T:" in t or b"|:" in t or b":|" in t for t in drawn) < 35


def test_bad_tune_arguments_are_refused():
    with pytest.raises(ValueError, match="plain or rich, not 'Rich'"):
        random_tune(random.Random(0), 5, "Rich")
    for make in (random_tune, rich_tune):
        with pytest.raises(ValueError, match="at least one note"):
            make(random.Random(0), 0)


def test_the_same_seed_gives_the_same_tune_and_another_seed_another():
    assert random_tune(random.Random(3), 30) == random_tune(random.Random(3), 30)
    assert random_tune(random.Random(3), 30) != random_tune(random.Random(4), 30)


@pytest.mark.parametrize("lengths", ["", "&lengths=plain", "&lengths=rich"])
def test_samples_are_deterministic_and_count_only_the_target(lengths):
    source = generated_source("gen:abc?min=5&max=9" + lengths)
    a = source.sample(np.random.default_rng([0, 5]), 5)
    b = source.sample(np.random.default_rng([0, 5]), 5)
    assert np.array_equal(a.ids, b.ids) and a.kind == b.kind
    counted = np.flatnonzero(a.loss_mask)
    second_header = counted[0] - PATCH  # the target's header patch is part of the prompt
    ext = bytes(a.ids[second_header : second_header + 3].tolist()).decode()
    assert a.kind.endswith(ext) and counted[-1] == len(a.ids) - 1


@pytest.mark.parametrize("direction", ["abc->mid", "mid->abc"])
def test_a_direction_option_draws_only_that_direction(direction):
    source = generated_source(f"gen:abc?direction={direction}")
    rng = np.random.default_rng(0)
    assert {source.sample(rng, 0).kind for _ in range(20)} == {direction}


def test_both_directions_are_drawn_by_default():
    source = generated_source("gen:abc")
    rng = np.random.default_rng(0)
    assert {source.sample(rng, 0).kind for _ in range(40)} == {"abc->mid", "mid->abc"}


def test_real_pairs_are_mixed_in_at_the_asked_share(tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    text = "X:1\nT:Real\nL:1/8\nK:G\nGABc dedB|\n"
    (pairs / "real.abc").write_text(text)
    (pairs / "real.mid").write_bytes(abc_to_midi(text))
    source = generated_source(f"gen:abc?pairs={pairs}&real=0.25")
    rng = np.random.default_rng(0)
    names = [source.sample(rng, 0).name for _ in range(400)]
    real = sum(1 for n in names if "real." in n)
    assert 60 <= real <= 140  # 100 expected
    assert generated_source(f"gen:abc?pairs={pairs}").real == 0.5


@pytest.mark.parametrize(("step", "bound"), [(0, 8), (50, 8 + 40 * 50 // 100), (100, 48)])
def test_curriculum_grows_the_most_notes_linearly(step, bound):
    assert AbcSource(curriculum=100).upper_bound(step) == bound


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gen:abc?min=0", "1 <= min <= max"),
        ("gen:abc?min=9&max=3", "1 <= min <= max"),
        ("gen:abc?direction=abc", "direction must be"),
        ("gen:abc?real=0.5", "needs pairs="),
        ("gen:abc?real=2&pairs=.", "share between 0 and 1"),
        ("gen:abc?pairs=/no/such/folder", "gen:abc pairs: /no/such/folder"),
        ("gen:abc?max=x", "must be an integer"),
        ("gen:abc?real=most", "must be a number"),
        ("gen:abc?tempo=1", "unknown option 'tempo'"),
        ("gen:abc?lengths=fancy", "lengths must be plain or rich, not 'fancy'"),
        ("gen:abc?structure=1.5", "structure must be a share between 0 and 1, not 1.5"),
    ],
)
def test_bad_abc_source_options_are_one_clear_error(spec, message):
    with pytest.raises(DataError, match="gen:abc") as error:
        generated_source(spec)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_train_runs_on_gen_abc(tmp_path):
    args = [
        "train",
        "gen:abc?max=6",
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--eval-examples",
        "2",
        "--out",
        str(tmp_path / "run"),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "latest").exists()


# ----------------------------------------------------------------------------- naturals


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(4, 40))
def test_naturals_add_only_signs_and_the_tune_still_plays(seed, notes):
    rng = random.Random(seed)
    text = add_structure(rng, random_tune(rng, notes, "rich"))
    dressed = add_naturals(random.Random(seed), text, 1.0)
    head, _ = dressed.split("\nK:", 1)
    assert head == text.split("\nK:", 1)[0]  # the header is left alone
    signs = re.compile(r"[\^_=]+(?=[A-Ga-g])")
    assert signs.sub("", dressed) == signs.sub("", text)  # only signs were added
    assert midi_to_notes(abc_to_midi(dressed))  # the reference converter plays it


def test_naturals_at_share_one_sign_every_key_altered_note_and_none_other():
    text = 'X:1\nT:F sharp\nL:1/8\nK:D\n"F"FG !f!c {c}d [FA]2 % F\nw: F c\nFc|]\n'
    out = add_naturals(random.Random(3), text, 1.0)
    lines = out.split("\n")
    assert lines[:4] == text.split("\n")[:4] and lines[5] == "w: F c"
    # every F and c of the music signed, the chord symbol, decoration and comment not
    assert lines[4] == '"F"=FG !f!=c {=c}d [^FA]2 % F' and lines[6] == "=F=c|]"
    assert add_naturals(random.Random(3), text.replace("K:D", "K:C"), 1.0) == text.replace(
        "K:D", "K:C"
    )


def test_naturals_is_an_option_of_the_source_with_its_bounds():
    source = generated_source("gen:abc?naturals=0.5&min=4&max=8")
    assert source.naturals == 0.5
    with pytest.raises(DataError, match="naturals must be a share"):
        generated_source("gen:abc?naturals=2")
    plain = generated_source("gen:abc?min=4&max=8")
    assert plain.random_pair(random.Random(5)) == plain.random_pair(random.Random(5))


# ----------------------------------------------------------------------------- keys


def test_keys_draws_every_signature_and_changes_the_key_line_only():
    from bytesim.abc_task import WIDE_KEYS, rekey
    from bytesim.layout import key_signature
    from convert.fields import parse_key

    text = "X:1\nM:2/4\nL:1/8\nK:D\nFA Bc|[K:G]d2|]\n"
    out = {rekey(random.Random(seed), text) for seed in range(400)}
    assert {x.split("\n")[3] for x in out} == {f"K:{k}" for k in WIDE_KEYS}
    kept = {"\n".join(x.split("\n")[:3] + ["K:D"] + x.split("\n")[4:]) for x in out}
    assert kept == {text}  # the rest as it was, the inline K: too
    signatures = {key_signature(parse_key(k)) for k in WIDE_KEYS}
    assert len(signatures) == 15  # 7 flats .. 7 sharps
    for x in sorted(out)[:20]:
        assert midi_to_notes(abc_to_midi(x))  # the reference converter plays every key


def test_keys_is_an_option_of_the_source_that_leaves_other_runs_alone():
    source = generated_source("gen:abc?keys=1&min=4&max=8")
    assert source.keys == 1.0
    abc, _ = source.random_pair(random.Random(5))
    with pytest.raises(DataError, match="keys must be a share"):
        generated_source("gen:abc?keys=-0.5")
    plain = generated_source("gen:abc?min=4&max=8")
    assert plain.random_pair(random.Random(5))[0] != abc  # the key drawn differs
    assert plain.random_pair(random.Random(5)) == plain.random_pair(random.Random(5))


# ----------------------------------------------------------------------------- units


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(4, 40), st.booleans())
@example(4149, 13, True)  # a body line "a:|]": a note, not a field
def test_a_tune_in_another_unit_length_plays_the_same_notes(seed, notes, structured):
    rng = random.Random(seed)
    text = random_tune(rng, notes, "rich")
    if structured:
        text = add_structure(rng, text)
    other = relength(random.Random(seed + 1), text)
    assert midi_to_notes(abc_to_midi(other)) == midi_to_notes(abc_to_midi(text))


def test_every_unit_and_no_l_field_are_drawn():
    text = "X:1\nM:2/4\nL:1/8\nK:D\nA2 B/c/ [DF]4|]\n"
    heads = {relength(random.Random(seed), text).split("\nK:")[0] for seed in range(60)}
    units = {h.split("L:")[1] if "L:" in h else None for h in heads}
    assert units == {"1/2", "1/4", "1/8", "1/16", "1/32", None}
    # no L: in 2/4 is 1/16: the lengths double
    without = next(
        relength(random.Random(s), text)
        for s in range(60)
        if "L:" not in relength(random.Random(s), text)
    )
    assert without == "X:1\nM:2/4\nK:D\nA4 Bc [DF]8|]\n"
    assert relength(random.Random(0), text.replace("L:1/8\n", "")) == text.replace("L:1/8\n", "")


def test_units_is_an_option_of_the_source_with_its_bounds():
    assert generated_source("gen:abc?units=0.25").units == 0.25
    with pytest.raises(DataError, match="units must be a share"):
        generated_source("gen:abc?units=-1")


def test_naturals_and_units_dress_the_abc_only_where_it_is_the_input():
    plain = generated_source("gen:abc?min=6&max=12&direction=mid->abc")
    dressed = generated_source("gen:abc?min=6&max=12&direction=mid->abc&naturals=1&units=1")
    for seed in range(5):
        rng = np.random.default_rng(seed)
        assert np.array_equal(
            plain.sample(rng, 0).ids, dressed.sample(np.random.default_rng(seed), 0).ids
        )
    forward = generated_source("gen:abc?min=6&max=12&direction=abc->mid&naturals=1&units=1")
    undressed = generated_source("gen:abc?min=6&max=12&direction=abc->mid")
    differ = [
        not np.array_equal(
            forward.sample(np.random.default_rng(s), 0).ids,
            undressed.sample(np.random.default_rng(s), 0).ids,
        )
        for s in range(10)
    ]
    assert any(differ)
