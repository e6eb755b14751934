"""What the attention baselines (mm_concat, umt, umgf) share: visual tokens beside the text states.

A :class:`VisualTagger` reads ``model.visual_tokens`` (caption / objects / grid,
see :mod:`graphmner.nn.visual`); each model file only says how the tokens are fused.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from graphmner.data.collate import Batch, Featurizer
from graphmner.data.labels import LabelVocab
from graphmner.models.base import Tagger, TaggerConfig
from graphmner.nn.encoders import encode_rows
from graphmner.nn.visual import VisualTokens


@dataclass
class VisualTaggerConfig(TaggerConfig):
    # visual evidence sources: captions (offline), detections, features (graphmner extract-features)
    evidence: list[str] = field(default_factory=lambda: ["captions"])
    # "caption" (evidence text through the encoder, offline), "objects", or "grid" (evidence must include features)
    visual_tokens: str = "caption"
    # width of cached region features (grid tokens): 2048 for resnet152, 768 for vit_b_16
    feature_dim: int = 2048


class VisualTagger(Tagger):
    """A tagger whose featurizer records visual tokens and whose forward reads them (not registered)."""

    def __init__(self, config: VisualTaggerConfig, labels: LabelVocab, encoder: nn.Module | None = None,
                 tokenizer=None, max_visual_tokens: int | None = None):
        super().__init__(config, labels, encoder, tokenizer)
        self.visual = VisualTokens(config.visual_tokens, self.hidden_size, config.feature_dim, max_visual_tokens)

    @property
    def needs_evidence(self) -> bool:
        return True  # every tweet gets (possibly empty) evidence

    def featurizer(self) -> Featurizer:
        return Featurizer(self.tokenizer, self.labels, self.config.max_length, visual_tokens=self.config.visual_tokens)

    def encode_with_visual(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Word states ``(B, W, H)``, visual tokens ``(B, R, H)`` and their mask ``(B, R)``."""
        hidden = encode_rows(self.encoder, batch.input_ids, batch.attention_mask, batch.token_type_ids)
        tokens, mask = self.visual(batch, hidden)
        return hidden[batch.word_row, batch.word_pos], tokens, mask
