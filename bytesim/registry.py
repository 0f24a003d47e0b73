"""Models shipped with the package: bytesim/models/<name>/ (config, weights, model card)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class ShippedModel:
    name: str
    path: Path
    summary: str  # first non-heading line of the model card
    size_bytes: int  # size of model.safetensors
    config: dict


def _summary(card: Path) -> str:
    if not card.is_file():
        return ""
    for line in card.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return ""


def list_models(root: Path = MODELS_DIR) -> list[ShippedModel]:
    """Every complete model folder under `root`, sorted by name."""
    out = []
    if not root.is_dir():
        return out
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        config, weights = d / "config.json", d / "model.safetensors"
        if not (config.is_file() and weights.is_file()):
            continue
        try:
            cfg = json.loads(config.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out.append(ShippedModel(d.name, d, _summary(d / "README.md"), weights.stat().st_size, cfg))
    return out


def find(name: str, root: Path = MODELS_DIR) -> ShippedModel | None:
    return next((m for m in list_models(root) if m.name == name), None)
