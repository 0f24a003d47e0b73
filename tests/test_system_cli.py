"""`bytesim train gen:system`, `bytesim eval-system` and `bytesim systems` (through click)."""

import json
import re

import pytest
from click.testing import CliRunner

from cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def rule110_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("systems") / "run"
    options = "--preset tiny --steps 3 --batch-size 2 --eval-examples 2".split()
    result = run("train", "gen:system?name=rule110&max_steps=4", "--out", out, *options)
    assert result.exit_code == 0, result.output
    return out


def test_train_on_a_built_in_system_writes_a_checkpoint(rule110_run):
    assert (rule110_run / "ckpt-000003" / "model.safetensors").exists()


def test_eval_system_json_reports_both_modes_per_field(rule110_run):
    result = run(
        "eval-system", "rule110", "-o", "max_steps=4", "--model", rule110_run, "-n", "3", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["system"] == "rule110" and report["instances"] == 3
    assert set(report["free_running_field_accuracy"]) == {
        "cells 0-31",
        "cells 32-63",
        "cells 64-95",
        "cells 96-127",
    }
    assert 0.0 <= report["teacher_forced_byte_accuracy"] <= 1.0


def test_eval_system_table_goes_to_stderr(rule110_run):
    result = run("eval-system", "rule110", "-o", "max_steps=2", "--model", rule110_run, "-n", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "teacher-forced per field" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "system nosuch: unknown"),
        (["rule110", "-o", "steps=3"], "unknown option 'steps'"),
        (["rule110", "-o", "steps"], "'steps' is not KEY=VALUE"),
        (["life", "-o", "min_steps=40", "-o", "max_steps=40"], "patch_length is 64; a life trace"),
        (["no_such_module:x"], "cannot import no_such_module"),
    ],
)
def test_eval_system_errors_are_one_line(rule110_run, args, message):
    result = run("eval-system", *args, "--model", rule110_run, "-n", "1", "--no-free")
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_eval_system_needs_a_model_where_none_ships():
    result = run("eval-system", "life")
    assert result.exit_code == 2 and "no model ships for life" in result.output
    assert "--model" in result.output


