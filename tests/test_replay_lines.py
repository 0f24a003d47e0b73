"""benchmarks/replay_lines.py: how likely a repeats-layout model finds its replay lines."""

import importlib.util
from pathlib import Path

import torch

from bytesim.checkpoint import save_model
from bytesim.layout import align, replay_labels, with_replays
from bytesim.model import BGPT, PRESETS
from convert import abc_to_midi

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "replay_lines.py"
_SPEC = importlib.util.spec_from_file_location("replay_lines", _PATH)
replay_lines = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(replay_lines)

TUNE = b"X:1\nL:1/8\nK:G\n|:GA Bc|1 d2:|2 e2|]\n|:fg ab:|\n"  # two replays


def tiny(layout: str) -> BGPT:
    torch.manual_seed(0)
    return BGPT(PRESETS["tiny"].with_overrides(layout=layout, patch_length=128)).eval()


def test_every_replay_line_of_the_target_is_scored_with_probabilities():
    midi = abc_to_midi(TUNE)
    segments, groups = align(TUNE, midi, rests=True)
    replayed = with_replays(segments, groups, replay_labels(segments))
    lines = [x for g in replayed for x in g if b" @ " in x]
    found = replay_lines.replay_probabilities(tiny("repeats"), TUNE, midi)
    assert len(found) == len(lines) == 2
    for at, top, first, second in found:
        assert 0 < at < 1 and isinstance(top, bool) and 0 < first < 1 and 0 < second < 1


def test_the_cli_prints_one_line_and_refuses_a_model_of_another_layout(tmp_path, capsys):
    (tmp_path / "a.abc").write_bytes(TUNE)
    (tmp_path / "a.mid").write_bytes(abc_to_midi(TUNE))
    (tmp_path / "b.abc").write_bytes(b"X:1\nK:G\nGAB|\n")  # no :|, not scored
    (tmp_path / "b.mid").write_bytes(abc_to_midi(b"X:1\nK:G\nGAB|\n"))
    model = save_model(tiny("repeats"), tmp_path / "m")
    assert replay_lines.main([str(model), str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("2 replay lines in 1 tunes: @ the most likely")
    other = save_model(tiny("rests"), tmp_path / "r")
    assert replay_lines.main([str(other), str(tmp_path)]) == 1
    assert "writes no replay lines" in capsys.readouterr().err


_COV = Path(__file__).resolve().parent.parent / "benchmarks" / "replay_coverage.py"
_COV_SPEC = importlib.util.spec_from_file_location("replay_coverage", _COV)
replay_coverage = importlib.util.module_from_spec(_COV_SPEC)
_COV_SPEC.loader.exec_module(replay_coverage)


def test_coverage_counts_the_tunes_that_replay_and_their_lines(tmp_path, capsys):
    plain = b"X:1\nL:1/8\nK:G\nGABc|d2|]\n"
    pairs = [(TUNE, abc_to_midi(TUNE)), (plain, abc_to_midi(plain)), (b"K:G\nA", b"MThd")]
    found = replay_coverage.coverage(pairs)
    assert found["tunes"] == 2 and found["skipped"] == 1
    assert found["replaying"] == found["with_lines"] == 1 and found["lossy"] == 0
    assert found["lines"] == 2 and found["short"] == 1  # |1 ends the first span, :| the second
    assert found["after"] == found["before"] - 6  # G A B c and f g a b again, in 2 lines
    for name, (abc, midi) in zip("ab", pairs[:2], strict=True):
        (tmp_path / f"{name}.abc").write_bytes(abc)
        (tmp_path / f"{name}.mid").write_bytes(midi)
    assert replay_coverage.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("2 tunes (0 skipped): 1 play a part again")
    assert replay_coverage.main([str(tmp_path / "none")]) == 1
