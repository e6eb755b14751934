"""UMGF (Zhang et al., AAAI 2021): a "unified multimodal graph" fused by dense attention.

Nodes are the tweet's words and up to ``max_visual_nodes`` visual nodes (UMGF:
four detected objects; here objects, caption tokens or grid regions). Every
word is linked to every word and every visual node to every visual node
(intra-modal edges), and every word to every visual node (inter-modal edges):
a complete graph, so "message passing" is attention, as published. Each of
``layers`` fusion layers does

    words:   w = SelfAttn(w)                      visual: v = SelfAttn(v)          (intra-modal)
    words:   c = CrossAttn(w ← v);  w = LN(w + σ(W[w; c]) ⊙ c)                     (gated inter-modal)
    visual:  d = CrossAttn(v ← w);  v = LN(v + σ(W[v; d]) ⊙ d)

and the final word states go to the shared CRF. ``graphmner`` answers this
design with a sparse typed graph and real message passing. A tweet without
visual nodes gets exactly the text path (its encoder states).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import Tensor, nn

from graphmner.data.labels import LabelVocab
from graphmner.featurize import Batch
from graphmner.fields import at_least, one_of
from graphmner.models.base import register
from graphmner.models.visual_tagger import VISUAL_TOKENS, VisualTagger, VisualTaggerConfig
from graphmner.nn.fusion import CrossModalLayer


@dataclass
class UMGFConfig(VisualTaggerConfig):
    # visual nodes: "objects" (caption concepts / detections, offline), "caption", or "grid" (needs features)
    visual_tokens: Annotated[str, one_of(*VISUAL_TOKENS)] = "objects"
    # UMGF keeps four visual nodes per image
    max_visual_nodes: Annotated[int, at_least(1)] = 4
    layers: Annotated[int, at_least(1)] = 2
    heads: Annotated[int, at_least(1)] = 8


class GatedCrossAttention(nn.Module):
    """``x = LayerNorm(x + σ(W [x; c]) ⊙ c)`` with ``c`` the attention of ``x`` over ``memory``."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.gate = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        has_memory = memory_mask.any(dim=1)
        padding = ~memory_mask
        padding[:, 0] = padding[:, 0] & has_memory  # an open slot for rows without memory, discarded below
        c = self.attn(x, memory, memory, key_padding_mask=padding, need_weights=False)[0]
        out = self.norm(x + torch.sigmoid(self.gate(torch.cat([x, c], dim=-1))) * c)
        return torch.where(has_memory[:, None, None], out, x)


class UMGFLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.word_self = CrossModalLayer(hidden, heads, dropout)
        self.visual_self = CrossModalLayer(hidden, heads, dropout)
        self.word_cross = GatedCrossAttention(hidden, heads, dropout)
        self.visual_cross = GatedCrossAttention(hidden, heads, dropout)

    def forward(self, words: Tensor, word_mask: Tensor, visual: Tensor, visual_mask: Tensor) -> tuple[Tensor, Tensor]:
        words = self.word_self(words, words, word_mask)
        visual = self.visual_self(visual, visual, visual_mask)
        return self.word_cross(words, visual, visual_mask), self.visual_cross(visual, words, word_mask)


@register("umgf")
class UMGF(VisualTagger):
    config_class = UMGFConfig

    def __init__(self, config: UMGFConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer, max_visual_tokens=config.max_visual_nodes)
        hidden = self.hidden_size
        self.layers = nn.ModuleList(UMGFLayer(hidden, config.heads, config.dropout) for _ in range(config.layers))
        self.add_emission_head()

    def word_representations(self, batch: Batch) -> Tensor:
        words, visual, visual_mask = self.encode_with_visual(batch)  # (B, W, H), (B, <=4, H), (B, <=4)
        present = visual_mask.any(dim=1)
        if not bool(present.any()):
            return words
        fused = words
        for layer in self.layers:
            fused, visual = layer(fused, batch.word_mask, visual, visual_mask)
        return torch.where(present[:, None, None], fused, words)
