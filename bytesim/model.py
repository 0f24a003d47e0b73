"""The bGPT byte model: a patch-level GPT-2 over 16-byte patches and a byte-level GPT-2 per patch.

Reading order: blocks -> config -> model -> generation.

A sequence of byte values 0..256 (256 = <eop>, the padding symbol) is cut into patches of 16.
The patch-level decoder turns every patch into a feature, causally over patches. The byte-level
decoder then predicts patch k byte by byte from the feature of patch k-1: its position 0 holds
that feature, position i (i = 1..15) the embedding of byte i-1, and position i predicts byte i.
Patch 0 (the header naming the file type) is never a target.

`prev_patch` adds a "copy path" from the raw bytes of patch k-1 to the byte decoder of patch k:
  - "none":   the original bGPT.
  - "add":    the byte decoder's input at position i (the one that predicts byte i) gets an extra
              embedding of byte i of the previous patch, from its own (16 x 257, Hb) table.
  - "prefix": the byte decoder runs over the 16 bytes of the previous patch first (word
              embeddings shared with the byte decoder, positions 0..15 of its own position table),
              then the feature and the bytes (positions 16..31 in training); only the last 16
              positions predict, and attention can read any byte of the previous patch.

`retrieve` adds a second, learned copy path: a one-head attention over the patch-level features
(query from the feature of patch k, keys from the features of patches 0..k) mixes the raw byte
embeddings of the patches it attends to, position by position, into 16 more prefix positions of
the byte decoder. The byte decoder thus reads exact bytes of any earlier patch the patch level
points at (a CPU state's next instruction in a memory patch, a repeated bar), instead of
recovering them from a feature where all 16 bytes of a patch are superposed.

`bit_features` gives the byte decoder the binary digits of every byte, on the way in and out: each
byte embedding gets a learned projection of its 8 bits (as +-1; <eop> has none), and the logits
get 8 learned bit scores, added with the sign of that bit in each candidate byte. Bitwise
instructions (XOR, AND, OR) act on single bits, which a table of 257 embeddings learns only
value by value. Both projections start at zero, so a model without them loads into one with them
and computes the same function until training moves them (`load_state(..., new_ok=True)`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

PATCH = 16  # bytes per patch (the only patch size the byte-level decoder supports)
VOCAB = 257  # byte values 0..255 plus <eop> = 256
EOP = 256
RETRIEVE_DIM = 64  # query/key width of the retrieval attention (config `retrieve`)
SMALL_BATCH = 64  # generate() runs up to this many sequences on one thread: its one-token steps
# lose more to thread hand-offs than they gain (see docs/model.md for the measurement)

NEW_OK = ("bit_in.weight", "bit_out.weight")  # zero-initialised: a checkpoint may lack them


def _bit_signs() -> torch.Tensor:
    """(257, 8): bit i of byte b as +1 / -1; all zeros for <eop>."""
    values = torch.arange(VOCAB - 1)[:, None]
    bits = ((values >> torch.arange(8)) & 1).float() * 2 - 1
    return torch.cat((bits, torch.zeros(1, 8)))


# ----------------------------------------------------------------------------- blocks


class KVCache:
    """Keys and values of one decoder, preallocated for `capacity` positions per row."""

    def __init__(self, layers: int, batch: int, heads: int, head_dim: int, capacity: int, like):
        shape = (layers, batch, heads, capacity, head_dim)
        self.k = torch.empty(shape, dtype=like.dtype, device=like.device)
        self.v = torch.empty(shape, dtype=like.dtype, device=like.device)
        self.length = 0  # positions written so far (the same for every row)

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        start, end = self.length, self.length + k.size(2)
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, steps: int) -> None:
        self.length += steps

    def rewind(self, length: int) -> None:
        """Forget every position from `length` on (later appends write over them)."""
        self.length = length

    def keep(self, rows: torch.Tensor) -> None:
        """Drop every row not listed in `rows` (finished sequences leave the batch)."""
        self.k = self.k[:, rows]
        self.v = self.v[:, rows]


def attention(q, k, v, mask, causal: bool, dropout: float):
    """Scaled dot-product attention; q (B, h, Tq, d), k and v (B, h, Tk, d).

    Short bfloat16 sequences (the byte decoder under autocast) use explicit matmuls: on CPU
    they run about 5x faster there than the fused kernel (forward and backward).
    """
    if q.dtype != torch.bfloat16 or k.size(2) > 64:
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal
        )
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))
    if causal:
        mask = torch.ones(q.size(2), k.size(2), dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        att = att.masked_fill(~mask, float("-inf"))
    att = F.dropout(att.softmax(dim=-1), dropout, training=dropout > 0)
    return att @ v


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        assert width % heads == 0, "width must be a multiple of heads"
        self.heads = heads
        self.dropout = dropout
        self.c_attn = nn.Linear(width, 3 * width)
        self.c_proj = nn.Linear(width, width)

    def forward(self, x, cache=None, layer=0, mask=None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, heads, past + T, C / heads)
        causal = mask is None and T > 1
        if causal and k.size(2) != T:
            raise ValueError("several new positions after a non-empty cache need a mask")
        p = self.dropout if self.training else 0.0
        y = attention(q, k, v, mask, causal, p)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    """GPT-2 pre-LayerNorm block."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = SelfAttention(width, heads, dropout)
        self.ln_2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = MLP(width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cache=None, layer=0, mask=None):
        x = x + self.drop(self.attn(self.ln_1(x), cache, layer, mask))
        return x + self.drop(self.mlp(self.ln_2(x)))


