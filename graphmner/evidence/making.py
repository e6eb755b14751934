"""Evidence for new tweets, made the way the training evidence was made (``graphmner predict``,
:class:`~graphmner.predictor.Predictor`).

Training writes ``model/evidence.json``: the evidence sources and where each came from (the
caption file; the detection cache and its detector settings; the feature cache and its
backbone). For new tweets, :class:`EvidenceMaker` takes a caption given by the user or made by a
captioner (a caption training treated as a placeholder is no caption here either), objects from a
detection cache or else from the same detector, features from a feature cache or else from the same
backbone. What cannot be made stays empty, is counted, and
the model tags that tweet from its text (as it does for tweets without images in training).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import (
    TEXT_SOURCES,
    EvidenceReport,
    EvidenceSources,
    VisualEvidence,
    VisualObject,
    collect_evidence,
)
from graphmner.fields import at_least, between, problem_of
from graphmner.vision.captions import Captioner
from graphmner.vision.detector import Detector, detection_meta, to_detections
from graphmner.vision.features import FeatureExtractor, FeatureReport, ImageFeatures, features_of, read_features
from graphmner.vision.images import UnreadableImageError, open_image

log = logging.getLogger(__name__)

EVIDENCE_FILE = "evidence.json"


def evidence_record(sources: Sequence[str], caption_file: str | Path | None = None,
                    detections: str | Path | None = None, features: str | Path | None = None,
                    placeholder_min: int = 0, placeholders: Sequence[str] = ()) -> dict[str, Any]:
    """What ``model/evidence.json`` holds for a model trained on these evidence sources.

    ``placeholders``: the caption texts training treated as no caption (shared by ``placeholder_min`` or
    more images); a new tweet given one of them gets no caption either.
    """
    record: dict[str, Any] = {"sources": list(sources)}
    if "captions" in sources:
        record["captions"] = {"file": str(caption_file) if caption_file else None,
                              "placeholder_min": placeholder_min, "placeholders": list(placeholders)}
    if "detections" in sources and detections:
        record["detections"] = {"cache": str(detections), **detection_meta(detections)}
    if "features" in sources and features:
        record["features"] = {"cache": str(features), **read_features(features).meta}
    return record


def save_evidence_record(model_dir: str | Path, record: dict[str, Any]) -> None:
    (Path(model_dir) / EVIDENCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


# what each part of a record holds (a part may be absent); any other key is kept, unread
RECORD_SHAPE: dict[str, Any] = {"sources": EvidenceSources,
                                "shuffled_in_training": bool, "captions": dict[str, Any],
                                "detections": dict[str, Any], "features": dict[str, Any]}
PART_SHAPES: dict[str, dict[str, Any]] = {
    "captions": {"file": str | None, "placeholder_min": Annotated[int, at_least(0)], "placeholders": list[str]},
    "detections": {"cache": str, "weights": str, "conf": Annotated[float, between(0, 1)],
                   "max_det": Annotated[int, at_least(1)], "imgsz": Annotated[int, at_least(1)]},
    "features": {"cache": str, "backbone": str, "weights": str, "dim": Annotated[int, at_least(1)]},
}


def load_evidence_record(model_dir: str | Path) -> dict[str, Any]:
    """The record, or ``{}`` for a model saved without one (trained before it existed, or text-only).

    Raises:
        ValueError: the file is not JSON, or a part has the wrong shape (naming the file and the key).
    """
    path = Path(model_dir) / EVIDENCE_FILE
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a JSON evidence record ({err})") from None
    if not isinstance(record, dict) or "sources" not in record:
        raise ValueError(f"{path}: not an evidence record (a JSON object with 'sources')")
    for key, shape in RECORD_SHAPE.items():
        if key not in record:
            continue
        where, problem = key, problem_of(record[key], shape)
        for inner, inner_shape in PART_SHAPES.get(key, {}).items() if problem is None else ():
            if inner in record[key]:
                where, problem = f"{key}.{inner}", problem_of(record[key][inner], inner_shape)
                if problem is not None:
                    break
        if problem is not None:
            raise ValueError(f"{path}: '{where}' {problem}")
    return record


@dataclass
class EvidenceMaker:
    """Evidence for new tweets from what the user gives and what the model's record says.

    Detector, feature backbone and captioner load only when an image needs them.
    """

    sources: list[str]
    record: dict[str, Any] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)  # image id -> caption, given
    captioner: str | None = None  # name or path of an image captioner for images without a caption
    detections: dict[str, list[VisualObject]] = field(default_factory=dict)  # a detection cache, loaded
    detector_weights: str | None = None  # instead of the record's detector
    features: ImageFeatures | None = None  # a feature cache, loaded
    device: str = "cpu"
    unreadable: dict[str, str] = field(default_factory=dict)  # image id -> why it could not be used (filled)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # text source -> image id -> text, given

    def __call__(self, tweets: Sequence[Tweet], images: dict[str, Path]
                 ) -> tuple[list[VisualEvidence], EvidenceReport]:
        """One evidence per tweet; ``images`` maps image ids to files (tweets without one get none made)."""
        ids = [t.image_id or t.id for t in tweets]
        todo = {i: images[i] for i in ids if i in images}
        captions = dict(self.captions)
        if "captions" in self.sources and self.captioner:
            need = [i for i in todo if not captions.get(i)]
            if need:
                captions.update(self._caption({i: todo[i] for i in need}))
        detections = dict(self.detections)
        if "detections" in self.sources:
            need = [i for i in todo if i not in detections]
            if need:
                detections.update(self._detect({i: todo[i] for i in need}))
        features = self.features
        if "features" in self.sources:
            need = [i for i in todo if features is None or features.get(i) is None]
            if need:
                features = _merge_features(features, self._extract([todo[i] for i in need]))
        if features is None:  # no cache, no image: nothing to look up, every tweet counts as without features
            features = _FirstFound([])
        placeholders = self.record.get("captions", {}).get("placeholders", [])
        # text evidence cannot be made from an image: a tweet gets what was given, else none (counted)
        texts = {s: self.texts.get(s, {}) for s in self.sources if s in TEXT_SOURCES}
        return collect_evidence(tweets, self.sources, captions=captions, detections=detections, features=features,
                                placeholders=placeholders, texts=texts)

    def _images(self, paths: dict[str, Path], chunk: int = 16):
        """``(ids, PIL images)`` a chunk at a time; an unreadable image is left out and recorded."""
        ids, images = [], []
        for image_id, path in paths.items():
            try:
                images.append(open_image(path))
                ids.append(image_id)
            except UnreadableImageError as err:
                self.unreadable[image_id] = err.reason
            if len(images) == chunk:
                yield ids, images
                ids, images = [], []
        if images:
            yield ids, images

    def _caption(self, paths: dict[str, Path]) -> dict[str, str]:
        captioner, out = Captioner(self.captioner, self.device), {}
        for ids, images in self._images(paths):
            out.update(zip(ids, captioner(images)))
        return out

    def _detect(self, paths: dict[str, Path]) -> dict[str, list[VisualObject]]:
        meta = self.record.get("detections", {})
        weights = self.detector_weights or meta.get("weights")
        if not weights:
            raise ValueError("this model was trained with detections but its record names no detector; "
                             "pass --detector WEIGHTS (the weights graphmner detect used) or --detections CACHE")
        detector, out = Detector(weights, conf=meta.get("conf", 0.25), max_det=meta.get("max_det", 20),
                                 device=self.device, imgsz=meta.get("imgsz", 640)), {}
        for ids, images in self._images(paths):
            out.update({i: [VisualObject.detected(d) for d in to_detections(found)]
                        for i, found in zip(ids, detector.detect(images))})
        return out

    def _extract(self, paths: list[Path]):
        meta = self.record.get("features", {})
        if not meta.get("backbone"):
            raise ValueError("this model was trained with image features but its record names no backbone; "
                             "pass --features CACHE (from graphmner extract-features)")
        if meta.get("weights") == "random":
            raise ValueError(f"this model's features came from a randomly initialised {meta['backbone']}; a new "
                             "random backbone gives unrelated features. Pass --features CACHE holding the image.")
        if meta.get("grid") == "detected regions":  # the backbone's own grid would be read as regions
            raise ValueError("this model's image features are detected regions (graphmner extract-features "
                             "--regions); pass --features CACHE holding the image's regions")
        extractor, report = FeatureExtractor(meta["backbone"], meta["weights"]), FeatureReport(images=len(paths))
        features = features_of(paths, extractor, device=self.device, report=report)
        self.unreadable.update(report.unreadable)
        return features


@dataclass
class _FirstFound:
    """Feature lookups tried in order (newly extracted images, then the cache)."""

    lookups: list

    def get(self, image_id: str):
        for lookup in self.lookups:
            found = lookup.get(image_id)
            if found is not None:
                return found
        return None


def _merge_features(cache, new):
    return new if cache is None else _FirstFound([new, cache])
