"""Classify files with a bGPT classification model: label and probability per file.

A file is encoded as in training (SPEC §2.1: header patch, bytes, <eop> patch), its patch
features are averaged and the classification head gives one logit per label; the
probabilities are their softmax.

    model = load_classifier("runs/tune-types")
    for p in classify_files(model, ["reel.mid", "jig.mid"]):
        print(p.path, p.label, round(p.probability, 3), p.top)

Unlike training, a file is never cut: one longer than the model's patch_length is an error
(a prediction from part of the file would be a different question).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from bytesim import checkpoint as ckpt
from bytesim.data import PATCH, collate, encode_file, extension
from bytesim.evaluate import patch_mask_for
from bytesim.model import BGPT


class ClassifyError(ValueError):
    """A model that cannot classify, or a file it cannot take: one line naming which."""


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str  # the most probable label
    probability: float  # its probability
    top: list[tuple[str, float]]  # the most probable labels, best first


def load_classifier(path_or_name: str | Path, device: str = "cpu") -> BGPT:
    """Load a model that has a classification head, with the training label counts (if the
    checkpoint stores them) as `model.label_counts`."""
    try:
        model = ckpt.load_model(path_or_name, device)
        config = ckpt.read_config(ckpt.resolve(path_or_name))
    except ckpt.CheckpointError as e:
        raise ClassifyError(str(e)) from None
    check_classifier(model, str(path_or_name))
    model.label_counts = dict(config.get("label_counts") or {})
    return model


def check_classifier(model: BGPT, name: str = "the model") -> None:
    if model.config.num_labels < 1:
        raise ClassifyError(
            f"{name}: has no classification head (num_labels = 0); train one with "
            "`bytesim train --task classify --init MODEL`"
        )


def max_file_bytes(model: BGPT) -> int:
    """The longest file the model classifies whole: patch_length minus header and <eop>."""
    return (model.config.patch_length - 2) * PATCH


def classify_files(
    model: BGPT, paths: Sequence[str | Path], batch_size: int = 8, top: int = 1
) -> list[Prediction]:
    """One Prediction per path, in order. Raises ClassifyError for a model without a
    classification head, an unreadable file, or a file longer than max_file_bytes(model)."""
    check_classifier(model)
    names = list(model.labels) or [str(i) for i in range(model.config.num_labels)]
    limit = max_file_bytes(model)
    examples = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise ClassifyError(f"{path}: cannot read ({e.strerror or e})") from None
        if len(data) > limit:
            raise ClassifyError(
                f"{path}: {len(data)} bytes, longer than the {limit} bytes the model takes "
                f"(patch_length {model.config.patch_length})"
            )
        examples.append(encode_file(data, extension(str(path)), name=str(path)))
    model.eval()
    device = next(model.parameters()).device
    out: list[Prediction] = []
    k = max(1, min(top, len(names)))
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        ids, _, _ = (t.to(device) for t in collate(batch))
        with torch.no_grad():
            logits, _ = model.classify(ids, None, patch_mask_for(batch, ids.size(1), device))
        probs = torch.softmax(logits.float(), dim=-1).cpu()
        values, indices = probs.topk(k, dim=-1)
        for e, v, i in zip(batch, values.tolist(), indices.tolist(), strict=True):
            ranked = [(names[j], p) for j, p in zip(i, v, strict=True)]
            out.append(Prediction(e.name, ranked[0][0], ranked[0][1], ranked))
    return out