class Decoder(nn.Module):
    """GPT-2 body on given input embeddings: + learned positions, blocks, final LayerNorm."""

    def __init__(self, width: int, layers: int, heads: int, positions: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.wpe = nn.Embedding(positions, width)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(Block(width, heads, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width, eps=1e-5)

    def forward(self, x, positions, cache: KVCache | None = None, mask=None):
        """x (B, T, W); positions: LongTensor (T,) or (B, T)."""
        x = self.drop(x + self.wpe(positions))
        for i, block in enumerate(self.h):
            x = block(x, cache, i, mask)
        if cache is not None:
            cache.advance(x.size(1))
        return self.ln_f(x)

    def new_cache(self, batch: int, capacity: int, like: torch.Tensor) -> KVCache:
        width = self.wpe.embedding_dim
        return KVCache(len(self.h), batch, self.heads, width // self.heads, capacity, like)


# ----------------------------------------------------------------------------- config

PREV_PATCH_MODES = ("none", "add", "prefix")
# how files are cut into patches (bytesim.layout)
LAYOUTS = (
    "paper",
    "notes",
    "interleaved",
    "context",
    "signature",
    "fields",
    "rests",
    "ticks",
    "repeats",
    "accidentals",
    "bars",
)
# the layouts that feed the input one unit at a time
INTERLEAVED = LAYOUTS[2:]


FEATURE_SETS = {"": 0, "rhythm": 138, "phrases": 148}
"""Feature heads a classifier may carry (name -> features per file): the set of that name of
convert.tune_features.feature_vector of the file's canonical notes (bytesim/features.py):
"rhythm" the durations, onset phases, intervals and quarter-note runs, "phrases" the same and
how the tune's phrases end."""

INPUT_FORMS = ("bytes", "canonical-tune")
"""How `bytesim classify` reads a file for a model: its bytes as they are, or (canonical-tune)
a MIDI or ABC tune in convert.canonical's form, in windows when long (bytesim/classify.py)."""


@dataclass(frozen=True)
class ModelConfig:
    patch_size: int = 16  # bytes per patch (fixed at 16)
    patch_length: int = 512  # patches per sequence, header and final <eop> patch included
    hidden_size: int = 768  # width of the patch-level decoder
    patch_layers: int = 12  # blocks in the patch-level decoder
    byte_layers: int = 3  # blocks in the byte-level decoder
    heads: int = 12  # attention heads of the patch-level decoder
    byte_hidden_size: int | None = None  # byte-decoder width; None = hidden_size
    byte_heads: int | None = None  # byte-decoder heads; None = heads
    dropout: float = 0.1  # dropout on embeddings, attention and residual branches
    prev_patch: str = "none"  # copy path from the previous patch: "none" | "add" | "prefix"
    retrieve: bool = False  # learned copy path from any earlier patch (see the module docstring)
    bit_features: bool = False  # byte decoder reads and scores the bits of bytes (docstring)
    layout: str = "paper"  # one of LAYOUTS: how files become patches (layout.py)
    num_labels: int = 0  # classification labels (0 = no classification head)
    input_form: str = "bytes"  # what `classify` feeds a file as: "bytes" | "canonical-tune"
    features: str = ""  # a feature head beside the classifier: "" (none) | "rhythm" | "phrases"
    vocab_size: int = 257  # byte values 0..255 and <eop> (fixed)

    def __post_init__(self):
        if self.patch_size != PATCH or self.vocab_size != VOCAB:
            raise ValueError(f"patch_size must be {PATCH} and vocab_size {VOCAB}")
        if self.prev_patch not in PREV_PATCH_MODES:
            raise ValueError(
                f"prev_patch must be one of {PREV_PATCH_MODES}, not {self.prev_patch!r}"
            )
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {self.layout!r}")
        if self.input_form not in INPUT_FORMS:
            raise ValueError(f"input_form must be one of {INPUT_FORMS}, not {self.input_form!r}")
        if self.features not in FEATURE_SETS:
            names = ", ".join(repr(f) for f in FEATURE_SETS)
            raise ValueError(f"features must be one of {names}, not {self.features!r}")
        if self.features and self.input_form != "canonical-tune":
            raise ValueError("features read MIDI notes: they need input_form=canonical-tune")
        if not isinstance(self.retrieve, bool):
            raise ValueError(f"retrieve must be true or false, not {self.retrieve!r}")
        if not isinstance(self.bit_features, bool):
            raise ValueError(f"bit_features must be true or false, not {self.bit_features!r}")
        if self.hidden_size % self.heads or self.byte_width % self.byte_head_count:
            raise ValueError("hidden sizes must be multiples of their head counts")
        if min(self.patch_length, self.hidden_size, self.heads, self.patch_layers) < 1:
            raise ValueError("patch_length, hidden_size, heads and patch_layers must be >= 1")

    @property
    def byte_width(self) -> int:
        return self.byte_hidden_size or self.hidden_size

    @property
    def byte_head_count(self) -> int:
        return self.byte_heads or self.heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Build from a dict, ignoring unknown keys and defaulting missing ones."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def with_overrides(self, **overrides) -> ModelConfig:
        return replace(self, **overrides)


PRESETS: dict[str, ModelConfig] = {
    # the paper's ~110 M model
    "paper": ModelConfig(
        patch_length=512, hidden_size=768, patch_layers=12, byte_layers=3, heads=12
    ),
    # CPU training: a full CPU instance (322 patches) fits
    "small": ModelConfig(
        patch_length=512, hidden_size=256, patch_layers=4, byte_layers=2, heads=4, dropout=0.0
    ),
    # unit tests
    "tiny": ModelConfig(
        patch_length=64, hidden_size=32, patch_layers=2, byte_layers=1, heads=2, dropout=0.0
    ),
}


# ----------------------------------------------------------------------------- model


def _changed_weighted_loss(logits, targets, prev, mask, weight: float) -> torch.Tensor:
    """Mean cross-entropy with every target byte unlike the previous patch's byte at its place
    counted `weight` times (`BGPT.forward`'s changed_weight)."""
    nats = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), reduction="none")
    weights = torch.where(targets != prev, weight, 1.0).reshape(-1).to(nats.dtype)
    if mask is not None:
        weights = weights * mask.reshape(-1)
    return (nats * weights).sum() / weights.sum().clamp(min=1e-12)


class FeatureHead(nn.Module):
    """A multinomial logistic regression on hand-made features of a file, mixed with the
    byte model's probabilities: p = (1 - mix) * softmax(logits) + mix * softmax(z @ weight +
    bias), z the features standardised by `mean` and `scale`. All buffers: fitted after
    training (bytesim/features.py), never by gradient; `mix` < 0 means not fitted yet (the
    byte model alone)."""

    def __init__(self, n_features: int, n_labels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.register_buffer("weight", torch.zeros(n_features, n_labels))
        self.register_buffer("bias", torch.zeros(n_labels))
        self.register_buffer("mix", torch.tensor(-1.0))

    @property
    def fitted(self) -> bool:
        return float(self.mix) >= 0

    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        z = (features.double() - self.mean.double()) / self.scale.double()
        return torch.softmax(z @ self.weight.double() + self.bias.double(), dim=-1)

    def mix_logits(self, logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        mix = float(self.mix)
        p = (1 - mix) * torch.softmax(logits.double(), dim=-1) + mix * self.probabilities(
            features.to(logits.device)
        )
        return torch.log(p.clamp(min=1e-300)).float()


class BGPT(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        H, Hb = c.hidden_size, c.byte_width
        self.retrieved = PATCH if c.retrieve else 0  # byte-decoder positions of retrieved bytes
        # byte-decoder prefix positions: [retrieved bytes][previous patch (prefix mode)]
        self.prefix = self.retrieved + (PATCH if c.prev_patch == "prefix" else 0)
        # patch embedding: sum over the 16 positions of table[pos * 257 + byte], plus a bias;
        # equal to the original's Linear(16 * 257, H) on concatenated one-hot bytes
        self.patch_embed = nn.Parameter(torch.empty(PATCH * VOCAB, H))
        self.patch_bias = nn.Parameter(torch.zeros(H))
        self.patch = Decoder(H, c.patch_layers, c.heads, c.patch_length, c.dropout)
        self.byte_proj = nn.Linear(H, Hb) if Hb != H else nn.Identity()
        self.byte_wte = nn.Embedding(VOCAB, Hb)  # also the LM head (tied, no bias)
        self.byte = Decoder(
            Hb, c.byte_layers, c.byte_head_count, self.prefix + PATCH + 1, c.dropout
        )
        self.prev_embed = nn.Embedding(PATCH * VOCAB, Hb) if c.prev_patch == "add" else None
        if c.retrieve:
            self.retr_q = nn.Linear(H, RETRIEVE_DIM)
            self.retr_k = nn.Linear(H, RETRIEVE_DIM)
        if c.bit_features:
            self.bit_in = nn.Linear(8, Hb, bias=False)
            self.bit_out = nn.Linear(Hb, 8, bias=False)
            self.register_buffer("_bits", _bit_signs(), persistent=False)
        self.classifier = nn.Linear(H, c.num_labels) if c.num_labels else None
        self.feature_head = (
            FeatureHead(FEATURE_SETS[c.features], c.num_labels)
            if c.features and c.num_labels
            else None
        )
        self.labels: list[str] = []  # classification label names (set by training or loading)
        self.label_counts: dict[str, int] = {}  # training examples per label (the majority)
        self.register_buffer("_offsets", torch.arange(PATCH) * VOCAB, persistent=False)
        self._init_weights()

    def _init_weights(self):
        for name, p in self.named_parameters():
            if name.endswith("bias") or name.startswith("patch_bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or name.startswith(("patch.ln_f", "byte.ln_f")):
                nn.init.ones_(p)
            elif name.endswith("c_proj.weight"):  # GPT-2: residual projections scaled by depth
                layers = (
                    self.config.patch_layers
                    if name.startswith("patch.")
                    else self.config.byte_layers
                )
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))
            elif name in NEW_OK:  # starts at zero: see `bit_features` in the module docstring
                nn.init.zeros_(p)
            elif name in ("patch_embed", "prev_embed.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(PATCH))  # the sum of 16 rows has std 0.02
            else:
                nn.init.normal_(p, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- pieces shared by training and generation

    def embed_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, 16) byte values -> (N, H) patch embeddings."""
        return (
            F.embedding_bag(patches + self._offsets, self.patch_embed, mode="sum") + self.patch_bias
        )

    def patch_features(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, P, H): the patch-level decoder's output for every patch."""
        B, P = ids.size(0), ids.size(1) // PATCH
        x = self.embed_patches(ids.view(B * P, PATCH)).view(B, P, -1)
        return self.patch(x, torch.arange(P, device=ids.device))

    def byte_embed(self, values: torch.Tensor) -> torch.Tensor:
        """Byte-decoder input embeddings of byte values 0..256: (...) -> (..., Hb)."""
        x = self.byte_wte(values)
        if self.config.bit_features:
            x = x + self.bit_in(self._bits[values])
        return x

    def retrieval_scores(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Retrieval logits: queries (B, Tq, H) and keys (B, Tk, H) features -> (B, Tq, Tk)."""
        q, k = self.retr_q(queries), self.retr_k(keys)
        return (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(RETRIEVE_DIM))

    def retrieve(self, features: torch.Tensor, patches: torch.Tensor, key_ok=None):
        """Retrieved byte embeddings (B, P, 16, Hb) for every patch of a sequence.

        features (B, P, H) patch-level outputs; patches (B, P, 16) their bytes; key_ok (B, P)
        bool marks patches that may be read (False: left padding). Row k mixes patches 0..k.
        """
        B, P = patches.shape[:2]
        scores = self.retrieval_scores(features, features)
        allowed = torch.ones(P, P, dtype=torch.bool, device=features.device).tril()[None]
        if key_ok is not None:
            eye = torch.eye(P, dtype=torch.bool, device=features.device)[None]
            allowed = (allowed & key_ok[:, None, :]) | eye
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        emb = self.byte_embed(patches).flatten(2)  # (B, P, 16 * Hb)
        return (weights.to(emb.dtype) @ emb).view(B, P, PATCH, -1)

    def byte_inputs(self, feature, prev, patch_bytes, retrieved=None):
        """Input embeddings of the byte decoder for whole or partial patches.

        feature (N, Hb) already projected; prev (N, 16) bytes of the previous patch;
        patch_bytes (N, j) the first j bytes of the patch (j <= 15); retrieved (N, 16, Hb) the
        retrieved byte embeddings (config `retrieve`).
        Returns (N, prefix + 1 + j, Hb): [retrieved], [prev bytes (prefix mode)], feature, bytes.
        """
        x = torch.cat((feature.unsqueeze(1), self.byte_embed(patch_bytes)), dim=1)
        if self.prev_embed is not None:
            n = x.size(1)
            x = x + self.prev_embed(prev[:, :n] + self._offsets[:n])
        if self.prefix > self.retrieved:
            x = torch.cat((self.byte_embed(prev), x), dim=1)
        if self.retrieved:
            if retrieved is None:
                raise ValueError("this model reads retrieved bytes: pass `retrieved`")
            x = torch.cat((retrieved.to(x.dtype), x), dim=1)
        return x

    def byte_logits(self, h: torch.Tensor) -> torch.Tensor:
        logits = F.linear(h, self.byte_wte.weight)  # tied LM head, no bias
        if self.config.bit_features:  # + each bit's score, signed by that bit of the candidate
            logits = logits + F.linear(self.bit_out(h), self._bits.to(h.dtype))
        return logits

    # --- training

    def forward(
        self,
        ids: torch.Tensor,
        loss_mask: torch.Tensor | None = None,
        changed_weight: float = 1.0,
    ):
        """ids (B, T) values 0..256, T a multiple of 16; loss_mask (B, T) bool, False = ignored.

        Returns (logits (B, P-1, 16, 257), loss): loss is the mean cross-entropy in nats over the
        counted targets (every byte of patches 1..P-1, restricted by loss_mask). Patches without
        a counted target are not run through the byte decoder; their logits are zeros.
        changed_weight w != 1 makes it a weighted mean: a target byte that differs from the byte
        at its place in the patch before (a CPU state's changed byte) counts w times.
        """
        B, T = ids.shape
        if T % PATCH or T < 2 * PATCH:
            raise ValueError(
                f"sequence length {T} must be a multiple of {PATCH}, at least {2 * PATCH}"
            )
        P = T // PATCH
        if P > self.config.patch_length:
            raise ValueError(f"{P} patches exceed patch_length {self.config.patch_length}")
        all_features = self.patch_features(ids)
        features = all_features[:, :-1]  # (B, P-1, H): feature k predicts patch k+1
        patches = ids.view(B, P, PATCH)
        targets = patches[:, 1:].reshape(-1, PATCH)  # (N, 16), N = B * (P-1)
        prev = patches[:, :-1].reshape(-1, PATCH)
        feats = features.reshape(-1, features.size(-1))
        retrieved = None
        if self.retrieved:
            retrieved = self.retrieve(all_features[:, :-1], patches[:, :-1])
            retrieved = retrieved.reshape(B * (P - 1), PATCH, -1)
        mask = rows = None
        if loss_mask is not None:
            mask = loss_mask.view(B, P, PATCH)[:, 1:].reshape(-1, PATCH)
            if bool(mask.all()):
                mask = None  # everything counts: the plain mean is faster
            else:
                rows = mask.any(dim=1).nonzero().squeeze(1)
                targets, prev, feats, mask = targets[rows], prev[rows], feats[rows], mask[rows]
                if retrieved is not None:
                    retrieved = retrieved[rows]
        logits = self._patch_logits(feats, prev, targets, retrieved)  # (N, 16, 257)
        if changed_weight != 1.0 and targets.numel():
            loss = _changed_weighted_loss(logits, targets, prev, mask, changed_weight)
        elif mask is None:
            loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        elif targets.numel():
            loss = F.cross_entropy(logits[mask], targets[mask])
        else:
            loss = features.sum() * 0.0  # nothing counted: a zero that still has a graph
        if rows is not None:
            full = logits.new_zeros(B * (P - 1), PATCH, VOCAB)
            full[rows] = logits
            logits = full
        return logits.view(B, P - 1, PATCH, VOCAB), loss

    def _patch_logits(self, feats, prev, targets, retrieved=None) -> torch.Tensor:
        """Byte-decoder logits (N, 16, 257) of whole patches `targets` (N, 16), each byte given
        the feature (N, H), the previous patch (N, 16) and the target bytes before it."""
        x = self.byte_inputs(self.byte_proj(feats), prev, targets[:, :-1], retrieved)
        positions = torch.arange(x.size(1), device=x.device)
        return self.byte_logits(self.byte(x, positions)[:, self.prefix :])

    @torch.no_grad()
    def patch_log_probs(self, features, prev, targets, retrieved=None) -> torch.Tensor:
        """Log-probability in nats (N,) float32 of each whole patch `targets` (N, 16) under the
        byte decoder, from patch-level features (N, H) and previous patches (N, 16): the score a
        search over whole patches would rank candidates by (`decode_patches` picks bytewise)."""
        logits = self._patch_logits(features, prev, targets, retrieved).float()
        picked = F.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1))
        return picked.squeeze(-1).sum(-1)

    @torch.no_grad()
    def teacher_forced(self, ids: torch.Tensor, loss_mask: torch.Tensor | None = None):
        """Greedy guess of every target byte given all true bytes before it: (B, P-1, 16).

        Patches without a counted target (loss_mask) are not computed and hold argmax 0."""
        was_training = self.training
        self.eval()
        try:
            return self(ids, loss_mask)[0].argmax(dim=-1)
        finally:
            self.train(was_training)

    def classify(self, ids, labels=None, patch_mask=None, file_features=None):
        """ids (B, T) -> (logits (B, num_labels), loss or None): mean feature over patches.

        patch_mask (B, P) bool selects the patches averaged (default: all). With a fitted
        feature head and `file_features` (B, F) of the same files, the logits are the log of the
        mixture of the two models' probabilities (FeatureHead).
        """
        if self.classifier is None:
            raise ValueError("this model has no classification head (num_labels = 0)")
        features = self.patch_features(ids)  # (B, P, H)
        if patch_mask is None:
            pooled = features.mean(dim=1)
        else:
            w = patch_mask.to(features.dtype).unsqueeze(-1)
            pooled = (features * w).sum(1) / w.sum(1).clamp(min=1)
        logits = self.classifier(pooled)
        head = self.feature_head
        if file_features is not None and head is not None and head.fitted:
            logits = head.mix_logits(logits, file_features)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return logits, loss

    # ------------------------------------------------------------------------- generation

    @torch.no_grad()
    def generate(
        self,
        prompts: list,
        max_patches: int,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = 0,
        stop: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
        use_cache: bool = True,
        steer: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
        draft: bool = False,
    ) -> list[torch.Tensor]:
        """Continue every prompt patch by patch; returns the full sequences (prompt included).

        A sequence ends when it reaches `max_patches` patches (<= patch_length), when it has
        just generated an all-<eop> patch, or when `stop(patch_index, new_patches)` returns True
        for it. `new_patches` is (len(prompts), 16), row i for prompt i (all <eop> for sequences
        already finished, whose answer is ignored); `patch_index` is the new patches' index
        counted from the header (0) in the longest prompt's sequence.
        temperature 0 is greedy; otherwise softmax sampling after top-k / top-p filtering,
        drawn from a torch.Generator seeded with `seed`.
        use_cache=False recomputes both decoders from scratch for every byte (a reference).
        `steer(patch_index, new_patches)` (cached generation only), called like `stop`, returns
        (len(prompts), 16) values: for each row the patch to put next instead of generating
        one (input fed while the model writes, as the interleaved layout does), or a row of -1
        to let the model write it.
        `draft` (greedy, cached): write each patch by checking the guess that it repeats the
        previous one (`_generate_patch`): the same bytes, faster where patches mostly repeat;
        slower for a batch whose rows differ in different bytes.
        """
        if steer is not None and not use_cache:
            raise ValueError("steer needs use_cache=True")
        if max_patches > self.config.patch_length:
            raise ValueError(
                f"max_patches {max_patches} exceeds patch_length {self.config.patch_length}"
            )
        device = self.patch_embed.device
        seqs = [torch.as_tensor(p, dtype=torch.long, device=device).flatten() for p in prompts]
        for i, s in enumerate(seqs):
            if len(s) == 0 or len(s) % PATCH:
                raise ValueError(
                    f"prompt {i} has {len(s)} values, not a positive multiple of {PATCH}"
                )
            if int(s.min()) < 0 or int(s.max()) > EOP:
                raise ValueError(f"prompt {i} has values outside 0..256")
        gen = torch.Generator(device=device).manual_seed(seed)
        pick = _Sampler(temperature, top_k, top_p, gen)
        was_training = self.training
        threads = torch.get_num_threads()
        if len(seqs) <= SMALL_BATCH:  # one-token steps: thread hand-offs cost more than they save
            torch.set_num_threads(1)
        self.eval()
        try:
            if not use_cache:
                return self._generate_uncached(seqs, max_patches, pick, stop)
            return self._generate_cached(seqs, max_patches, pick, stop, steer, draft)
        finally:
            self.train(was_training)
            torch.set_num_threads(threads)

    def _generate_cached(self, seqs, max_patches, pick, stop, steer=None, draft=False):
        out = [s for s in seqs]
        active = [i for i, s in enumerate(seqs) if len(s) // PATCH < max_patches]
        if not active:
            return out
        lengths = torch.tensor([len(seqs[i]) // PATCH for i in active])  # patches so far
        L = int(lengths.max())
        device = out[0].device
        # left-pad prompts with <eop> patches to L patches; padded positions are masked out
        padded = torch.full((len(active), L * PATCH), EOP, dtype=torch.long, device=device)
        for r, i in enumerate(active):
            padded[r, (L - int(lengths[r])) * PATCH :] = seqs[i]
        pad = (L - lengths).to(device)  # (B,)
        cols = torch.arange(L, device=device)
        positions = (cols[None, :] - pad[:, None]).clamp(min=0)  # (B, L)
        key_ok = cols[None, :] >= pad[:, None]  # (B, L)
        capacity = L + max_patches - int(lengths.min())
        x = self.embed_patches(padded.view(-1, PATCH)).view(len(active), L, -1)
        pcache = self.patch.new_cache(len(active), capacity, x)
        mask = None
        if bool(pad.any()):
            causal = torch.ones(L, L, dtype=torch.bool, device=device).tril()
            mask = (causal[None] & key_ok[:, None, :]) | torch.eye(
                L, dtype=torch.bool, device=device
            )
            mask = mask.unsqueeze(1)  # (B, 1, L, L)
        features = self.patch(x, positions, pcache, mask)  # (B, L, H)
        feature = features[:, -1]
        prev = padded[:, -PATCH:]
        memory = None
        if self.retrieved:  # keys and byte embeddings of every patch so far, for retrieval
            memory = _RetrievalMemory(self, features, padded.view(len(active), L, PATCH), key_ok)
        n = lengths.to(device)
        t = 0  # patches generated so far
        forced = torch.full((len(active), PATCH), -1, dtype=torch.long, device=device)
        while True:
            patch = forced.clone()
            write = (forced < 0).all(dim=1)  # rows whose next patch the model writes
            if bool(write.any()):
                rows = write.nonzero().squeeze(1)
                retrieved = memory.read(feature[rows], rows) if memory is not None else None
                patch[rows] = self._generate_patch(
                    feature[rows], prev[rows], pick, retrieved, draft
                )
            for r, i in enumerate(active):
                out[i] = torch.cat((out[i], patch[r]))
            n = n + 1
            done = (n >= max_patches) | (patch == EOP).all(dim=1)
            full = None
            if stop is not None or steer is not None:
                full = torch.full((len(seqs), PATCH), EOP, dtype=torch.long, device=device)
                full[active] = patch
            if stop is not None:
                done = done | stop(L + t, full).to(device)[active]
            if steer is not None:
                forced = steer(L + t, full).to(device)[active]
            t += 1
            if bool(done.all()):
                return out
            if bool(done.any()):
                rows = (~done).nonzero().squeeze(1)
                pcache.keep(rows)
                if memory is not None:
                    memory.keep(rows)
                key_ok, n, patch, forced = key_ok[rows], n[rows], patch[rows], forced[rows]
                active = [active[r] for r in rows.tolist()]
            key_ok = torch.cat((key_ok, key_ok.new_ones(len(active), 1)), dim=1)
            x = self.embed_patches(patch).unsqueeze(1)  # (B, 1, H)
            step_mask = key_ok[:, None, None, :] if mask is not None else None
            pos = (n - 1).clamp(max=self.config.patch_length - 1)[:, None]
            feature = self.patch(x, pos, pcache, step_mask)[:, -1]
            if memory is not None:
                memory.append(feature, patch)
            prev = patch

    @torch.no_grad()
    def decode_patches(
        self, features: torch.Tensor, prev: torch.Tensor, retrieved: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Greedy patches (N, 16) from patch-level features (N, H) and previous patches (N, 16).

        Each row is decoded on its own from the given (e.g. reference) context: the state-level
        teacher forcing of neural CPU evaluation. Models with `retrieve` also need the rows'
        retrieved byte embeddings (N, 16, Hb), from `retrieve`."""
        return self._generate_patch(features, prev, _Sampler(0.0, None, None, None), retrieved)

    def _generate_patch(self, feature, prev, pick, retrieved=None, draft=False):
        """Sample one patch per row from the byte decoder with a KV cache. -> (B, 16)

        `draft` (greedy only): guess that the patch repeats the previous one, check every
        guessed byte in one pass of the byte decoder and keep the bytes up to the first
        greedy byte that differs, which replaces it; then guess again from there. The same
        greedy bytes (up to float rounding), in as many passes as bytes differ (plus one)
        instead of 16 steps: fewer where the patch mostly repeats the last (a CPU state)."""
        if draft and pick.greedy:
            return self._draft_patch(feature, prev, retrieved)
        B = feature.size(0)
        cache = self.byte.new_cache(B, self.prefix + PATCH, feature)
        empty = prev[:, :0]
        x = self.byte_inputs(self.byte_proj(feature), prev, empty, retrieved)  # (B, prefix+1, Hb)
        h = self.byte(x, torch.arange(x.size(1), device=x.device), cache)[:, -1]
        patch = prev.new_empty(B, PATCH)
        for i in range(PATCH):
            patch[:, i] = pick(self.byte_logits(h))
            if i == PATCH - 1:
                break
            x = self.byte_embed(patch[:, i : i + 1])  # (B, 1, Hb)
            if self.prev_embed is not None:
                x = x + self.prev_embed(prev[:, i + 1 : i + 2] + self._offsets[i + 1])
            pos = torch.full((1,), self.prefix + i + 1, device=x.device)
            h = self.byte(x, pos, cache)[:, -1]
        return patch

    def _draft_patch(self, feature, prev, retrieved):
        """Greedy patches by checking guesses (`_generate_patch`'s `draft`). -> (B, 16)"""
        device = feature.device
        cache = self.byte.new_cache(feature.size(0), self.prefix + PATCH, feature)
        patch = prev.clone()  # the guess; bytes before `done` are decided
        # first pass: the prefix, the feature and the guessed bytes 0..14
        x = self.byte_inputs(self.byte_proj(feature), prev, patch[:, : PATCH - 1], retrieved)
        h = self.byte(x, torch.arange(x.size(1), device=device), cache)[:, self.prefix :]
        done = 0
        while True:
            greedy = self.byte_logits(h).argmax(-1)  # (B, T): bytes done.. given the guess
            differs = (greedy != patch[:, done:]).any(dim=0)
            first = int(differs.int().argmax()) if bool(differs.any()) else greedy.size(1)
            patch[:, done : done + first + 1] = greedy[:, : first + 1]
            done += first + 1
            if done >= PATCH:
                return patch
            # keep the cache up to the token of byte done - 1 (the feature is byte 0's), then
            # feed the decided byte done - 1 and the guesses after it
            start = self.prefix + done
            cache.rewind(start)
            bytes_in = patch[:, done - 1 : PATCH - 1]
            x = self.byte_embed(bytes_in)
            if self.prev_embed is not None:
                x = x + self.prev_embed(prev[:, done:] + self._offsets[done:])
            T = x.size(1)
            allowed = torch.arange(start + T, device=device)[None, :] <= (
                start + torch.arange(T, device=device)[:, None]
            )
            pos = torch.arange(start, start + T, device=device)
            h = self.byte(x, pos, cache, allowed[None, None])

    def _generate_uncached(self, seqs, max_patches, pick, stop):
        """The reference: one sequence at a time, both decoders from scratch for every byte."""
        out = []
        longest = max(len(s) for s in seqs) // PATCH
        for row, s0 in enumerate(seqs):
            s = s0
            while len(s) // PATCH < max_patches:
                features = self.patch_features(s[None])
                feature = self.byte_proj(features[:, -1])
                prev = s[None, -PATCH:]
                retrieved = None
                if self.retrieved:
                    retrieved = self.retrieve(features, s.view(1, -1, PATCH))[:, -1]
                patch = s.new_empty(1, 0)
                for _ in range(PATCH):
                    x = self.byte_inputs(feature, prev, patch, retrieved)
                    h = self.byte(x, torch.arange(x.size(1), device=x.device))[:, -1]
                    patch = torch.cat((patch, pick(self.byte_logits(h))[:, None]), dim=1)
                s = torch.cat((s, patch[0]))
                finished = bool((patch == EOP).all())
                if stop is not None:
                    index = len(s) // PATCH - 1 + longest - len(s0) // PATCH
                    full = torch.full((len(seqs), PATCH), EOP, dtype=torch.long, device=s.device)
                    full[row] = patch[0]
                    finished = finished or bool(stop(index, full)[row])
                if finished:
                    break
            out.append(s)
        return out


class _RetrievalMemory:
    """Retrieval keys and byte embeddings of the patches generated so far (cached generation)."""

    def __init__(self, model: BGPT, features, patches, key_ok):
        self.model = model
        self.keys = model.retr_k(features)  # (B, L, RETRIEVE_DIM)
        self.emb = model.byte_embed(patches).flatten(2)  # (B, L, 16 * Hb)
        self.ok = key_ok.clone()  # (B, L)

    def read(self, feature, rows=None):
        """(B, H) query features of the memory's `rows` (default: all) -> (B, 16, Hb)
        retrieved byte embeddings."""
        keys, emb, ok = self.keys, self.emb, self.ok.clone()
        if rows is not None:
            keys, emb, ok = keys[rows], emb[rows], ok[rows]
        q = self.model.retr_q(feature)[:, None]  # (B, 1, R)
        scores = (q @ keys.transpose(1, 2)) * (1.0 / math.sqrt(RETRIEVE_DIM))
        ok[:, -1] = True  # a patch can always read itself
        w = scores.masked_fill(~ok[:, None, :], float("-inf")).softmax(dim=-1)
        return (w.to(emb.dtype) @ emb).view(feature.size(0), PATCH, -1)

    def append(self, feature, patch):
        self.keys = torch.cat((self.keys, self.model.retr_k(feature)[:, None]), dim=1)
        self.emb = torch.cat((self.emb, self.model.byte_embed(patch).flatten(1)[:, None]), dim=1)
        self.ok = torch.cat((self.ok, self.ok.new_ones(self.ok.size(0), 1)), dim=1)

    def keep(self, rows):
        self.keys, self.emb, self.ok = self.keys[rows], self.emb[rows], self.ok[rows]


class _Sampler:
    """Greedy (temperature 0) or temperature / top-k / top-p sampling of (B, 257) logits."""

    def __init__(self, temperature, top_k, top_p, generator):
        if (
            temperature < 0
            or (top_p is not None and not 0 < top_p <= 1)
            or (top_k is not None and top_k < 1)
        ):
            raise ValueError("need temperature >= 0, top_k >= 1 and 0 < top_p <= 1")
        self.temperature, self.top_k, self.top_p, self.gen = temperature, top_k, top_p, generator
        self.greedy = temperature == 0

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature == 0:
            return logits.argmax(dim=-1)
        logits = logits.float() / self.temperature
        if self.top_k is not None and self.top_k < logits.size(-1):
            kth = logits.topk(self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p is not None and self.top_p < 1:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
            drop_sorted = cum - sorted_logits.softmax(dim=-1) >= self.top_p  # keep the first over p
            drop = drop_sorted.scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        probs = logits.softmax(dim=-1)
        return torch.multinomial(probs, 1, generator=self.gen).squeeze(1)
