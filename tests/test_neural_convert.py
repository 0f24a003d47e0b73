"""Neural ABC <-> MIDI conversion: checks, generation limits, scoring, evaluation, CLI."""

import io
import json
import re
from pathlib import Path

import mido
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bytesim import conversion_eval as ce
from bytesim import neural_convert as nc
from bytesim.checkpoint import load_model, save_model
from bytesim.data import EOP, PATCH, encode_pair
from bytesim.layout import align, model_patches
from bytesim.model import BGPT, INTERLEAVED, PRESETS
from cli import conversion_commands
from cli.main import cli
from convert import abc_to_midi, midi_layout_error, midi_to_notes
from convert.compare import CompareResult
from convert.roles import midi_byte_roles

TUNES = {
    "scale": "X:1\nT:Scale\nL:1/8\nK:D\nDEFG ABcd|\n",
    "jig": "X:2\nT:Jig\nM:6/8\nL:1/8\nK:G\nGAB c2d|e2d BAG|\n",
    "reel": "X:3\nT:Reel\nM:4/4\nL:1/8\nK:A\nA2 cA eAcA|BcdB cBAF|\n",
}
SCALE_MIDI = abc_to_midi(TUNES["scale"])
LONG_TUNE = "X:9\nT:Long\nL:1/8\nK:C\n" + "CDEF GABc|" * 120 + "\n"  # > tiny's 976-byte limit


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def tiny(seed: int = 0, **overrides) -> BGPT:
    torch.manual_seed(seed)
    return BGPT(PRESETS["tiny"].with_overrides(**overrides)).eval()


def constant_model(value: int, **overrides) -> BGPT:
    """A tiny model whose every byte is `value` (EOP = stop at once; a byte = never stop)."""
    model = tiny(**overrides)
    with torch.no_grad():
        model.byte.ln_f.weight.zero_()
        model.byte.ln_f.bias.zero_()
        model.byte.ln_f.bias[0] = 1.0  # every byte-decoder output is the unit vector e0
        model.byte_wte.weight[:, 0] = 0.0
        model.byte_wte.weight[value, 0] = 10.0  # so `value` has the only large logit
    return model


def _kind(data: bytes) -> str:
    return "mid" if data.startswith(b"MThd") else "abc"


def _as_read(data: bytes, layout: str) -> bytes:
    """A file's bytes as the model reads them (MIDI as note text in the notes layout)."""
    return bytes(v for v in model_patches(data, _kind(data), layout).tolist() if v != EOP)


class OracleModel:
    """Stands in for a perfect model: answers each prompt with the reference target file."""

    def __init__(self, answers: dict[bytes, bytes], patch_length: int = 64, layout="paper"):
        self.config = PRESETS["tiny"].with_overrides(patch_length=patch_length, layout=layout)
        self.answers = {_as_read(k, layout): v for k, v in answers.items()}  # input -> target
        if layout in INTERLEAVED:
            self.answers = answers

    def generate(self, prompts, max_patches, *args, stop=None, steer=None, **kwargs):
        if self.config.layout in INTERLEAVED:
            return self._steered(prompts, max_patches, stop, steer)
        out = []
        for p in prompts:
            values = p.tolist()[PATCH:-PATCH]  # drop both header patches
            source = bytes(v for v in values if v != EOP)
            answer = self.answers[source]
            target = model_patches(answer, _kind(answer), self.config.layout)
            eop = np.full(PATCH, EOP)
            out.append(torch.from_numpy(np.concatenate([p.numpy(), target, eop])))
        return out

    def _steered(self, prompts, max_patches, stop, steer):
        """Write the reference sequences patch by patch as a model would (up to max_patches),
        checking that every patch `steer` puts in is the reference's input patch there."""
        full = [self._reference(p) for p in prompts]
        out = [p.numpy() for p in prompts]
        done = [False] * len(prompts)
        forced = np.full((len(prompts), PATCH), -1)
        while not all(done):
            new = np.full((len(prompts), PATCH), EOP)
            for r in range(len(prompts)):
                if not done[r]:
                    new[r] = full[r][len(out[r]) : len(out[r]) + PATCH]
                    if forced[r][0] >= 0:
                        assert (forced[r] == new[r]).all(), "steer put in the wrong patch"
                    out[r] = np.concatenate([out[r], new[r]])
            index = max(len(o) for o in out) // PATCH - 1
            ended = stop(index, torch.from_numpy(new)).numpy()
            forced = steer(index, torch.from_numpy(new)).numpy()
            complete = [
                len(o) == len(f) or len(o) // PATCH >= max_patches
                for o, f in zip(out, full, strict=True)
            ]
            done = [d or bool(e) or c for d, e, c in zip(done, ended, complete, strict=True)]
        return [torch.from_numpy(o) for o in out]

    def _reference(self, prompt):
        """The reference sequence from `prompt` on: `prompt` starts it, or is a later window
        of it (a piece of a long conversion), starting at a patch boundary."""
        prompt = prompt.numpy()
        for source, answer in self.answers.items():
            src, dst = ("mid", "abc") if _kind(answer) == "abc" else ("abc", "mid")
            data = source if src == "abc" else abc_to_midi(answer)  # the MIDI file itself
            ids = encode_pair(data, src, answer, dst, "target", layout=self.config.layout).ids
            for start in range(0, len(ids) - len(prompt) + 1, PATCH):
                if (ids[start : start + len(prompt)] == prompt).all():
                    return ids[start:]
        raise AssertionError("the oracle has no answer for this prompt")


@pytest.fixture
def pairs_dir(tmp_path):
    d = tmp_path / "pairs"
    d.mkdir()
    for name, text in TUNES.items():
        (d / f"{name}.abc").write_text(text)
        (d / f"{name}.mid").write_bytes(abc_to_midi(text))
    return d


@pytest.fixture
def model_dir(tmp_path):
    return save_model(tiny(), tmp_path / "model")


# ----------------------------------------------------------------------------- directions


@pytest.mark.parametrize(
    "src, dst, direction",
    [
        ("abc", "mid", "abc->mid"),
        ("mid", "abc", "mid->abc"),
        (".abc", ".midi", "abc->mid"),
        ("MIDI", "ABC", "mid->abc"),
    ],
)
def test_direction_comes_from_the_two_extensions(src, dst, direction):
    assert nc.direction_of(src, dst) == direction


@pytest.mark.parametrize("src, dst", [("abc", "abc"), ("mid", "mid"), ("txt", "mid"), ("abc", "")])
def test_a_direction_other_than_abc_mid_is_refused(src, dst):
    with pytest.raises(nc.ConversionError, match="only abc->mid and mid->abc"):
        nc.direction_of(src, dst)


@pytest.mark.parametrize(
    "name, kind", [("a.abc", "abc"), ("dir.x/b.mid", "mid"), ("c.MIDI", "mid"), ("d.ABC", "abc")]
)
def test_file_kind_reads_the_extension(name, kind):
    assert nc.file_kind(name) == kind


@pytest.mark.parametrize("name", ["tune.txt", "tune", "tune.abc.bak"])
def test_file_kind_refuses_other_extensions(name):
    with pytest.raises(nc.ConversionError, match="neither .abc nor .mid"):
        nc.file_kind(name)


def test_the_cli_default_model_is_the_library_default():
    assert conversion_commands.DEFAULT_MODEL == nc.DEFAULT_MODEL == "abc-midi"


