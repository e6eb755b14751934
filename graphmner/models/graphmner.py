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

from graphmner.data.collate import Batch, Featurizer
from graphmner.data.labels import LabelVocab
from graphmner.graph.builder import OBJECT, WORD, GraphConfig, build_graph
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


@register("graphmner")
class GraphMNER(Tagger):
    config_class = GraphMNERConfig

    def __init__(self, config: GraphMNERConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer)
        hidden = self.hidden_size
        if config.fusion == "gnn":
            self.fusion = GNNFusion(hidden, config.channels, config.layers, config.conv, config.heads, config.dropout)
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
        self.last_gate: Tensor | None = None  # (N_w,) mean gate per word of the last batch, for analysis

    @property
    def needs_evidence(self) -> bool:
        return True  # every tweet gets a graph, empty evidence included

    def featurizer(self) -> Featurizer:
        graph_config = GraphConfig(cross_edges=self.config.cross_edges)
        return Featurizer(self.tokenizer, self.labels, self.config.max_length,
                          graph_builder=partial(build_graph, cfg=graph_config))

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
        if self.config.fusion == "gnn":
            delta = self.fusion({WORD: words, OBJECT: objects}, graph.edge_index_dict, graph.collect("edge_attr"))
        else:
            delta = self.fusion(words, graph[WORD].batch, objects, graph[OBJECT].batch, num)
        has_evidence = torch.bincount(graph[OBJECT].batch, minlength=num) > 0  # (B,)
        if self.config.fuse_without_evidence:
            has_evidence = torch.ones_like(has_evidence)
        gate = torch.sigmoid(self.gate(torch.cat([words, delta], dim=-1)))
        gate = gate * has_evidence[graph[WORD].batch].unsqueeze(-1).to(gate.dtype)
        self.last_gate = gate.detach().mean(-1)
        fused = states.clone()
        fused[batch.word_mask] = words + gate * delta
        return fused

    def emissions(self, batch: Batch) -> Tensor:
        return self.classifier(self.dropout(self.word_representations(batch)))
