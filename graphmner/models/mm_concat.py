"""mm_concat: the BasicModel / MMNerModel family (BERT + CRF + one image vector).

A pooled visual vector joined to every word:

    words ──encoder──▶ h (B, W, H)        visual tokens (caption / objects / grid) ──▶ mean ──▶ v (B, H)
    join="concat":  h' = h + W [h; v]                       (MMNerModel: BERT + CRF + one image vector)
    join="gate":    h' = h + σ(W_g [h; v]) ⊙ W_v v          (a learned per-dimension gate)
    h' ──▶ dropout ──▶ linear ──▶ CRF

Written as a residual on the text states so that a tweet without visual tokens
gets exactly the text path (h' = h).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import Tensor, nn

from graphmner.data.labels import LabelVocab
from graphmner.featurize import Batch
from graphmner.fields import one_of
from graphmner.models.base import register
from graphmner.models.visual_tagger import VisualTagger, VisualTaggerConfig


@dataclass
class MMConcatConfig(VisualTaggerConfig):
    # "concat" (MMNerModel) or "gate"
    join: Annotated[str, one_of("concat", "gate")] = "concat"


@register("mm_concat")
class MMConcat(VisualTagger):
    config_class = MMConcatConfig

    def __init__(self, config: MMConcatConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer)
        hidden = self.hidden_size
        if config.join == "concat":
            self.join = nn.Linear(2 * hidden, hidden)
        elif config.join == "gate":
            self.gate, self.value = nn.Linear(2 * hidden, hidden), nn.Linear(hidden, hidden)
        else:
            raise ValueError(f"unknown join {config.join!r}; known: concat, gate")
        self.add_emission_head()

    def word_representations(self, batch: Batch) -> Tensor:
        words, tokens, mask = self.encode_with_visual(batch)  # (B, W, H), (B, R, H), (B, R)
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
