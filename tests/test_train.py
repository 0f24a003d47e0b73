"""Training: schedule, exact resume, run directory contents, classification, DDP."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from bytesim.data import GENERATED_SOURCES, encode_file
from bytesim.train import TrainConfig, TrainError, lr_at, parse_overrides, train


class Ramp:
    """Toy generated source: runs of consecutive byte values, 1..n patches long."""

    def __init__(self, options):
        self.n = int(options.get("n", "3"))

    def sample(self, rng, step):
        k = int(rng.integers(1, self.n + 1))
        start = int(rng.integers(0, 200))
        return encode_file(bytes((start + i) % 256 for i in range(16 * k)), "ramp")


@pytest.fixture(autouse=True)
def ramp_source(monkeypatch):
    monkeypatch.setitem(GENERATED_SOURCES, "ramp", Ramp)


def config(out, **kw):
    base = dict(
        data=["gen:ramp?n=3"],
        preset="tiny",
        steps=8,
        warmup=2,
        lr=3e-3,
        eval_every=4,
        eval_examples=4,
        save_every=100,
        batch_size=4,
    )
    return TrainConfig(out=str(out), **{**base, **kw})


def weights(run, step):
    return load_file(run / f"ckpt-{step:06d}" / "model.safetensors")


def test_learning_rate_warms_up_then_follows_the_cosine_to_the_floor():
    cfg = TrainConfig(out="x", data=[], lr=1.0, min_lr=0.1, warmup=10)
    lrs = [lr_at(s, cfg, 110) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.55)
    assert lrs[109] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))


def test_the_schedule_really_applies_to_the_optimizer(tmp_path):
    train(config(tmp_path, steps=6, log_every=1))
    lrs = [
        r["lr"] for r in map(json.loads, open(tmp_path / "metrics.jsonl")) if r["event"] == "step"
    ]
    cfg = config(tmp_path, steps=6)
    assert lrs == [lr_at(s, cfg, 6) for s in range(6)]
    assert len(set(lrs)) == 5 and lrs[1] == max(lrs)


@pytest.mark.parametrize("overrides", [{}, {"dropout": 0.1, "prev_patch": "prefix"}])
def test_resumed_run_equals_the_uninterrupted_one_bit_for_bit(tmp_path, overrides):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train(config(whole, overrides=overrides))
    first = train(config(parts, overrides=overrides, stop_after=3))
    assert first["stopped"] == "stop_after" and first["step"] == 3
    train(config(parts, overrides=overrides))
    a, b = weights(whole, 8), weights(parts, 8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    a = load_file(whole / "ckpt-000008" / "optimizer.safetensors")
    b = load_file(parts / "ckpt-000008" / "optimizer.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_run_directory_holds_one_checkpoint_metrics_and_a_loss_curve(tmp_path):
    train(config(tmp_path, save_every=4, log_every=1))
    assert (tmp_path / "latest").read_text().strip() == "ckpt-000008"
    assert [p.name for p in tmp_path.glob("ckpt-*")] == ["ckpt-000008"]
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    records = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    steps = [r for r in records if r["event"] == "step"]
    evals = [r for r in records if r["event"] == "eval"]
    assert [r["step"] for r in steps] == list(range(1, 9))
    assert [r["step"] for r in evals] == [4, 8]
    assert all(r["bits_per_byte"] == pytest.approx(r["loss"] / np.log(2)) for r in steps)


def test_training_lowers_the_loss(tmp_path):
    train(config(tmp_path, steps=40, eval_every=40, log_every=1, warmup=5, lr=5e-3))
    steps = [r for r in map(json.loads, open(tmp_path / "metrics.jsonl")) if r["event"] == "step"]
    assert np.mean([r["loss"] for r in steps[-5:]]) < np.mean([r["loss"] for r in steps[:5]]) - 1


def test_training_leaves_the_callers_random_state_and_thread_count_as_they_were(tmp_path):
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(config(tmp_path, steps=2, threads=1 if threads > 1 else 2))
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_changed_weight_is_kept_with_the_run_and_must_be_positive(tmp_path):
    train(config(tmp_path / "a", steps=2, changed_weight=4.0))
    saved = json.loads((tmp_path / "a" / "train.json").read_text())
    assert saved["changed_weight"] == 4.0
    with pytest.raises(TrainError, match="changed_weight must be positive"):
        train(config(tmp_path / "b", steps=2, changed_weight=0.0))


def test_init_can_add_bit_features_to_a_model_trained_without_them(tmp_path):
    train(config(tmp_path / "a", steps=4))
    train(
        config(tmp_path / "b", steps=4, init=str(tmp_path / "a"), overrides={"bit_features": True})
    )
    config_b = json.loads((tmp_path / "b" / "ckpt-000004" / "config.json").read_text())
    grown = weights(tmp_path / "b", 4)
    assert config_b["bit_features"] is True
    assert grown["bit_out.weight"].abs().sum() > 0  # trained away from its zero start


def test_max_minutes_stops_cleanly_with_a_checkpoint(tmp_path):
    summary = train(config(tmp_path, steps=1000, max_minutes=0.0))
    assert summary["stopped"] == "time limit" and summary["step"] == 1
    assert (tmp_path / "ckpt-000001" / "optimizer.safetensors").exists()


def test_loss_on_target_trains_on_the_target_side_only(tmp_path):
    """Random sources and one constant target: counting the target alone, the loss falls near
    zero; counting the unpredictable sources too, it cannot."""
    rng = np.random.default_rng(0)
    for i in range(8):
        (tmp_path / f"x{i}.abc").write_bytes(rng.integers(0, 256, 64, dtype=np.uint8).tobytes())
        (tmp_path / f"x{i}.mid").write_bytes(b"MThd" * 4)
    last = {}
    for loss_on in ("target", "all"):
        run = tmp_path / loss_on
        cfg = config(run, data=[str(tmp_path)], conversion="abc->mid", loss_on=loss_on)
        cfg = dataclasses.replace(cfg, steps=40, warmup=5, lr=5e-3, log_every=1, eval_examples=0)
        assert train(cfg)["step"] == 40
        steps = [r for r in map(json.loads, open(run / "metrics.jsonl")) if r["event"] == "step"]
        last[loss_on] = np.mean([r["loss"] for r in steps[-5:]])
    assert last["target"] < 1.0 < 2.0 < last["all"]  # measured: 0.61 and 2.82 nats


def test_classification_task_trains_a_labelled_model(tmp_path):
    for i in range(6):
        (tmp_path / f"{'ab'[i % 2]}_{i}.txt").write_bytes(bytes([i % 2]) * 20)
    train(config(tmp_path / "run", data=[str(tmp_path)], task="classify", steps=3))
    cfg = json.loads((tmp_path / "run" / "ckpt-000003" / "config.json").read_text())
    assert cfg["num_labels"] == 2 and cfg["labels"] == ["a", "b"]


def test_mixing_generated_and_file_data_is_an_error(tmp_path):
    with pytest.raises(TrainError, match="one kind"):
        train(config(tmp_path, data=["gen:ramp", str(tmp_path)]))


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            ["prev_patch=prefix", "byte_hidden_size=128"],
            {"prev_patch": "prefix", "byte_hidden_size": 128},
        ),
        (["dropout=0.2", "byte_heads=none"], {"dropout": 0.2, "byte_heads": None}),
    ],
)
def test_set_overrides_are_typed_like_the_config_fields(items, expected):
    assert parse_overrides(items) == expected


@pytest.mark.parametrize("item", ["nosuch=1", "hidden_size", "hidden_size=big"])
def test_bad_set_overrides_are_rejected(item):
    with pytest.raises(TrainError):
        parse_overrides([item])


@pytest.mark.slow
def test_two_gloo_processes_train_like_one_process_with_twice_the_batch(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(8):
        (data / f"f{i}.txt").write_bytes(bytes([65 + i]) * 40)
    common = [
        "train",
        str(data),
        "--preset",
        "tiny",
        "--steps",
        "4",
        "--warmup",
        "1",
        "--precision",
        "fp32",
        "--threads",
        "1",
        "--eval-examples",
        "0",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "cli.main"]
    subprocess.run(
        ddp + common + ["--out", str(tmp_path / "ddp"), "--batch-size", "2"],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "-m", "cli.main"]
        + common
        + ["--out", str(tmp_path / "one"), "--batch-size", "4"],
        check=True,
        env=env,
        capture_output=True,
    )
    a, b = weights(tmp_path / "ddp", 4), weights(tmp_path / "one", 4)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    shutil.rmtree(tmp_path)


def test_generated_sources_see_the_step_and_eval_sees_the_last_step(tmp_path, monkeypatch):
    seen = []

    class Recorder(Ramp):
        def sample(self, rng, step):
            seen.append(step)
            return super().sample(rng, step)

    monkeypatch.setitem(GENERATED_SOURCES, "rec", Recorder)
    train(config(tmp_path, data=["gen:rec"], steps=3, batch_size=2, eval_examples=1))
    assert seen[0] == 3  # the evaluation set, drawn first, as at the last step
    assert seen[1:] == [0, 0, 1, 1, 2, 2]


def test_loss_on_target_with_a_generated_source_is_one_clear_error(tmp_path):
    with pytest.raises(TrainError, match="sets its own loss mask"):
        train(config(tmp_path, loss_on="target"))


def test_a_second_trainer_on_a_live_run_stops_at_once(tmp_path):
    import fcntl

    with open(tmp_path / ".lock", "a") as held:  # a first trainer still writing this run
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(TrainError, match="another training process"):
            train(config(tmp_path))
        assert not (tmp_path / "metrics.jsonl").exists()
    train(config(tmp_path, steps=2))  # released: the run starts
    assert (tmp_path / "latest").read_text().strip() == "ckpt-000002"


def test_ctrl_c_saves_a_checkpoint_at_the_current_step_and_the_run_resumes(tmp_path):
    def press_ctrl_c(record):
        if record.get("event") == "step" and record["step"] == 3:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    summary = train(config(tmp_path, log_every=1), on_event=press_ctrl_c)
    assert summary["stopped"] == "interrupted" and summary["step"] == 3
    assert (tmp_path / "latest").read_text().strip() == "ckpt-000003"
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is back
    assert train(config(tmp_path))["step"] == 8


def test_a_run_that_fails_before_it_starts_leaves_no_folder_behind(tmp_path):
    with pytest.raises(TrainError):
        train(config(tmp_path / "run", data=["gen:nosuch"]))
    assert not (tmp_path / "run").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made is left where it was
    with pytest.raises(TrainError):
        train(config(tmp_path / "mine", data=["gen:nosuch"]))
    assert (tmp_path / "mine").is_dir()


def test_a_ctrl_c_wrapped_by_python_still_only_abandons_the_optional_block():
    """Ctrl-C inside a class body being made (as matplotlib's first import in the loss plot)
    comes out of Python 3.11 as a RuntimeError caused by what the handler raised."""
    from bytesim.train import _Abandoned, _StopRequest

    stop = _StopRequest()
    with stop.abandoned_by_ctrl_c():
        raise RuntimeError("Error calling __set_name__") from _Abandoned()
    with stop.abandoned_by_ctrl_c():
        try:
            raise _Abandoned
        except _Abandoned:
            raise ValueError("while handling it") from None  # the context is kept
    with pytest.raises(RuntimeError, match="not a Ctrl-C"):
        with stop.abandoned_by_ctrl_c():
            raise RuntimeError("not a Ctrl-C")
