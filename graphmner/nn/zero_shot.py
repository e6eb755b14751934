"""Zero-shot image types from captions: photo, screenshot, meme, ... (the types are in
:mod:`graphmner.evidence.image_types`).

The classifier embeds the caption with a sentence-embedding model (the bundled
MiniLM is one: all-MiniLM-L6-v2, mean pooling, unit length) and compares it with
the prototype captions of each type; a type's score is its best prototype's
cosine similarity. The scores feed the graphmner noise gate
(``model.noise_gate``) and the analysis notebooks.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from graphmner.evidence.image_types import IMAGE_TYPES, TYPE_NAMES
from graphmner.nn.sentence import SentenceEmbedder
from graphmner.paths import cache_root

log = logging.getLogger(__name__)


class ImageTypeClassifier:
    """Zero-shot image types from captions (or, with a CLIP-style model, from images).

    Args:
        encoder: a sentence-embedding model: alias (``minilm``), hub name or path.
        batch_size: captions per forward pass.
    """

    def __init__(self, encoder: str = "minilm", batch_size: int = 128, device: str = "cpu"):
        self.name = encoder
        self.embedder = SentenceEmbedder(encoder, batch_size, device, max_length=64)
        prototypes = [p for protos in IMAGE_TYPES.values() for p in protos]
        self.owner = torch.tensor([i for i, protos in enumerate(IMAGE_TYPES.values()) for _ in protos])
        self.prototypes = self.embed(prototypes)  # (P, H)

    def embed(self, texts: Sequence[str]) -> Tensor:
        """Unit-length sentence embeddings ``(N, H)``."""
        return self.embedder.embed(texts)

    def scores(self, captions: Sequence[str]) -> Tensor:
        """Per caption, each type's best prototype similarity ``(N, T)``, in [-1, 1]."""
        sims = self.embed(captions) @ self.prototypes.T  # (N, P)
        per_type = torch.full((len(captions), len(TYPE_NAMES)), -1.0)
        return per_type.scatter_reduce(1, self.owner.expand(len(captions), -1), sims, reduce="amax")


def caption_types(captions: dict[str, str], encoder: str = "minilm", cache_dir: str | Path | None = None
                  ) -> dict[str, list[float]]:
    """``{image_id: type scores}`` (order :data:`TYPE_NAMES`) for every non-empty caption, cached on disk.

    The cache (``cache_dir``, else ``$GRAPHMNER_CACHE``, else ``~/.cache/graphmner``) is keyed by the
    captions, the prototypes and the encoder, so a change to any of them recomputes.
    """
    ids = sorted(i for i, c in captions.items() if c)
    key = hashlib.sha1(json.dumps([encoder, IMAGE_TYPES, [(i, captions[i]) for i in ids]]).encode()).hexdigest()[:16]
    cache = cache_root(cache_dir) / f"image_types-{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    classifier = ImageTypeClassifier(encoder)
    values = classifier.scores([captions[i] for i in ids]).tolist()
    result = {i: [round(v, 4) for v in row] for i, row in zip(ids, values)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(cache)  # atomic: a concurrent run reads the old file or the whole new one
    log.info("image types of %d captions (%s) -> %s", len(ids), encoder, cache)
    return result


def with_type_scores(evidence: Sequence, encoder: str = "minilm", cache_dir: str | Path | None = None) -> list:
    """The evidence with ``type_scores`` filled in for every caption that has none yet."""
    todo = {e.image_id: e.caption for e in evidence if e.caption and e.type_scores is None}
    if not todo:
        return list(evidence)
    scores = caption_types(todo, encoder, cache_dir)
    return [dataclasses.replace(e, type_scores=tuple(scores[e.image_id])) if e.image_id in todo and e.caption
            else e for e in evidence]
