"""BERT-CRF: the text-only baseline. Encoder -> dropout -> linear -> CRF."""
from __future__ import annotations

from torch import nn

from graphmner.data.labels import LabelVocab
from graphmner.models.base import Tagger, TaggerConfig, register


@register("bert_crf")
class BertCRF(Tagger):
    """Emissions from the first-subword state of each word; decoding by the shared CRF."""

    config_class = TaggerConfig

    def __init__(self, config: TaggerConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer)
        self.add_emission_head()
