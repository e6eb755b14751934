"""Tag new tweets with a saved model: the one path that the CLI, the notebooks and Python users share.

    >>> from graphmner.predictor import Predictor
    >>> predictor = Predictor.from_pretrained("runs/x/model")
    >>> predictor("Bears win in Chicago", caption="a man holding a chicago bears jersey")
    {"tokens": [...], "tags": [...], "entities": [{"text": ..., "type": ..., "start": ..., "end": ...}, ...]}

A multimodal model gets the evidence it was trained with, made the way its training
evidence was made (``model/evidence.json``, see :mod:`graphmner.evidence.making`):
a caption given or made by a captioner, objects from a detection cache or the same
detector, features from a feature cache or the same backbone, and knowledge as given
(written for new tweets by ``graphmner knowledge``, :mod:`graphmner.knowledge_writer`).
What cannot be made stays empty, is counted and logged, and that tweet is tagged from
its text.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from graphmner.data.conll import Tweet
from graphmner.data.labels import tags_to_spans
from graphmner.data.tokenize import tokenize_tweet
from graphmner.evidence.making import EvidenceMaker, load_evidence_record
from graphmner.evidence.visual import VisualEvidence, VisualObject
from graphmner.models.base import Tagger
from graphmner.training.trainer import predict, resolve_device
from graphmner.vision.detector import read_detections
from graphmner.vision.features import read_features

log = logging.getLogger(__name__)


class Predictor:
    """A saved model and what it needs to tag new tweets.

    Args:
        model: a tagger (e.g. from :meth:`Tagger.from_pretrained`), already on ``device``.
        evidence_record: how its training evidence was made (``model/evidence.json``; ``{}`` for none).
        device: where the model runs.
        detections: a detection cache (path) to look images up in before running a detector.
        features: a feature cache (path) to look images up in before running a backbone.
        captioner: an image captioner (hub name or path) for images without a caption.
        detector: detector weights, instead of those the evidence record names.
        batch_size: tweets per forward pass.
    """

    def __init__(self, model: Tagger, evidence_record: dict[str, Any] | None = None,
                 device: torch.device | str = "cpu", detections: str | Path | None = None,
                 features: str | Path | None = None, captioner: str | None = None, detector: str | None = None,
                 batch_size: int = 64):
        self.model, self.record, self.device = model, evidence_record or {}, torch.device(device)
        found = read_detections(detections)[0] if detections else {}
        self.detections = {i: [VisualObject.detected(d) for d in ds] for i, ds in found.items()}
        self.features = read_features(features) if features else None
        self.captioner, self.detector, self.batch_size = captioner, detector, batch_size

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, device: str = "auto", **kwargs) -> Predictor:
        """Load a model folder written by training (``DIR/model``) onto ``device`` (``auto``: a GPU if any)."""
        target = resolve_device(device)
        model = Tagger.from_pretrained(model_dir).to(target)
        return cls(model, load_evidence_record(model_dir), target, **kwargs)

    def evidence(self, tweets: Sequence[Tweet], images: dict[str, Path] | None = None,
                 captions: dict[str, str] | None = None, texts: dict[str, dict[str, str]] | None = None
                 ) -> list[VisualEvidence] | None:
        """The evidence the model was trained with, for these tweets (None for a text-only model);
        what could not be made is logged. ``texts``: text source -> image id -> text (``{"knowledge": ...}``)."""
        images, captions, texts = images or {}, captions or {}, {s: t for s, t in (texts or {}).items() if t}
        if not self.model.needs_evidence:
            if images or captions or texts:
                log.warning("images, captions or knowledge given but unused: this %s model was trained without "
                            "evidence", self.model.name)
            return None
        sources = self.model.evidence_sources
        if captions and "captions" not in sources:
            log.warning("captions given but unused: this %s model was trained with evidence %s", self.model.name,
                        sources)
        for source in sorted(set(texts) - set(sources)):
            log.warning("%s given but unused: this %s model was trained with evidence %s", source, self.model.name,
                        sources)
        maker = EvidenceMaker(sources, self.record, captions, self.captioner, self.detections, self.detector,
                              self.features, str(self.device), texts=texts)
        evidence, report = maker(tweets, images)
        log.info("evidence (%s): %s", ", ".join(sources), report.as_dict())
        for source, n in report.with_text.items():
            if n < report.tweets:
                hint = (" (give it with --knowledge / --knowledge-file; graphmner knowledge writes it)"
                        if source == "knowledge" else " (predict takes only knowledge for new tweets)")
                if getattr(self.model.config, "text_evidence_dropout", None) == 0:
                    # the knowledge-evidence study: such a model tags a tweet without it far below text-only
                    hint += (f"; this model learned to rely on {source} (trained with model.text_evidence_dropout=0) "
                             f"and tags such tweets poorly: text evidence dropout in training teaches it to do without")
                log.warning("%d of %d tweets have no %s: tagged without it%s", report.tweets - n, report.tweets,
                            source, hint)
        if maker.unreadable:
            first = "; ".join(f"{i}: {why}" for i, why in list(maker.unreadable.items())[:3])
            log.warning("%d image(s) could not be read and gave no evidence (%s)", len(maker.unreadable), first)
        if report.empty:
            hint = ""
            if "captions" in sources and not captions and not self.captioner:
                hint = " (the model uses captions: give them (--caption/--captions), or a captioner (--captioner) " \
                       "to caption the images)"
            log.warning("%d of %d tweets have no visual evidence: tagged from their text alone%s", report.empty,
                        report.tweets, hint)
        return evidence

    def tag(self, tweets: Sequence[Tweet], images: dict[str, Path] | None = None,
            captions: dict[str, str] | None = None, desc: str = "predict",
            knowledge: dict[str, str] | None = None) -> list[list[str]]:
        """IOB2 tags for every word of every tweet. ``images`` maps image ids to files, ``captions`` and
        ``knowledge`` image ids to captions and knowledge texts. Gold tags, if the tweets have any, are never
        read."""
        for path in (images or {}).values():
            if not Path(path).is_file():
                raise FileNotFoundError(f"image not found: {path}")  # a path the user typed: a mistake, not data
        untagged = [dataclasses.replace(t, tags=None) for t in tweets]
        evidence = self.evidence(untagged, images, captions, {"knowledge": knowledge or {}})
        examples = self.model.featurizer()(untagged, evidence)
        return predict(self.model, examples, batch_size=self.batch_size, device=self.device, desc=desc)

    def __call__(self, text: str, image: str | Path | None = None, caption: str | None = None,
                 knowledge: str | None = None) -> dict[str, Any]:
        """One tweet's text (tokenised as the Twitter corpora are) -> ``{"tokens", "tags", "entities"}``;
        ``knowledge``: its knowledge text, for models trained with ``--evidence knowledge``."""
        tokens = tokenize_tweet(text)
        if not tokens:
            return {"tokens": [], "tags": [], "entities": []}
        image_id = Path(image).stem if image else "text"
        tweet = Tweet(id=image_id, tokens=tokens, image_id=image_id)
        tags = self.tag([tweet], {image_id: Path(image)} if image else {}, {image_id: caption} if caption else {},
                        knowledge={image_id: knowledge} if knowledge else {})[0]
        entities = [{"text": " ".join(tokens[s.start:s.end]), "type": s.type, "start": s.start, "end": s.end}
                    for s in tags_to_spans(tags)]
        return {"tokens": tokens, "tags": tags, "entities": entities}
