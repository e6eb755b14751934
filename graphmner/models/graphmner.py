"""graphmner: the tweet and its evidence as one sparse graph, fused by message passing.

    words ──encoder──▶ h_word (N_w, H)         caption + object labels ──encoder──▶ h_object (N_o, H)
    knowledge / descriptions ──parse──▶ candidates, sentences ──frozen sentence encoder (cached)──▶ (N_c|N_s, H)
          └──────────── build_graph: word-next-word, object-sees-word (+ match features), object-near-object,
                        candidate-mentions-word (+ match features), sentence-mentions-word/candidate
    fusion (GNN over the graph, or attention over the same nodes) ──▶ delta (N_w, H)
    h'_word = h_word + has_evidence · σ(W [h_word; delta] + b) ⊙ delta ──▶ linear ──▶ CRF

The gate's bias starts at ``gate_init`` (σ(-3) ≈ 0.05), so training starts
close to the text model and opens the gate where the evidence helps. A tweet
without evidence (``has_evidence = 0``) gets exactly the text path's states.

Text evidence (``--evidence knowledge``, ``descriptions``, ``knowledge_gmner``) is not fed to the encoder
beside the tweet, as the concat baseline does: its candidates and sentences are embedded apart, once, by
a frozen sentence encoder (``text_encoder``), so an epoch costs about what the tweet alone costs, and only
the nodes linked to the tweet's words reach them through the graph.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch as GraphBatch
from torch_geometric.utils import scatter

from graphmner.data.labels import LabelVocab
from graphmner.evidence.image_types import TYPE_NAMES, image_type
from graphmner.evidence.visual import CONCEPT_KINDS, TEXT_SOURCES, EvidenceSources, VisualEvidence, evidence_words
from graphmner.featurize import Batch, Example, Featurizer
from graphmner.fields import at_least, between, one_of
from graphmner.graph.builder import (
    CANDIDATE,
    KNOWLEDGE,
    NAMES,
    OBJECT,
    QUALITY_FEATURES,
    SEEN_BY,
    SENTENCE,
    TEXT_NODES,
    WORD,
    GraphConfig,
    build_graph,
    graph_metadata,
    text_node_texts,
)
from graphmner.graph.evidence_text import CANDIDATE_KINDS
from graphmner.graph.knowledge import KNOWLEDGE_KINDS, load_gazetteer
from graphmner.models.base import Tagger, TaggerConfig, TaggerOutput, register
from graphmner.nn.encoders import encode_rows
from graphmner.nn.fusion import AttentionFusion, DenseGraphFusion, GNNFusion
from graphmner.nn.fusion.gnn import CONVS
from graphmner.nn.sentence import embed_texts, embedding_width
from graphmner.nn.zero_shot import with_type_scores

FUSIONS = ("gnn", "dense", "dense_edges", "attention")


@dataclass
class GraphMNERConfig(TaggerConfig):
    # evidence sources: captions (bundled BLIP-2, offline), detections (graphmner detect cache), and text that
    # names things: knowledge (PGIM's LLM knowledge), descriptions (mPLUG-Owl), knowledge_gmner (RiVEG's)
    evidence: EvidenceSources = field(default_factory=lambda: ["captions"])
    # how messages flow between the same nodes (the fusion ablation, graphmner.nn.fusion):
    # "gnn": message passing along the sparse graph's typed edges;
    # "dense": every node attends to every node of its tweet (the UMGF-style dense "graph");
    # "dense_edges": the same dense attention, its logits biased by the graph's edges (word chain, object
    #   proximity, knowledge links) and their match features: what the GNN sees, flowing densely;
    # "attention": words attend to the visual and knowledge nodes only (cross-attention, UMT-style)
    fusion: Annotated[str, one_of(*FUSIONS)] = "gnn"
    # GNN layer: gatv2 | transformer | sage
    conv: Annotated[str, one_of(*CONVS)] = "gatv2"
    # fusion depth and width
    layers: Annotated[int, at_least(1)] = 2
    channels: Annotated[int, at_least(1)] = 256
    heads: Annotated[int, at_least(1)] = 4
    # cross-modal edges: "all" object-word pairs (with match features) or only string "match"es
    cross_edges: Annotated[str, one_of("all", "match")] = "all"
    # initial bias of the fusion gate; negative = start near the text model
    gate_init: float = -3.0
    # control: run the fusion stack (and gate) for every tweet, also without evidence; with --evidence none
    # this is the same capacity with no image at all, separating what the layers add from what the image adds
    fuse_without_evidence: bool = False
    # add a learned embedding of each object's concept kind (person / place / organisation / text / other cue,
    # graph attribute object.kind) to its encoder state, so the kind is an explicit node feature
    concept_kinds: bool = False
    # the ideas of the study "does denoising the evidence help?" (experiments/studies/denoising-evidence);
    # the two that did not help stay off:
    # noise gate: a per-tweet evidence quality q in (0, 1) from the caption's image type (zero-shot, see
    # graphmner.nn.zero_shot), the number and confidence of objects and the caption's embedding,
    # learned end to end, scales the fusion gate of all the tweet's words; starts at q = σ(3) ≈ 0.95
    noise_gate: bool = False
    # sentence-embedding model that scores the caption's image type (for noise_gate)
    image_type_encoder: str = "minilm"
    # image-word bias: words that match some evidence (string match, graph attribute word.match; and the
    # cosine between the word's state and its closest visual node) get a learned bias on their gate logit
    image_word_bias: bool = False
    # knowledge nodes: gazetteer matches of word n-grams (countries, places, first and last names; see
    # graphmner.graph.knowledge) as nodes of their kind linked to the words they cover. Off: converged and
    # decided on dev (the visual-evidence study, five seeds a dataset), graphmner without them is not
    # measurably below graphmner with them; their earlier gain was 3-epoch runs read off test
    knowledge: bool = False
    # what text evidence becomes: "candidates" (the entities it lists, linked to the words they name) and/or
    # "sentences" (its reasoning or description, linked to the words and candidates they mention)
    text_nodes: list[Annotated[str, one_of(*TEXT_NODES)]] = field(default_factory=lambda: list(TEXT_NODES))
    # frozen sentence-embedding model that encodes candidate and sentence nodes (once, cached on disk)
    text_encoder: str = "minilm"
    # in training, each tweet's candidate and sentence nodes are left out with this probability (drawn anew
    # every batch), so that the model also learns to tag a tweet from its other evidence or its text alone:
    # trained with knowledge for every tweet, graphmner tags a tweet whose knowledge is missing (a new tweet)
    # far below a text-only model (the knowledge-evidence study). 0: off
    text_evidence_dropout: Annotated[float, between(0, 1, high_open=True)] = 0.0


@dataclass
class GraphMNEROutput(TaggerOutput):
    gate: Tensor | None = None  # (B, W) the fusion gate per word, averaged over its H dimensions (0 at padding)
    quality: Tensor | None = None  # (B,) evidence quality per tweet (noise_gate), else None


class GraphFeaturizer(Featurizer):
    """Builds each tweet's graph and an evidence row (caption words, then object labels) whose pieces give
    the object nodes their states; with ``image_types`` it scores each caption's image type first (noise gate).

    Extras: ``graph`` (the tweets' graphs as one ``torch_geometric`` batch), ``object_row`` and
    ``object_pos`` ``(O,)`` where each object node's first piece is. Objects whose word does not fit in
    the evidence row are left out of both.
    """

    needs_evidence = True

    def __init__(self, tokenizer, labels: LabelVocab | None, max_length: int = 128,
                 graph_config: GraphConfig | None = None, image_types: str | None = None,
                 text_encoder: str = "minilm"):
        super().__init__(tokenizer, labels, max_length)
        self.graph_config, self.image_types = graph_config or GraphConfig(), image_types
        self.text_encoder = text_encoder

    def add_extras(self, examples: list[Example], evidence: Sequence[VisualEvidence]) -> None:
        if self.image_types:
            evidence = with_type_scores(evidence, self.image_types)
        texts = [evidence_words(e) for e in evidence]  # (words, object -> word index)
        for ex, ev, (_, object_word), pieces in zip(examples, evidence, texts, self.pieces([w for w, _ in texts])):
            row, starts = self.fit_row(pieces)
            keep = [k for k, w in enumerate(object_word) if w < len(starts)]
            if len(keep) < len(object_word):
                ev = dataclasses.replace(ev, objects=[ev.objects[k] for k in keep])
            ex.extra["graph"] = build_graph(ex.tweet, ev, self.graph_config)
            ex.extra["object_pos"] = [starts[object_word[k]] for k in keep]
            ex.extra["object_row"] = [self.append_row(ex, row)] * len(keep) if keep else []
        if self.graph_config.text_nodes:
            self._embed_text_nodes(examples, evidence)

    def _embed_text_nodes(self, examples: list[Example], evidence: Sequence[VisualEvidence]) -> None:
        """``x`` ``(N, E)`` of every candidate and sentence node: its text's frozen embedding."""
        nodes = [text_node_texts(ev, self.graph_config.text_nodes) for ev in evidence]
        # one cached set per source and node kind, so that runs selecting other sources or halves reuse it
        groups: dict[tuple[int, str], list[str]] = {}
        for candidates, sentences in nodes:
            for source, candidate in candidates:
                groups.setdefault((source, "candidates"), []).append(candidate.text)
            for source, sentence in sentences:
                groups.setdefault((source, "sentences"), []).append(sentence)
        embedded: dict[str, Tensor] = {}
        for texts in groups.values():
            embedded.update(embed_texts(texts, self.text_encoder))
        width = embedding_width(self.text_encoder) if not embedded else len(next(iter(embedded.values())))
        for ex, (candidates, sentences) in zip(examples, nodes):
            graph = ex.extra["graph"]
            for node_type, node_texts in ((CANDIDATE, [c.text for _, c in candidates]),
                                          (SENTENCE, [t for _, t in sentences])):
                graph[node_type].x = (torch.stack([embedded[t] for t in node_texts]) if node_texts
                                      else torch.zeros(0, width))

    def collate_extras(self, examples: Sequence[Example], row_offsets: Sequence[int]) -> dict[str, Any]:
        rows = [r + offset for ex, offset in zip(examples, row_offsets) for r in ex.extra["object_row"]]
        return {"graph": GraphBatch.from_data_list([ex.extra["graph"] for ex in examples]),
                "object_row": torch.tensor(rows, dtype=torch.long),
                "object_pos": torch.tensor([p for ex in examples for p in ex.extra["object_pos"]], dtype=torch.long)}


@register("graphmner")
class GraphMNER(Tagger):
    config_class = GraphMNERConfig

    def __init__(self, config: GraphMNERConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__(config, labels, encoder, tokenizer)
        hidden = self.hidden_size
        self.text_sources = [s for s in config.evidence if s in TEXT_SOURCES]
        node_types, edge_types, edge_dims = graph_metadata(config.knowledge, bool(self.text_sources))
        if config.fusion == "gnn":
            self.fusion = GNNFusion(hidden, (node_types, edge_types), edge_dims, WORD, config.channels, config.layers,
                                    config.conv, config.heads, config.dropout)
        elif config.fusion in ("dense", "dense_edges"):
            self.fusion = DenseGraphFusion(hidden, (node_types, edge_types), edge_dims, WORD, config.channels,
                                           config.layers, config.heads, config.dropout,
                                           edge_bias=config.fusion == "dense_edges")
        elif config.fusion == "attention":
            self.fusion = AttentionFusion(hidden, config.channels, config.layers, config.heads, config.dropout)
        else:
            raise ValueError(f"unknown fusion {config.fusion!r}; known: {', '.join(FUSIONS)}")
        if config.concept_kinds:  # created only when used: the default model's initialisation stays unchanged
            self.kind_embedding = nn.Embedding(len(CONCEPT_KINDS), hidden)
            nn.init.zeros_(self.kind_embedding.weight)  # start from the plain encoder states
        self.gate = nn.Linear(2 * hidden, hidden)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, config.gate_init)
        self.add_emission_head()
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
        if self.text_sources:  # candidate and sentence nodes: their frozen embedding mapped to the encoder's width
            self.text_project = nn.Sequential(nn.Linear(embedding_width(config.text_encoder), hidden),
                                              nn.LayerNorm(hidden))
            self.candidate_kind = nn.Embedding(len(CANDIDATE_KINDS), hidden)
            nn.init.normal_(self.candidate_kind.weight, std=0.02)

    @property
    def needs_evidence(self) -> bool:
        return True  # every tweet gets a graph, empty evidence included

    def featurizer(self) -> GraphFeaturizer:
        graph_config = GraphConfig(cross_edges=self.config.cross_edges,
                                   knowledge=load_gazetteer() if self.config.knowledge else None,
                                   text_nodes=tuple(self.config.text_nodes) if self.text_sources else ())
        return GraphFeaturizer(self.tokenizer, self.labels, self.config.max_length, graph_config,
                               self.config.image_type_encoder if self.config.noise_gate else None,
                               self.config.text_encoder)

    def word_representations(self, batch: Batch) -> Tensor:
        """``(B, W, H)`` word states after fusion."""
        return self.fuse(batch)[0]

    def emit(self, batch: Batch) -> GraphMNEROutput:
        states, gate, quality = self.fuse(batch)
        return GraphMNEROutput(self.classifier(self.dropout(states)), gate=gate, quality=quality)

    def fuse(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor | None]:
        """Word states after fusion ``(B, W, H)``, the mean gate per word ``(B, W)`` and, with the noise
        gate, the evidence quality per tweet ``(B,)``."""
        if "graph" not in batch.extra:
            raise ValueError("graphmner needs batches with graphs: featurize and collate with model.featurizer()")
        hidden = encode_rows(self.encoder, batch.input_ids, batch.attention_mask, batch.token_type_ids)
        states = self.gather_words(hidden, batch)  # (B, W, H)
        words = states[batch.word_mask]  # (N_w, H), graph word order
        objects = hidden[batch.extra["object_row"], batch.extra["object_pos"]]  # (N_o, H)
        graph, num = batch.extra["graph"], len(batch)
        if self.training and self.text_sources and self.config.text_evidence_dropout > 0:
            graph = self._drop_text_evidence(graph, num)
        if self.config.concept_kinds:
            objects = objects + self.kind_embedding(graph[OBJECT].kind)
        nodes, node_batch = {WORD: words, OBJECT: objects}, {WORD: graph[WORD].batch, OBJECT: graph[OBJECT].batch}
        if self.config.knowledge:
            known_src, known_dst = graph[NAMES].edge_index  # knowledge node -> word
            named = scatter(words[known_dst], known_src, dim=0, dim_size=graph[KNOWLEDGE].num_nodes, reduce="mean")
            nodes[KNOWLEDGE] = self.knowledge_embedding(graph[KNOWLEDGE].kind) + named
            node_batch[KNOWLEDGE] = graph[KNOWLEDGE].batch
        if self.text_sources:
            dtype = words.dtype
            nodes[CANDIDATE] = (self.text_project(graph[CANDIDATE].x.to(dtype))
                                + self.candidate_kind(graph[CANDIDATE].kind))
            nodes[SENTENCE] = self.text_project(graph[SENTENCE].x.to(dtype))
            node_batch[CANDIDATE], node_batch[SENTENCE] = graph[CANDIDATE].batch, graph[SENTENCE].batch
        if self.config.fusion == "gnn":
            delta = self.fusion(nodes, graph.edge_index_dict, graph.collect("edge_attr"))
        elif self.config.fusion in ("dense", "dense_edges"):
            delta = self.fusion(nodes, node_batch, num, graph.edge_index_dict, graph.collect("edge_attr"))
        else:  # the same nodes as one set of keys and values for cross-attention, grouped by tweet
            others = torch.cat([n for t, n in nodes.items() if t != WORD])
            other_batch = torch.cat([b for t, b in node_batch.items() if t != WORD])
            order = torch.argsort(other_batch, stable=True)
            delta = self.fusion(words, graph[WORD].batch, others[order], other_batch[order], num)
        # a tweet without visual evidence, gazetteer matches or text evidence keeps exactly its text states
        has_evidence = sum(torch.bincount(b, minlength=num) for t, b in node_batch.items() if t != WORD) > 0  # (B,)
        if self.config.fuse_without_evidence:
            has_evidence = torch.ones_like(has_evidence)
        word_batch = graph[WORD].batch
        logits = self.gate(torch.cat([words, delta], dim=-1))  # (N_w, H)
        if self.config.image_word_bias:
            logits = logits + self._match_bias(words, objects, graph).unsqueeze(-1)
        gate = torch.sigmoid(logits)
        quality = None
        if self.config.noise_gate:
            quality = self._quality(objects, graph, num)  # (B,)
            gate = gate * quality[word_batch].unsqueeze(-1)
        gate = gate * has_evidence[word_batch].unsqueeze(-1).to(gate.dtype)
        fused = states.clone()
        fused[batch.word_mask] = words + gate * delta
        word_gate = gate.new_zeros(batch.word_mask.shape)
        word_gate[batch.word_mask] = gate.detach().mean(-1)
        return fused, word_gate, None if quality is None else quality.detach()

    def _drop_text_evidence(self, graph, num: int):
        """The batch's graph without the candidate and sentence nodes (and their edges) of a random
        ``text_evidence_dropout`` share of its ``num`` tweets; a tweet left with no evidence at all keeps
        exactly its text states, as at prediction time."""
        dropped = torch.rand(num, device=graph[WORD].batch.device) < self.config.text_evidence_dropout  # (B,)
        return graph.subgraph({node_type: ~dropped[graph[node_type].batch] for node_type in (CANDIDATE, SENTENCE)})

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

    def tweet_records(self, batch: Batch, output: GraphMNEROutput) -> list[dict]:
        """Per tweet: mean fusion gate over its words, evidence quality (noise gate), image type."""
        gates = scatter(output.gate[batch.word_mask].float().cpu(), batch.extra["graph"][WORD].batch.cpu(), dim=0,
                        dim_size=len(batch), reduce="mean")
        quality = batch.extra["graph"].quality.cpu()
        records = []
        for i, tweet in enumerate(batch.tweets):
            record = {"id": tweet.id, "gate": round(float(gates[i]), 4)}
            if quality[i, -1] > 0:
                record["image_type"] = image_type(quality[i, :len(TYPE_NAMES)].tolist())
            if output.quality is not None:
                record["quality"] = round(float(output.quality[i]), 4)
            records.append(record)
        return records