# ----------------------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    "data, ext, message",
    [
        (b"", "abc", "empty"),
        (b"X:1\nK:C\nCDE|\n", "mid", "not a MIDI file"),
        (b"RIFF\x00\x00", "mid", "not a MIDI file"),
        (b"X:1\nK:C\n\xff\xfeCDE|\n", "abc", r"not UTF-8 text \(byte offset 8\)"),
        (b"X:1\nK:C\nC\x00DE|\n", "abc", "NUL byte"),
        (b"X:1\nT:no key\nCDEF|\n", "abc", "no tune with a K: field"),
        (b"X:1\nT:rests\nK:C\nz4 z4|\n", "abc", "has no notes"),
        (b'X:1\nK:C\n"Am"z4 !trill!z4|\n', "abc", "has no notes"),
        (b"X:1\nK:C\nCDE|\n\nX:2\nK:C\nEFG|\n", "abc", "holds 2 tunes"),
        (b"MThd", "txt", "neither abc nor mid"),
    ],
)
def test_bad_inputs_give_one_clear_line(data, ext, message):
    with pytest.raises(nc.ConversionError, match=message) as info:
        nc.check_input(data, ext, "in.x")
    assert "\n" not in str(info.value) and str(info.value).startswith("in.x")


@pytest.mark.parametrize("text", [*TUNES.values(), "T:no X line\nK:C\nCDE|\n"])
def test_good_abc_inputs_pass_the_checks(text):
    nc.check_input(text.encode(), "abc")


def test_a_prompt_that_fills_the_patch_length_names_patches_and_bytes():
    model = tiny()
    limit = nc.max_input_bytes(model)
    assert limit == (64 - 4) * PATCH
    nc.prompt_ids(model, b"x" * limit, "abc", "mid")  # the longest that fits
    message = f"prompt takes 63 patches.*patch_length 64.*at most {limit} bytes"
    with pytest.raises(nc.InputTooLong, match=message):
        nc.prompt_ids(model, b"x" * (limit + 1), "abc", "mid", "long.abc")


def test_in_the_notes_layout_the_limit_is_in_patches_and_midi_is_written_by_the_program():
    model = tiny(layout="notes")
    assert nc.max_input_bytes(model) is None and nc.max_input_patches(model) == 60
    with pytest.raises(nc.InputTooLong, match="at most 60 patches"):
        nc.prompt_ids(model, ("X:1\nK:C\n" + "C" * 61).encode(), "abc", "mid", "long.abc")
    conv = nc.convert_bytes(constant_model(EOP), TUNES["scale"].encode(), "abc", "mid")
    assert conv.data == b""  # paper layout: nothing written is an empty file
    model = constant_model(EOP)
    model.config = model.config.with_overrides(layout="notes")
    conv = nc.convert_bytes(model, TUNES["scale"].encode(), "abc", "mid")
    assert conv.data.startswith(b"MThd") and midi_to_notes(conv.data) == []
    assert conv.dropped_lines == 0


ENDINGS = "X:1\nL:1/8\nK:G\nG2|:AB c2|[1 d2:|[2 e2|]\n"  # G A B c d A B c e
VARIED_TUNE = (
    "X:1\nT:Long\nL:1/8\nK:G\n"
    + "|".join(  # no two windows of it alike
        ["GABc dBAG", "FGAF DEFD", "GBdg fdec", "dBAF G2G2", "B2dB cAFA", "GABG E2D2"]
        + ["A2cA BGBd", "e2ge dBGB", "c2ec BAGF", "E3F G2A2", "BcdB AGFA", "G6 z2"]
    )
    + "|]\n"
)


@pytest.mark.parametrize("layout", INTERLEAVED)
@pytest.mark.parametrize("direction", nc.DIRECTIONS)
def test_a_tune_past_the_patch_length_converts_whole_in_pieces(direction, layout):
    midi = abc_to_midi(VARIED_TUNE)
    src, dst = direction.split("->")
    data, answer = (VARIED_TUNE.encode(), midi) if src == "abc" else (midi, VARIED_TUNE.encode())
    oracle = OracleModel({data: answer}, patch_length=64, layout=layout)
    job = nc.interleaved_job(oracle, data, src, dst)
    assert 2 + len(job) // PATCH + len(job.units) > 64  # one piece cannot hold it
    conv = nc.convert_bytes(oracle, data, src, dst)
    assert conv.finished and conv.pieces >= 3
    if dst == "mid":
        assert conv.data == midi
    else:
        assert abc_to_midi(conv.data.decode()) == midi


def test_a_looping_model_has_its_groups_ended_and_is_cut_once_a_piece_reads_nothing_new():
    model = constant_model(ord("A"))  # writes A forever, never the MARK that ends a group
    model.config = model.config.with_overrides(layout="interleaved")
    conv = nc.convert_bytes(model, VARIED_TUNE.encode(), "abc", "mid")
    # groups of 17 and 34 patches (each all before it + GROUP_MARGIN + 1), then one that fills
    # the second piece without reading on
    assert (conv.groups_ended, conv.pieces, conv.finished) == (2, 2, False)


def test_a_looping_model_is_stopped_at_the_notes_a_unit_can_settle():
    model = constant_model(ord("A"), layout="interleaved", patch_length=256)
    data = b"K:C\nC [CEG] D|:E:|"  # units: K:C, C, " [CEG]", " D", "|:E", ":|"
    job = nc.interleaved_job(model, data, "abc", "mid")
    # a note unit: its notes + 2 + the patch of MARK; a field or repeat: all before + margin
    assert job.most == [None, 4, 6, 4, None, None]
    conv = nc.convert_bytes(model, data, "abc", "mid")
    # groups of 17 (0 + GROUP_MARGIN + 1), 5, 7, 5, 51 (34 + 17) and 102 patches; 2 headers,
    # 6 units read and the patch that ends the sequence
    assert (conv.groups_ended, conv.pieces, conv.finished) == (6, 1, True)
    assert conv.patches == 2 + 6 + 17 + 5 + 7 + 5 + 51 + 102 + 1
    assert nc.interleaved_job(model, SCALE_MIDI, "mid", "abc").most is None
    assert nc.interleaved_job(model, SCALE_MIDI, "mid", "abc").most is None


@pytest.mark.parametrize("layout", ["interleaved", "repeats", "accidentals", "bars"])
@pytest.mark.parametrize("direction", nc.DIRECTIONS)
def test_a_repeat_that_plays_everything_again_is_no_loop(direction, layout):
    tune = VARIED_TUNE.replace("K:G\n", "K:G\n|:").replace("|]", ":|")
    if layout == "accidentals":  # signs against the key, held to the bar's end
        tune = tune.replace("|:GABc", "|:=FAFc", 1)
    midi = abc_to_midi(tune)
    assert len(midi_to_notes(midi)) == 2 * len(midi_to_notes(abc_to_midi(VARIED_TUNE)))
    src, dst = direction.split("->")
    data, answer = (tune.encode(), midi) if src == "abc" else (midi, tune.encode())
    oracle = OracleModel({data: answer}, patch_length=512, layout=layout)
    conv = nc.convert_bytes(oracle, data, src, dst)
    assert conv.finished and conv.groups_ended == 0 and conv.pieces == 1
    assert (conv.data if dst == "mid" else abc_to_midi(conv.data.decode())) == midi
    assert conv.dropped_lines == 0


