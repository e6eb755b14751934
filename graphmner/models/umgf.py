"""UMGF (Zhang et al., AAAI 2021): a "unified multimodal graph" fused by dense gated attention, as its public
code builds it (github.com/TransformersWsz/UMGF ``ddp_mmner.py``, class ``MMNerModel``), on the shared
encoder, CRF and trainer.

Nodes are the tweet's words and four visual nodes. Every word is linked to every word and every visual node
to every visual node (intra-modal edges), and every word to every visual node (inter-modal edges): a
complete graph, so "message passing" is attention and per-pair gates, as published::

    e = encoder word states (B, W, H);  x = W_t e  (B, W, d)                          d = width (UMGF: 512)
    o = MLP(W_f v)   (B, 4, d)           v: the visual nodes (B, 4, D); MLP = Linear-ReLU-Dropout twice
    each of `layers` layers (UMGF: 6):
        x = LN(x + drop(MHA(x, x, x)))              word self-attention
        o = LN(o + drop(Attn(o, o, o)))             visual self-attention (query and key projections only)
        x2o_j = Σ_k σ(W_xo [x_j; o_k]) ⊙ o_k        each word sums the visual nodes, each through its own gate
        o2x_k = Σ_j σ(W_ox [x_j; o_k]) ⊙ x_j        each visual node sums the words
        x = LN(x + drop(x2o));  o = LN(o + drop(o2x))
        x = LN(x + drop(FFN(x)));  o = LN(o + drop(FFN(o)))     FFN: d -> ffn (UMGF: 256) -> d, ReLU
    emissions = W_c [e; x]               (B, W, H + d): the encoder states beside the fused ones

``dropout`` is UMGF's (0.4), used everywhere above; there is none before the classifier. UMGF's own linear
layers start from Xavier-uniform weights and zero biases, as its code initialises them.

Visual nodes: UMGF crops four regions that visual grounding finds for person, miscellaneous, location and
organisation, and encodes each with a fine-tuned ResNet-152 whose last layer is a new 2048 -> 2048 linear
map (``W_f`` here). With images: ``graphmner detect`` boxes cropped and encoded by the backbone
(``graphmner extract-features --regions DETECTIONS``: four regions per image) read as ``visual_tokens:
grid``; the backbone stays frozen (features are cached), ``W_f`` is trained. Offline, the nearest stand-in
is ``visual_tokens: kinds``: per kind (person, text, place, organisation) the caption concepts of that kind
read by the text encoder, else the whole caption, named as such in every results table. A tweet without
visual nodes gets x2o = 0 (a sum over nothing): :meth:`text_states` is UMGF without them.

Where this differs from the public code: the layers run over each word's first-piece state (the shared CRF
tags words; UMGF's tags pieces, the others X), and UMGF's script selects and reports its epoch on the test
set, where the shared trainer selects on dev.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import torch
from torch import Tensor, nn

from graphmner.data.labels import LabelVocab
from graphmner.featurize import Batch
from graphmner.fields import at_least, between, one_of
from graphmner.models.base import TaggerOutput, register
from graphmner.models.visual_tagger import VISUAL_TOKENS, VisualTagger, VisualTaggerConfig


@dataclass
class UMGFConfig(VisualTaggerConfig):
    # visual nodes: "kinds" (offline stand-in: one node per person / text / place / organisation objects),
    # "grid" (region features: four detected regions from extract-features --regions), "objects", "caption"
    visual_tokens: Annotated[str, one_of(*VISUAL_TOKENS)] = "kinds"
    # UMGF keeps four visual nodes per image
    max_visual_nodes: Annotated[int, at_least(1)] = 4
    # fusion layers (UMGF: 6), their width (512), attention heads (8) and feed-forward width (256)
    layers: Annotated[int, at_least(1)] = 6
    width: Annotated[int, at_least(1)] = 512
    heads: Annotated[int, at_least(1)] = 8
    ffn: Annotated[int, at_least(1)] = 256
    # UMGF's dropout, everywhere in its layers (none before the classifier)
    dropout: Annotated[float, between(0, 1, high_open=True)] = 0.4


def xavier_linear(inputs: int, outputs: int) -> nn.Linear:
    """A linear layer initialised as UMGF's ``Linear``: Xavier-uniform weights, zero bias."""
    layer = nn.Linear(inputs, outputs)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Attention(nn.Module):
    """Multi-head scaled dot-product attention with UMGF's options: ``values`` and ``output`` projections
    may be left out (its visual self-attention has neither). ``(B, N, d), (B, M, d), mask (B, M) -> (B, N, d)``."""

    def __init__(self, width: int, heads: int, dropout: float, values: bool = True, output: bool = True):
        super().__init__()
        if width % heads:
            raise ValueError(f"model.heads={heads} does not divide model.width={width}")
        self.heads = heads
        self.query, self.key = xavier_linear(width, width), xavier_linear(width, width)
        self.value = xavier_linear(width, width) if values else nn.Identity()
        self.output = xavier_linear(width, width) if output else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def _split(self, t: Tensor) -> Tensor:
        """``(B, N, d) -> (B, heads, N, d / heads)``."""
        return t.view(t.shape[0], t.shape[1], self.heads, t.shape[2] // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        batch, n, width = x.shape
        q, k, v = self._split(self.query(x)), self._split(self.key(memory)), self._split(self.value(memory))
        scores = q @ k.transpose(-1, -2) / math.sqrt(width // self.heads)  # (B, heads, N, M)
        scores = scores.masked_fill(~memory_mask[:, None, None, :], -1e9)
        mixed = self.dropout(scores.softmax(-1)) @ v
        return self.output(mixed.transpose(1, 2).reshape(batch, n, width))


class UMGFLayer(nn.Module):
    """One layer of UMGF's fusion, words ``(B, W, d)`` and visual nodes ``(B, K, d)`` in and out."""

    def __init__(self, width: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.word_attention = Attention(width, heads, dropout)
        self.visual_attention = Attention(width, heads, dropout, values=False, output=False)
        self.word_gate, self.visual_gate = xavier_linear(2 * width, width), xavier_linear(2 * width, width)
        self.word_ffn = nn.Sequential(xavier_linear(width, ffn), nn.ReLU(), xavier_linear(ffn, width))
        self.visual_ffn = nn.Sequential(xavier_linear(width, ffn), nn.ReLU(), xavier_linear(ffn, width))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(6))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, word_mask: Tensor, o: Tensor, visual_mask: Tensor) -> tuple[Tensor, Tensor]:
        norm, drop = self.norms, self.dropout
        x = norm[0](x + drop(self.word_attention(x, x, word_mask)))
        o = norm[1](o + drop(self.visual_attention(o, o, visual_mask)))
        # every (word, visual node) pair: (B, W, K, d); pairs with padding weigh nothing
        pairs = torch.cat(torch.broadcast_tensors(x[:, :, None], o[:, None]), dim=-1)
        linked = (word_mask[:, :, None] & visual_mask[:, None, :])[..., None].to(x.dtype)
        x2o = (torch.sigmoid(self.word_gate(pairs)) * linked * o[:, None]).sum(2)  # (B, W, d)
        o2x = (torch.sigmoid(self.visual_gate(pairs)) * linked * x[:, :, None]).sum(1)  # (B, K, d)
        x, o = norm[2](x + drop(x2o)), norm[3](o + drop(o2x))
        return norm[4](x + drop(self.word_ffn(x))), norm[5](o + drop(self.visual_ffn(o)))


@register("umgf")
class UMGF(VisualTagger):
    config_class = UMGFConfig

    def __init__(self, config: UMGFConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer, max_visual_tokens=config.max_visual_nodes,
                         project_grid=False)
        hidden, width = self.hidden_size, config.width
        self.text_map = nn.Linear(hidden, width)  # UMGF's trans_txt (a plain nn.Linear there)
        self.visual_fc = xavier_linear(self.visual.width, self.visual.width)  # the ResNet's new last layer
        self.visual_map = nn.Sequential(xavier_linear(self.visual.width, width), nn.ReLU(), nn.Dropout(config.dropout),
                                        xavier_linear(width, width), nn.ReLU(), nn.Dropout(config.dropout))
        self.layers = nn.ModuleList(UMGFLayer(width, config.heads, config.ffn, config.dropout)
                                    for _ in range(config.layers))
        self.classifier = nn.Linear(hidden + width, len(labels))  # hidden2tag over [e; x]

    def _fuse(self, words: Tensor, visual: Tensor, visual_mask: Tensor, word_mask: Tensor) -> Tensor:
        """``[e; x]`` ``(B, W, H + d)`` of word states ``(B, W, H)`` and visual nodes ``(B, K, D)``."""
        x = self.text_map(words)
        o = self.visual_map(self.visual_fc(visual))
        for layer in self.layers:
            x, o = layer(x, word_mask, o, visual_mask)
        return torch.cat([words, x], dim=-1)

    def text_states(self, batch: Batch) -> Tensor:
        """``(B, W, H + d)``: UMGF over the tweet's words alone (no visual node), the reference for a tweet
        without evidence."""
        words = super().text_states(batch)
        empty = words.new_zeros(len(batch), 0, self.visual.width)
        return self._fuse(words, empty, empty.new_zeros(len(batch), 0, dtype=torch.bool), batch.word_mask)

    def word_representations(self, batch: Batch) -> Tensor:
        words, visual, visual_mask = self.encode_with_visual(batch)  # (B, W, H), (B, <=4, D), (B, <=4)
        return self._fuse(words, visual, visual_mask, batch.word_mask)

    def emit(self, batch: Batch) -> TaggerOutput:
        return TaggerOutput(self.classifier(self.word_representations(batch)))
