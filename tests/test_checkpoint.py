"""Model directories: save -> load identity, clear errors, run directories, shipped names."""

import json

import pytest
import torch

from bytesim import registry
from bytesim.checkpoint import CheckpointError, load_model, resolve, save_model
from bytesim.model import BGPT, PRESETS


@pytest.fixture
def model():
    torch.manual_seed(0)
    return BGPT(PRESETS["tiny"].with_overrides(prev_patch="prefix", byte_hidden_size=16)).eval()


def test_save_then_load_gives_identical_logits(model, tmp_path):
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    ids = torch.randint(0, 257, (2, 64))
    assert loaded.config == model.config
    assert torch.equal(loaded(ids)[0], model(ids)[0])
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]


def test_config_fields_unknown_to_this_version_are_ignored(model, tmp_path):
    save_model(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["future_field"] = 3
    del config["dropout"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert load_model(tmp_path).config.prev_patch == "prefix"


def test_labels_travel_with_the_model(tmp_path):
    m = BGPT(PRESETS["tiny"].with_overrides(num_labels=2))
    save_model(m, tmp_path, {"labels": ["cat", "dog"]})
    assert load_model(tmp_path).labels == ["cat", "dog"]


def test_a_file_is_not_a_checkpoint(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"xx")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_model(tmp_path / "w.bin")


def test_a_folder_without_weights_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_model(tmp_path)


def test_corrupt_weights_are_one_clear_error(model, tmp_path):
    save_model(model, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_model(tmp_path)


def test_weights_of_another_shape_are_one_clear_error(model, tmp_path):
    save_model(model, tmp_path)
    with pytest.raises(CheckpointError, match="wrong shape for patch_embed"):
        load_model(tmp_path, hidden_size=64)


def test_weights_of_another_architecture_are_one_clear_error(model, tmp_path):
    save_model(model, tmp_path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path, prev_patch="add")


def test_bit_features_load_onto_weights_without_them_only_when_new_parts_are_allowed(
    model, tmp_path
):
    save_model(model, tmp_path)
    with pytest.raises(CheckpointError, match="missing .'bit_in.weight'"):
        load_model(tmp_path, bit_features=True)
    grown = load_model(tmp_path, new_ok=True, bit_features=True)
    assert grown.config.bit_features and not grown.bit_out.weight.any()
    ids = torch.randint(0, 257, (2, 64))
    assert torch.equal(grown(ids)[0], model(ids)[0])


def test_a_run_directory_resolves_to_its_latest_checkpoint(model, tmp_path):
    save_model(model, tmp_path / "ckpt-000010")
    (tmp_path / "latest").write_text("ckpt-000010\n")
    assert resolve(tmp_path) == tmp_path / "ckpt-000010"


def test_unknown_names_list_the_shipped_models(tmp_path):
    with pytest.raises(CheckpointError, match="no such model directory or shipped model"):
        load_model("no-such-model")


def test_shipped_models_are_found_by_name(model, tmp_path, monkeypatch):
    save_model(model, tmp_path / "toy")
    (tmp_path / "toy" / "README.md").write_text("# toy\n\nA toy model.\n")
    (tmp_path / "incomplete").mkdir()
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(registry.list_models, "__defaults__", (tmp_path,))
    monkeypatch.setattr(registry.find, "__defaults__", (tmp_path,))
    assert [m.name for m in registry.list_models()] == ["toy"]
    assert registry.list_models()[0].summary == "A toy model."
    assert load_model("toy").config == model.config


def test_saving_leaves_no_temporary_files(model, tmp_path):
    save_model(model, tmp_path)
    save_model(model, tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_saved_files_have_the_mode_of_a_plain_file(model, tmp_path):
    # tempfile.mkstemp makes 0600 files; a checkpoint must be as readable as any file.
    import os

    old = os.umask(0o022)
    try:
        save_model(model, tmp_path / "m")
    finally:
        os.umask(old)
    for name in ("config.json", "model.safetensors"):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o644, name


def test_replacing_keeps_the_old_file_and_no_temporary_on_error(tmp_path):
    from cpu.files import replacing, write_atomic

    target = tmp_path / "out.bin"
    write_atomic(target, b"old")
    with pytest.raises(KeyboardInterrupt):
        with replacing(target) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