@pytest.mark.parametrize("layout", ["repeats", "bars"])
@pytest.mark.parametrize("patch_length", [64, 512])
def test_in_the_repeats_layout_a_replay_line_is_written_out_whole_even_across_pieces(
    patch_length, layout
):
    tune = VARIED_TUNE.replace("K:G\n", "K:G\n|:").replace("|]", ":|").encode()
    midi = abc_to_midi(tune)
    oracle = OracleModel({tune: midi}, patch_length=patch_length, layout=layout)
    conv = nc.convert_bytes(oracle, tune, "abc", "mid")
    assert conv.data == midi and conv.finished and conv.dropped_lines == 0
    assert (conv.pieces > 1) == (patch_length == 64) and conv.replays == 1
    # what was written after each unit, the replay expanded: the reference's alignment
    assert conv.unit_lines == align(tune, midi, rests=True)[1]
    rests = OracleModel({tune: midi}, patch_length=patch_length, layout="rests")
    looped = nc.convert_bytes(rests, tune, "abc", "mid")
    again = len(midi_to_notes(midi)) // 2  # the notes played again: 77 lines in one group
    if patch_length == 64:  # which cannot fit a piece of 32 patches
        assert not looped.finished and len(midi_to_notes(looped.data)) < 2 * again
    else:  # the same file, the notes played again in one line (the numbers take a few patches)
        assert again == 77 and looped.data == midi and conv.patches < looped.patches - 60


def test_the_job_numbers_its_units_and_a_replay_line_naming_no_span_is_kept_as_written():
    model = constant_model(ord("A"), layout="repeats", patch_length=256)
    job = nc.interleaved_job(model, ENDINGS.encode(), "abc", "mid")
    assert job.labels == [None, None, None, 1, 2, None, None, 3, 4, 5]
    assert nc.interleaved_job(model, ENDINGS.encode(), "abc", "mid").most is not None
    assert nc.interleaved_job(model, abc_to_midi(ENDINGS), "mid", "abc").labels is None

    groups = [[b"0 KG\n"], [b"0 67 480\n"], [b"480 @ 1 2\n", b"0 @ 7 8\n"]]
    lines, replays = nc._expanded(groups, [None, 1, 2])
    assert lines[2] == [b"480 67 480\n", b"0 @ 7 8\n"]
    text = b"".join(line for group in lines for line in group)
    assert (text, replays) == (b"0 KG\n0 67 480\n480 67 480\n0 @ 7 8\n", 1)
    conv = nc._conversion(model, text, "mid", True, 1, 1, 1, 0)
    conv.replays = replays
    tally = ce.DirectionTally(files=2)
    for name in "ab":
        tally.add(name, conv, ce.score_output(conv.data, "mid", conv.data, []))
    assert tally.summary()["replays"] == 2 and conv.figures()["replays"] == 1
    assert conv.dropped_lines == 1 and midi_to_notes(conv.data) == midi_to_notes(
        abc_to_midi("X:1\nL:1/8\nK:G\nG2G2\n")
    )


def test_an_interleaved_unit_too_long_for_a_piece_is_refused_naming_it():
    model = tiny(layout="interleaved")  # patch_length 64: units of at most 16 patches
    assert nc.max_unit_patches(model) == 16
    ok = "X:1\nT:" + "a" * (16 * PATCH - 4) + "\nK:C\nC|\n"
    assert nc.interleaved_job(model, ok.encode(), "abc", "mid").units
    long = ok.replace("T:", "T:aa", 1)
    message = r"long.abc: unit 2 of 5 \(257 bytes, 17 patches\).*at most 16 patches"
    with pytest.raises(nc.InputTooLong, match=message):
        nc.interleaved_job(model, long.encode(), "abc", "mid", "long.abc")


def test_a_classifier_cannot_convert():
    with pytest.raises(nc.ConversionError, match="classifier"):
        nc.check_model(tiny(num_labels=3))


def test_a_model_too_short_for_any_conversion_is_refused():
    nc.check_model(tiny(patch_length=5))
    with pytest.raises(nc.ConversionError, match="at least 5"):
        nc.check_model(tiny(patch_length=4))


# ----------------------------------------------------------------------------- generation


def test_a_generation_that_reaches_the_limit_stops_there_and_is_reported():
    model = constant_model(ord("A"))
    conv = nc.convert_bytes(model, TUNES["scale"].encode(), "abc", "mid")
    assert not conv.finished
    assert conv.patches == conv.limit == 64
    assert conv.data == b"A" * (64 - conv.prompt_patches) * PATCH


def test_an_all_eop_patch_ends_the_file():
    conv = nc.convert_bytes(constant_model(EOP), TUNES["scale"].encode(), "abc", "mid")
    assert conv.finished and conv.data == b"" and conv.patches == conv.prompt_patches + 1


def test_sampling_with_the_same_seed_gives_the_same_bytes():
    model, data = tiny(), abc_to_midi(TUNES["jig"])
    a, b, c = (nc.convert_bytes(model, data, "mid", "abc", 1.0, seed) for seed in (7, 7, 8))
    assert a.data == b.data
    assert a.data != c.data


def test_batched_greedy_conversions_equal_one_by_one():
    model = tiny(seed=1)
    jobs = [(t.encode(), "abc", "mid") for t in TUNES.values()]
    jobs += [(abc_to_midi(t), "mid", "abc") for t in TUNES.values()]
    batched = nc.convert_many(model, jobs, batch_size=4)
    for (data, src, dst), conv in zip(jobs, batched, strict=True):
        single = nc.convert_bytes(model, data, src, dst)
        assert (conv.data, conv.finished) == (single.data, single.finished)


def test_convert_many_gives_each_rejected_job_its_error_in_place():
    jobs = [(b"X:1\nK:C\nCDE|\n", "mid", "abc"), (LONG_TUNE.encode(), "abc", "mid")]
    jobs.append((TUNES["scale"].encode(), "abc", "mid"))
    out = nc.convert_many(tiny(), jobs, names=["a.mid", "b.abc", "c.abc"])
    assert isinstance(out[0], nc.ConversionError) and "a.mid" in str(out[0])
    assert isinstance(out[1], nc.InputTooLong)
    assert isinstance(out[2], nc.Conversion)


# ----------------------------------------------------------------------------- scoring


@pytest.mark.parametrize("name", list(TUNES))
def test_the_reference_output_scores_exact_valid_and_f1_one_in_both_directions(name):
    abc, mid = TUNES[name].encode(), abc_to_midi(TUNES[name])
    notes = midi_to_notes(mid)
    for output, ext in ((mid, "mid"), (abc, "abc")):
        score = ce.score_output(output, ext, output, notes)
        assert score.exact and score.valid
        assert score.notes.f1 == score.notes.precision == score.notes.recall == 1.0


@pytest.mark.parametrize(
    "output, ext",
    [
        (b"", "mid"),
        (b"MThd\x00\x00\x00\x06garbage", "mid"),
        (b"AAAAAAAAAAAAAAAA", "mid"),
        (b"X:1\nK:C\nz4|\n", "abc"),  # converts, but to no notes
        (b"\xff\xff", "abc"),
        (b"X:1\nT:no body\n", "abc"),
    ],
)
def test_an_invalid_output_counts_as_invalid_with_f1_zero(output, ext):
    mid = abc_to_midi(TUNES["scale"])
    score = ce.score_output(output, ext, mid, midi_to_notes(mid))
    assert not score.valid and not score.exact and score.reason
    assert score.notes.f1 == 0.0 and score.notes.count_a == 0


