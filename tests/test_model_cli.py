"""The model commands: train, eval, generate, models, import-bgpt (through click)."""

import json

import pytest
import torch
from click.testing import CliRunner

from bytesim.checkpoint import save_model
from bytesim.model import BGPT, PRESETS
from cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    for i in range(4):
        (d / f"t{i}.txt").write_bytes(b"hello bytes " * (i + 1))
        (d / f"t{i}.abc").write_bytes(b"X:%d\nK:C\nCDEF|" % i)
    return d


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    return save_model(BGPT(PRESETS["tiny"]), tmp_path / "model")


def test_train_writes_a_run_and_refuses_to_overwrite_it(tmp_path, corpus):
    args = ["train", corpus, "--out", tmp_path / "run", "--preset", "tiny", "--steps", "3"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "ckpt-000003" / "model.safetensors").exists()
    again = run(*args)
    assert again.exit_code == 1 and "--resume" in again.output
    resumed = run(*args[:-1], "5", "--resume")
    assert resumed.exit_code == 0 and (tmp_path / "run" / "ckpt-000005").exists()


def test_train_set_overrides_reach_the_model_config(tmp_path, corpus):
    result = run(
        "train",
        corpus,
        "--out",
        tmp_path / "run",
        "--preset",
        "tiny",
        "--steps",
        "1",
        "--set",
        "prev_patch=add",
        "--set",
        "byte_hidden_size=16",
    )
    assert result.exit_code == 0, result.output
    cfg = json.loads((tmp_path / "run" / "ckpt-000001" / "config.json").read_text())
    assert cfg["prev_patch"] == "add" and cfg["byte_hidden_size"] == 16


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "colour=red"], "FIELD=VALUE"),
        (["--preset", "huge"], "unknown preset"),
        (["--set", "prev_patch=copy"], "prev_patch must be one of"),
    ],
)
def test_train_rejects_bad_settings_in_one_line(tmp_path, corpus, extra, message):
    result = run("train", corpus, "--out", tmp_path / "run", "--steps", "1", *extra)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_train_on_an_empty_folder_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("train", tmp_path / "empty", "--out", tmp_path / "run", "--steps", "1")
    assert result.exit_code == 1 and "no files found" in result.output


def test_eval_json_reports_bits_per_byte_overall_and_per_type(model_dir, corpus):
    result = run("eval", model_dir, corpus, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["files"] == 8
    assert set(report["per_type"]) == {"abc", "txt"}
    assert 7.5 < report["bits_per_byte"] < 8.5  # an untrained model: about log2(257)
    assert report["file_bytes"] < report["bytes"]


def test_eval_of_pairs_counts_missing_sides(model_dir, corpus):
    (corpus / "lonely.abc").write_bytes(b"X:9")
    result = run("eval", model_dir, corpus, "--conversion", "abc->txt", "--json")
    report = json.loads(result.stdout)
    assert report["files"] == 4 and report["per_type"].keys() == {"abc->txt"}
    assert report["warnings"] == {"pair with one side missing": 1}


def test_eval_of_a_missing_model_is_one_clear_error(tmp_path, corpus):
    result = run("eval", tmp_path / "nope", corpus)
    assert result.exit_code == 1 and "no such model" in result.output


def test_generate_writes_files_of_the_requested_type(model_dir, tmp_path):
    out = tmp_path / "gen.txt"
    result = run(
        "generate",
        model_dir,
        "-o",
        out,
        "-n",
        "2",
        "--temperature",
        "1",
        "--top-k",
        "20",
        "--seed",
        "3",
        "--max-patches",
        "4",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["path"] for r in report] == [str(tmp_path / "gen-1.txt"), str(tmp_path / "gen-2.txt")]
    assert all(r["patches"] <= 4 for r in report)
    assert (tmp_path / "gen-1.txt").read_bytes() != (tmp_path / "gen-2.txt").read_bytes()


def test_generate_is_reproducible_with_a_seed(model_dir, tmp_path, corpus):
    outs = []
    for name in ("a.abc", "b.abc"):
        result = run(
            "generate",
            model_dir,
            "--prompt",
            corpus / "t0.abc",
            "-o",
            tmp_path / name,
            "--temperature",
            "0.8",
            "--seed",
            "5",
            "--max-patches",
            "6",
        )
        assert result.exit_code == 0, result.output
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1] and outs[0].startswith(b"X:0")


def test_generate_rejects_a_prompt_longer_than_the_limit(model_dir, tmp_path, corpus):
    result = run(
        "generate",
        model_dir,
        "--prompt",
        corpus / "t3.txt",
        "-o",
        tmp_path / "x.txt",
        "--max-patches",
        "2",
    )
    assert result.exit_code == 1 and "nothing to generate" in result.output


def test_models_lists_shipped_models_as_json():
    result = run("models", "--json")
    assert result.exit_code == 0
    assert isinstance(json.loads(result.stdout), list)


def test_import_bgpt_writes_a_model_directory(tmp_path):
    pytest.importorskip("transformers")
    from reference_bgpt import reference_model

    ref = reference_model(PRESETS["tiny"])
    torch.save({"model": ref.state_dict()}, tmp_path / "w.pth")
    result = run("import-bgpt", tmp_path / "w.pth", tmp_path / "out", "--heads", "2")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "config.json").exists()


def test_import_bgpt_of_a_non_checkpoint_is_one_clear_error(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"junk")
    result = run("import-bgpt", tmp_path / "w.pth", tmp_path / "out")
    assert result.exit_code == 1 and "not a readable PyTorch checkpoint" in result.output
