"""Model directories: `config.json` + `model.safetensors` (no pickle), written atomically.

A model directory holds those two files (and, for shipped models, a README.md model card).
A training run directory holds `latest` (the name of its newest checkpoint folder) and the
checkpoint folders `ckpt-000100/`, each a model directory plus the trainer's state.
`load_model` accepts a model directory, a run directory, or the name of a shipped model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bytesim.model import BGPT, NEW_OK, ModelConfig
from cpu.files import replacing, write_atomic

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
LATEST = "latest"


class CheckpointError(ValueError):
    """Not a checkpoint, or one that does not fit: the message names the path."""


def atomic_write_json(path: Path, obj) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata=None) -> None:
    with replacing(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)


def save_model(model: BGPT, directory: str | Path, extra: dict | None = None) -> Path:
    """Write the model's config (plus `extra` keys, e.g. labels) and weights into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save_tensors(directory / WEIGHTS, state)
    atomic_write_json(directory / CONFIG, {**model.config.to_dict(), **(extra or {})})
    return directory


def resolve(path_or_name: str | Path) -> Path:
    """The model directory meant by a model directory, a run directory or a shipped name."""
    p = Path(path_or_name)
    if p.is_dir():
        if (p / LATEST).is_file():
            p = p / (p / LATEST).read_text().strip()
        if (p / CONFIG).is_file() and (p / WEIGHTS).is_file():
            return p
        raise CheckpointError(f"{path_or_name}: not a checkpoint (no {CONFIG} + {WEIGHTS})")
    if p.exists():
        raise CheckpointError(f"{path_or_name}: not a checkpoint (a model is a directory)")
    from bytesim import registry

    shipped = registry.find(str(path_or_name))
    if shipped is None:
        names = ", ".join(m.name for m in registry.list_models()) or "none"
        raise CheckpointError(f"{path_or_name}: no such model directory or shipped model ({names})")
    return shipped.path


def read_config(directory: str | Path) -> dict:
    path = Path(directory) / CONFIG
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable model config ({e})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: not a readable model config (not a JSON object)")
    return config


def load_model(
    path_or_name: str | Path, device: str = "cpu", new_ok: bool = False, **overrides
) -> BGPT:
    """Load a model directory, a run directory's latest checkpoint, or a shipped model.

    The model comes back in eval mode. `overrides` replace config fields (e.g. dropout=0.0);
    `new_ok` lets an override add zero-initialised parts the weights lack (`bit_features`).
    """
    directory = resolve(path_or_name)
    raw = read_config(directory)
    try:
        config = ModelConfig.from_dict({**raw, **overrides})
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{directory / CONFIG}: bad model config ({e})") from None
    model = BGPT(config)
    try:
        state = load_file(directory / WEIGHTS, device=device)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{directory / WEIGHTS}: not a safetensors file ({e})") from None
    load_state(model, state, directory / WEIGHTS, new_ok)
    model.labels = list(raw.get("labels", []))
    model.label_counts = dict(raw.get("label_counts") or {})
    return model.to(device).eval()


def load_state(model: BGPT, state: dict[str, torch.Tensor], where, new_ok: bool = False) -> None:
    """Load weights, with one clear error for missing, unexpected or wrongly shaped tensors.

    new_ok: tensors that start at zero (`model.NEW_OK`) may be missing and keep their zeros."""
    own = model.state_dict()
    if new_ok:
        state = {**{k: own[k] for k in NEW_OK if k in own}, **state}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(f"{where}: weights do not fit the config ({what})")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(
                f"{where}: wrong shape for {k}: {tuple(state[k].shape)}, the config needs "
                f"{tuple(v.shape)}"
            )
    model.load_state_dict(state)