def test_a_midi_longer_than_its_track_header_states_is_readable_not_valid():
    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    size = int.from_bytes(ref[18:22], "big")
    # the end-of-track event (4 bytes) stated away: mido stops reading before it
    out = ref[:18] + (size - 4).to_bytes(4, "big") + ref[22:]
    score = ce.score_output(out, "mid", ref, midi_to_notes(ref))
    assert score.readable and not score.valid
    assert score.reason == f"track 0 states {size - 4} bytes (at byte offset 18) but {size} follow"
    assert score.notes.f1 == 1.0  # the notes mido reads count
    report = ce.check_against_reference(b"X:1\nL:1/4\nK:C\nCDEF|\n", "abc", out, "mid")
    assert report["readable"] and not report["valid"] and "states" in report["invalid_reason"]


def test_a_reference_converter_bug_is_raised_not_counted_as_an_invalid_output(monkeypatch):
    def broken(text):
        raise RuntimeError("converter bug")

    monkeypatch.setattr(ce, "abc_to_midi", broken)
    ref = abc_to_midi(TUNES["scale"])
    with pytest.raises(RuntimeError, match="converter bug"):
        ce.score_output(TUNES["scale"].encode(), "abc", TUNES["scale"].encode(), midi_to_notes(ref))


def test_an_unreadable_midi_says_what_is_wrong_with_its_layout():
    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    size = int.from_bytes(ref[18:22], "big")
    out = ref[:18] + (size + 9).to_bytes(4, "big") + ref[22:]  # runs off the end of the file
    score = ce.score_output(out, "mid", ref, midi_to_notes(ref))
    assert not score.readable and not score.valid and score.notes.count_a == 0
    assert score.reason == (
        f"not a readable MIDI file: track 0 states {size + 9} bytes (at byte offset 18) "
        f"but {size} follow"
    )


def test_valid_and_readable_rates_are_reported_apart():
    tally = ce.DirectionTally(files=2)
    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    short = ref[:18] + (int.from_bytes(ref[18:22], "big") - 4).to_bytes(4, "big") + ref[22:]
    notes = midi_to_notes(ref)
    conv = nc.Conversion(ref, True, 5, 2, 64, 0.1)
    tally.add("a", conv, ce.score_output(ref, "mid", ref, notes))
    tally.add("b", conv, ce.score_output(short, "mid", ref, notes))
    summary = tally.summary()
    assert summary["valid_rate"] == 0.5 and summary["readable_rate"] == 1.0
    assert summary["valid_finished_rate"] == 0.5
    assert summary["invalid_examples"] == [f"b: {midi_layout_error(short)}"]
    assert summary["valid_restated_rate"] == 1.0  # b is valid once its length is re-stated


def test_a_wrong_duration_loses_the_later_notes_but_not_the_melody():
    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF GABc|\n")
    out = abc_to_midi("X:1\nL:1/4\nK:C\nC2DEF GABc|\n")  # the first note too long
    score = ce.score_output(out, "mid", ref, midi_to_notes(ref))
    assert score.notes.matched == 0 and score.melody.matched == 8
    assert score.melody_durations == 7 and score.melody_duration_accuracy == 7 / 8
    tally = ce.DirectionTally(files=1)
    tally.add("a", nc.Conversion(out, True, 5, 2, 64, 0.1), score)
    summary = tally.summary()
    assert summary["note_f1"] == 0.0 and summary["melody_f1"] == 1.0
    assert summary["melody_duration_accuracy"] == 7 / 8
    assert ce.score_fields(score)["melody_duration_accuracy"] == 7 / 8


def test_valid_once_restated_is_for_midi_outputs_only():
    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    notes = midi_to_notes(ref)
    assert ce.score_output(ref, "mid", ref, notes).valid_restated is True
    long = ref[:18] + (int.from_bytes(ref[18:22], "big") + 2).to_bytes(4, "big") + ref[22:]
    score = ce.score_output(long, "mid", ref, notes)
    assert not score.readable and score.valid_restated is True
    no_end = ref[:18] + (len(ref) - 26).to_bytes(4, "big") + ref[22:-4]
    assert ce.score_output(no_end, "mid", ref, notes).valid_restated is False
    abc = b"X:1\nL:1/4\nK:C\nCDEF|\n"
    assert ce.score_output(abc, "abc", ref, notes).valid_restated is None
    tally = ce.DirectionTally(files=1)
    tally.add("a", nc.Conversion(abc, True, 5, 2, 64, 0.1), ce.score_output(abc, "abc", ref, notes))
    assert "valid_restated_rate" not in tally.summary()


def test_the_notes_are_also_scored_with_the_track_lengths_restated():
    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    notes = midi_to_notes(ref)
    size = int.from_bytes(ref[18:22], "big")
    long = ref[:18] + (size + 2).to_bytes(4, "big") + ref[22:]  # unreadable: no notes as is
    short = ref[:18] + (size - 12).to_bytes(4, "big") + ref[22:]  # mido drops the last notes
    wrong = abc_to_midi("X:1\nL:1/4\nK:C\nCDGA|\n")  # valid, two notes of four right
    tally = ce.DirectionTally(files=3)
    scores = [ce.score_output(out, "mid", ref, notes) for out in (long, short, wrong)]
    assert scores[0].notes.f1 == 0.0 and scores[0].notes_restated.f1 == 1.0
    assert scores[1].notes.count_a < 4 and scores[1].notes_restated.matched == 4
    assert scores[2].notes_restated == scores[2].notes and scores[2].notes.matched == 2
    assert scores[1].melody_restated.matched == 4 and scores[1].melody.matched < 4
    for name, score in zip("abc", scores, strict=True):
        tally.add(name, nc.Conversion(b"x", True, 5, 2, 64, 0.1), score)
    summary = tally.summary()
    assert summary["note_recall_restated"] == 10 / 12 and summary["note_f1_restated"] == 10 / 12
    assert summary["note_f1"] < summary["note_f1_restated"]
    assert summary["melody_f1_restated"] >= summary["note_f1_restated"]
    assert ce.score_fields(scores[0])["note_f1_restated"] == 1.0
    abc = b"X:1\nL:1/4\nK:C\nCDEF|\n"
    abc_score = ce.score_output(abc, "abc", ref, notes)
    assert abc_score.notes_restated is None and "note_f1_restated" not in ce.score_fields(abc_score)
    abc_tally = ce.DirectionTally(files=1)
    abc_tally.add("a", nc.Conversion(abc, True, 5, 2, 64, 0.1), abc_score)
    assert "note_f1_restated" not in abc_tally.summary()


def test_a_valid_midi_with_other_notes_scores_partial_f1():
    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    out = abc_to_midi("X:1\nL:1/4\nK:C\nCDGA|\n")  # two of four notes right
    score = ce.score_output(out, "mid", ref, midi_to_notes(ref))
    assert score.valid and not score.exact
    assert score.notes.precision == score.notes.recall == score.notes.f1 == 0.5


