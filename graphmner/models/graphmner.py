"""graphmner: the tweet and its visual evidence as one sparse graph, fused by message passing.

    words ──encoder──▶ h_word (N_w, H)         caption + object labels ──encoder──▶ h_object (N_o, H)
          └──────────── build_graph: word-next-word, object-sees-word (+ match features), object-near-object
    fusion (GNN over the graph, or cross-attention over the same nodes) ──▶ delta (N_w, H)
    h'_word = h_word + has_evidence · σ(W [h_word; delta] + b) ⊙ delta ──▶ linear ──▶ CRF

The gate's bias starts at ``gate_init`` (σ(-3) ≈ 0.05), so training starts
close to the text model and opens the gate where the evidence helps. A tweet
without evidence (``has_evidence = 0``) gets exactly the text path's states.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from graphmner.data.collate import Batch, Featurizer
from graphmner.data.labels import LabelVocab
from graphmner.graph.builder import (KNOWLEDGE, NAMES, OBJECT, QUALITY_FEATURES, SEEN_BY, WORD, GraphConfig,
                                     build_graph)
from graphmner.graph.knowledge import KNOWLEDGE_KINDS
from graphmner.models.base import Tagger, TaggerConfig, register
from graphmner.nn.encoders import encode_rows
from graphmner.nn.fusion import AttentionFusion, GNNFusion
from graphmner.vision.evidence import CONCEPT_KINDS


@dataclass
class GraphMNERConfig(TaggerConfig):
    # visual evidence sources: captions (bundled BLIP-2, offline) and/or detections (graphmner detect cache)
    evidence: list[str] = field(default_factory=lambda: ["captions"])
    # "gnn": message passing over the sparse graph; "attention": cross-attention over the same nodes
    fusion: str = "gnn"
    # GNN layer: gatv2 | transformer | sage
    conv: str = "gatv2"
    # fusion depth and width
    layers: int = 2
    channels: int = 256
    heads: int = 4
    # cross-modal edges: "all" object-word pairs (with match features) or only string "match"es
    cross_edges: str = "all"
    # initial bias of the fusion gate; negative = start near the text model
    gate_init: float = -3.0
    # control: run the fusion stack (and gate) for every tweet, also without evidence; with --evidence none
    # this is the same capacity with no image at all, separating what the layers add from what the image adds
    fuse_without_evidence: bool = False
    # add a learned embedding of each object's concept kind (person / place / organisation / text / other cue,
    # graph attribute object.kind) to its encoder state, so the kind is an explicit node feature
    concept_kinds: bool = False
    # issue-7 ideas (experiments/results/issue7.md); the two that did not help stay off:
    # noise gate: a per-tweet evidence quality q in (0, 1) from the caption's image type (zero-shot, see
    # graphmner.vision.image_types), the number and confidence of objects and the caption's embedding,
    # learned end to end, scales the fusion gate of all the tweet's words; starts at q = σ(3) ≈ 0.95
    noise_gate: bool = False
    # sentence-embedding model that scores the caption's image type (for noise_gate)
    image_type_encoder: str = "minilm"
    # image-word bias: words that match some evidence (string match, graph attribute word.match; and the
    # cosine between the word's state and its closest visual node) get a learned bias on their gate logit
    image_word_bias: bool = False
    # knowledge nodes: gazetteer matches of word n-grams (countries, places, first and last names; see
    # graphmner.graph.knowledge) as nodes of their kind linked to the words they cover. On by default since
    # the issue-7 ablation (+0.22 F1 on Twitter-2015, +0.43 on Twitter-2017, seeds 1-3, more than the seed
    # spread); false gives the graph of the issue-3/4 results
    knowledge: bool = True


class _TypedFeaturizer(Featurizer):
    """Scores each caption's image type (cached on disk) before building the graphs (noise gate)."""

    def __init__(self, *args, image_types: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.image_types = image_types

    def __call__(self, tweets, evidence=None):
        from graphmner.vision.image_types import with_type_scores

        return super().__call__(tweets, with_type_scores(evidence, self.image_types) if evidence else evidence)


@register("graphmner")
class GraphMNER(Tagger):
    config_class = GraphMNERConfig

    def __init__(self, config: GraphMNERConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer)
        hidden = self.hidden_size
        if config.fusion == "gnn":
            self.fusion = GNNFusion(hidden, config.channels, config.layers, config.conv, config.heads, config.dropout,
                                    knowledge=config.knowledge)
        elif config.fusion == "attention":
            self.fusion = AttentionFusion(hidden, config.channels, config.layers, config.heads, config.dropout)
        else:
            raise ValueError(f"unknown fusion {config.fusion!r}; known: gnn, attention")
        if config.concept_kinds:  # created only when used: the default model's initialisation stays unchanged
            self.kind_embedding = nn.Embedding(len(CONCEPT_KINDS), hidden)
            nn.init.zeros_(self.kind_embedding.weight)  # start from the plain encoder states
        self.gate = nn.Linear(2 * hidden, hidden)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, config.gate_init)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(hidden, len(labels))
        # optional parts are created after the default ones, so the default model's initialisation (and every
        # seeded result) does not change when they are off
        if config.noise_gate:
            self.quality = nn.Sequential(nn.Linear(QUALITY_FEATURES + hidden, 64), nn.ReLU(), nn.Linear(64, 1))
            nn.init.zeros_(self.quality[2].weight)
            nn.init.constant_(self.quality[2].bias, 3.0)
        if config.image_word_bias:
            # gate logit += string · match + embedding · cosine; a matched word starts with its gate opened
            # from σ(gate_init) to σ(gate_init + 2)
            self.match_bias = nn.Parameter(torch.tensor([2.0, 0.0]))
        if config.knowledge:  # a knowledge node starts as its kind plus the mean state of the words it names
            self.knowledge_embedding = nn.Embedding(len(KNOWLEDGE_KINDS), hidden)
            nn.init.normal_(self.knowledge_embedding.weight, std=0.02)
        self.last_gate: Tensor | None = None  # (N_w,) mean gate per word of the last batch, for analysis
        self.last_quality: Tensor | None = None  # (B,) evidence quality per tweet of the last batch (noise_gate)

    @property
    def needs_evidence(self) -> bool:
        return True  # every tweet gets a graph, empty evidence included

    def featurizer(self) -> Featurizer:
        graph_config = GraphConfig(cross_edges=self.config.cross_edges)
        if self.config.knowledge:
            from graphmner.graph.knowledge import load_gazetteer

            graph_config.knowledge = load_gazetteer()
        args = (self.tokenizer, self.labels, self.config.max_length)
        builder = partial(build_graph, cfg=graph_config)
        if self.config.noise_gate:
            return _TypedFeaturizer(*args, graph_builder=builder, image_types=self.config.image_type_encoder)
        return Featurizer(*args, graph_builder=builder)

    def word_representations(self, batch: Batch) -> Tensor:
        """``(B, W, H)`` word states after fusion."""
        if batch.graph is None:
            raise ValueError("graphmner needs batches with graphs: featurize with the model's featurizer and evidence")
        hidden = encode_rows(self.encoder, batch.input_ids, batch.attention_mask, batch.token_type_ids)
        states = hidden[batch.word_row, batch.word_pos]  # (B, W, H)
        words = states[batch.word_mask]  # (N_w, H), graph word order
        objects = hidden[batch.object_row, batch.object_pos]  # (N_o, H)
        graph, num = batch.graph, len(batch)
        if self.config.concept_kinds:
            objects = objects + self.kind_embedding(graph[OBJECT].kind)
        nodes, node_batch = {WORD: words, OBJECT: objects}, {OBJECT: graph[OBJECT].batch}
        if self.config.knowledge:
            known_src, known_dst = graph[NAMES].edge_index  # knowledge node -> word
            named = scatter(words[known_dst], known_src, dim=0, dim_size=graph[KNOWLEDGE].num_nodes, reduce="mean")
            nodes[KNOWLEDGE] = self.knowledge_embedding(graph[KNOWLEDGE].kind) + named
            node_batch[KNOWLEDGE] = graph[KNOWLEDGE].batch
        if self.config.fusion == "gnn":
            delta = self.fusion(nodes, graph.edge_index_dict, graph.collect("edge_attr"))
        else:  # the same nodes as one set of keys and values for cross-attention, grouped by tweet
            others = torch.cat([n for t, n in nodes.items() if t != WORD])
            other_batch = torch.cat(list(node_batch.values()))
            order = torch.argsort(other_batch, stable=True)
            delta = self.fusion(words, graph[WORD].batch, others[order], other_batch[order], num)
        # a tweet without visual evidence or knowledge keeps exactly its text states
        has_evidence = sum(torch.bincount(b, minlength=num) for b in node_batch.values()) > 0  # (B,)
        if self.config.fuse_without_evidence:
            has_evidence = torch.ones_like(has_evidence)
        word_batch = graph[WORD].batch
        logits = self.gate(torch.cat([words, delta], dim=-1))  # (N_w, H)
        if self.config.image_word_bias:
            logits = logits + self._match_bias(words, objects, graph).unsqueeze(-1)
        gate = torch.sigmoid(logits)
        if self.config.noise_gate:
            quality = self._quality(objects, graph, num)  # (B,)
            self.last_quality = quality.detach()
            gate = gate * quality[word_batch].unsqueeze(-1)
        gate = gate * has_evidence[word_batch].unsqueeze(-1).to(gate.dtype)
        self.last_gate = gate.detach().mean(-1)
        fused = states.clone()
        fused[batch.word_mask] = words + gate * delta
        return fused

    def _quality(self, objects: Tensor, graph, num: int) -> Tensor:
        """``(B,)`` evidence quality: σ(MLP([quality features; mean visual-node state]))."""
        pooled = scatter(objects, graph[OBJECT].batch, dim=0, dim_size=num, reduce="mean")  # zeros without nodes
        return torch.sigmoid(self.quality(torch.cat([graph.quality.to(objects.dtype), pooled], -1))).squeeze(-1)

    def _match_bias(self, words: Tensor, objects: Tensor, graph) -> Tensor:
        """``(N_w,)`` gate-logit bias: string match strength and best cosine to a visual node."""
        src, dst = graph[SEEN_BY].edge_index  # word -> visual node
        sims = nn.functional.cosine_similarity(words[src], objects[dst], dim=-1)
        cosine = scatter(sims, src, dim=0, dim_size=len(words), reduce="max")  # 0 for a word without edges
        return self.match_bias[0] * graph[WORD].match.to(words.dtype) + self.match_bias[1] * cosine

    def tweet_records(self, batch: Batch) -> list[dict]:
        """Per tweet of the last forward pass: mean fusion gate over its words, evidence quality, image type."""
        from graphmner.vision.image_types import TYPE_NAMES, image_type

        if self.last_gate is None:
            return []
        gates = scatter(self.last_gate.float().cpu(), batch.graph[WORD].batch.cpu(), dim=0, dim_size=len(batch),
                        reduce="mean")
        records = []
        for i, tweet in enumerate(batch.tweets):
            record = {"id": tweet.id, "gate": round(float(gates[i]), 4)}
            scores = batch.graph.quality[i, :len(TYPE_NAMES)].tolist()
            if batch.graph.quality[i, -1] > 0:
                record["image_type"] = image_type(scores)
            if self.last_quality is not None:
                record["quality"] = round(float(self.last_quality[i]), 4)
            records.append(record)
        return records

    def emissions(self, batch: Batch) -> Tensor:
        return self.classifier(self.dropout(self.word_representations(batch)))
