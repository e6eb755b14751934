"""caption_concat: the image-to-text baseline (ITA / PGIM style).

The image's caption is appended to every encoder window as a second segment,
``[CLS] tweet words [SEP] caption [SEP]``; the words' states (now conditioned
on the caption by self-attention) go through the same emission layer and CRF
as ``bert_crf``. No fusion layers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from graphmner.data.collate import Featurizer
from graphmner.models.base import TaggerConfig, register
from graphmner.models.bert_crf import BertCRF
from graphmner.vision.evidence import VisualEvidence, evidence_words


@dataclass
class CaptionConcatConfig(TaggerConfig):
    # evidence whose words form the second segment: the caption (and detection labels, if selected)
    evidence: list[str] = field(default_factory=lambda: ["captions"])


def _segment(evidence: VisualEvidence) -> list[str]:
    return evidence_words(evidence)[0]


@register("caption_concat")
class CaptionConcat(BertCRF):
    config_class = CaptionConcatConfig

    @property
    def needs_evidence(self) -> bool:
        return True  # the featurizer reads a (possibly empty) caption per tweet

    def featurizer(self) -> Featurizer:
        return Featurizer(self.tokenizer, self.labels, self.config.max_length, second_segment=_segment)