def test_check_against_reference_for_abc_to_midi_reports_identical_bytes():
    abc = TUNES["reel"].encode()
    report = ce.check_against_reference(abc, "abc", abc_to_midi(abc), "mid")
    assert report["identical"] is True and report["note_f1"] == 1.0


def test_check_against_reference_for_midi_to_abc_compares_notes_with_the_input():
    mid = abc_to_midi(TUNES["jig"])
    report = ce.check_against_reference(mid, "mid", TUNES["jig"].encode(), "abc")
    assert report["identical"] is None and report["note_f1"] == 1.0
    worse = ce.check_against_reference(mid, "mid", b"X:1\nK:G\nGAB|\n", "abc")
    assert 0 < worse["note_recall"] < 1 and worse["note_precision"] == 1.0


# ----------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize("layout", ["paper", "notes", "interleaved"])
def test_a_perfect_model_scores_one_everywhere(pairs_dir, layout):
    tunes = {**TUNES, "slow": "X:4\nT:Slow\nL:1/4\nK:D\nD2 E F G|\n"}  # the scale's pitches
    if layout == "interleaved":  # its oracle tells the tunes apart by their first line, the tempo
        tunes = {
            n: t.replace("K:", f"Q:1/4={90 + i}\nK:", 1) for i, (n, t) in enumerate(tunes.items())
        }
    for name, text in tunes.items():
        (pairs_dir / f"{name}.abc").write_text(text)
        (pairs_dir / f"{name}.mid").write_bytes(abc_to_midi(text))
    answers = {}
    for t in tunes.values():
        answers[t.encode()] = abc_to_midi(t)
        answers[abc_to_midi(t)] = t.encode()
    oracle = OracleModel(answers, patch_length=128, layout=layout)
    result = ce.evaluate_conversion(oracle, pairs_dir, bits=False)
    assert result["pairs"] == 4
    names = sorted(tunes)  # the pairs in file order; each output against the next reference
    notes = [midi_to_notes(abc_to_midi(tunes[n])) for n in names]
    other = [ce.melody_match(notes[i], notes[(i + 1) % 4]) for i in range(4)]
    chance = sum(same for _, same in other) / sum(c.matched for c, _ in other)
    assert 0 < chance < 1  # the scale's D E F G are eighths, the slow tune's not
    for d in nc.DIRECTIONS:
        r = result[d]
        assert r["converted"] == 4 and r["cut_at_limit"] == 0
        for key in ("exact_file_rate", "valid_rate", "note_precision", "note_recall", "note_f1"):
            assert r[key] == 1.0, (d, key)
        assert r["valid_finished_rate"] == 1.0
        assert r["mean_file_f1"] == 1.0 and r["notes_matched"] == r["notes_reference"] > 0
        assert r["melody_f1"] == 1.0 and r["melody_f1_other_reference"] < 1.0
        assert r["melody_duration_accuracy"] == 1.0
        assert r["melody_duration_accuracy_other_reference"] == pytest.approx(chance)


def test_scores_are_repeated_by_the_length_of_the_reference(pairs_dir):
    long = "X:5\nT:Long\nL:1/8\nK:C\n" + "CDEF GABc|" * 8 + "\n"  # 64 notes
    (pairs_dir / "long.abc").write_text(long)
    (pairs_dir / "long.mid").write_bytes(abc_to_midi(long))
    answers = {}
    for t in TUNES.values():
        answers[t.encode()] = abc_to_midi(t)
        answers[abc_to_midi(t)] = t.encode()
    answers[long.encode()] = abc_to_midi(TUNES["scale"])  # the long tune converted wrong
    answers[abc_to_midi(long)] = TUNES["scale"].encode()
    result = ce.evaluate_conversion(OracleModel(answers, patch_length=128), pairs_dir, bits=False)
    for d in nc.DIRECTIONS:
        groups = result[d]["by_reference_notes"]
        assert list(groups) == ["1-48", "49-96"], d
        assert groups["1-48"]["files"] == 3 and groups["1-48"]["note_f1"] == 1.0
        assert groups["49-96"]["files"] == 1 and groups["49-96"]["note_f1"] < 0.5
        assert groups["49-96"]["note_f1"] < result[d]["note_f1"] < 1.0
        assert ("note_f1_restated" in groups["1-48"]) == (d == "abc->mid")
    assert [ce.length_group(n) for n in (0, 1, 48, 49, 96, 97, 450)] == [
        "0",
        "1-48",
        "1-48",
        "49-96",
        "49-96",
        "97+",
        "97+",
    ]


def test_a_model_that_never_stops_scores_invalid_cut_and_f1_zero(pairs_dir):
    result = ce.evaluate_conversion(constant_model(ord("A")), pairs_dir, ["abc->mid"])
    r = result["abc->mid"]
    assert r["valid_rate"] == 0.0 and r["note_f1"] == 0.0 and r["exact_file_rate"] == 0.0
    assert r["cut_at_limit"] == 3 and len(r["invalid_examples"]) == 3
    assert r["bits_per_target_byte"] > 0
    assert "mid->abc" not in result


def test_a_valid_output_cut_at_the_limit_counts_as_valid_but_not_as_valid_and_finished():
    tally = ce.DirectionTally(files=2)
    notes = CompareResult(1, 1, 1)
    tally.add("ended", nc.Conversion(b"x", True, 2, 1, 8, 0.1), ce.FileScore(False, True, notes))
    tally.add("cut", nc.Conversion(b"y", False, 8, 1, 8, 0.1), ce.FileScore(False, True, notes))
    r = tally.summary()
    assert r["valid_rate"] == 1.0 and r["valid_finished_rate"] == 0.5 and r["cut_at_limit"] == 1


def test_too_long_inputs_are_skipped_and_counted(pairs_dir):
    (pairs_dir / "long.abc").write_text(LONG_TUNE)
    (pairs_dir / "long.mid").write_bytes(abc_to_midi(LONG_TUNE))
    result = ce.evaluate_conversion(tiny(), pairs_dir, bits=False)
    for d in nc.DIRECTIONS:
        assert result[d]["files"] == 4
        assert result[d]["skipped_too_long"] == 1 and result[d]["converted"] == 3


def test_a_pair_with_one_side_missing_is_a_warning(pairs_dir):
    (pairs_dir / "lonely.abc").write_text(TUNES["scale"])
    pairs, warnings = ce.load_pairs(pairs_dir)
    assert len(pairs) == 3 and warnings == {"pair with one side missing": 1}


@pytest.mark.parametrize("limit, names", [(1, ["jig"]), (2, ["jig", "reel"]), (5, None)])
def test_limit_spreads_its_pairs_over_the_sorted_list(pairs_dir, limit, names):
    pairs, _ = ce.load_pairs(pairs_dir, limit)
    got = [p.name.rsplit("/", 1)[-1] for p in pairs]
    assert got == (names or ["jig", "reel", "scale"])


