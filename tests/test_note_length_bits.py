"""benchmarks/note_length_bits.py: the bits a conversion model spends on each note's length."""

import importlib.util
from pathlib import Path

import pytest

from bytesim.checkpoint import save_model
from bytesim.layout import align
from convert import abc_to_midi
from tests.test_replay_lines import tiny

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "note_length_bits.py"
_SPEC = importlib.util.spec_from_file_location("note_length_bits", _PATH)
note_length_bits = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(note_length_bits)

TUNE = b"X:1\nL:1/8\nK:D\nFA z2 =F2|[DF]3 G|]\n"  # 6 notes (the chord's two), a rest


def test_every_note_line_of_the_target_is_scored_and_no_other():
    midi = abc_to_midi(TUNE)
    _, groups = align(TUNE, midi, rests=True)
    notes = [x for group in groups for x in group if x.split(b" ")[1][:1] not in b"zTMK@"]
    assert len(notes) == 6
    bits = note_length_bits.length_bits(tiny("accidentals"), TUNE, midi)
    assert len(bits) == 6 and all(b > 0 for b in bits)  # an untrained model is unsure
    assert note_length_bits.summary([0.5, 2.0]) == "mean 1.25, median 1.250, over 1 bit 50.0 %"


def test_the_command_prints_one_line_and_refuses_what_it_cannot_score(tmp_path, capsys):
    (tmp_path / "a.abc").write_bytes(TUNE)
    (tmp_path / "a.mid").write_bytes(abc_to_midi(TUNE))
    model = save_model(tiny("accidentals"), tmp_path / "m")
    assert note_length_bits.main([str(model), str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 pairs; first note's length: mean ") and "later notes' (5)" in out
    paper = save_model(tiny("paper"), tmp_path / "p")
    assert note_length_bits.main([str(paper), str(tmp_path)]) == 1
    assert note_length_bits.main([str(model), str(tmp_path / "m")]) == 1
    assert "no x.abc + x.mid pairs" in capsys.readouterr().err


@pytest.mark.parametrize("line", [b"0 z 240\n", b"480 @ 2\n", b"0 KD\n"])
def test_rest_replay_and_meta_lines_are_not_note_lines(line):
    assert note_length_bits._NOTE_LINE.match(line) is None
