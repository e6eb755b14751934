"""UMT (Yu et al., ACL 2020): unified multimodal transformer, as its public code builds it
(github.com/jefferyYu/UMT, ``MTCCMBertForMMTokenClassificationCRF``), on the shared encoder, CRF and trainer.

    h = dropout(encoder word states)                              (B, W, H)
    S = SelfAttn_span(h)                 text-only transformer layer feeding the span head
    T = SelfAttn_main(h)                 text-only transformer layer feeding the main branch
    V1 = W_1 v,  V2 = W_2 v              two projections of the visual tokens v (B, R, D), one per direction
    P = CMT(T ← V1)                      image-aware word states: the words attend the image
    A = CMT(V2 ← T)                      word-aware visual states: the image attends the words
    Q = CMT(T ← A)                       the word states aligned to the word-aware visual states
    g = σ(W_g [Q; P] + b)                visual gate: how much of P each word takes
    typed = W_c [Q; g ⊙ P]               (B, W, T) from the 2H-wide concatenation
    span  = W_s S                        (B, W, 3) over untyped O / B / I, with a CRF of its own
    emissions = (1 - α) typed + α span C          α = span_mix (UMT: 0.5)
    loss = CRF(emissions) + β CRF_span(span)      β = span_loss_weight (UMT: 0.5)

``CMT`` is one post-norm transformer layer whose queries attend the other sequence, ``SelfAttn`` one BERT
layer; every layer is as wide as the encoder, with its heads (``heads``, default the encoder's) and
dropout (``dropout``), as UMT builds them from BERT's config. ``C`` ``(3, T)`` is UMT's conversion matrix:
O -> O with weight 1, B -> every B-X and I -> every I-X with weight 1/K for K entity types.

Visual tokens: UMT reads the 7 x 7 grid of ResNet-152 (``visual_tokens: grid`` with ``evidence:
[features]`` from ``graphmner extract-features --backbone resnet152``; ``D = feature_dim``, the two
projections map 2048 -> H). Offline, the nearest stand-in is the caption, or other text evidence, read
by the text encoder (``visual_tokens: caption``, ``D = H``): the image described in words, named as such
in every results table.

Where this differs from the public code, and why: the layers run over each word's first-piece state, not
over every piece (the shared CRF tags words, where UMT's tags pieces and labels the others X), and a
tweet without visual tokens gets P = Q = T (UMT's images are never missing: its loader substitutes a
blank image), which is also what :meth:`text_states` computes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import Tensor, nn

from graphmner.data.labels import LabelVocab
from graphmner.featurize import Batch
from graphmner.fields import at_least, between
from graphmner.models.base import TaggerOutput, register
from graphmner.models.visual_tagger import VisualTagger, VisualTaggerConfig
from graphmner.nn.crf import CRF
from graphmner.nn.fusion import CrossModalLayer

SPAN_TAGS = ["O", "B-SPAN", "I-SPAN"]


@dataclass
class UMTConfig(VisualTaggerConfig):
    # attention heads of UMT's own layers; None: the encoder's (UMT builds them from BERT's config)
    heads: Annotated[int, at_least(1)] | None = None
    # β: weight of the entity-span-detection loss (UMT: 0.5)
    span_loss_weight: Annotated[float, at_least(0)] = 0.5
    # α: share of the span head's converted scores in the typed emissions (UMT: 0.5)
    span_mix: Annotated[float, between(0, 1)] = 0.5


@dataclass
class UMTOutput(TaggerOutput):
    span_emissions: Tensor | None = None  # (B, W, 3) the span head's scores over O / B / I


def conversion_matrix(tags: list[str]) -> Tensor:
    """``(3, T)``: the span tag O / B / I -> the typed tags, O -> O with 1 and B (I) -> every B-X (I-X)
    with 1/K, K the number of entity types (UMT's ``trans_matrix``)."""
    types = {tag[2:] for tag in tags if tag != "O"}
    matrix = torch.zeros(len(SPAN_TAGS), len(tags))
    for j, tag in enumerate(tags):
        if tag == "O":
            matrix[0, j] = 1.0
        else:
            matrix[SPAN_TAGS.index(f"{tag[0]}-SPAN"), j] = 1.0 / len(types)
    return matrix


@register("umt")
class UMT(VisualTagger):
    config_class = UMTConfig

    def __init__(self, config: UMTConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer, project_grid=False)
        hidden, width = self.hidden_size, self.visual.width
        heads = config.heads or self.encoder.config.num_attention_heads
        if hidden % heads:
            raise ValueError(f"model.heads={heads} does not divide the encoder's width {hidden}")
        self.span_self = CrossModalLayer(hidden, heads, config.dropout)  # S
        self.main_self = CrossModalLayer(hidden, heads, config.dropout)  # T
        self.visual_for_text = nn.Linear(width, hidden)  # V1, read by the words (UMT's vismap2text)
        self.visual_for_image = nn.Linear(width, hidden)  # V2, which reads the words (vismap2text_v2)
        self.text_to_image = CrossModalLayer(hidden, heads, config.dropout)  # P
        self.image_to_text = CrossModalLayer(hidden, heads, config.dropout)  # A
        self.text_to_text = CrossModalLayer(hidden, heads, config.dropout)  # Q
        self.gate = nn.Linear(2 * hidden, hidden)
        self.add_emission_head(2 * hidden)  # UMT applies no dropout here: self.dropout is its input dropout
        self.span_classifier = nn.Linear(hidden, len(SPAN_TAGS))
        self.span_crf = CRF(SPAN_TAGS)
        # typed tag -> its untyped span tag (the span CRF's targets), and the conversion matrix
        span_of = [SPAN_TAGS.index("O" if tag == "O" else f"{tag[0]}-SPAN") for tag in labels.tags]
        self.register_buffer("span_of", torch.tensor(span_of), persistent=False)
        self.register_buffer("conversion", conversion_matrix(labels.tags), persistent=False)

    def _fuse(self, words: Tensor, visual: Tensor, visual_mask: Tensor, word_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``(span states S (B, W, H), fused states [Q; g ⊙ P] (B, W, 2H))`` of word states ``(B, W, H)`` and
        visual tokens ``(B, R, D)`` with their mask ``(B, R)``."""
        h = self.dropout(words)
        span_states = self.span_self(h, h, word_mask)
        t = self.main_self(h, h, word_mask)
        p = self.text_to_image(t, self.visual_for_text(visual), visual_mask)
        if visual.shape[1]:
            a = self.image_to_text(self.visual_for_image(visual), t, word_mask)
            q = self.text_to_text(t, a, visual_mask)
        else:  # no tweet of the batch has visual tokens
            q = t
        gate = torch.sigmoid(self.gate(torch.cat([q, p], dim=-1)))
        return span_states, torch.cat([q, gate * p], dim=-1)

    def _states(self, batch: Batch) -> tuple[Tensor, Tensor]:
        words, visual, mask = self.encode_with_visual(batch)
        return self._fuse(words, visual, mask, batch.word_mask)

    def text_states(self, batch: Batch) -> Tensor:
        """``(B, W, 2H)``: what UMT makes of the tweet's words alone (P = Q = T), the reference for a tweet
        without visual tokens."""
        words = super().text_states(batch)
        empty = words.new_zeros(len(batch), 0, self.visual.width)
        return self._fuse(words, empty, empty.new_zeros(len(batch), 0, dtype=torch.bool), batch.word_mask)[1]

    def word_representations(self, batch: Batch) -> Tensor:
        return self._states(batch)[1]

    def emit(self, batch: Batch) -> UMTOutput:
        span_states, fused = self._states(batch)
        span = self.span_classifier(span_states)  # (B, W, 3)
        mix = self.config.span_mix
        typed = (1 - mix) * self.classifier(fused) + mix * (span @ self.conversion)  # (B, W, T)
        return UMTOutput(typed, span_emissions=span)

    def loss(self, output: UMTOutput, batch: Batch) -> Tensor:
        """The typed CRF's loss plus ``span_loss_weight`` times the span CRF's, on the untyped tags."""
        loss = self.crf.loss(output.emissions.float(), batch.tags, batch.word_mask)
        span_tags = self.span_of[batch.tags]
        return loss + self.config.span_loss_weight * self.span_crf.loss(output.span_emissions.float(), span_tags,
                                                                        batch.word_mask)
