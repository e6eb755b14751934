"""caption_concat: the image-to-text baseline (ITA / PGIM style).

The image's caption is appended to every encoder window as a second segment,
``[CLS] tweet words [SEP] caption [SEP]``; the words' states (now conditioned
on the caption by self-attention) go through the same emission layer and CRF
as ``bert_crf``. No fusion layers. A tweet without a caption gets exactly the
rows of ``bert_crf``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from graphmner.evidence.visual import VisualEvidence, evidence_words
from graphmner.featurize import Featurizer
from graphmner.models.base import TaggerConfig, register
from graphmner.models.bert_crf import BertCRF


@dataclass
class CaptionConcatConfig(TaggerConfig):
    # evidence whose words form the second segment: the caption (and detection labels, if selected)
    evidence: list[str] = field(default_factory=lambda: ["captions"])


class SecondSegmentFeaturizer(Featurizer):
    """Every row of a tweet gets its evidence's words (caption, then detection labels) as a second segment."""

    needs_evidence = True

    def second_segments(self, evidence: Sequence[VisualEvidence]) -> list[list[str]]:
        return [evidence_words(e)[0] for e in evidence]


@register("caption_concat")
class CaptionConcat(BertCRF):
    config_class = CaptionConcatConfig

    @property
    def needs_evidence(self) -> bool:
        return True  # the featurizer reads a (possibly empty) caption per tweet

    def featurizer(self) -> Featurizer:
        return SecondSegmentFeaturizer(self.tokenizer, self.labels, self.config.max_length)
