"""Import a checkpoint of the original bGPT release into a bytesim model directory.

The original saves `torch.save({"model": state_dict, ...})` with transformers' GPT-2 modules
(key names in SPEC §2.3). GPT-2's `Conv1D` stores weights as (in, out), so they are transposed
into `nn.Linear`'s (out, in); the patch embedding `Linear(16 * 257, H)` becomes the (4112, H)
table the model sums rows of; the tied LM head and old per-layer `attn.bias` / `attn.masked_bias`
buffers are dropped. The file is read with `torch.load(weights_only=True)`: no code is run.

A classification checkpoint (patch-level decoder + `classifier`) has no byte-level decoder:
the bytesim model gets a freshly initialised one-layer byte decoder (seed 0) next to the
imported classifier. Shapes give every setting but the head counts; those default to GPT-2's
head width of 64 (H = 768 -> 12 heads, the paper's model) and can be given explicitly.

The original architecture itself, built from transformers' GPT-2 modules with the original's
key names, is `tests/reference_bgpt.py`: tests and benchmarks compare against it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from bytesim.checkpoint import CheckpointError, load_state, save_model
from bytesim.model import BGPT, PATCH, VOCAB, ModelConfig

PATCH_PREFIX = "patch_level_decoder."
BYTE_PREFIX = "byte_level_decoder.base."
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
IGNORED = re.compile(r"(\.attn\.(bias|masked_bias)|base\.wte\.weight|lm_head\.weight)$")


def read_original(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights of an original checkpoint (the dict under `model`, or a bare state dict)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:  # pickle and zip errors have many types
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(e).__name__})"
        ) from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or f"{PATCH_PREFIX}patch_embedding.weight" not in state:
        raise CheckpointError(f"{path}: not a bGPT checkpoint (no {PATCH_PREFIX}patch_embedding)")
    return state


def _layers(state: dict, prefix: str) -> int:
    found = {
        int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"h\.(\d+)\.", k))
    }
    return max(found) + 1 if found else 0


def infer_config(
    state: dict, heads: int | None = None, byte_heads: int | None = None
) -> ModelConfig:
    """The ModelConfig an original state dict was trained with (see the module docstring)."""
    H, width = state[f"{PATCH_PREFIX}patch_embedding.weight"].shape
    if width != PATCH * VOCAB:
        raise CheckpointError(f"patch embedding takes {width} inputs, not {PATCH * VOCAB}")
    wte = state.get(f"{BYTE_PREFIX}transformer.wte.weight")
    Hb = H if wte is None else wte.shape[1]
    labels = state["classifier.weight"].shape[0] if "classifier.weight" in state else 0
    return ModelConfig(
        patch_length=state[f"{PATCH_PREFIX}base.wpe.weight"].shape[0],
        hidden_size=H,
        patch_layers=_layers(state, f"{PATCH_PREFIX}base."),
        byte_layers=_layers(state, f"{BYTE_PREFIX}transformer.") or 1,
        heads=heads or max(1, H // 64),
        byte_hidden_size=None if Hb == H else Hb,
        byte_heads=byte_heads,
        num_labels=labels,
    )


def convert_state(state: dict) -> dict[str, torch.Tensor]:
    """Original key names and layouts -> bytesim's."""
    out = {}
    for key, value in state.items():
        if IGNORED.search(key):
            continue
        new = key
        new = new.replace(f"{PATCH_PREFIX}patch_embedding.weight", "patch_embed")
        new = new.replace(f"{PATCH_PREFIX}patch_embedding.bias", "patch_bias")
        new = new.replace(f"{PATCH_PREFIX}base.", "patch.")
        new = new.replace(f"{BYTE_PREFIX}transformer.wte.", "byte_wte.")
        new = new.replace(f"{BYTE_PREFIX}transformer.", "byte.")
        if new == "patch_embed" or new.endswith(CONV1D):
            value = value.t()
        out[new] = value.float().contiguous()
    return out


def import_bgpt(
    weights: str | Path,
    out_dir: str | Path,
    heads: int | None = None,
    byte_heads: int | None = None,
) -> BGPT:
    """Read an original `.pth`, write a bytesim model directory, return the model."""
    state = read_original(weights)
    config = infer_config(state, heads, byte_heads)
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        torch.manual_seed(0)
        model = BGPT(config)
    converted = convert_state(state)
    if f"{BYTE_PREFIX}transformer.wte.weight" not in state:  # a classification checkpoint
        own = model.state_dict()  # it has no byte decoder: keep a freshly initialised one
        converted.update({k: v for k, v in own.items() if k.startswith(("byte", "byte_"))})
    load_state(model, converted, weights)
    save_model(model, out_dir)
    return model.eval()


# ----------------------------------------------------------------------------- reference
