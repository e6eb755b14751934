"""mm_concat: the seed's BasicModel / MMNerModel family. A pooled visual vector joined to every word.

    words ──encoder──▶ h (B, W, H)        visual tokens (caption / objects / grid) ──▶ mean ──▶ v (B, H)
    join="concat":  h' = h + W [h; v]                       (MMNerModel: BERT + CRF + one image vector)
    join="gate":    h' = h + σ(W_g [h; v]) ⊙ W_v v          (a learned per-dimension gate)
    h' ──▶ dropout ──▶ linear ──▶ CRF

Written as a residual on the text states so that a tweet without visual tokens
gets exactly the text path (h' = h).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from graphmner.data.collate import Batch, Featurizer
from graphmner.data.labels import LabelVocab
from graphmner.models.base import Tagger, TaggerConfig, register
from graphmner.nn.encoders import encode_rows
from graphmner.nn.visual import VisualTokens


@dataclass
class MMConcatConfig(TaggerConfig):
    # visual evidence sources: captions (offline), detections, features (graphmner extract-features)
    evidence: list[str] = field(default_factory=lambda: ["captions"])
    # what is pooled: "caption" (evidence text through the encoder), "objects", or "grid" (needs features)
    visual_tokens: str = "caption"
    # width of cached region features (grid tokens): 2048 for resnet152, 768 for vit_b_16
    feature_dim: int = 2048
    # "concat" (MMNerModel) or "gate"
    join: str = "concat"


@register("mm_concat")
class MMConcat(Tagger):
    config_class = MMConcatConfig

    def __init__(self, config: MMConcatConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer)
        hidden = self.hidden_size
        self.visual = VisualTokens(config.visual_tokens, hidden, config.feature_dim)
        if config.join == "concat":
            self.join = nn.Linear(2 * hidden, hidden)
        elif config.join == "gate":
            self.gate, self.value = nn.Linear(2 * hidden, hidden), nn.Linear(hidden, hidden)
        else:
            raise ValueError(f"unknown join {config.join!r}; known: concat, gate")
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(hidden, len(labels))

    @property
    def needs_evidence(self) -> bool:
        return True

    def featurizer(self) -> Featurizer:
        return Featurizer(self.tokenizer, self.labels, self.config.max_length, visual_tokens=self.config.visual_tokens)

    def word_representations(self, batch: Batch) -> Tensor:
        hidden = encode_rows(self.encoder, batch.input_ids, batch.attention_mask, batch.token_type_ids)
        words = hidden[batch.word_row, batch.word_pos]  # (B, W, H)
        tokens, mask = self.visual(batch, hidden)  # (B, R, H), (B, R)
        present = mask.any(dim=1)  # (B,)
        if not bool(present.any()):
            return words
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (B, H)
        v = pooled.unsqueeze(1).expand_as(words)
        joined = torch.cat([words, v], dim=-1)
        if self.config.join == "concat":
            delta = self.join(joined)
        else:
            delta = torch.sigmoid(self.gate(joined)) * self.value(v)
        return torch.where(present[:, None, None], words + delta, words)

    def emissions(self, batch: Batch) -> Tensor:
        return self.classifier(self.dropout(self.word_representations(batch)))
