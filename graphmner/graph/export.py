"""Graphs out of the model's world: a safe on-disk format and networkx for analysis.

``save_graphs``/``load_graphs`` store each tweet's graph as plain tensors
(node counts, edge indices, edge attributes), readable with
``torch.load(weights_only=True)``: nothing is unpickled. ``to_networkx`` gives
one tweet's graph with readable node names and texts (words ``w3``, objects
``o1``, gazetteer matches ``k0``, candidates ``c0`` and sentences ``s2`` of text
evidence) and edge types, for drawing and inspection.
"""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import torch
from torch_geometric.data import HeteroData

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import CONCEPT_KINDS, TEXT_SOURCES, VisualEvidence, concept_kind
from graphmner.graph.builder import CANDIDATE, KNOWLEDGE, NAMES, OBJECT, SENTENCE, WORD, text_node_texts
from graphmner.graph.evidence_text import CANDIDATE_KINDS
from graphmner.graph.knowledge import KNOWLEDGE_KINDS

_NODE_KEYS = ("box", "has_box", "score", "kind", "source")


def graph_to_dict(graph: HeteroData) -> dict:
    nodes = {t: {"num_nodes": int(graph[t].num_nodes), **{k: graph[t][k] for k in _NODE_KEYS if k in graph[t]}}
             for t in graph.node_types}
    edges = {"__".join(et): {k: graph[et][k] for k in ("edge_index", "edge_attr") if k in graph[et]}
             for et in graph.edge_types}
    return {"nodes": nodes, "edges": edges}


def graph_from_dict(values: dict) -> HeteroData:
    graph = HeteroData()
    for node_type, attrs in values["nodes"].items():
        for key, value in attrs.items():
            setattr(graph[node_type], key, value)
    for name, attrs in values["edges"].items():
        for key, value in attrs.items():
            setattr(graph[tuple(name.split("__"))], key, value)
    return graph


def graph_keys(tweets: list[Tweet]) -> list[str]:
    """One key per tweet, in order: its id, and ``id#2``, ``id#3``, ... for later tweets with the same id
    (tweets that share an image), so that no graph replaces another."""
    seen: dict[str, int] = {}
    keys = []
    for tweet in tweets:
        seen[tweet.id] = seen.get(tweet.id, 0) + 1
        keys.append(tweet.id if seen[tweet.id] == 1 else f"{tweet.id}#{seen[tweet.id]}")
    return keys


def save_graphs(path: str | Path, graphs: dict[str, HeteroData], meta: dict | None = None) -> None:
    """``{tweet_id: graph}`` to one file (torch format, tensors and plain containers only)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"meta": meta or {}, "graphs": {k: graph_to_dict(g) for k, g in graphs.items()}}, str(path))


def load_graphs(path: str | Path) -> tuple[dict[str, HeteroData], dict]:
    """The graphs and metadata written by :func:`save_graphs`."""
    values = torch.load(str(path), weights_only=True)
    return {k: graph_from_dict(v) for k, v in values["graphs"].items()}, values["meta"]


def to_networkx(tweet: Tweet, evidence: VisualEvidence | None, graph: HeteroData):
    """A ``networkx.MultiDiGraph`` of one tweet's graph.

    Nodes ``w{i}`` (``type="word"``, ``text``, ``tag``), ``o{j}`` (``type="object"``,
    ``text``, ``source``, ``kind``, ``score``, ``box``) and, with knowledge nodes, ``k{j}``
    (``type="knowledge"``, ``kind``, ``text`` = the words matched) and, with text evidence, ``c{j}``
    (``type="candidate"``, ``text`` = "surface (hint)", ``kind``, ``source``) and ``s{j}``
    (``type="sentence"``, ``text``, ``source``); edges carry ``type`` (``next``, ``sees``, ``seen_by``,
    ``near``, ``names``, ``named_by``, ``mentions``, ``mentioned_by``, ``about``, ``in``) and, where the
    edge type has match features, ``exact``/``partial``.
    """
    objects = evidence.objects if evidence is not None else []
    g = nx.MultiDiGraph(tweet_id=tweet.id, caption=(evidence.caption if evidence is not None else None) or "")
    prefix = {WORD: "w", OBJECT: "o"}
    for i, token in enumerate(tweet.tokens):
        g.add_node(f"w{i}", type=WORD, text=token, tag=tweet.tags[i] if tweet.tags else "")
    for j in range(graph[OBJECT].num_nodes):
        obj = objects[j]
        g.add_node(f"o{j}", type=OBJECT, text=obj.label, source=obj.source, score=obj.score,
                   kind=CONCEPT_KINDS[concept_kind(obj.label)],
                   box=",".join(f"{v:.3f}" for v in obj.box_xyxyn) if obj.box_xyxyn else "")
    if KNOWLEDGE in graph.node_types:  # gazetteer matches: text = the words they cover
        covered: dict[int, list[int]] = {}
        for a, b in graph[NAMES].edge_index.t().tolist():
            covered.setdefault(a, []).append(b)
        prefix[KNOWLEDGE] = "k"
        for j, kind in enumerate(graph[KNOWLEDGE].kind.tolist()):
            g.add_node(f"k{j}", type=KNOWLEDGE, kind=KNOWLEDGE_KINDS[kind],
                       text=" ".join(tweet.tokens[w] for w in sorted(covered.get(j, []))))
    if CANDIDATE in graph.node_types:  # the builder's node order: both halves parsed, the kept ones used
        candidates, sentences = text_node_texts(evidence)
        prefix.update({CANDIDATE: "c", SENTENCE: "s"})
        for j, (source, candidate) in enumerate(candidates[:graph[CANDIDATE].num_nodes]):
            g.add_node(f"c{j}", type=CANDIDATE, text=candidate.text, kind=CANDIDATE_KINDS[candidate.kind],
                       source=TEXT_SOURCES[source])
        for j, (source, sentence) in enumerate(sentences[:graph[SENTENCE].num_nodes]):
            g.add_node(f"s{j}", type=SENTENCE, text=sentence, source=TEXT_SOURCES[source])
    for src_type, relation, dst_type in graph.edge_types:
        store = graph[(src_type, relation, dst_type)]
        attrs = store.edge_attr.tolist() if "edge_attr" in store else None
        for k, (a, b) in enumerate(store.edge_index.t().tolist()):
            extra = {"exact": attrs[k][0], "partial": attrs[k][1]} if attrs is not None else {}
            g.add_edge(f"{prefix[src_type]}{a}", f"{prefix[dst_type]}{b}", type=relation, **extra)
    return g
