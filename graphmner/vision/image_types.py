"""What kind of image a tweet has, zero-shot from its caption: photo, screenshot, meme, ...

Many tweet images say nothing about the tweet's entities: cartoons, memes,
screenshots of text, stock pictures. The classifier embeds the caption with a
sentence-embedding model (the bundled MiniLM is one: all-MiniLM-L6-v2, mean
pooling, unit length) and compares it with a few prototype captions per type;
a type's score is its best prototype's cosine similarity. The scores feed the
graphmner noise gate (``model.noise_gate``) and the analysis notebooks.

Types and prototypes are written as BLIP-2 writes captions ("a cartoon of a man
with a hat"), not as labels, because that is what the embeddings compare with.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

log = logging.getLogger(__name__)

# type -> prototype captions; "photo" types are the ones whose content can name an entity
IMAGE_TYPES: dict[str, tuple[str, ...]] = {
    "photo of people": ("a man in a suit speaking at a podium", "a group of people posing for a photo",
                        "a woman smiling at the camera", "a football player running on the field",
                        "a singer performing on stage"),
    "photo of a place": ("a city street with tall buildings", "a view of the ocean at sunset",
                         "a stadium full of fans", "a crowd of people at a rally in a square",
                         "a building with a flag on top"),
    "photo of a thing": ("a plate of food on a table", "a car parked on the side of the road",
                         "a dog sitting on the grass", "a pair of shoes on the floor", "a bottle of beer"),
    "screenshot or text": ("a screenshot of a tweet", "a text message on a phone screen",
                           "a sign that says welcome", "a page of a newspaper article", "a quote on a black background"),
    "cartoon or meme": ("a cartoon of a man with a hat", "a meme with a funny face", "a drawing of a character",
                        "an animated character from a movie", "a comic strip"),
    "poster or logo": ("a poster for a concert", "the logo of a company", "a flyer for an event",
                       "an advertisement for a product", "a book cover"),
}
TYPE_NAMES: tuple[str, ...] = tuple(IMAGE_TYPES)


def _mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """Sentence-transformers' pooling: the mean of the token states, unit length. ``(B, L, H) -> (B, H)``."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


class ImageTypeClassifier:
    """Zero-shot image types from captions (or, with a CLIP-style model, from images).

    Args:
        encoder: a sentence-embedding model: alias (``minilm``), hub name or path.
        batch_size: captions per forward pass.
    """

    def __init__(self, encoder: str = "minilm", batch_size: int = 128, device: str = "cpu"):
        from graphmner.nn.encoders import load_encoder, load_tokenizer

        self.name, self.batch_size, self.device = encoder, batch_size, device
        self.tokenizer = load_tokenizer(encoder)
        self.model = load_encoder(encoder).to(device).eval()
        prototypes = [p for protos in IMAGE_TYPES.values() for p in protos]
        self.owner = torch.tensor([i for i, protos in enumerate(IMAGE_TYPES.values()) for _ in protos])
        self.prototypes = self.embed(prototypes)  # (P, H)

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> Tensor:
        """Unit-length sentence embeddings ``(N, H)``."""
        out = []
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                 max_length=64, return_tensors="pt").to(self.device)
            out.append(_mean_pool(self.model(**enc).last_hidden_state, enc["attention_mask"]).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.prototypes.shape[1])

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
    cache = Path(cache_dir or os.environ.get("GRAPHMNER_CACHE") or Path.home() / ".cache" / "graphmner")
    cache = cache / f"image_types-{key}.json"
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


def image_type(scores: Sequence[float]) -> str:
    """The name of the best-scoring type."""
    return TYPE_NAMES[max(range(len(scores)), key=scores.__getitem__)]


def with_type_scores(evidence: Sequence, encoder: str = "minilm", cache_dir: str | Path | None = None) -> list:
    """The evidence with ``type_scores`` filled in for every caption that has none yet."""
    import dataclasses

    todo = {e.image_id: e.caption for e in evidence if e.caption and e.type_scores is None}
    if not todo:
        return list(evidence)
    scores = caption_types(todo, encoder, cache_dir)
    return [dataclasses.replace(e, type_scores=tuple(scores[e.image_id])) if e.image_id in todo and e.caption
            else e for e in evidence]
