"""Visual evidence: what is known about a tweet's image, from any source, as one type.

Sources (combinable):

- ``captions``: a caption file (``<id>.jpg :<text>``, e.g. the bundled BLIP-2
  captions) gives the caption text and *caption concepts*: its content words
  ("a man holding a chicago bears jersey" -> man, holding, chicago, bears,
  jersey), each a :class:`VisualObject` with no box and ``source="caption"``.
- ``detections``: a detection cache written by ``graphmner detect`` gives
  labelled boxes (``source="detector"``).
- ``features``: a feature cache written by ``graphmner extract-features`` gives
  the image's region grid ``(R, D)`` (``VisualEvidence.grid``), the visual
  tokens of models run with ``visual_tokens=grid``.
- ``knowledge``, ``descriptions``, ``knowledge_gmner``: text that names and
  explains what the tweet and its image are about (PGIM's LLM knowledge,
  mPLUG-Owl image descriptions, RiVEG's LLM knowledge; see
  :mod:`graphmner.data.text_evidence`), one text per image id, kept whole in
  ``VisualEvidence.texts``: the concat and attention baselines read it as words,
  graphmner parses it into nodes (:mod:`graphmner.graph.evidence_text`).

A tweet whose image has no entry in any selected source gets empty evidence;
these are counted in :class:`EvidenceReport`, never filled in with something
else. A placeholder caption (one text given to many images, see
:func:`~graphmner.vision.captions.placeholder_captions`) is no caption: the tweet
is counted in ``placeholder_caption`` and gets no caption evidence.
"""
from __future__ import annotations

import logging
import random
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from graphmner.data.conll import Tweet
from graphmner.data.datasets import Dataset
from graphmner.data.text_evidence import TEXT_EVIDENCE_FILES, TextEvidenceReport, read_text_evidence
from graphmner.fields import one_of
from graphmner.vision.captions import PLACEHOLDER_MIN_IMAGES, placeholder_captions, read_captions
from graphmner.vision.detector import Detection, read_detections
from graphmner.vision.features import ImageFeatures, read_features
from graphmner.vision.sources import SourceReport

log = logging.getLogger(__name__)

TEXT_SOURCES: tuple[str, ...] = tuple(TEXT_EVIDENCE_FILES)  # knowledge, descriptions, knowledge_gmner
EVIDENCE_SOURCES: tuple[str, ...] = ("captions", "detections", "features", *TEXT_SOURCES)
# the type of a model config's ``evidence`` field: a list of sources, each checked by graphmner.fields
EvidenceSources = list[Annotated[str, one_of(*EVIDENCE_SOURCES)]]

# function words of English captions; what remains are the concepts a captioner saw
STOPWORDS = frozenset("""
a an the of in on at to for with from by and or is are was were be been being it its this that these those
there their his her him she he they them we us our you your i me my some any two three four several many
while into onto over under near next up down out off as has have had do does did not no very s
""".split())

_WORD = re.compile(r"[a-z0-9]+")  # "nba's" -> "nba", "s" (a stopword below)

# What kind of entity a caption concept (or detector label) hints at, so that the graph can say
# "the image shows a person / a place / a team / some text" explicitly rather than leaving it to the
# encoder. A small hand-made lexicon over the most frequent BLIP-2 caption words of both datasets;
# index 0 ("other") is everything else.
CONCEPT_KINDS = ("other", "person", "place", "organisation", "text")
_KIND_WORDS = {
    "person": """man men woman women people person persons player players crowd boy boys girl girls child
        children kid kids baby guy guys lady ladies couple family fan fans singer singers actor actress president
        officer officers soldier soldiers athlete athletes audience student students friends gentleman priest pope
        king queen prince princess doctor rapper musician musicians dancer dancers wrestler boxer coach speaker
        bride groom selfie portrait face beard politician senator celebrity model""",
    "place": """city street building buildings beach field stadium arena court road park mountain mountains river
        lake ocean sea church house skyline bridge town village island map country airport station downtown
        harbor tower castle forest desert coast restaurant hotel campus square flag flags state""",
    "organisation": """team teams logo jersey jerseys uniform uniforms band league company brand club nba nfl nhl
        mlb fifa government army store shop""",
    "text": """sign signs text words says poster posters screenshot quote quotes message tweet twitter cover magazine
        book newspaper headline advertisement ad banner letter letters menu card ticket screen tv television""",
}
_KIND_OF = {w: CONCEPT_KINDS.index(kind) for kind, words in _KIND_WORDS.items() for w in words.split()}


