"""benchmarks/bar_resync.py: note F1 with the model's clock set right at each bar or unit."""

import importlib.util
from pathlib import Path

import torch

from bytesim.checkpoint import save_model
from bytesim.layout import align
from bytesim.model import BGPT, PRESETS
from convert import abc_to_midi

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bar_resync.py"
_SPEC = importlib.util.spec_from_file_location("bar_resync", _PATH)
bar_resync = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bar_resync)

TUNE = b"X:1\nL:1/8\nK:C\nC2 D2 | E2 F2 | G2 A2 | B2 c2 |]\n"  # 8 quarter notes, 4 bars


def test_the_timeline_reads_dt_notes_and_rests_and_sets_the_clock_where_told():
    groups = [[b"0 KC\n"], [b"0 60 480\n"], [b"480 z 240\n", b"240 62 480\n"], [b"junk\n"]]
    assert bar_resync.timeline(groups, {}) == [(0, 60, 480), (720, 62, 480)]
    assert bar_resync.timeline(groups, {2: 1000}) == [(0, 60, 480), (1720, 62, 480)]
    assert bar_resync.clocks(groups) == [0, 0, 0, 720]


def test_the_reference_scores_one_on_every_clock():
    midi = abc_to_midi(TUNE)
    lines = align(TUNE, midi, rests=True)[1]
    results, one_to_one = bar_resync.score_pair(TUNE, midi, lines)
    assert one_to_one and all(r.agree and r.matched == 8 for r in results.values())


def test_a_wrong_time_costs_every_later_note_as_written_and_one_bar_with_bars():
    midi = abc_to_midi(TUNE)
    lines = align(TUNE, midi, rests=True)[1]
    assert lines[4] == [b"480 62 480\n"]  # D, a quarter after C
    wrong = [[b"240 62 480\n"] if g == lines[4] else g for g in lines]
    assert wrong != lines
    results, _ = bar_resync.score_pair(TUNE, midi, wrong)
    written, bars, units = (results[m].matched for m in bar_resync.MODES)
    assert written == 1  # D comes a quarter early, so every note after it is early too
    assert bars == 7  # the clock is right again at the next bar: only D is lost
    assert units == 7  # D's own line is wrong whatever the clock


def test_the_cli_prints_the_three_figures_and_refuses_a_model_that_is_not_interleaved(
    tmp_path, capsys
):
    (tmp_path / "a.abc").write_bytes(TUNE)
    (tmp_path / "a.mid").write_bytes(abc_to_midi(TUNE))
    torch.manual_seed(0)
    config = PRESETS["tiny"].with_overrides(layout="repeats", patch_length=128)
    model = save_model(BGPT(config).eval(), tmp_path / "m")
    out_json = tmp_path / "f.json"
    assert bar_resync.main([str(tmp_path), "--model", str(model), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "on 1 pairs" in printed and all(f"| {m} |" in printed for m in bar_resync.MODES)
    assert '"pairs": 1' in out_json.read_text()
    paper = save_model(BGPT(PRESETS["tiny"]).eval(), tmp_path / "p")
    try:
        bar_resync.main([str(tmp_path), "--model", str(paper)])
    except SystemExit as e:
        assert e.code == 2
    else:
        raise AssertionError("a paper-layout model was not refused")
    assert "is not interleaved" in capsys.readouterr().err
