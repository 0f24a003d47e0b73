"""Feature heads: hand-made features of a file beside a classifier's byte model.

A classifier trained with ``--set features=phrases`` (or ``rhythm``; with
``input_form=canonical-tune``) carries a ``FeatureHead`` (bytesim/model.py): a logistic
regression on ``convert.tune_features.feature_vector`` of the file's canonical notes (``rhythm``:
durations, onset phases, intervals, the quarter-note runs that end a hornpipe's parts;
``phrases``: the same and how the tune's phrases end), whose probabilities are mixed with the
byte model's. It is fitted once,
when training ends (``fit_feature_head``):

1. the regression (``convert.tune_features.LogisticBaseline``, deterministic) on the training
   files, the examples the byte model trained on;
2. the mixing weight ``mix`` in 0, 0.05, ..., 1 that gives the lowest cross-entropy on the
   held-out examples (those `train` evaluates on: files the byte model never trained on),
   the lowest weight on ties.

Both are stored in the checkpoint as buffers; ``classify``, ``eval`` and the Python API then
use the mixture. A tune's features are read from its whole MIDI (every window of a long tune
gets the same ones).

>>> import numpy as np
>>> from convert import abc_to_midi
>>> x = midi_features("jig.mid", abc_to_midi("X:1\\nM:6/8\\nL:1/8\\nK:D\\nFAd fed|cBA dAF|\\n"))
>>> x.shape, bool(np.isfinite(x).all())
((148,), True)
>>> midi_features("jig.mid", abc_to_midi("X:1\\nK:D\\nFAd fed|\\n"), "rhythm").shape
(138,)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from bytesim.data import Example, collate, fit
from bytesim.model import BGPT

MIX_GRID = [i / 20 for i in range(21)]  # the mixing weights tried
ABSENT = -30.0  # regression bias of a label no training file has


class FeatureError(ValueError):
    """A file whose features cannot be read: one line naming it."""


def midi_features(name: str, midi: bytes, feature_set: str = "phrases") -> np.ndarray:
    """A feature set (model.FEATURE_SETS) of a MIDI file's canonical notes
    (convert.tune_features.feature_vector)."""
    from convert.canonical import CanonicalError, canonical_meter, canonical_notes, read_notes
    from convert.tune_features import feature_vector

    try:
        notes, _, meter = read_notes(midi)
        return feature_vector(canonical_notes(notes), canonical_meter(*meter), feature_set)
    except (CanonicalError, ValueError, IndexError) as e:
        raise FeatureError(f"{name}: no {feature_set} features ({e or 'no notes'})") from None


def file_bytes(example: Example) -> bytes:
    """The bytes of the one file an example holds (its header and padding left out)."""
    return bytes(example.ids[example.file_mask].astype(np.uint8))


def uses_features(model: BGPT) -> bool:
    """Whether the model answers with a fitted feature head (its inputs need features)."""
    return model.feature_head is not None and model.feature_head.fitted


def example_features(model: BGPT, examples: Sequence[Example]) -> torch.Tensor | None:
    """(B, F) features of the examples' files for the model's fitted feature head; None for a
    model without one (nothing is read)."""
    return _features(examples, model.config.features) if uses_features(model) else None


def _features(examples: Sequence[Example], feature_set: str) -> torch.Tensor:
    rows = [midi_features(e.name or "file", file_bytes(e), feature_set) for e in examples]
    return torch.tensor(np.stack(rows), dtype=torch.float64)


@torch.no_grad()
def model_probabilities(model: BGPT, examples: Sequence[Example], batch_size: int = 8):
    """(N, L) the byte model's own label probabilities (no feature head) of each example."""
    from bytesim.evaluate import patch_mask_for

    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(examples), batch_size):
        batch = [fit(e, model.config.patch_length) for e in examples[start : start + batch_size]]
        ids, _, _ = (t.to(device) for t in collate(batch))
        logits, _ = model.classify(ids, None, patch_mask_for(batch, ids.size(1), device))
        out.append(torch.softmax(logits.double(), dim=-1).cpu())
    return torch.cat(out) if out else torch.zeros(0, model.config.num_labels, dtype=torch.float64)


def fit_feature_head(
    model: BGPT, train: Sequence[Example], held: Sequence[Example], batch_size: int = 8
) -> dict:
    """Fit the model's feature head (module docstring) in place; returns what was chosen and
    the held-out accuracy of the byte model, the features and the mixture."""
    from convert.tune_features import LogisticBaseline

    head = model.feature_head
    if head is None:
        raise ValueError("this model has no feature head (--set features=phrases)")
    if not train:
        raise ValueError("no training examples to fit the feature head on")
    names = list(model.labels) or [str(i) for i in range(model.config.num_labels)]
    x = _features(train, model.config.features).numpy()
    regression = LogisticBaseline(x, [names[e.label] for e in train])
    weight = np.zeros((x.shape[1], len(names)))
    bias = np.full(len(names), ABSENT)
    for j, label in enumerate(regression.classes):
        weight[:, names.index(label)] = regression.w[:, j]
        bias[names.index(label)] = regression.b[j]
    head.mean.copy_(torch.from_numpy(regression.mean))
    head.scale.copy_(torch.from_numpy(regression.scale))
    head.weight.copy_(torch.from_numpy(weight))
    head.bias.copy_(torch.from_numpy(bias))
    result: dict = {"features": model.config.features, "train_files": len(train)}
    if not held:
        head.mix.fill_(0.5)
        return {**result, "mix": 0.5, "held_out": 0, "chosen_by": "default (no held-out files)"}
    labels = torch.tensor([e.label for e in held])
    p_model = model_probabilities(model, held, batch_size)
    p_feat = head.probabilities(_features(held, model.config.features))

    def nats(mix: float) -> float:
        p = (1 - mix) * p_model + mix * p_feat
        return float(-torch.log(p[torch.arange(len(held)), labels].clamp(min=1e-300)).mean())

    def accuracy(p: torch.Tensor) -> float:
        return float((p.argmax(-1) == labels).double().mean())

    mix = min(MIX_GRID, key=lambda m: (round(nats(m), 12), m))
    head.mix.fill_(mix)
    return {
        **result,
        "mix": mix,
        "held_out": len(held),
        "chosen_by": "lowest held-out cross-entropy",
        "held_accuracy_model": accuracy(p_model),
        "held_accuracy_features": accuracy(p_feat),
        "held_accuracy_mixed": accuracy((1 - mix) * p_model + mix * p_feat),
    }