@lru_cache(maxsize=1 << 14)
def concept_kind(label: str) -> int:
    """Index into :data:`CONCEPT_KINDS` of a concept or detector label (``"stop sign"`` -> text)."""
    words = _WORD.findall(label.lower())
    if not words:
        return 0
    head = words[-1]  # the head noun of a multi-word label
    return _KIND_OF.get(head, _KIND_OF.get(head[:-1], 0) if head.endswith("s") else 0)


@dataclass(frozen=True)
class VisualObject:
    """One thing seen in the image."""

    label: str  # "person", "chicago", ...
    box_xyxyn: tuple[float, float, float, float] | None  # normalised (x1, y1, x2, y2), None if not localised
    score: float  # detector confidence; 1.0 for caption concepts
    source: str  # "caption" | "detector"

    @classmethod
    def detected(cls, detection: Detection) -> VisualObject:
        """A detector's object (from a detection cache or :class:`~graphmner.vision.detector.Detector`)."""
        return cls(detection.label, detection.box_xyxyn, detection.score, "detector")


@dataclass
class VisualEvidence:
    """Everything known about one image; empty when nothing is."""

    image_id: str
    objects: list[VisualObject] = field(default_factory=list)
    caption: str | None = None
    image_path: Path | None = None
    grid: Any = None  # (R, D) float tensor of region features, from a feature cache
    # how much the caption reads like each image type (graphmner.evidence.image_types.TYPE_NAMES order);
    # filled in by the featurizer of a model that reads it (graphmner with noise_gate)
    type_scores: tuple[float, ...] | None = None
    # text sources (knowledge, descriptions, knowledge_gmner) -> the text they give this tweet, in the
    # order the sources were selected; a source with nothing for this tweet is absent
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.objects and not self.caption and self.grid is None and not self.texts


def parse_sources(text: str) -> list[str]:
    """``"captions,detections"`` -> ``["captions", "detections"]``; ``"none"`` or ``""`` -> ``[]``."""
    return [s.strip() for s in text.split(",") if s.strip() and s.strip() != "none"]


def caption_concepts(caption: str, max_concepts: int = 16) -> list[VisualObject]:
    """Content words of a caption, in order, without repeats."""
    seen: list[str] = []
    for word in _WORD.findall(caption.lower()):
        if word not in STOPWORDS and word not in seen:
            seen.append(word)
    return [VisualObject(w, None, 1.0, "caption") for w in seen[:max_concepts]]


def evidence_words(evidence: VisualEvidence, with_texts: bool = False) -> tuple[list[str], list[int]]:
    """The evidence as words for the text encoder, and each object's word index.

    The caption's words come first (so caption concepts are encoded in
    context), then one word per detection label not already in the caption,
    then (``with_texts``) the words of each text source as written: case and
    punctuation are the tokenizer's business.
    """
    words = _WORD.findall(evidence.caption.lower()) if evidence.caption else []
    index: list[int] = []
    for obj in evidence.objects:
        label = obj.label.lower()
        if obj.source == "caption" and label in words:
            index.append(words.index(label))
        else:
            index.append(len(words))
            words.append(label)
    if with_texts:
        for text in evidence.texts.values():
            words.extend(text.split())
    return words, index


@dataclass
class EvidenceReport:
    """How many tweets got evidence from each source, and how many got none."""

    tweets: int = 0
    with_caption: int = 0
    with_detections: int = 0
    with_features: int = 0
    empty: int = 0
    unreadable_image: int = 0  # tweets whose image the detector / backbone could not read
    with_image_file: int = 0  # tweets whose <image_id>.jpg is in the dataset's image folder
    placeholder_caption: int = 0  # tweets whose caption is a placeholder (treated as no caption)
    missing_examples: list[str] = field(default_factory=list)  # first few image ids with no evidence
    with_text: dict[str, int] = field(default_factory=dict)  # text source -> tweets with a non-empty text

    def as_dict(self) -> dict[str, int]:
        return {"tweets": self.tweets, "with_caption": self.with_caption,
                "with_detections": self.with_detections, "with_features": self.with_features,
                **{f"with_{source}": n for source, n in self.with_text.items()}, "empty": self.empty,
                "unreadable_image": self.unreadable_image, "with_image_file": self.with_image_file,
                "placeholder_caption": self.placeholder_caption}


