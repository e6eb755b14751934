"""The multimodal graph of one tweet: ``build_graph(tweet, evidence, cfg) -> HeteroData``.

Pure and fast (no model, no tensors beyond index lists): features are filled in
later from the encoder. Node types:

- ``word``: one node per tweet word (node ``i`` is word ``i``).
- ``object``: one node per :class:`~graphmner.vision.evidence.VisualObject`
  (caption concepts and detections). ``object.box`` ``(m, 4)`` holds the
  normalised box (zeros without one), ``object.has_box`` ``(m,)`` and
  ``object.score`` ``(m,)`` the detector confidence (1 for caption concepts).

Edge types (every edge type has its reverse, so information flows both ways):

- ``(word, next, word)``: word ``i`` <-> word ``i+1``; the tweet's order.
- ``(object, sees, word)`` / ``(word, seen_by, object)``: cross-modal edges.
  ``cross_edges="all"`` links every object to every word and lets attention
  weigh them; ``"match"`` keeps only string matches. ``edge_attr`` ``(E, 2)``
  marks an exact match (``chicago`` = ``Chicago``, ``#Bears`` = ``bears``)
  and a partial one (``bears`` in ``ChicagoBears``), which is how captions
  that read names off the image become explicit evidence for those words.
- ``(object, near, object)``: objects whose boxes overlap or whose centres are
  within ``near_distance``; caption concepts next to each other in the caption.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import HeteroData

from graphmner.data.conll import Tweet
from graphmner.vision.evidence import VisualEvidence

WORD, OBJECT = "word", "object"
NEXT = (WORD, "next", WORD)
SEES = (OBJECT, "sees", WORD)
SEEN_BY = (WORD, "seen_by", OBJECT)
NEAR = (OBJECT, "near", OBJECT)
EDGE_TYPES = (NEXT, SEES, SEEN_BY, NEAR)
MATCH_FEATURES = 2  # exact, partial

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass
class GraphConfig:
    # "all": every object-word pair (attention weighs them); "match": only string matches
    cross_edges: str = "all"
    # shortest string for a partial (substring) match
    min_partial: int = 4
    # boxes whose centres are closer than this (normalised units) are "near"
    near_distance: float = 0.3


def normalise(text: str) -> str:
    """Lower case, letters and digits only: ``#ChicagoBears`` -> ``chicagobears``."""
    return _NON_ALNUM.sub("", text.lower())


def _match(word: str, label: str, min_partial: int) -> tuple[float, float]:
    if not word or not label:
        return 0.0, 0.0
    if word == label:
        return 1.0, 0.0
    if (len(label) >= min_partial and label in word) or (len(word) >= min_partial and word in label):
        return 0.0, 1.0
    return 0.0, 0.0


def _near(a, b, distance: float) -> bool:
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    overlap = min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
    return overlap or ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 < distance


def _tensor(array: np.ndarray) -> torch.Tensor:
    # from_numpy is several times cheaper than torch.tensor on small lists: this runs per tweet
    return torch.from_numpy(np.ascontiguousarray(array))


def build_graph(tweet: Tweet, evidence: VisualEvidence | None, cfg: GraphConfig = GraphConfig()) -> HeteroData:
    """The graph of one tweet and its evidence (see the module docstring)."""
    if cfg.cross_edges not in ("all", "match"):
        raise ValueError(f"cross_edges must be 'all' or 'match', not {cfg.cross_edges!r}")
    n = len(tweet.tokens)
    objects = evidence.objects if evidence is not None else []
    m = len(objects)
    data = HeteroData()
    data[WORD].num_nodes = n
    obj = data[OBJECT]
    obj.num_nodes = m
    obj.box = _tensor(np.array([o.box_xyxyn or (0.0, 0.0, 0.0, 0.0) for o in objects], dtype=np.float32).reshape(m, 4))
    obj.has_box = _tensor(np.array([o.box_xyxyn is not None for o in objects], dtype=bool))
    obj.score = _tensor(np.array([o.score for o in objects], dtype=np.float32))

    left = np.arange(n - 1, dtype=np.int64)
    data[NEXT].edge_index = _tensor(np.stack([np.concatenate([left, left + 1]), np.concatenate([left + 1, left])]))

    words = [normalise(t) for t in tweet.tokens]
    labels = [normalise(o.label) for o in objects]
    features = np.array([_match(w, lab, cfg.min_partial) for lab in labels for w in words],
                        dtype=np.float32).reshape(m * n, MATCH_FEATURES)
    src, dst = np.repeat(np.arange(m, dtype=np.int64), n), np.tile(np.arange(n, dtype=np.int64), m)
    if cfg.cross_edges == "match":
        keep = features.any(axis=1)
        src, dst, features = src[keep], dst[keep], features[keep]
    sees, seen_by = data[SEES], data[SEEN_BY]
    sees.edge_index, sees.edge_attr = _tensor(np.stack([src, dst])), _tensor(features)
    seen_by.edge_index, seen_by.edge_attr = _tensor(np.stack([dst, src])), _tensor(features.copy())

    near = []
    for a in range(m):
        for b in range(a + 1, m):
            oa, ob = objects[a], objects[b]
            if oa.box_xyxyn is not None and ob.box_xyxyn is not None:
                linked = _near(oa.box_xyxyn, ob.box_xyxyn, cfg.near_distance)
            else:  # caption concepts: neighbours in the caption
                linked = oa.source == ob.source == "caption" and b == a + 1
            if linked:
                near += [(a, b), (b, a)]
    data[NEAR].edge_index = _tensor(np.array(near, dtype=np.int64).reshape(-1, 2).T)
    return data