def test_run_system_of_rule110_defaults_to_its_shipped_model():
    result = run("run-system", "rule110", "-o", "max_steps=3", "--seed", "5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["model"] == "rule110"


def test_train_with_an_unknown_system_option_is_one_line(tmp_path):
    result = run(
        "train", "gen:system?name=rule110&rule=30", "--out", tmp_path / "r", "--steps", "1"
    )
    assert result.exit_code == 1 and "system rule110: unknown option 'rule'" in result.output
    assert not (tmp_path / "r").exists()


def test_systems_lists_the_built_ins():
    result = run("systems", "--json")
    assert result.exit_code == 0
    by_name = {s["name"]: s for s in json.loads(result.stdout)}
    assert by_name["rule110"]["state_size"] == 16 and by_name["life"]["state_size"] == 32
    assert by_name["cpu"]["max_states"] == 255 and by_name["cpu"]["fields"][0] == "pc"
    assert "rule110  (bytesim.builtin_systems:rule110)  16-byte states" in run("systems").stdout


def test_eval_system_runs_the_built_in_cpu_on_the_shipped_cpu_model():
    args = ["eval-system", "cpu", "-o", "max_instructions=3", "--model", "cpu-small", "-n", "2"]
    result = run(*args, "--no-free", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["system"] == "cpu" and set(report["teacher_forced_field_accuracy"]) == {
        "pc",
        "acc",
        "ir",
        "registers",
    }


# --- run-system


def test_run_system_json_gives_the_reference_and_the_models_states(rule110_run):
    args = ["run-system", "rule110", "-o", "max_steps=4", "--model", rule110_run, "--seed", 3]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["system"] == "rule110" and report["seed"] == 3
    assert len(report["reference"]) == report["reference_states"] + 1
    assert report["context"][:4] == f"6e{report['reference_states']:02x}"  # rule, steps
    fields = {"cells 0-31", "cells 32-63", "cells 64-95", "cells 96-127"}
    for k, step in enumerate(report["neural"], start=1):
        assert step["step"] == k and len(step["values"]) == 16 and set(step["wrong"]) <= fields
        assert 0.0 <= step["probability"] <= 1.0
    assert run(*args, "--json").stdout == result.stdout  # the seed decides everything


def test_run_system_table_goes_to_stderr(rule110_run):
    args = ["run-system", "rule110", "-o", "max_steps=3", "--model", rule110_run, "--bits"]
    result = run(*args, "--teacher-forced", "--unsure-below", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "state 0" in result.stderr and "neural" in result.stderr
    assert "cells 96-127" in result.stderr and "teacher-forced: state bytes right" in result.stderr
    assert re.search(r"\d\.\d\d\?", result.stderr)  # p column: every state is unsure


def test_field_cells_show_hex_in_groups_or_bits_with_wrong_bytes_red():
    from cli.system_commands import field_cell

    assert field_cell([0, 1, 255, 256, 16]) == "0001ff-- 10"
    assert field_cell([5, 256], [False, True], bits=True) == ".....#.#[bold red]????????[/]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "system nosuch: unknown"),
        (["rule110", "-o", "rule=30"], "system rule110: unknown option 'rule'"),
        (["life", "-o", "min_steps=40", "-o", "max_steps=40"], "patch_length is 64; a life trace"),
        (["my_missing_module:lfsr"], "cannot import my_missing_module"),
    ],
)
def test_run_system_errors_are_one_line(rule110_run, args, message):
    result = run("run-system", *args, "--model", rule110_run)
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_run_system_needs_a_model_that_exists(tmp_path):
    assert run("run-system", "life").exit_code == 2
    result = run("run-system", "rule110", "--model", tmp_path / "nothing")
    assert result.exit_code == 1 and "Traceback" not in result.output


# --- gen-system-dataset


def test_gen_system_dataset_then_train_on_it(tmp_path):
    out = tmp_path / "life"
    args = ["gen-system-dataset", "life", out, "-n", 6, "--test", 2, "-o", "max_steps=2"]
    result = run(*args, "--shard-size", 4, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["instances"], summary["files"], summary["system"]) == (8, 3, "life")
    assert sorted(p.name for p in (out / "train").iterdir()) == [
        "shard-00000.tar",
        "shard-00001.tar",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"] == {"max_steps": "2"} and manifest["layout"] == "shards"
    options = "--preset tiny --steps 2 --batch-size 2 --eval-examples 2".split()
    trained = run(
        "train", out / "train", "--eval-data", out / "test", "--out", tmp_path / "r", *options
    )
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "r" / "ckpt-000002" / "model.safetensors").exists()


def test_gen_system_dataset_slices_resume_and_match_the_whole(tmp_path):
    args = ["rule110", "-n", 9, "--shard-size", 2, "-o", "max_steps=3", "--layout", "bgpt"]
    assert run("gen-system-dataset", args[0], tmp_path / "whole", *args[1:]).exit_code == 0
    for k in (1, 2):
        result = run(
            "gen-system-dataset", args[0], tmp_path / "sliced", *args[1:], "--slice", f"{k}/2"
        )
        assert result.exit_code == 0, result.output
    again = run("gen-system-dataset", args[0], tmp_path / "sliced", *args[1:])
    assert (
        "0 rule110 traces written in 0 blocks of files, 5 blocks of files already" in again.stderr
    )

    def files(folder):
        return {p.name: p.read_bytes() for p in (folder / "train").iterdir()}

    assert (
        files(tmp_path / "sliced") == files(tmp_path / "whole")
        and len(files(tmp_path / "whole")) == 9
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch", "-n", 1], "system nosuch: unknown"),
        (["rule110", "-n", 1, "-o", "rule=3"], "system rule110: unknown option 'rule'"),
        (["rule110", "-n", 1, "--slice", "0/2"], "'0/2' is not K/N with 1 <= K <= N"),
        (["rule110", "-n", 1, "--slice", "x"], "'x' is not K/N"),
        (["rule110"], "Missing option '-n'"),
    ],
)
def test_gen_system_dataset_errors_are_one_line(tmp_path, args, message):
    result = run("gen-system-dataset", args[0], tmp_path / "d", *args[1:])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "d").exists()


def test_gen_system_dataset_refuses_a_folder_of_another_dataset(tmp_path):
    assert run("gen-system-dataset", "rule110", tmp_path, "-n", 2).exit_code == 0
    result = run("gen-system-dataset", "life", tmp_path, "-n", 2)
    assert result.exit_code == 1
    assert f"{tmp_path}: manifest.json describes a dataset with other parameters" in result.output
    (tmp_path / "file").write_text("")
    result = run("gen-system-dataset", "life", tmp_path / "file" / "d", "-n", 2)
    assert result.exit_code == 1 and "a file stands where a folder is needed" in result.output