def test_no_pairs_is_a_conversion_error(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(nc.ConversionError, match="no abc->mid pairs"):
        ce.load_pairs(tmp_path)


# ----------------------------------------------------------------------------- CLI


def error_line(result) -> str:
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "name, content, out, message",
    [
        ("x.mid", TUNES["scale"].encode(), "y.abc", "not a MIDI file"),
        ("x.abc", b"\x00\x01MThd", "y.mid", "not UTF-8 text|NUL byte"),
        ("x.txt", TUNES["scale"].encode(), "y.mid", "neither .abc nor .mid"),
        ("x.abc", TUNES["scale"].encode(), "y.txt", "neither .abc nor .mid"),
        ("x.abc", TUNES["scale"].encode(), "y.abc", "only abc->mid and mid->abc"),
        ("x.abc", LONG_TUNE.encode(), "y.mid", "too long for the model.*patch_length 64"),
    ],
)
def test_convert_refuses_bad_input_with_one_line_and_writes_nothing(
    tmp_path, model_dir, name, content, out, message
):
    (tmp_path / name).write_bytes(content)
    result = run("convert", tmp_path / name, "-o", tmp_path / out, "--model", model_dir)
    assert re.search(message, error_line(result))
    assert not (tmp_path / out).exists()


def test_convert_refuses_a_classifier_model(tmp_path):
    classifier = save_model(tiny(num_labels=2), tmp_path / "clf", {"labels": ["jig", "reel"]})
    (tmp_path / "x.abc").write_text(TUNES["jig"])
    result = run("convert", tmp_path / "x.abc", "-o", tmp_path / "y.mid", "--model", classifier)
    assert "classifier" in error_line(result)


def test_convert_without_the_shipped_model_says_it_is_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("bytesim.registry.find", lambda name, root=None: None)
    (tmp_path / "x.abc").write_text(TUNES["jig"])
    result = run("convert", "x.abc", "-o", "y.mid")
    assert "model 'abc-midi' not found" in error_line(result)


def test_convert_writes_the_output_and_reports_it_as_json(tmp_path, model_dir):
    (tmp_path / "x.abc").write_text(TUNES["reel"])
    args = ["convert", tmp_path / "x.abc", "-o", tmp_path / "y.mid", "--model", model_dir]
    result = run(*args, "--check", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["direction"] == "abc->mid"
    assert report["bytes"] == len((tmp_path / "y.mid").read_bytes())
    assert set(report["check"]) >= {"note_precision", "note_recall", "note_f1", "identical"}


def test_convert_says_on_stderr_when_the_output_is_cut(tmp_path):
    model = save_model(constant_model(ord("A")), tmp_path / "const")
    (tmp_path / "x.mid").write_bytes(abc_to_midi(TUNES["scale"]))
    result = run("convert", tmp_path / "x.mid", "-o", tmp_path / "y.abc", "--model", model)
    assert result.exit_code == 0
    assert "is cut" in result.stderr and "64 patches" in result.stderr
    assert (tmp_path / "y.abc").read_bytes().startswith(b"AAAA")


def test_convert_says_on_stderr_when_the_model_writes_nothing(tmp_path):
    model = save_model(constant_model(EOP), tmp_path / "eop")
    (tmp_path / "x.abc").write_text(TUNES["scale"])
    result = run("convert", tmp_path / "x.abc", "-o", tmp_path / "y.mid", "--model", model)
    assert result.exit_code == 0
    assert "ended the file at once" in result.stderr and "is empty" in result.stderr
    assert (tmp_path / "y.mid").read_bytes() == b""


def test_convert_restate_lengths_writes_the_file_with_its_track_length_mended(
    tmp_path, model_dir, monkeypatch
):
    ref = abc_to_midi(TUNES["scale"])
    short = ref[:18] + (5).to_bytes(4, "big") + ref[22:]  # what a model might write

    def fake_convert(model, data, src, dst, *args):
        return nc.Conversion(short, True, 9, 3, 64, 0.1)

    monkeypatch.setattr(nc, "convert_bytes", fake_convert)
    (tmp_path / "x.abc").write_text(TUNES["scale"])
    args = ["convert", tmp_path / "x.abc", "-o", tmp_path / "y.mid", "--model", model_dir]
    plain = run(*args, "--check", "--json")
    assert (tmp_path / "y.mid").read_bytes() == short
    check = json.loads(plain.stdout)["check"]
    assert not check["valid"] and check["valid_restated"]
    mended = run(*args, "--check", "--json", "--restate-lengths")
    assert mended.exit_code == 0, mended.output
    assert (tmp_path / "y.mid").read_bytes() == ref
    report = json.loads(mended.stdout)
    assert report["lengths_restated"] and report["check"]["valid"]
    assert report["check"]["identical"] and report["check"]["note_f1"] == 1.0
    text = run(*args, "--restate-lengths")
    assert "re-stated" in text.stderr
    back = ["convert", tmp_path / "y.mid", "-o", tmp_path / "z.abc", "--model", model_dir]
    misuse = run(*back, "--restate-lengths")
    assert misuse.exit_code == 2 and "--restate-lengths is for ABC -> MIDI" in misuse.stderr
    assert not (tmp_path / "z.abc").exists()


@pytest.mark.parametrize(
    ("cut", "finished", "said"),
    [
        (0, True, "they are right"),
        (3, False, "the output is cut before a track's end-of-track event"),
        (3, True, "a track has no end-of-track event"),
    ],
)
def test_convert_restate_lengths_says_why_it_kept_the_lengths(
    tmp_path, model_dir, monkeypatch, cut, finished, said
):
    ref = abc_to_midi(TUNES["scale"])
    out = ref[: len(ref) - cut]  # cut: the end-of-track event is gone

    def fake_convert(model, data, src, dst, *args):
        return nc.Conversion(out, finished, 9, 3, 64, 0.1)

    monkeypatch.setattr(nc, "convert_bytes", fake_convert)
    (tmp_path / "x.abc").write_text(TUNES["scale"])
    args = ["convert", tmp_path / "x.abc", "-o", tmp_path / "y.mid", "--model", model_dir]
    result = run(*args, "--restate-lengths")
    assert result.exit_code == 0, result.output
    assert "track lengths kept as written: " + said in result.stderr
    assert (tmp_path / "y.mid").read_bytes() == out


def test_convert_check_prints_note_agreement(tmp_path, model_dir):
    (tmp_path / "x.abc").write_text(TUNES["scale"])
    args = ["convert", tmp_path / "x.abc", "-o", tmp_path / "y.mid", "--model", model_dir]
    result = run(*args, "--check")
    assert result.exit_code == 0
    assert "precision" in result.stderr and "F1" in result.stderr and "identical" in result.stderr


def test_eval_conversion_json_has_named_figures_per_direction(pairs_dir, model_dir):
    result = run("eval-conversion", model_dir, pairs_dir, "--direction", "mid->abc", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "abc->mid" not in report
    r = report["mid->abc"]
    for key in ("exact_file_rate", "valid_rate", "note_precision", "note_recall", "note_f1"):
        assert 0.0 <= r[key] <= 1.0
    assert r["files"] == 3 and r["bits_per_target_byte"] > 0


def test_eval_conversion_prints_a_table_per_direction(pairs_dir, model_dir):
    result = run("eval-conversion", model_dir, pairs_dir, "--limit", "1", "--no-bits")
    assert result.exit_code == 0, result.output
    assert "abc->mid" in result.stderr and "mid->abc" in result.stderr
    assert "note F1" in result.stderr
    assert "by the length of the reference" in result.stderr and "1-48" in result.stderr


# ----------------------------------------------------------------------------- fuzzing

ABC_ALPHABET = "XKTLM:1234/|[]ABCDEFGabcdefgz^_=,'()<>-~!\"%\n +"


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(ABC_ALPHABET, max_size=200).map(str.encode)))
def test_checking_any_bytes_either_passes_or_gives_one_conversion_error(data):
    for ext in ("abc", "mid"):
        try:
            nc.check_input(data, ext, "in.x")
        except nc.ConversionError as e:
            assert "\n" not in str(e)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=120).map(lambda b: SCALE_MIDI[:22] + b),
        st.text(ABC_ALPHABET, max_size=200).map(lambda t: ("X:1\nK:C\n" + t).encode()),
    )
)
def test_scoring_any_output_never_raises_and_invalid_means_no_notes(output):
    notes = midi_to_notes(SCALE_MIDI)
    for ext in ("mid", "abc"):
        score = ce.score_output(output, ext, SCALE_MIDI, notes)
        assert score.valid or (score.notes.count_a == 0 and score.notes.f1 == 0.0)
        assert 0.0 <= score.notes.f1 <= 1.0