def collect_evidence(tweets: Sequence[Tweet], sources: Iterable[str], captions: dict[str, str] | None = None,
                     detections: dict[str, list[VisualObject]] | None = None, image_dir: Path | None = None,
                     max_concepts: int = 16, features: ImageFeatures | None = None, unreadable: Iterable[str] = (),
                     placeholders: Collection[str] = (), texts: dict[str, dict[str, str]] | None = None,
                     ) -> tuple[list[VisualEvidence], EvidenceReport]:
    """One :class:`VisualEvidence` per tweet (in order), and the counts.

    Args:
        sources: any of :data:`EVIDENCE_SOURCES`.
        captions: ``{image_id: caption}`` (needed for ``captions``).
        detections: ``{image_id: objects}`` (needed for ``detections``).
        features: an :class:`~graphmner.vision.features.ImageFeatures` cache, or anything with its ``get``
            (needed for ``features``).
        image_dir: where ``<image_id>.jpg`` would be; recorded when the file exists.
        unreadable: image ids a detection or feature cache records as unreadable (counted).
        placeholders: caption texts that describe no image (a tweet with one gets no caption; counted).
        texts: ``{text source: {image_id: text}}`` (needed for each text source selected).
    """
    order = list(dict.fromkeys(sources))
    sources, unreadable, placeholders = set(order), set(unreadable), set(placeholders)
    unknown = sources - set(EVIDENCE_SOURCES)
    if unknown:
        raise ValueError(f"unknown evidence source(s) {sorted(unknown)}; known: {', '.join(EVIDENCE_SOURCES)}")
    text_sources = [s for s in order if s in TEXT_SOURCES]
    texts = texts or {}
    for source in text_sources:
        if source not in texts:
            raise ValueError(f"evidence source {source!r} needs its text file ({TEXT_EVIDENCE_FILES[source]})")
    if "captions" in sources and captions is None:
        raise ValueError("evidence source 'captions' needs a caption file (the dataset has none)")
    if "detections" in sources and detections is None:
        raise ValueError("evidence source 'detections' needs a detection cache (graphmner detect)")
    if "features" in sources and features is None:
        raise ValueError("evidence source 'features' needs a feature cache (graphmner extract-features)")
    report, out = EvidenceReport(tweets=len(tweets), with_text=dict.fromkeys(text_sources, 0)), []
    for tweet in tweets:
        image_id = tweet.image_id or tweet.id
        evidence = VisualEvidence(image_id)
        if image_dir is not None and (image_dir / f"{image_id}.jpg").is_file():
            evidence.image_path = image_dir / f"{image_id}.jpg"
            report.with_image_file += 1
        if "captions" in sources and captions.get(image_id) in placeholders:
            report.placeholder_caption += 1
        elif "captions" in sources and captions.get(image_id):
            evidence.caption = captions[image_id]
            evidence.objects.extend(caption_concepts(evidence.caption, max_concepts))
            report.with_caption += 1
        if "detections" in sources and detections.get(image_id):
            evidence.objects.extend(detections[image_id])
            report.with_detections += 1
        if "features" in sources:
            found = features.get(image_id)
            if found is not None:
                evidence.grid = found[1]
                report.with_features += 1
        for source in text_sources:
            text = texts[source].get(image_id)
            if text and text.strip():
                evidence.texts[source] = text
                report.with_text[source] += 1
        report.unreadable_image += image_id in unreadable
        if evidence.is_empty:
            report.empty += 1
            if len(report.missing_examples) < 5:
                report.missing_examples.append(image_id)
        out.append(evidence)
    return out, report


def shuffle_evidence(evidence: Sequence[VisualEvidence], seed: int) -> list[VisualEvidence]:
    """The control: every tweet gets another tweet's evidence (a derangement when possible).

    Same distribution of evidence, wrong image: a model that gains from the
    right evidence should not gain from this.
    """
    n = len(evidence)
    order = list(range(n))
    rng = random.Random(seed)
    rng.shuffle(order)
    if n > 1:  # rotate the shuffled order by one: nobody keeps their own evidence
        order = {order[i]: order[(i + 1) % n] for i in range(n)}
        return [evidence[order[i]] for i in range(n)]
    return list(evidence)


