"""The multimodal graph of one tweet: ``build_graph(tweet, evidence, cfg) -> HeteroData``.

Pure and fast (no model; thousands of tweets/s on one core, measured by
experiments/bench_graphs.py): node features are filled in later from the
encoder. Node types:

- ``word``: one node per tweet word (node ``i`` is word ``i``).
- ``object``: one node per :class:`~graphmner.evidence.visual.VisualObject`
  (caption concepts and detections). ``object.box`` ``(m, 4)`` holds the
  normalised box (zeros without one), ``object.has_box`` ``(m,)``,
  ``object.score`` ``(m,)`` the detector confidence (1 for caption concepts) and
  ``object.kind`` ``(m,)`` the entity kind the concept hints at (index into
  :data:`~graphmner.evidence.visual.CONCEPT_KINDS`: other, person, place,
  organisation, text), which models may embed.

Graph-level and word attributes (read by the optional parts of graphmner):

- ``quality`` ``(1, Q)``: what the evidence is like, for the noise gate: the
  caption's image-type scores (:data:`~graphmner.evidence.image_types.TYPE_NAMES`,
  zeros when unknown), the number of objects / 16 (at most 1), the mean
  detector confidence (0 without detections), has-caption, has-type-scores.
- ``word.match`` ``(n,)``: how strongly a word matches some evidence by string:
  1 exact, 0.5 partial, 0 none (the image-word bias).

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

With ``GraphConfig.knowledge`` (a :class:`~graphmner.graph.knowledge.Gazetteer`)
the graph also has ``knowledge`` nodes, one per gazetteer match of a word n-gram,
``knowledge.kind`` ``(k,)`` its kind (country, place, first name, last name), and
``(knowledge, names, word)`` / ``(word, named_by, knowledge)`` edges between a
match and each word it covers. Without it these types are absent altogether.

With ``GraphConfig.text_nodes``, text evidence that names things (LLM knowledge,
image descriptions: ``VisualEvidence.texts``, parsed by
:func:`~graphmner.graph.evidence_text.parse_evidence_text`) adds, per text source
in the order selected:

- ``candidate``: one node per entity the text lists ("Citifield (stadium/venue)"),
  ``candidate.kind`` ``(c,)`` the coarse kind its type hint names (index into
  :data:`~graphmner.graph.evidence_text.CANDIDATE_KINDS`: other, person, location,
  organisation, miscellaneous), ``candidate.source`` ``(c,)`` its text source
  (index into :data:`~graphmner.evidence.visual.TEXT_SOURCES`);
- ``sentence``: one node per sentence of the reasoning or description,
  ``sentence.source`` ``(s,)``;
- ``(candidate, mentions, word)`` / ``(word, mentioned_by, candidate)``: only the words
  a candidate names, ``edge_attr`` ``(E, 2)`` exact (its letters spell a run of tweet
  words: "NewYorkMets" = "New York Mets" = "#NewYorkMets") or partial (one of its
  words is the tweet word: "Kawhi Leonard" - "Leonard");
- ``(sentence, mentions, word)`` / ``(word, mentioned_by, sentence)``: the content
  words of the tweet that a sentence contains;
- ``(sentence, about, candidate)`` / ``(candidate, in, sentence)``: the candidates a
  sentence names;
- ``(sentence, next, sentence)``: consecutive sentences of one text, both ways.

Node features of these types (``x``: an embedding of each node's text, see
:func:`text_node_texts`) are filled in by the model's featurizer; a tweet without
text evidence has zero nodes of them. ``text_nodes=("candidates",)`` or
``("sentences",)`` keeps one half (the entity list alone, the reasoning alone).
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from graphmner.data.conll import Tweet
from graphmner.evidence.image_types import TYPE_NAMES
from graphmner.evidence.visual import TEXT_SOURCES, VisualEvidence, concept_kind
from graphmner.graph.evidence_text import (
    MENTION_FEATURES,
    Candidate,
    TweetWords,
    candidate_mentions,
    parse_evidence_text,
    sentence_mentions,
)

WORD, OBJECT = "word", "object"
NEXT = (WORD, "next", WORD)
SEES = (OBJECT, "sees", WORD)
SEEN_BY = (WORD, "seen_by", OBJECT)
NEAR = (OBJECT, "near", OBJECT)
EDGE_TYPES = (NEXT, SEES, SEEN_BY, NEAR)
KNOWLEDGE = "knowledge"
NAMES = (KNOWLEDGE, "names", WORD)
NAMED_BY = (WORD, "named_by", KNOWLEDGE)
KNOWLEDGE_EDGE_TYPES = (NAMES, NAMED_BY)
CANDIDATE, SENTENCE = "candidate", "sentence"
CANDIDATE_MENTIONS = (CANDIDATE, "mentions", WORD)
MENTIONED_BY_CANDIDATE = (WORD, "mentioned_by", CANDIDATE)
SENTENCE_MENTIONS = (SENTENCE, "mentions", WORD)
MENTIONED_BY_SENTENCE = (WORD, "mentioned_by", SENTENCE)
ABOUT = (SENTENCE, "about", CANDIDATE)
IN_SENTENCE = (CANDIDATE, "in", SENTENCE)
SENTENCE_NEXT = (SENTENCE, "next", SENTENCE)
TEXT_EDGE_TYPES = (CANDIDATE_MENTIONS, MENTIONED_BY_CANDIDATE, SENTENCE_MENTIONS, MENTIONED_BY_SENTENCE, ABOUT,
                   IN_SENTENCE, SENTENCE_NEXT)
TEXT_NODES = ("candidates", "sentences")
MATCH_FEATURES = 2  # exact, partial
QUALITY_FEATURES = len(TYPE_NAMES) + 4  # type scores, objects, detector confidence, has caption, has types

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

EdgeType = tuple[str, str, str]


def graph_metadata(knowledge: bool = False, text_nodes: bool = False
                   ) -> tuple[tuple[str, ...], tuple[EdgeType, ...], dict[EdgeType, int]]:
    """The schema of the graphs :func:`build_graph` makes, for layers that take it as an argument
    (as PyG's ``HeteroData.metadata()``): node types, edge types, and the width of each edge type's
    ``edge_attr`` (edge types without one are absent). ``text_nodes``: the graph has candidate and sentence
    nodes (whichever half ``GraphConfig.text_nodes`` keeps, the schema has both types)."""
    node_types = (WORD, OBJECT) + ((KNOWLEDGE,) if knowledge else ()) + ((CANDIDATE, SENTENCE) if text_nodes else ())
    edge_types = EDGE_TYPES + (KNOWLEDGE_EDGE_TYPES if knowledge else ()) + (TEXT_EDGE_TYPES if text_nodes else ())
    dims = {SEES: MATCH_FEATURES, SEEN_BY: MATCH_FEATURES}
    if text_nodes:
        dims.update({CANDIDATE_MENTIONS: MENTION_FEATURES, MENTIONED_BY_CANDIDATE: MENTION_FEATURES})
    return node_types, edge_types, dims


@dataclass
class GraphConfig:
    # "all": every object-word pair (attention weighs them); "match": only string matches
    cross_edges: str = "all"
    # shortest string for a partial (substring) match
    min_partial: int = 4
    # boxes whose centres are closer than this (normalised units) are "near"
    near_distance: float = 0.3
    # a Gazetteer: add knowledge nodes for its matches (None: no knowledge nodes)
    knowledge: Any = None
    # which nodes text evidence gives: "candidates" (the entity list), "sentences" (reasoning, descriptions);
    # empty: no candidate and sentence types at all (models that read no text evidence)
    text_nodes: tuple[str, ...] = ()


_DEFAULT_CONFIG = GraphConfig()


@lru_cache(maxsize=1 << 16)  # tweets repeat their words ("RT", "the", "@user"): normalise each once
def normalise(text: str) -> str:
    """Lower case, letters and digits only: ``#ChicagoBears`` -> ``chicagobears``."""
    return _NON_ALNUM.sub("", text.lower())


def match_features(words: list[str], labels: list[str], min_partial: int) -> np.ndarray:
    """``(len(labels), len(words), 2)`` exact / partial string matches of normalised strings."""
    features = np.zeros((len(labels), len(words), MATCH_FEATURES), dtype=np.float32)
    positions: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        positions.setdefault(word, []).append(i)
    # a partial match (one string strictly inside the other) always involves a word of min_partial or more
    long_words = [(i, w) for i, w in enumerate(words) if len(w) >= min_partial]
    for j, label in enumerate(labels):
        if not label:
            continue
        for i in positions.get(label, ()):
            features[j, i, 0] = 1.0
        long_label = len(label) >= min_partial
        for i, word in long_words:
            if word != label and ((long_label and label in word) or word in label):
                features[j, i, 1] = 1.0
    return features


@lru_cache(maxsize=512)
def _chain(n: int) -> torch.Tensor:
    """``(2, 2(n-1))`` node i <-> i+1, both directions (cached; callers clone)."""
    left = torch.arange(max(n - 1, 0))
    return torch.stack([torch.cat([left, left + 1]), torch.cat([left + 1, left])])


@lru_cache(maxsize=4096)
def _all_pairs(m: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (object, word) pair as ``(2, m*n)`` object->word and word->object index (cached; callers clone)."""
    src, dst = torch.arange(m).repeat_interleave(n), torch.arange(n).repeat(m)
    return torch.stack([src, dst]), torch.stack([dst, src])


def near_pairs(objects, distance: float) -> np.ndarray:
    """``(2, E)`` object pairs (both directions): boxes that overlap or have close centres;
    caption concepts that follow each other in the caption."""
    m = len(objects)
    if m < 2:
        return np.empty((2, 0), dtype=np.int64)
    if all(o.source == "caption" and o.box_xyxyn is None for o in objects):  # the common offline case
        return _chain(m).numpy().copy()
    boxed = np.array([o.box_xyxyn is not None for o in objects])
    caption = np.array([o.source == "caption" for o in objects])
    linked = np.zeros((m, m), dtype=bool)
    if boxed.sum() > 1:
        b = np.array([o.box_xyxyn if o.box_xyxyn is not None else (0.0, 0.0, 0.0, 0.0) for o in objects],
                     dtype=np.float32)
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        close = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :]) < distance
        overlap = ((np.minimum(b[:, None, 2], b[None, :, 2]) > np.maximum(b[:, None, 0], b[None, :, 0]))
                   & (np.minimum(b[:, None, 3], b[None, :, 3]) > np.maximum(b[:, None, 1], b[None, :, 1])))
        linked |= (close | overlap) & boxed[:, None] & boxed[None, :]
    chain = caption[:-1] & caption[1:] & ~(boxed[:-1] & boxed[1:])
    idx = np.flatnonzero(chain)
    linked[idx, idx + 1] = True
    linked[idx + 1, idx] = True
    np.fill_diagonal(linked, False)
    return np.stack(np.nonzero(linked)).astype(np.int64)


def _tensor(array: np.ndarray) -> torch.Tensor:
    # from_numpy is several times cheaper than torch.tensor on small lists: this runs per tweet
    return torch.from_numpy(np.ascontiguousarray(array))


def _fill(storage, **values) -> None:
    # A fresh storage has no cached views to invalidate: writing its mapping directly skips PyG's
    # per-attribute bookkeeping, which is most of the cost of building a small HeteroData.
    storage._mapping.update(values)


@lru_cache(maxsize=8)
def _template(knowledge: bool, text_nodes: bool) -> HeteroData:
    """An empty graph with every store of the schema (never filled: :func:`_new_graph` copies it)."""
    data = HeteroData()
    node_types, edge_types, _ = graph_metadata(knowledge, text_nodes)
    for key in (*node_types, *edge_types):
        data[key]  # creates the store
    return data


def _new_graph(knowledge: bool, text_nodes: bool) -> tuple[HeteroData, dict]:
    """A graph with the schema's stores, and ``{node or edge type: its store}``. The stores are made the
    way ``copy.copy`` of the template makes them, less its generic dispatch: creating each store through
    ``HeteroData.__getitem__`` would be a third of building a whole graph, copying it a fifth."""
    template = _template(knowledge, text_nodes)
    data = HeteroData.__new__(HeteroData)
    data.__dict__.update(template.__dict__)
    parent = weakref.ref(data)

    def fresh(storage):
        out = storage.__class__.__new__(storage.__class__)
        out.__dict__.update(storage.__dict__, _mapping={}, _parent=parent)
        return out

    data.__dict__["_global_store"] = fresh(template._global_store)
    stores = {}
    for name in ("_node_store_dict", "_edge_store_dict"):
        data.__dict__[name] = {key: fresh(storage) for key, storage in getattr(template, name).items()}
        stores.update(data.__dict__[name])
    return data, stores


def build_graph(tweet: Tweet, evidence: VisualEvidence | None, cfg: GraphConfig | None = None) -> HeteroData:
    """The graph of one tweet and its evidence (see the module docstring); ``cfg`` defaults to :class:`GraphConfig`."""
    cfg = cfg or _DEFAULT_CONFIG
    if cfg.cross_edges not in ("all", "match"):
        raise ValueError(f"cross_edges must be 'all' or 'match', not {cfg.cross_edges!r}")
    if set(cfg.text_nodes) - set(TEXT_NODES):
        raise ValueError(f"text_nodes must be among {TEXT_NODES}, not {cfg.text_nodes!r}")
    n = len(tweet.tokens)
    objects = evidence.objects if evidence is not None else []
    m = len(objects)
    data, store = _new_graph(cfg.knowledge is not None, bool(cfg.text_nodes))
    _fill(store[WORD], num_nodes=n)
    if all(o.box_xyxyn is None for o in objects):  # caption concepts only: the common offline case
        box, has_box = torch.zeros(m, 4), torch.zeros(m, dtype=torch.bool)
    else:
        box = _tensor(np.array([o.box_xyxyn or (0.0, 0.0, 0.0, 0.0) for o in objects], dtype=np.float32))
        has_box = _tensor(np.array([o.box_xyxyn is not None for o in objects], dtype=bool))
    _fill(store[OBJECT], num_nodes=m, box=box, has_box=has_box,
          score=torch.tensor([o.score for o in objects], dtype=torch.float32),
          kind=torch.tensor([concept_kind(o.label) for o in objects], dtype=torch.long))
    _fill(store[NEXT], edge_index=_chain(n).clone())

    words = [normalise(t) for t in tweet.tokens]
    labels = [normalise(o.label) for o in objects]
    features = match_features(words, labels, cfg.min_partial).reshape(m * n, MATCH_FEATURES)
    if cfg.cross_edges == "all":
        sees, seen_by = (index.clone() for index in _all_pairs(m, n))
    else:
        matched = features.any(axis=1)
        src, dst = np.divmod(np.flatnonzero(matched), n)
        features = features[matched]
        sees, seen_by = _tensor(np.stack([src, dst])), _tensor(np.stack([dst, src]))
    _fill(store[SEES], edge_index=sees, edge_attr=_tensor(features))
    _fill(store[SEEN_BY], edge_index=seen_by, edge_attr=_tensor(features.copy()))
    _fill(store[NEAR], edge_index=_tensor(near_pairs(objects, cfg.near_distance)))
    strength = features @ np.array([1.0, 0.5], dtype=np.float32)  # per cross edge: exact 1, partial 0.5
    match = np.zeros(n, dtype=np.float32)
    if len(strength):
        np.maximum.at(match, seen_by[0].numpy(), strength)
    store[WORD]._mapping["match"] = _tensor(match)
    data._global_store._mapping["quality"] = quality_features(evidence)
    if cfg.knowledge is not None:
        matches = cfg.knowledge.match(tweet.tokens)
        node = [i for i, (start, end, _) in enumerate(matches) for _ in range(start, end)]
        word = [w for start, end, _ in matches for w in range(start, end)]
        names = _tensor(np.array([node, word], dtype=np.int64).reshape(2, -1))
        _fill(store[KNOWLEDGE], num_nodes=len(matches),
              kind=torch.tensor([kind for _, _, kind in matches], dtype=torch.long))
        _fill(store[NAMES], edge_index=names)
        _fill(store[NAMED_BY], edge_index=names.flip(0).contiguous())
    if cfg.text_nodes:
        _add_text_nodes(store, words, evidence, cfg.text_nodes)
    return data


def text_node_texts(evidence: VisualEvidence | None, text_nodes: tuple[str, ...] = TEXT_NODES
                    ) -> tuple[list[tuple[int, Candidate]], list[tuple[int, str]]]:
    """The candidate and sentence nodes of a tweet's text evidence, in node order: ``[(source index,
    Candidate)]`` and ``[(source index, sentence)]`` (a node's embedding reads ``Candidate.text`` or the
    sentence)."""
    candidates: list[tuple[int, Candidate]] = []
    sentences: list[tuple[int, str]] = []
    for source, text in (evidence.texts.items() if evidence is not None else ()):
        parsed, index = parse_evidence_text(text), TEXT_SOURCES.index(source)
        if "candidates" in text_nodes:
            candidates += [(index, c) for c in parsed.candidates]
        if "sentences" in text_nodes:
            sentences += [(index, s) for s in parsed.sentences]
    return candidates, sentences


def _add_text_nodes(store: dict, words: list[str], evidence: VisualEvidence | None,
                    text_nodes: tuple[str, ...]) -> None:
    tweet = TweetWords(words)
    kinds: list[int] = []
    candidate_source: list[int] = []
    sentence_source: list[int] = []
    named: dict[tuple[int, int], int] = {}  # (candidate, word) -> 0 exact, 1 partial
    said: list[tuple[int, int]] = []  # (sentence, word)
    about: list[tuple[int, int]] = []  # (sentence, candidate)
    for source, text in (evidence.texts.items() if evidence is not None else ()):
        parsed, index = parse_evidence_text(text), TEXT_SOURCES.index(source)
        c0, s0 = len(kinds), len(sentence_source)
        if "candidates" in text_nodes:
            kinds += [k.kind for k in parsed.candidates]
            candidate_source += [index] * len(parsed.candidates)
            named.update(candidate_mentions(tweet, parsed, c0))
        if "sentences" in text_nodes:
            sentence_source += [index] * len(parsed.sentences)
            said += sentence_mentions(tweet, parsed, s0)
        if "candidates" in text_nodes and "sentences" in text_nodes:
            about += [(s0 + j, c0 + k) for j, k in parsed.about]
    s = len(sentence_source)
    _fill(store[CANDIDATE], num_nodes=len(kinds), kind=_tensor(np.array(kinds, dtype=np.int64)),
          source=_tensor(np.array(candidate_source, dtype=np.int64)))
    _fill(store[SENTENCE], num_nodes=s, source=_tensor(np.array(sentence_source, dtype=np.int64)))
    pairs = sorted(named)
    attr = np.zeros((len(pairs), MENTION_FEATURES), dtype=np.float32)
    attr[np.arange(len(pairs)), [named[pair] for pair in pairs]] = 1.0
    _fill(store[CANDIDATE_MENTIONS], edge_index=_pairs(pairs), edge_attr=_tensor(attr))
    _fill(store[MENTIONED_BY_CANDIDATE], edge_index=_pairs(pairs).flip(0), edge_attr=_tensor(attr.copy()))
    said.sort()
    _fill(store[SENTENCE_MENTIONS], edge_index=_pairs(said))
    _fill(store[MENTIONED_BY_SENTENCE], edge_index=_pairs(said).flip(0))
    _fill(store[ABOUT], edge_index=_pairs(about))
    _fill(store[IN_SENTENCE], edge_index=_pairs(about).flip(0))
    same = np.array([sentence_source[j] == sentence_source[j + 1] for j in range(s - 1)], dtype=bool)
    chain = _chain(s).numpy()
    _fill(store[SENTENCE_NEXT], edge_index=_tensor(chain[:, np.concatenate([same, same])] if s > 1 else chain))


def _pairs(pairs: list[tuple[int, int]]) -> torch.Tensor:
    """``(2, E)`` edge index of ``[(source, target)]``."""
    return _tensor(np.array(pairs, dtype=np.int64).reshape(-1, 2).T)


def quality_features(evidence: VisualEvidence | None) -> torch.Tensor:
    """``(1, QUALITY_FEATURES)``: see the module docstring."""
    values = np.zeros((1, QUALITY_FEATURES), dtype=np.float32)
    if evidence is None:
        return _tensor(values)
    if evidence.type_scores is not None:
        values[0, :len(TYPE_NAMES)] = evidence.type_scores
    detected = [o.score for o in evidence.objects if o.source == "detector"]
    values[0, len(TYPE_NAMES):] = (min(len(evidence.objects) / 16, 1.0), float(np.mean(detected)) if detected else 0.0,
                                   float(bool(evidence.caption)), float(evidence.type_scores is not None))
    return _tensor(values)