@pytest.mark.parametrize("direction", nc.DIRECTIONS)
def test_bits_per_target_byte_equal_those_of_bytesim_eval(pairs_dir, model_dir, direction):
    ours = ce.evaluate_conversion(nc.load_conversion_model(model_dir), pairs_dir, [direction])
    result = run("eval", model_dir, pairs_dir, "--conversion", direction, "--json")
    assert result.exit_code == 0, result.output
    theirs = json.loads(result.stdout)["bits_per_target_byte"]
    assert ours[direction]["bits_per_target_byte"] == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("direction", nc.DIRECTIONS)
def test_the_bits_by_part_add_up_to_the_bits_per_target_byte(pairs_dir, model_dir, direction):
    r = ce.evaluate_conversion(nc.load_conversion_model(model_dir), pairs_dir, [direction])
    summary = r[direction]
    parts = summary["bits_by_part"]
    src, dst = direction.split("->")
    midi = {
        "header",
        "track length",
        "delta",
        "status",
        "pitch",
        "off pitch",
        "velocity",
        "meta",
        "end",
    }
    abc = {"field", "note", "length", "structure", "space", "end"}
    expected = midi if dst == "mid" else abc
    assert set(parts) == expected
    files = sorted(pairs_dir.glob(f"*.{dst}"))
    padded = sum(-(-f.stat().st_size // PATCH) * PATCH + PATCH for f in files)
    assert sum(p["bytes"] for p in parts.values()) == padded  # every target byte, once
    assert parts["end"]["bytes"] == padded - sum(f.stat().st_size for f in files)
    bits = sum(p["bits_per_byte"] * p["bytes"] for p in parts.values()) / padded
    assert bits == pytest.approx(summary["bits_per_target_byte"], rel=1e-9)


@pytest.mark.parametrize("src", ["abc", "mid"])
def test_other_inputs_keep_each_target_and_rotate_the_inputs(src):
    pairs = [ce.Pair(name, text.encode(), abc_to_midi(text)) for name, text in TUNES.items()]
    dst = "mid" if src == "abc" else "abc"
    moved = ce.other_inputs(pairs, src)
    assert [p.side(dst) for p in moved] == [p.side(dst) for p in pairs]
    assert [p.side(src) for p in moved] == [p.side(src) for p in pairs[1:] + pairs[:1]]


def test_eval_conversion_reports_the_bits_after_another_pairs_input(pairs_dir, model_dir):
    result = run("eval-conversion", model_dir, pairs_dir, "--direction", "abc->mid", "--json")
    r = json.loads(result.stdout)["abc->mid"]
    assert r["bits_per_target_byte_other_input"] > 0
    assert set(r["bits_by_part_other_input"]) == set(r["bits_by_part"])
    one = run("eval-conversion", model_dir, pairs_dir, "--limit", "1", "--json")
    assert "bits_per_target_byte_other_input" not in json.loads(one.stdout)["abc->mid"]


def test_bits_only_gives_the_bits_of_the_full_evaluation_and_generates_nothing(
    pairs_dir, model_dir
):
    full = json.loads(run("eval-conversion", model_dir, pairs_dir, "--json").stdout)
    result = run("eval-conversion", model_dir, pairs_dir, "--bits-only", "--json")
    assert result.exit_code == 0, result.output
    quick = json.loads(result.stdout)
    for d in nc.DIRECTIONS:
        assert quick[d]["scored"] == 3 and "note_f1" not in quick[d]
        for key in ("bits_per_target_byte", "bits_per_target_byte_other_input"):
            assert quick[d][key] == pytest.approx(full[d][key], rel=1e-9)
        for part, figures in full[d]["bits_by_part"].items():
            assert quick[d]["bits_by_part"][part]["bytes"] == figures["bytes"]
            assert quick[d]["bits_by_part"][part]["bits_per_byte"] == pytest.approx(
                figures["bits_per_byte"], rel=1e-9
            )


def test_gen_abc_data_is_random_tunes_drawn_from_the_seed(model_dir):
    def report(*extra):
        args = ("eval-conversion", model_dir, "gen:abc?max=6", "--bits-only", "--json")
        result = run(*args, "--limit", "4", *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first = report()
    assert first["pairs"] == 4 and first["abc->mid"]["scored"] == 4
    assert report() == first
    assert report("--seed", "1") != first
    pairs, _ = ce.load_pairs("gen:abc?max=6", 3, seed=2)
    assert [p.name for p in pairs] == ["random-0", "random-1", "random-2"]
    assert all(p.mid == abc_to_midi(p.abc.decode()) for p in pairs)
    assert len(ce.load_pairs("gen:abc", None)[0]) == ce.RANDOM_PAIRS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("gen:cpu", "the only generated pairs are one gen:abc source"),
        ("gen:abc?max=0", "1 <= min <= max"),
        ("gen:abc?pairs={pairs}", "evaluation draws random tunes only"),
        ("no/such/folder", "no such file or folder"),
    ],
)
def test_eval_conversion_refuses_other_data_with_one_line(model_dir, pairs_dir, data, message):
    result = run("eval-conversion", model_dir, data.format(pairs=pairs_dir), "--bits-only")
    assert result.exit_code != 0
    assert message in result.output


def test_target_roles_name_the_target_file_and_its_end_only():
    example = encode_pair(TUNES["scale"].encode(), "abc", SCALE_MIDI, "mid", "target")
    names = ce.target_roles(example)
    assert len(names) == len(example.ids)
    counted = [n for n, m in zip(names, example.loss_mask, strict=True) if m]
    assert all(n is None for n, m in zip(names, example.loss_mask, strict=True) if not m)
    assert counted[: len(SCALE_MIDI)] == midi_byte_roles(SCALE_MIDI)
    assert set(counted[len(SCALE_MIDI) :]) == {"end"}


def test_eval_conversion_prints_where_the_bits_go(pairs_dir, model_dir):
    result = run("eval-conversion", model_dir, pairs_dir, "--direction", "abc->mid")
    assert result.exit_code == 0, result.output
    assert "bits per target byte by part" in result.stderr
    assert "pitch" in result.stderr and "share of the bits" in result.stderr


def test_check_on_an_input_the_reference_cannot_read_fails_after_writing(tmp_path, model_dir):
    (tmp_path / "x.abc").write_text("X:1\nK:C\nCDE|\n(3:0:0abc|\n")
    args = ["convert", tmp_path / "x.abc", "-o", tmp_path / "y.mid", "--model", model_dir]
    line = error_line(run(*args, "--check"))
    assert "--check" in line and "written" in line
    assert (tmp_path / "y.mid").exists()


def test_the_shipped_conversion_model_predicts_both_directions_of_a_real_pair():
    model = load_model(nc.DEFAULT_MODEL)
    nc.check_model(model)
    abc = (Path(__file__).parent.parent / "examples" / "jig.abc").read_bytes()
    pair = ce.Pair("jig", abc, abc_to_midi(abc.decode()))
    # a trained model, far from the 8 bits/byte of a uniform guess, in both directions
    assert ce.target_bits(model, [pair], "abc", "mid") < 3.0
    assert ce.target_bits(model, [pair], "mid", "abc") < 3.0


def test_the_shipped_conversion_model_converts_a_short_tune():
    model = load_model(nc.DEFAULT_MODEL)
    tune = b"X:1\nM:4/4\nL:1/8\nK:G\nGABc dedB|\n"
    conv = nc.convert_bytes(model, tune, "abc", "mid")
    assert conv.finished
    assert ce.check_against_reference(tune, "abc", conv.data, "mid")["note_f1"] >= 0.9
    back = nc.convert_bytes(model, abc_to_midi(tune), "mid", "abc")
    assert back.finished and abc_to_midi(back.data)  # ABC the reference converter plays


# ----------------------------------------------------------------------------- --outputs


def test_eval_conversion_outputs_keeps_every_file_and_its_scores(tmp_path, pairs_dir, model_dir):
    out = tmp_path / "out"
    result = run("eval-conversion", model_dir, pairs_dir, "--outputs", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    records = [json.loads(line) for line in (out / "files.jsonl").read_text().splitlines()]
    assert len(records) == 2 * len(TUNES)
    for direction in ("abc->mid", "mid->abc"):
        mine = [r for r in records if r["direction"] == direction]
        src, dst = direction.split("->")
        assert sorted(Path(r["input"]).name for r in mine) == sorted(f"{t}.{src}" for t in TUNES)
        for r in mine:
            written = (out / r["output"]).read_bytes()
            assert r["output"].startswith(direction.replace("->", "-to-") + "/")
            assert r["output"].endswith(f".{dst}") and len(written) == r["output_bytes"]
            # the written file scores as the record says
            source = Path(r["input"]).read_bytes()
            again = ce.check_against_reference(source, src, written, dst)
            assert again["valid"] == r["valid"] and again["note_f1"] == r["note_f1"]
        summary = report[direction]
        assert sum(r["valid"] for r in mine) == round(summary["valid_rate"] * len(mine))
        assert sum(not r["finished"] for r in mine) == summary["cut_at_limit"]
        mean_f1 = sum(r["note_f1"] for r in mine) / len(mine)
        assert mean_f1 == pytest.approx(summary["mean_file_f1"])


def test_eval_conversion_outputs_match_bytesim_convert(tmp_path, pairs_dir, model_dir):
    out = tmp_path / "out"
    args = ("eval-conversion", model_dir, pairs_dir, "--direction", "abc->mid", "--no-bits")
    assert run(*args, "--outputs", out, "--batch-size", "1").exit_code == 0
    for name in TUNES:
        one = tmp_path / f"{name}.mid"
        assert (
            run("convert", pairs_dir / f"{name}.abc", "-o", one, "--model", model_dir).exit_code
            == 0
        )
        assert (out / "abc-to-mid" / f"{name}.mid").read_bytes() == one.read_bytes()


def test_eval_conversion_outputs_records_inputs_it_could_not_convert(
    tmp_path, pairs_dir, model_dir
):
    (pairs_dir / "broken.abc").write_text("X:1\nT:no notes\nK:C\n")
    (pairs_dir / "broken.mid").write_bytes(abc_to_midi(TUNES["scale"]))
    out = tmp_path / "out"
    args = ("eval-conversion", model_dir, pairs_dir, "--direction", "abc->mid", "--no-bits")
    assert run(*args, "--outputs", out).exit_code == 0
    records = [json.loads(line) for line in (out / "files.jsonl").read_text().splitlines()]
    (broken,) = [r for r in records if r["input"].endswith("broken.abc")]
    assert broken["output"] is None and broken["rejected"]
    assert not (out / "abc-to-mid" / "broken.mid").exists()


def test_eval_conversion_outputs_refuses_bits_only(tmp_path, pairs_dir, model_dir):
    out = tmp_path / "out"
    result = run("eval-conversion", model_dir, pairs_dir, "--outputs", out, "--bits-only")
    assert result.exit_code == 2 and "--bits-only generates none" in result.output
    assert not out.exists()


def test_eval_conversion_outputs_refuses_a_file(tmp_path, pairs_dir, model_dir):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    result = run("eval-conversion", model_dir, pairs_dir, "--outputs", taken)
    assert result.exit_code == 2 and "taken" in result.output and "is a file" in result.output
    assert taken.read_text() == "keep me"


def test_convert_check_says_an_invalid_midi_is_still_readable():
    from rich.console import Console

    ref = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    short = ref[:18] + (int.from_bytes(ref[18:22], "big") - 4).to_bytes(4, "big") + ref[22:]
    report = ce.check_against_reference(b"X:1\nL:1/4\nK:C\nCDEF|\n", "abc", short, "mid")
    console = Console(record=True, width=200)
    conversion_commands._print_check(console, report)
    text = console.export_text()
    assert "invalid output (mido reads it, notes below): track 0 states" in text
    assert "F1 100.00 %" in text


def test_midi_to_abc_writes_the_input_key_into_the_header_and_the_model_the_rest(monkeypatch):
    tune = "X:1\nL:1/8\nK:Bb\nB2 c2 d2 e2|[K:C] c4|\n"
    midi = abc_to_midi(tune)
    assert nc.input_key_name(midi) == "Bb"
    wrong = tune.replace("K:Bb", "K:Dm", 1).encode()  # the key a model writes, not the input's

    def written(model, jobs, *args):  # what the model wrote, whatever it reads
        return [nc.Conversion(wrong, True, 9, 4, 512, 0.1, layout="interleaved") for _ in jobs]

    monkeypatch.setattr(nc, "_generate_interleaved", written)
    model = tiny(layout="interleaved")
    conv = nc.convert_bytes(model, midi, "mid", "abc")
    assert conv.data == tune.encode() and conv.key_from_input == "Bb"
    assert conv.figures()["key_from_input"] == "Bb"
    kept = nc.convert_bytes(model, midi, "mid", "abc", input_key=False)
    assert kept.data == wrong and kept.key_from_input is None
    [many, other] = nc.convert_many(model, [(midi, "mid", "abc"), (tune.encode(), "abc", "mid")])
    assert many.data == tune.encode() and other.key_from_input is None


def test_the_input_key_is_left_out_where_there_is_none_to_write():
    assert nc.with_input_key(b"X:1\nL:1/8\nC|\n", "G") == b"X:1\nL:1/8\nC|\n"
    assert nc.input_key_name(b"MThd\x00") is None
    no_key = mido.MidiFile()
    no_key.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, time=0)]))
    buffer = io.BytesIO()
    no_key.save(file=buffer)
    assert nc.input_key_name(buffer.getvalue()) is None
