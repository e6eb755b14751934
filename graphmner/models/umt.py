"""UMT (Yu et al., ACL 2020): unified multimodal transformer, on the shared encoder, CRF and trainer.

    h (B, W, H) text states                       V (B, R, H) visual tokens (caption / objects / grid)
    P = CMT(h ← V)        image-aware word states   (cross-modal transformer: words attend the image)
    A = CMT(V ← h)        word-aware visual states  (the image attends the words)
    Q = CMT(P ← A)        the visual side, aligned to each word
    g = σ(W_p P + W_q Q)  visual gate: how much of Q each word takes (UMT's answer to irrelevant images)
    h' = P + g ⊙ Q  ──▶ dropout ──▶ linear ──▶ typed emissions
                                                 + C · span emissions ──▶ CRF (typed BIO)
    entity span detection (ESD): h ──▶ linear ──▶ span emissions ──▶ its own CRF over untyped O / B / I

The auxiliary ESD head reads the text states and is trained on the untyped
tags (loss weight ``span_loss_weight``); its emissions are added to every typed
tag of the same kind through the fixed conversion matrix ``C`` (B -> every B-X,
I -> every I-X, O -> O), so span evidence constrains the typed decision, as
UMT's conversion matrix does. A tweet without visual tokens gets h' = h: the
text path of BERT-CRF (plus the span head, which only reads text).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import Tensor, nn

from graphmner.data.labels import LabelVocab
from graphmner.featurize import Batch
from graphmner.fields import at_least
from graphmner.models.base import TaggerOutput, register
from graphmner.models.visual_tagger import VisualTagger, VisualTaggerConfig
from graphmner.nn.crf import CRF
from graphmner.nn.fusion import CrossModalLayer

SPAN_TAGS = ["O", "B-SPAN", "I-SPAN"]


@dataclass
class UMTConfig(VisualTaggerConfig):
    # attention heads of the cross-modal transformer layers (must divide the encoder width)
    heads: Annotated[int, at_least(1)] = 8
    # weight of the entity-span-detection loss
    span_loss_weight: Annotated[float, at_least(0)] = 0.5


@dataclass
class UMTOutput(TaggerOutput):
    span_emissions: Tensor | None = None  # (B, W, 3) the span head's scores over O / B / I


@register("umt")
class UMT(VisualTagger):
    config_class = UMTConfig

    def __init__(self, config: UMTConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer)
        hidden = self.hidden_size
        self.text_to_image = CrossModalLayer(hidden, config.heads, config.dropout)  # P
        self.image_to_text = CrossModalLayer(hidden, config.heads, config.dropout)  # A
        self.align = CrossModalLayer(hidden, config.heads, config.dropout)  # Q
        self.gate_p, self.gate_q = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden, bias=False)
        self.add_emission_head()
        self.span_classifier = nn.Linear(hidden, len(SPAN_TAGS))
        self.span_crf = CRF(SPAN_TAGS)
        # typed tag -> its untyped span tag, as a (3, T) conversion matrix and a lookup
        span_of = [SPAN_TAGS.index("O" if tag == "O" else f"{tag[0]}-SPAN") for tag in labels.tags]
        self.register_buffer("span_of", torch.tensor(span_of), persistent=False)
        self.register_buffer("conversion", nn.functional.one_hot(self.span_of, len(SPAN_TAGS)).T.float(),
                             persistent=False)

    def _states(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """``(text states h, fused states h')``, both ``(B, W, H)``."""
        words, tokens, mask = self.encode_with_visual(batch)
        present = mask.any(dim=1)
        if not bool(present.any()):
            return words, words
        p = self.text_to_image(words, tokens, mask)
        a = self.image_to_text(tokens, words, batch.word_mask)
        q = self.align(p, a, mask)
        gate = torch.sigmoid(self.gate_p(p) + self.gate_q(q))
        return words, torch.where(present[:, None, None], p + gate * q, words)

    def word_representations(self, batch: Batch) -> Tensor:
        return self._states(batch)[1]

    def emit(self, batch: Batch) -> UMTOutput:
        words, fused = self._states(batch)
        span = self.span_classifier(self.dropout(words))  # (B, W, 3)
        typed = self.classifier(self.dropout(fused)) + span @ self.conversion  # (B, W, T)
        return UMTOutput(typed, span_emissions=span)

    def loss(self, output: UMTOutput, batch: Batch) -> Tensor:
        """The typed CRF's loss plus ``span_loss_weight`` times the span CRF's, on the untyped tags."""
        loss = self.crf.loss(output.emissions.float(), batch.tags, batch.word_mask)
        span_tags = self.span_of[batch.tags]
        return loss + self.config.span_loss_weight * self.span_crf.loss(output.span_emissions.float(), span_tags,
                                                                        batch.word_mask)
