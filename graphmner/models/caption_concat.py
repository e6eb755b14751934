"""caption_concat: the evidence-as-text baseline (ITA / PGIM style).

The tweet's evidence as text is appended to every encoder window as a second
segment, ``[CLS] tweet words [SEP] evidence [SEP]``: the caption and detection
labels, then each text source selected (``--evidence knowledge`` is PGIM's own
method, ``[CLS] tweet [SEP] knowledge [SEP]``). The words' states (now
conditioned on the evidence by self-attention) go through the same emission
layer and CRF as ``bert_crf``; tags are on the tweet's words only. No fusion
layers. A tweet without evidence gets exactly the rows of ``bert_crf``. The
segment gets what the tweet's window leaves of ``max_length`` (at least half):
long knowledge needs a longer ``model.max_length`` to be read whole.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from graphmner.evidence.visual import EvidenceSources, VisualEvidence, evidence_words
from graphmner.featurize import Featurizer
from graphmner.models.base import TaggerConfig, register
from graphmner.models.bert_crf import BertCRF


@dataclass
class CaptionConcatConfig(TaggerConfig):
    # evidence whose words form the second segment: the caption (and detection labels, if selected), then the
    # text sources (knowledge, descriptions, knowledge_gmner) in the order given
    evidence: EvidenceSources = field(default_factory=lambda: ["captions"])


class SecondSegmentFeaturizer(Featurizer):
    """Every row of a tweet gets its evidence's words (caption, detection labels, texts) as a second segment."""

    needs_evidence = True

    def second_segments(self, evidence: Sequence[VisualEvidence]) -> list[list[str]]:
        return [evidence_words(e, with_texts=True)[0] for e in evidence]


@register("caption_concat")
class CaptionConcat(BertCRF):
    config_class = CaptionConcatConfig

    @property
    def needs_evidence(self) -> bool:
        return True  # the featurizer reads a (possibly empty) caption per tweet

    def featurizer(self) -> Featurizer:
        return SecondSegmentFeaturizer(self.tokenizer, self.labels, self.config.max_length)
