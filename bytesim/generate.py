"""Files from a model: continue a file, convert it (a -> b), or write one from its type alone.

The prompt is the bGPT encoding of the prompt file without its final <eop> patch
([header][bytes + pad]); for a conversion the target's header patch follows. The model then
writes patches until an all-<eop> patch or the length limit, and the file is read back: the
generated patches with every 256 (padding) dropped, after the prompt file's own bytes when
continuing, alone when converting or writing from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bytesim.data import EOP, PATCH, header_patch
from bytesim.layout import file_bytes, model_ext, model_patches
from bytesim.model import BGPT, INTERLEAVED


@dataclass
class Generated:
    data: bytes  # the file's bytes
    patches: int  # patches in the whole sequence (prompt included)
    finished: bool  # ended with an all-<eop> patch (not cut by the length limit)


def build_prompt(
    ext: str, data: bytes | None = None, to_ext: str | None = None, layout: str = "paper"
) -> np.ndarray:
    """[header ext][data + pad] and, for a conversion, [header to_ext]; files cut into patches
    as `layout` says (bytesim.layout)."""
    parts = [header_patch(model_ext(ext, layout))]
    if data:
        parts.append(model_patches(data, ext, layout))
    if to_ext is not None:
        parts.append(header_patch(model_ext(to_ext, layout)))
    return np.concatenate(parts)


def decode(seq: torch.Tensor, start: int) -> tuple[bytes, bool]:
    """Bytes of seq[start:] up to the first all-<eop> patch, padding dropped."""
    patches = seq[start:].view(-1, PATCH).tolist()
    out = bytearray()
    for patch in patches:
        if all(v == EOP for v in patch):
            return bytes(out), True
        out.extend(v for v in patch if v != EOP)
    return bytes(out), False


def generate_files(
    model: BGPT,
    ext: str,
    prompt: bytes | None = None,
    to_ext: str | None = None,
    n: int = 1,
    max_patches: int | None = None,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
) -> list[Generated]:
    """n files of type `ext` (continuing `prompt`), or of type `to_ext` converted from it."""
    layout = model.config.layout
    if to_ext is not None and layout in INTERLEAVED:
        raise ValueError(
            "an interleaved model reads its input one unit at a time: convert with "
            "`bytesim convert` (bytesim.neural_convert)"
        )
    ids = torch.from_numpy(build_prompt(ext, prompt, to_ext, layout))
    limit = max_patches or model.config.patch_length
    if len(ids) // PATCH >= limit:
        raise ValueError(
            f"the prompt takes {len(ids) // PATCH} patches of at most {limit}: nothing to generate"
        )
    seqs = model.generate([ids] * n, limit, temperature, top_k, top_p, seed)
    out = []
    for seq in seqs:
        if to_ext is None:
            data, finished = decode(seq, PATCH)
        else:
            data, finished = decode(seq, len(ids))
            data = file_bytes(data, to_ext, layout)
        out.append(Generated(data, len(seq) // PATCH, finished))
    return out