def dataset_evidence(data: Dataset, sources: Sequence[str], shuffle_seed: int | None = None,
                     caption_file: str | Path | None = None, detections: str | Path | None = None,
                     max_concepts: int = 16, features: str | Path | None = None,
                     source_reports: list[SourceReport] | None = None,
                     placeholder_min: int = PLACEHOLDER_MIN_IMAGES,
                     ) -> tuple[dict[str, list[VisualEvidence]], dict[str, EvidenceReport]]:
    """Evidence for every split of a :class:`~graphmner.data.datasets.Dataset`.

    Args:
        sources: evidence sources (:data:`EVIDENCE_SOURCES`; text sources are read from the dataset's folder);
            none gives every tweet empty evidence.
        shuffle_seed: given, each split's evidence is shuffled across tweets (the control).
        caption_file: instead of the dataset's own caption file.
        detections: the cache written by ``graphmner detect`` (needed for ``detections``).
        features: the cache written by ``graphmner extract-features`` (needed for ``features``).
        source_reports: filled with one :class:`SourceReport` per evidence file read.
        placeholder_min: a caption text shared by this many images of the caption file is a placeholder,
            no evidence (0: none is).
    """
    reports_out = source_reports if source_reports is not None else []
    image_ids = {t.image_id or t.id for tweets in data.splits.values() for t in tweets}
    unreadable: set[str] = set()
    captions, placeholders = None, {}
    if "captions" in sources:
        path = Path(caption_file) if caption_file else data.caption_file
        if path is None:
            raise FileNotFoundError(f"evidence 'captions' needs a caption file; {data.root} has none")
        reports_out.append(SourceReport("captions", str(path)))
        captions = read_captions(path, reports_out[-1])
        reports_out[-1].without_tweet = len(captions.keys() - image_ids)
        placeholders = placeholder_captions(captions, placeholder_min)
        reports_out[-1].placeholder_texts = list(placeholders)
        reports_out[-1].placeholder = sum(placeholders.values())
    objects = None
    if "detections" in sources:
        if detections is None:
            raise FileNotFoundError("evidence 'detections' needs a detection cache: run graphmner detect, then "
                                    "pass data.detections=FILE")
        reports_out.append(SourceReport("detections", str(detections)))
        found, errors = read_detections(detections, reports_out[-1])
        objects = {i: [VisualObject.detected(d) for d in ds] for i, ds in found.items()}
        reports_out[-1].without_tweet = len((found.keys() | errors.keys()) - image_ids)
        unreadable |= errors.keys()
    grids = None
    if "features" in sources:
        if features is None:
            raise FileNotFoundError("evidence 'features' needs a feature cache: run graphmner extract-features, then "
                                    "pass data.features=FILE")
        grids = read_features(features)
        reports_out.append(SourceReport("features", str(features), entries=len(grids.index),
                                        unreadable=len(grids.errors),
                                        without_tweet=len((grids.index.keys() | grids.errors.keys()) - image_ids)))
        unreadable |= grids.errors.keys()
    texts: dict[str, dict[str, str]] = {}
    for source in (s for s in sources if s in TEXT_SOURCES):
        path = data.root / TEXT_EVIDENCE_FILES[source]  # the bundled corpora have them; so may a --data-dir
        if not path.is_file():
            raise FileNotFoundError(f"evidence {source!r} needs {path.name} in {path.parent} (the bundled corpora "
                                    f"have it: data_prep/bundle_text_evidence.py makes it)")
        file_report = TextEvidenceReport(str(path))
        texts[source] = read_text_evidence(path, file_report)
        reports_out.append(SourceReport(source, str(path), entries=file_report.entries,
                                        duplicates=file_report.duplicates, empty=file_report.empty,
                                        without_tweet=len(texts[source].keys() - image_ids)))
    for report in reports_out:
        log.info("%s", report.summary())
    out, reports = {}, {}
    for split, tweets in data.splits.items():
        evidence, reports[split] = collect_evidence(tweets, sources, captions, objects, data.image_dir, max_concepts,
                                                    grids, unreadable, placeholders, texts)
        out[split] = shuffle_evidence(evidence, shuffle_seed) if shuffle_seed is not None else evidence
    return out, reports
