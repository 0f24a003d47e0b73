"""The convert commands: abc2midi, midi2notes, gen-abc-dataset (click CliRunner)."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from cli.main import cli
from convert import abc_to_midi, midi_to_notes

MULTI = "tests/data/abc/multi.abc"


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_abc2midi_writes_the_first_tune_to_output(tmp_path):
    out = tmp_path / "jig.mid"
    result = run("abc2midi", "examples/jig.abc", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == abc_to_midi(open("examples/jig.abc").read())


def test_abc2midi_out_dir_names_files_by_x_and_reports_the_bad_tune(tmp_path):
    result = run("abc2midi", MULTI, "--out-dir", str(tmp_path), "--json")
    assert result.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi-1-2.mid", "multi-1.mid"]
    summary = json.loads(result.stdout)
    assert [entry["error"] for entry in summary] == [
        None,
        "tune X:2, line 12: unknown key 'Xyz'",
        None,
    ]
    assert "unknown key 'Xyz'" in result.stderr


def test_abc2midi_bad_tune_is_one_line_error_and_no_file(tmp_path):
    out = tmp_path / "bad.mid"
    result = run("abc2midi", MULTI, "--tune", "2", "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {MULTI}: tune X:2, line 12: unknown key 'Xyz'"
    )
    assert not out.exists()


def test_abc2midi_non_utf8_input_is_a_clear_error(tmp_path):
    source = tmp_path / "latin.abc"
    source.write_bytes(b"X:1\nT:caf\xe9\nK:C\nC|\n")
    result = run("abc2midi", str(source), "-o", str(tmp_path / "x.mid"))
    assert result.exit_code == 1
    assert "not UTF-8 text (byte offset 9)" in result.stderr
    assert "Traceback" not in result.stderr


def test_midi2notes_prints_onset_pitch_duration(tmp_path):
    path = tmp_path / "scale.mid"
    path.write_bytes(abc_to_midi("X:1\nL:1/4\nK:C\nC/D3/2|\n"))
    result = run("midi2notes", str(path))
    assert result.exit_code == 0
    assert result.stdout == "0.0000   60  0.5000\n0.5000   62  1.5000\n"
    assert json.loads(run("midi2notes", str(path), "--json").stdout) == [
        [0.0, 60, 0.5],
        [0.5, 62, 1.5],
    ]


def test_midi2notes_rejects_a_file_that_is_not_midi(tmp_path):
    path = tmp_path / "x.mid"
    path.write_bytes(b"not midi")
    result = run("midi2notes", str(path))
    assert result.exit_code == 1 and "not a readable MIDI file" in result.stderr


def test_gen_abc_dataset_writes_pairs_split_and_report(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(MULTI, source / "multi.abc")
    shutil.copy("examples/jig.abc", source / "jig.abc")
    out = tmp_path / "out"
    result = run("gen-abc-dataset", str(out), str(source), "--test-fraction", "0.34")
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in (out / "train").iterdir()) + sorted(
        p.name for p in (out / "test").iterdir()
    )
    assert len(names) == 6 and len(list((out / "test").iterdir())) == 2
    report = json.loads((out / "report.json").read_text())
    assert (report["train"], report["test"], report["failed"]) == (2, 1, 1)
    assert report["failures"][0]["x"] == 2
    pair = sorted((out / "train").glob("*.abc"))[0]
    midi = pair.with_suffix(".mid").read_bytes()
    assert midi_to_notes(midi) == midi_to_notes(abc_to_midi(pair.read_text()))


def test_gen_abc_dataset_is_deterministic_for_a_seed(tmp_path):
    outputs = []
    for name in ("a", "b"):
        run(
            "gen-abc-dataset",
            str(tmp_path / name),
            "--source",
            "examples",
            "--seed",
            "3",
            "--test-fraction",
            "0.5",
        )
        outputs.append(
            {
                p.relative_to(tmp_path / name): p.read_bytes()
                for p in (tmp_path / name).rglob("*")
                if p.is_file()
            }
        )
    assert outputs[0] == outputs[1] and len(outputs[0]) == 5
