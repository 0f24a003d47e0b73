"""Cutting files into patches: the paper's fixed cut and the notes layout (one unit per patch)."""

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytesim.abc_task import rich_tune
from bytesim.data import EOP, PATCH, DataError, encode_pair
from bytesim.layout import (
    abc_segments,
    file_bytes,
    model_ext,
    model_patches,
    pad_segments,
)
from convert import abc_to_midi


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
    assert abc_segments(text) == [
        b"X:1\n", b"K:G\n", b"A", b"B", b"|\n", b"M:3/4\n", b"% c\n", b"c", b"|]\n"
    ]  # fmt: skip


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
