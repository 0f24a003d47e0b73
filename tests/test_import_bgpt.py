"""Importing original bGPT checkpoints gives the original model's outputs."""

import pytest
import torch
from reference_bgpt import reference_model

from bytesim.checkpoint import CheckpointError, load_model
from bytesim.import_bgpt import import_bgpt, infer_config, read_original
from bytesim.model import PRESETS

pytest.importorskip("transformers")


def original(config, seed=0):
    torch.manual_seed(seed)
    ref = reference_model(config).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.1)
    return ref


@pytest.mark.parametrize(
    "config",
    [
        PRESETS["tiny"],
        PRESETS["tiny"].with_overrides(hidden_size=64, heads=1, patch_layers=3, byte_layers=2),
    ],
)
def test_imported_model_gives_the_original_logits_and_loss(config, tmp_path):
    ref = original(config)
    torch.save({"model": ref.state_dict(), "epoch": 1, "min_eval_loss": 2.0}, tmp_path / "w.pth")
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    import_bgpt(tmp_path / "w.pth", tmp_path / "out", heads=config.heads)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random state is kept
    ids = torch.randint(0, 257, (2, 5 * 16), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected_logits, expected_loss = ref(ids)
        logits, loss = load_model(tmp_path / "out")(ids)
    assert torch.allclose(logits, expected_logits, atol=1e-3, rtol=1e-4)
    assert abs(loss.item() - expected_loss.item()) < 1e-4


def test_config_is_inferred_from_the_shapes():
    config = PRESETS["tiny"].with_overrides(hidden_size=128, heads=2, patch_layers=3)
    inferred = infer_config(original(config).state_dict())
    assert (inferred.hidden_size, inferred.patch_layers, inferred.byte_layers) == (128, 3, 1)
    assert inferred.patch_length == config.patch_length
    assert inferred.heads == 2  # 128 / 64


def test_old_attention_buffers_and_a_bare_state_dict_are_accepted(tmp_path):
    state = original(PRESETS["tiny"]).state_dict()
    state["patch_level_decoder.base.h.0.attn.bias"] = torch.ones(1, 1, 64, 64)
    state["patch_level_decoder.base.h.0.attn.masked_bias"] = torch.tensor(-1e4)
    torch.save(state, tmp_path / "w.pth")
    import_bgpt(tmp_path / "w.pth", tmp_path / "out", heads=2)
    assert (tmp_path / "out" / "model.safetensors").exists()


def test_a_checkpoint_of_something_else_is_one_clear_error(tmp_path):
    torch.save({"model": {"encoder.weight": torch.zeros(2)}}, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="not a bGPT checkpoint"):
        read_original(tmp_path / "w.pth")


def test_a_file_that_is_not_a_checkpoint_is_one_clear_error(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_original(tmp_path / "w.pth")


def test_pickled_code_is_never_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"model": Evil()}, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_original(tmp_path / "w.pth")


def test_a_classification_checkpoint_imports_with_its_classifier(tmp_path):
    ref = original(PRESETS["tiny"])
    state = {k: v for k, v in ref.state_dict().items() if k.startswith("patch_level_decoder")}
    state["classifier.weight"] = torch.randn(3, 32)
    state["classifier.bias"] = torch.randn(3)
    torch.save({"model": state}, tmp_path / "w.pth")
    model = import_bgpt(tmp_path / "w.pth", tmp_path / "out", heads=2)
    ids = torch.randint(0, 257, (2, 48))
    with torch.no_grad():
        pooled = ref.patch_level_decoder(ids).mean(1)
        expected = pooled @ state["classifier.weight"].T + state["classifier.bias"]
        logits, _ = model.classify(ids)
    assert model.config.num_labels == 3
    assert torch.allclose(logits, expected, atol=1e-4)
