"""Training recipes: `bytesim train --recipe NAME|FILE` (bytesim.recipes)."""

import json

import pytest
from click.testing import CliRunner

from bytesim import recipes
from bytesim.train import TrainError
from cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


TINY = """
description = "a tiny test recipe"
data = ["gen:cpu?max=4"]
preset = "tiny"
steps = 3
lr = 2e-3
warmup = 1
batch_size = 2
eval_examples = 0
changed_weight = 4.0
[set]
prev_patch = "prefix"
byte_hidden_size = 16
"""


def test_every_shipped_recipe_loads():
    assert "cpu" in recipes.names()
    for name in recipes.names():
        settings = recipes.load(name)
        assert settings["data"] and settings["steps"] >= 1


def test_a_recipe_file_sets_data_options_and_model(tmp_path):
    path = write(tmp_path / "r.toml", TINY)
    result = run("train", "--recipe", path, "--out", tmp_path / "run", "--seed", "3")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "train.json").read_text())
    assert saved["data"] == ["gen:cpu?max=4"] and saved["steps"] == 3 and saved["lr"] == 2e-3
    assert saved["changed_weight"] == 4.0 and saved["seed"] == 3
    cfg = json.loads((tmp_path / "run" / "ckpt-000003" / "config.json").read_text())
    assert cfg["prev_patch"] == "prefix" and cfg["byte_hidden_size"] == 16
    assert cfg["hidden_size"] == 32  # the tiny preset


def test_the_command_line_wins_over_the_recipe(tmp_path):
    path = write(tmp_path / "r.toml", TINY)
    result = run(
        "train",
        "gen:cpu?max=2",
        "--recipe",
        path,
        "--out",
        tmp_path / "run",
        "--steps",
        "2",
        "--lr",
        "1e-3",
        "--set",
        "byte_hidden_size=8",
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "train.json").read_text())
    assert saved["data"] == ["gen:cpu?max=2"] and saved["steps"] == 2 and saved["lr"] == 1e-3
    assert saved["warmup"] == 1  # not given: the recipe's
    cfg = json.loads((tmp_path / "run" / "ckpt-000002" / "config.json").read_text())
    assert cfg["byte_hidden_size"] == 8 and cfg["prev_patch"] == "prefix"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('data = ["gen:cpu"]\nsteps = "many"\n', "steps = 'many' is not of type"),
        ('data = ["gen:cpu"]\nout = "runs/x"\n', "'out' is not a recipe setting"),
        ('data = ["gen:cpu"]\ncolour = 1\n', "'colour' is not a recipe setting"),
        ('data = ["gen:cpu"]\n[set]\ncolour = "red"\n', "[set] 'colour' is not a model setting"),
        ("steps = 3\n", "a recipe needs data"),
        ("data = [\n", "not TOML"),
    ],
)
def test_a_bad_recipe_is_one_line_naming_the_file(tmp_path, text, message):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(TrainError, match="bad.toml"):
        recipes.load(str(path))
    result = run("train", "--recipe", path, "--out", tmp_path / "run")
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_an_unknown_recipe_name_lists_the_shipped_ones(tmp_path):
    result = run("train", "--recipe", "nosuch", "--out", tmp_path / "run")
    assert result.exit_code == 1 and "no recipe 'nosuch'" in result.output
    assert "cpu" in result.output


def test_train_without_data_or_recipe_says_what_to_give(tmp_path):
    result = run("train", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "--recipe" in result.output


def test_the_cpu_recipe_runs_and_improves_on_a_tiny_budget(tmp_path):
    """Its model settings and schedule, on a tiny model and short programs (not a timing test):
    the training loss falls from the first steps to the last (4.4 nats to about 3.5 here)."""
    out = tmp_path / "run"
    result = run(
        "train", "gen:cpu?max=6", "--recipe", "cpu", "--out", out, "--preset", "tiny",
        "--steps", "60", "--warmup", "5", "--eval-examples", "0", "--save-every", "60",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "train.json").read_text())
    assert saved["overrides"]["retrieve"] is True and saved["lr"] == recipes.load("cpu")["lr"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r["event"] == "step"]
    assert len(losses) == 6 and sum(losses[-3:]) / 3 < losses[0] - 0.4, losses
