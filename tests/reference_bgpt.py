"""The original bGPT architecture from transformers' GPT-2 modules (the optional dev
dependency), with the original's key names: what `bytesim.import_bgpt` reads, and what tests
and benchmarks compare the bytesim model against. Not part of the library."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bytesim.model import PATCH, VOCAB, ModelConfig


class _PatchLevel(nn.Module):
    def __init__(self, config: ModelConfig):
        from transformers import GPT2Config, GPT2Model

        super().__init__()
        gpt = GPT2Config(
            vocab_size=1,
            n_positions=config.patch_length,
            n_embd=config.hidden_size,
            n_layer=config.patch_layers,
            n_head=config.heads,
            resid_pdrop=config.dropout,
            embd_pdrop=config.dropout,
            attn_pdrop=config.dropout,
            bos_token_id=None,
            eos_token_id=None,
        )
        gpt._attn_implementation = "eager"
        self.patch_embedding = nn.Linear(PATCH * VOCAB, config.hidden_size)
        self.base = GPT2Model(gpt)

    def forward(self, ids):  # (B, T) -> (B, P, H)
        onehot = F.one_hot(ids, VOCAB).float().reshape(ids.size(0), -1, PATCH * VOCAB)
        return self.base(inputs_embeds=self.patch_embedding(onehot)).last_hidden_state


class _ByteLevel(nn.Module):
    def __init__(self, config: ModelConfig):
        from transformers import GPT2Config, GPT2LMHeadModel

        super().__init__()
        gpt = GPT2Config(
            vocab_size=VOCAB,
            n_positions=PATCH + 1,
            n_embd=config.hidden_size,
            n_layer=config.byte_layers,
            n_head=config.byte_head_count,
            resid_pdrop=config.dropout,
            embd_pdrop=config.dropout,
            attn_pdrop=config.dropout,
            bos_token_id=None,
            eos_token_id=None,
        )
        gpt._attn_implementation = "eager"
        self.base = GPT2LMHeadModel(gpt)

    def forward(self, features, patches):  # (N, H), (N, 16) -> (N, 17, 257)
        wte = self.base.transformer.wte
        x = torch.cat((features.unsqueeze(1), wte(patches)), dim=1)
        return self.base(inputs_embeds=x).logits


class ReferenceBGPT(nn.Module):
    """The original architecture from transformers' GPT-2 modules, with the original's keys.

    One-hot patch embedding, eager attention, 17 byte-decoder positions, no cache. forward
    returns (logits (B, P-1, 16, 257), loss over every target byte), like BGPT.forward.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.byte_width != config.hidden_size or config.prev_patch != "none":
            raise ValueError("the original has no byte-decoder projection or prev_patch path")
        self.config = config
        self.patch_level_decoder = _PatchLevel(config)
        self.byte_level_decoder = _ByteLevel(config)

    def forward(self, ids):
        B, T = ids.shape
        P = T // PATCH
        features = self.patch_level_decoder(ids)[:, :-1].reshape(-1, self.config.hidden_size)
        targets = ids.view(B, P, PATCH)[:, 1:].reshape(-1, PATCH)
        logits = self.byte_level_decoder(features, targets)[:, :PATCH]  # (N, 16, 257)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        return logits.reshape(B, P - 1, PATCH, VOCAB), loss


def reference_model(config: ModelConfig) -> ReferenceBGPT:
    """The original-style model (needs transformers)."""
    return ReferenceBGPT(config)
