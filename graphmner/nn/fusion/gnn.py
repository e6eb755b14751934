"""Heterogeneous message passing over the multimodal graph (see graphmner.graph.builder).

Each layer is a PyG ``HeteroConv`` with one conv per edge type, summed per
destination node type, followed by a residual and a LayerNorm per node type:

    h_v <- LayerNorm(h_v + dropout(relu(sum_{r} conv_r(h, E_r)[v])))

``conv`` picks the layer: ``gatv2`` (GATv2Conv) or ``transformer``
(TransformerConv), both reading the cross-modal edges' match features as edge
attributes, or ``sage`` (SAGEConv, mean aggregation, no edge attributes).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv, HeteroConv, SAGEConv, TransformerConv

from graphmner.graph.builder import EDGE_TYPES, KNOWLEDGE, KNOWLEDGE_EDGE_TYPES, MATCH_FEATURES, OBJECT, SEEN_BY, SEES, WORD

CONVS = ("gatv2", "transformer", "sage")
_WITH_ATTR = (SEES, SEEN_BY)


def make_conv(kind: str, channels: int, heads: int, edge_dim: int | None) -> nn.Module:
    """One relation's conv; output width ``channels`` whatever the number of heads."""
    if kind == "gatv2":
        return GATv2Conv(channels, channels // heads, heads=heads, edge_dim=edge_dim, add_self_loops=False)
    if kind == "transformer":
        return TransformerConv(channels, channels // heads, heads=heads, edge_dim=edge_dim, root_weight=False)
    if kind == "sage":
        return SAGEConv(channels, channels, aggr="mean", root_weight=False)
    raise ValueError(f"unknown conv {kind!r}; known: {CONVS}")


class GNNFusion(nn.Module):
    """Message passing between words and visual nodes; returns a word-state delta.

    Args:
        in_channels: encoder width ``H``.
        channels: width of the message-passing layers.
        layers: number of ``HeteroConv`` layers.
        conv: ``gatv2`` | ``transformer`` | ``sage``.
        heads: attention heads (gatv2, transformer); must divide ``channels``.
        dropout: on every layer's messages.
        knowledge: also pass messages over ``knowledge`` nodes (gazetteer matches) and their edges.

    Shapes:
        x_dict: ``{"word": (N_w, H), "object": (N_o, H)}`` (and ``"knowledge": (N_k, H)``); edge_index_dict and
        edge_attr_dict as in a batched graph; returns ``(N_w, H)``.
    """

    def __init__(self, in_channels: int, channels: int = 256, layers: int = 2, conv: str = "gatv2", heads: int = 4,
                 dropout: float = 0.1, knowledge: bool = False):
        super().__init__()
        if channels % heads:
            raise ValueError(f"fusion width {channels} is not divisible by {heads} heads")
        self.conv_kind = conv
        self.edge_types = EDGE_TYPES + (KNOWLEDGE_EDGE_TYPES if knowledge else ())
        node_types = (WORD, OBJECT, KNOWLEDGE) if knowledge else (WORD, OBJECT)
        self.inp = nn.ModuleDict({t: nn.Linear(in_channels, channels) for t in node_types})
        self.layers = nn.ModuleList(
            HeteroConv({et: make_conv(conv, channels, heads, MATCH_FEATURES if et in _WITH_ATTR else None)
                        for et in self.edge_types}, aggr="sum") for _ in range(layers))
        self.norms = nn.ModuleList(nn.ModuleDict({t: nn.LayerNorm(channels) for t in node_types})
                                   for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels, in_channels)

    def forward(self, x_dict: dict[str, Tensor], edge_index_dict: dict, edge_attr_dict: dict) -> Tensor:
        h = {t: self.inp[t](x) for t, x in x_dict.items()}
        edges = {et: edge_index_dict[et] for et in self.edge_types if et in edge_index_dict}
        kwargs = {}
        if self.conv_kind != "sage":
            kwargs["edge_attr_dict"] = {et: edge_attr_dict[et] for et in _WITH_ATTR if et in edge_attr_dict}
        for conv, norms in zip(self.layers, self.norms):
            messages = conv(h, edges, **kwargs)
            h = {t: norms[t](x + self.dropout(torch.relu(messages[t]))) if t in messages else x for t, x in h.items()}
        return self.out(h[WORD])
