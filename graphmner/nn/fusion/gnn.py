"""Heterogeneous message passing over a typed graph (the schema comes in as an argument).

Each layer is a PyG ``HeteroConv`` with one conv per edge type, summed per
destination node type, followed by a residual and a LayerNorm per node type:

    h_v <- LayerNorm(h_v + dropout(relu(sum_{r} conv_r(h, E_r)[v])))

``conv`` picks the layer: ``gatv2`` (GATv2Conv) or ``transformer``
(TransformerConv), both reading the edge attributes of the edge types that have
them, or ``sage`` (SAGEConv, mean aggregation, no edge attributes). The layer
knows no dataset: like PyG's ``HGTConv`` it takes ``metadata = (node_types,
edge_types)``, and the width of each edge type's attributes.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv, HeteroConv, SAGEConv, TransformerConv

CONVS = ("gatv2", "transformer", "sage")
EdgeType = tuple[str, str, str]


def make_conv(kind: str, channels: int, heads: int, edge_dim: int | None) -> nn.Module:
    """One relation's conv; output width ``channels`` whatever the number of heads."""
    if kind == "gatv2":
        return GATv2Conv(channels, channels // heads, heads=heads, edge_dim=edge_dim, add_self_loops=False)
    if kind == "transformer":
        return TransformerConv(channels, channels // heads, heads=heads, edge_dim=edge_dim, root_weight=False)
    if kind == "sage":
        return SAGEConv(channels, channels, aggr="mean", root_weight=False)
    raise ValueError(f"unknown conv {kind!r}; known: {CONVS}")


def checked_schema(metadata: tuple[tuple[str, ...], tuple[EdgeType, ...]], target: str, channels: int,
                   heads: int) -> tuple[tuple[str, ...], tuple[EdgeType, ...]]:
    """``(node_types, edge_types)`` of a fusion layer's schema, once its target and heads are checked."""
    if channels % heads:
        raise ValueError(f"fusion width {channels} is not divisible by {heads} heads")
    node_types, edge_types = (tuple(m) for m in metadata)
    if target not in node_types:
        raise ValueError(f"target node type {target!r} is not among {node_types}")
    return node_types, edge_types


class GNNFusion(nn.Module):
    """Message passing between the node types of a graph; returns a delta for one node type's states.

    Args:
        in_channels: width ``H`` of the input node states (every node type).
        metadata: ``(node_types, edge_types)``, as ``HeteroData.metadata()`` gives them.
        edge_dims: width of ``edge_attr`` per edge type that has one (gatv2 and transformer read them).
        target: the node type whose delta is returned (the words).
        channels: width of the message-passing layers.
        layers: number of ``HeteroConv`` layers.
        conv: ``gatv2`` | ``transformer`` | ``sage``.
        heads: attention heads (gatv2, transformer); must divide ``channels``.
        dropout: on every layer's messages.

    Shapes:
        x_dict: ``{node_type: (N_t, H)}``; edge_index_dict ``{edge_type: (2, E_r)}`` and edge_attr_dict
        ``{edge_type: (E_r, edge_dims[r])}`` as in a batched graph (edge types outside ``metadata`` are
        ignored); returns ``(N_target, H)``.
    """

    def __init__(self, in_channels: int, metadata: tuple[tuple[str, ...], tuple[EdgeType, ...]],
                 edge_dims: dict[EdgeType, int] | None = None, target: str = "word", channels: int = 256,
                 layers: int = 2, conv: str = "gatv2", heads: int = 4, dropout: float = 0.1):
        super().__init__()
        node_types, edge_types = checked_schema(metadata, target, channels, heads)
        self.conv_kind, self.target = conv, target
        self.edge_types = edge_types
        self.edge_dims = {et: dim for et, dim in (edge_dims or {}).items() if et in edge_types}
        self.inp = nn.ModuleDict({t: nn.Linear(in_channels, channels) for t in node_types})
        self.layers = nn.ModuleList(
            HeteroConv({et: make_conv(conv, channels, heads, self.edge_dims.get(et)) for et in edge_types},
                       aggr="sum") for _ in range(layers))
        self.norms = nn.ModuleList(nn.ModuleDict({t: nn.LayerNorm(channels) for t in node_types})
                                   for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels, in_channels)

    def forward(self, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor],
                edge_attr_dict: dict[EdgeType, Tensor] | None = None) -> Tensor:
        h = {t: self.inp[t](x) for t, x in x_dict.items()}
        edges = {et: edge_index_dict[et] for et in self.edge_types if et in edge_index_dict}
        kwargs = {}
        if self.conv_kind != "sage":
            attrs = edge_attr_dict or {}
            kwargs["edge_attr_dict"] = {et: attrs[et] for et in self.edge_dims if et in attrs}
        for conv, norms in zip(self.layers, self.norms):
            messages = conv(h, edges, **kwargs)
            h = {t: norms[t](x + self.dropout(torch.relu(messages[t]))) if t in messages else x for t, x in h.items()}
        return self.out(h[self.target])
