"""Bits per byte of a model on data: overall, per file type, and over the files' own bytes.

`bits_per_byte` counts the same targets as the original bGPT's loss: every byte after the header
patch, padding and the final <eop> patch included (so an imported original model reproduces
the original's number). `bits_per_file_byte` counts only the files' own bytes (for a pair, both
files' bytes after the first header: the input file's bytes too, since they are targets of the
original's loss). `bits_per_target_byte` counts the loss mask the data was built with
(`loss_on="target"`: the target side only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from bytesim.data import PATCH, Example, collate, fit
from bytesim.model import BGPT

LN2 = math.log(2)


def autocast_for(device: str | torch.device, precision: str):
    """A context for `precision` in ("fp32", "bf16") on the device."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def position_nats(model: BGPT, ids: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    """Cross-entropy in nats of every target position (B, T); 0 where not counted."""
    logits, _ = model(ids, counted)  # (B, P-1, 16, 257), zeros where nothing is counted
    B, T = ids.shape
    nats = F.cross_entropy(
        logits.float().reshape(-1, 257), ids[:, PATCH:].reshape(-1), reduction="none"
    )
    out = torch.zeros(B, T, dtype=torch.float64, device=ids.device)
    out[:, PATCH:] = nats.view(B, T - PATCH).double()
    return out * counted


class Tally:
    """Sums of nats and counted bytes, overall and per kind."""

    def __init__(self):
        self.nats: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def add(self, key: str, nats: float, count: int) -> None:
        self.nats[key] = self.nats.get(key, 0.0) + nats
        self.count[key] = self.count.get(key, 0) + count

    def bits(self, key: str) -> float | None:
        n = self.count.get(key, 0)
        return self.nats[key] / n / LN2 if n else None


def evaluate(
    model: BGPT,
    examples: Iterable[Example],
    batch_size: int = 8,
    precision: str = "fp32",
    on_batch: Callable[[int], None] | None = None,
    roles: Callable[[Example], Sequence[str | None]] | None = None,
) -> dict:
    """Bits per byte over the examples (cut to the model's patch_length, head window).

    `roles`, given, names each position of an example (None: not split); the result then
    also has `per_role`: bits per byte of the counted targets (the loss mask) by role.
    """
    model.eval()
    device = next(model.parameters()).device
    tally = Tally()
    files = 0
    batch_roles: list[Sequence[str | None]] = []

    def run(batch: Sequence[Example]):
        nonlocal files
        ids, target, fmask = (t.to(device) for t in collate(batch))
        real = torch.zeros_like(target)
        for i, e in enumerate(batch):
            real[i, PATCH : len(e.ids)] = True
        with autocast_for(device, precision):
            nats = position_nats(model, ids, real)
        for i, e in enumerate(batch):
            row = nats[i]
            for key, m in (("all", real[i]), ("file", fmask[i] & real[i]), ("target", target[i])):
                m = m.clone()
                m[:PATCH] = False
                tally.add(key, float(row[m].sum()), int(m.sum()))
                if key == "all":
                    tally.add(f"kind:{e.kind}", float(row[m].sum()), int(m.sum()))
            if roles is not None:
                counted = target[i].clone()
                counted[:PATCH] = False
                where = counted.nonzero().flatten().tolist()
                values = row[counted].tolist()
                names = batch_roles[i]
                for position, value in zip(where, values, strict=True):
                    if names[position] is not None:
                        tally.add(f"role:{names[position]}", value, 1)
        batch_roles.clear()
        files += len(batch)
        if on_batch is not None:
            on_batch(len(batch))

    batch: list[Example] = []
    cut = 0
    for e in examples:
        if len(e.ids) > model.config.patch_length * PATCH:
            cut += 1
        batch.append(fit(e, model.config.patch_length))
        if roles is not None:
            batch_roles.append(roles(e)[: len(batch[-1].ids)])
        if len(batch) == batch_size:
            run(batch)
            batch = []
    if batch:
        run(batch)
    kinds = sorted(k[5:] for k in tally.count if k.startswith("kind:"))
    result = {
        "files": files,
        "bits_per_byte": tally.bits("all"),
        "bits_per_file_byte": tally.bits("file"),
        "bits_per_target_byte": tally.bits("target"),
        "bytes": tally.count.get("all", 0),
        "file_bytes": tally.count.get("file", 0),
        "target_bytes": tally.count.get("target", 0),
        "cut_to_patch_length": cut,  # sequences longer than the model's patch_length (head kept)
        "per_type": {
            k: {"bits_per_byte": tally.bits(f"kind:{k}"), "bytes": tally.count[f"kind:{k}"]}
            for k in kinds
        },
    }
    if roles is not None:
        names = sorted(k[5:] for k in tally.count if k.startswith("role:"))
        result["per_role"] = {
            k: {"bits_per_byte": tally.bits(f"role:{k}"), "bytes": tally.count[f"role:{k}"]}
            for k in names
        }
    return result


@torch.no_grad()
def classification_accuracy(
    model: BGPT,
    examples: Iterable[Example],
    batch_size: int = 8,
    label_counts: dict[str, int] | None = None,
) -> dict:
    """Accuracy, mean cross-entropy, the majority-class baseline and per-class results.

    `majority_baseline` is the accuracy, on these examples, of always answering the most
    frequent training label: from `label_counts` (default: the model's `label_counts`, which
    training stores in the checkpoint config), else from the evaluated examples' own labels
    (`baseline_from` says which). `confusion[true][predicted]` counts examples (zeros left out).
    """
    from bytesim.features import example_features

    if model.config.num_labels < 1:
        raise ValueError("this model has no classification head (num_labels = 0)")
    model.eval()
    device = next(model.parameters()).device
    names = list(model.labels) or [str(i) for i in range(model.config.num_labels)]
    n = len(names)
    confusion = torch.zeros(n, n, dtype=torch.int64)
    nats = 0.0
    batch: list[Example] = []
    whole: list[Example] = []  # the same examples uncut: a feature head reads whole files

    def run(b):
        nonlocal nats
        ids, _, _ = (t.to(device) for t in collate(b))
        labels = torch.tensor([e.label for e in b], device=device)
        mask = patch_mask_for(b, ids.size(1), device)
        logits, loss = model.classify(ids, labels, mask, example_features(model, whole))
        pairs = labels.cpu() * n + logits.argmax(-1).cpu()
        confusion.view(-1).add_(torch.bincount(pairs, minlength=n * n))
        nats += float(loss) * len(b)

    for e in examples:
        batch.append(fit(e, model.config.patch_length))
        whole.append(e)
        if len(batch) == batch_size:
            run(batch)
            batch, whole = [], []
    if batch:
        run(batch)
    total = int(confusion.sum())
    per_true = confusion.sum(1).tolist()
    right = int(confusion.diag().sum())
    counts = label_counts if label_counts is not None else (model.label_counts or None)
    source = "training" if counts else "evaluated"
    freq = [counts.get(k, 0) for k in names] if counts else per_true
    best = min(range(n), key=lambda i: (-freq[i], i))  # the first label on ties
    majority = names[best]
    baseline = per_true[best] / total if total else None
    return {
        "examples": total,
        "accuracy": right / total if total else None,
        "majority_baseline": baseline,
        "majority_label": majority,
        "baseline_from": f"{source} label counts",
        "loss": nats / total if total else None,
        "per_class": {
            names[i]: {
                "examples": per_true[i],
                "correct": int(confusion[i, i]),
                "accuracy": int(confusion[i, i]) / per_true[i] if per_true[i] else None,
            }
            for i in range(n)
        },
        "confusion": {
            names[i]: {names[j]: int(confusion[i, j]) for j in range(n) if confusion[i, j]}
            for i in range(n)
            if per_true[i]
        },
    }


def patch_mask_for(batch: Sequence[Example], T: int, device) -> torch.Tensor:
    """(B, P) True for each example's own patches (not the batch padding)."""
    mask = torch.zeros(len(batch), T // PATCH, dtype=torch.bool, device=device)
    for i, e in enumerate(batch):
        mask[i, : len(e.ids) // PATCH] = True
    return mask
