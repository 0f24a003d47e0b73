"""Classify files with a bGPT classification model: label and probability per file.

A file is encoded as in training (SPEC §2.1: header patch, bytes, <eop> patch), its patch
features are averaged and the classification head gives one logit per label; the
probabilities are their softmax.

    model = load_classifier("tune-types")
    for p in classify_files(model, ["reel.mid", "jigs.abc"]):
        print(p.path, p.label, round(p.probability, 3), p.top)

How a file is read depends on the model's ``input_form`` (bytesim.model.INPUT_FORMS):

- ``bytes``: the file's bytes as they are. A file longer than the model's patch_length is an
  error (a prediction from part of the file would be a different question);
- ``canonical-tune`` (the tune-type classifier): a MIDI file, or each tune of an ABC file
  (converted by the reference converter; named ``FILE#X``), in ``convert.canonical``'s form,
  as the training data was written. A tune longer than the model takes is cut into windows
  of whole notes; the label probabilities are the mean over the windows, each weighted by its
  length in bytes.

With ``on_error``, a file that cannot be read or classified is reported to it and the others
are classified; without, the first such file raises ClassifyError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class _Input:
    name: str
    windows: list[bytes]
    midi: bytes = b""  # the whole tune's MIDI (canonical-tune form), for a feature head


def read_inputs(model: BGPT, path: str | Path) -> list[_Input]:
    """The inputs a file gives the model (several for an ABC file of several tunes, in
    canonical-tune form). Raises ClassifyError naming the file for what cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ClassifyError(f"{path}: cannot read ({e.strerror or e})") from None
    limit = max_file_bytes(model)
    if model.config.input_form == "bytes":
        if len(data) > limit:
            raise ClassifyError(
                f"{path}: {len(data)} bytes, longer than the {limit} bytes the model takes "
                f"(patch_length {model.config.patch_length})"
            )
        return [_Input(str(path), [data])]
    from convert.abc_parser import AbcError, decode_abc, parse_abc
    from convert.canonical import CanonicalError, canonical_windows
    from convert.events import tune_to_score
    from convert.midi import score_to_midi

    if extension(str(path)).lower() != "abc":
        try:
            return [_Input(str(path), canonical_windows(data, limit), data)]
        except CanonicalError as e:
            raise ClassifyError(f"{path}: {e}") from None
    try:
        tunes = parse_abc(decode_abc(data, str(path))).tunes
    except AbcError as e:
        raise ClassifyError(f"{path}: {e}") from None
    if not tunes:
        raise ClassifyError(f"{path}: no tune (no X: line)")
    out = []
    for tune in tunes:
        try:
            midi = score_to_midi(tune_to_score(tune))
            out.append(_Input(f"{path}#{tune.x}", canonical_windows(midi, limit), midi))
        except (AbcError, CanonicalError) as e:
            raise ClassifyError(f"{path}: tune X:{tune.x} (line {tune.line}): {e}") from None
    return out


def _features(model: BGPT, x: _Input) -> torch.Tensor | None:
    """The feature head's features of a whole tune (None for a model without a fitted head)."""
    from bytesim.features import FeatureError, midi_features, uses_features

    if not uses_features(model):
        return None
    try:
        return torch.from_numpy(midi_features(x.name, x.midi, model.config.features))
    except FeatureError as e:
        raise ClassifyError(str(e)) from None


def classify_files(
    model: BGPT,
    paths: Sequence[str | Path],
    batch_size: int = 8,
    top: int = 1,
    on_error: Callable[[str, str], None] | None = None,
) -> list[Prediction]:
    """One Prediction per input, in order (an ABC file in canonical-tune form gives one per
    tune). Raises ClassifyError for a model without a classification head; a file that cannot
    be read or classified raises it too, or with `on_error` is passed to on_error(path,
    message) and skipped."""
    check_classifier(model)
    names = list(model.labels) or [str(i) for i in range(model.config.num_labels)]
    inputs: list[_Input] = []
    features: list = []  # per input: its feature head's features, or None
    for path in paths:
        try:
            read = read_inputs(model, path)
            features.extend(_features(model, x) for x in read)
            inputs.extend(read)
        except ClassifyError as e:
            if on_error is None:
                raise
            on_error(str(path), str(e))
    windows = [(i, w) for i, x in enumerate(inputs) for w in x.windows]
    model.eval()
    device = next(model.parameters()).device
    total = torch.zeros(len(inputs), len(names), dtype=torch.float64)
    weight = torch.zeros(len(inputs), dtype=torch.float64)
    for start in range(0, len(windows), batch_size):
        chunk = windows[start : start + batch_size]
        batch = [
            encode_file(
                w, "mid" if model.config.input_form != "bytes" else extension(inputs[i].name)
            )
            for i, w in chunk
        ]
        ids, _, _ = (t.to(device) for t in collate(batch))
        rows = [features[i] for i, _ in chunk]
        extra = None if rows[0] is None else torch.stack(rows)
        with torch.no_grad():
            logits, _ = model.classify(ids, None, patch_mask_for(batch, ids.size(1), device), extra)
        probs = torch.softmax(logits.float(), dim=-1).cpu().double()
        for (i, w), p in zip(chunk, probs, strict=True):
            total[i] += len(w) * p
            weight[i] += len(w)
    out: list[Prediction] = []
    k = max(1, min(top, len(names)))
    for x, t, w in zip(inputs, total, weight, strict=True):
        values, indices = (t / w).float().topk(k)
        ranked = [(names[j], p) for j, p in zip(indices.tolist(), values.tolist(), strict=True)]
        out.append(Prediction(x.name, ranked[0][0], ranked[0][1], ranked))
    return out
