"""Dense attention over every node of a tweet's graph: the "graph" of UMGF-style models, with or without
the sparse graph's edges as attention biases.

The ablation partner of :class:`~graphmner.nn.fusion.gnn.GNNFusion` that carries what it carries (the
same node types and states, the same width, depth, heads and residual update) and differs only in how
messages flow. Each layer, over the nodes of one tweet::

    h <- LayerNorm(h + dropout(relu(MHA(h, h, h) + attention bias)))

``edge_bias=False``: the bias is 0 and every node attends to every node of its tweet, the dense
attention matrix UMGF calls a graph. ``edge_bias=True``: the bias of query ``q`` on key ``k`` (one per
head) sums, over the graph's edges ``k -> q``, a learned bias of the edge's relation and a linear map of
its attributes (an edge encoding as in Graphormer): attention that sees the word chain, the object
proximity, the knowledge links and the match features, but still lets every node reach every node of
its tweet in one layer. Both biases start at zero, so the two variants start as the same model.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from graphmner.nn.fusion.gnn import EdgeType, checked_schema


class DenseGraphFusion(nn.Module):
    """Multi-head self-attention among all nodes of each tweet; returns a delta for one node type's states.

    Args:
        in_channels: width ``H`` of the input node states (every node type).
        metadata: ``(node_types, edge_types)``, as ``HeteroData.metadata()`` gives them.
        edge_dims: width of ``edge_attr`` per edge type that has one (read with ``edge_bias``).
        target: the node type whose delta is returned (the words).
        channels, layers, heads, dropout: as :class:`~graphmner.nn.fusion.gnn.GNNFusion`.
        edge_bias: add the graph's edges (relation and attributes) to the attention logits.

    Shapes:
        x_dict ``{node_type: (N_t, H)}`` and batch_dict ``{node_type: (N_t,)}`` (each node's tweet);
        with ``edge_bias``, edge_index_dict ``{edge_type: (2, E_r)}`` and edge_attr_dict
        ``{edge_type: (E_r, edge_dims[r])}`` indexing each type's nodes; returns ``(N_target, H)``.
    """

    def __init__(self, in_channels: int, metadata: tuple[tuple[str, ...], tuple[EdgeType, ...]],
                 edge_dims: dict[EdgeType, int] | None = None, target: str = "word", channels: int = 256,
                 layers: int = 2, heads: int = 4, dropout: float = 0.1, edge_bias: bool = False):
        super().__init__()
        node_types, edge_types = checked_schema(metadata, target, channels, heads)
        self.node_types, self.edge_types, self.target, self.heads = node_types, edge_types, target, heads
        # a per-type projection (its bias tells the node types apart, as the GNN's typed relations do)
        self.inp = nn.ModuleDict({t: nn.Linear(in_channels, channels) for t in node_types})
        self.attn = nn.ModuleList(nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
                                  for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels, in_channels)
        self.edge_bias = edge_bias
        if edge_bias:
            self.relation_bias = nn.Parameter(torch.zeros(len(edge_types), heads))
            self.attr_bias = nn.ModuleDict({"__".join(et): nn.Linear(dim, heads, bias=False)
                                            for et, dim in (edge_dims or {}).items() if et in edge_types})
            for layer in self.attr_bias.values():
                nn.init.zeros_(layer.weight)

    def forward(self, x_dict: dict[str, Tensor], batch_dict: dict[str, Tensor], num_graphs: int,
                edge_index_dict: dict[EdgeType, Tensor] | None = None,
                edge_attr_dict: dict[EdgeType, Tensor] | None = None) -> Tensor:
        types = [t for t in self.node_types if t in x_dict]
        offsets, start = {}, 0
        for t in types:
            offsets[t], start = start, start + len(x_dict[t])
        h = torch.cat([self.inp[t](x_dict[t]) for t in types])  # (N, C), node types one after the other
        batch = torch.cat([batch_dict[t] for t in types])  # (N,)
        order = torch.argsort(batch, stable=True)
        dense, mask = to_dense_batch(h[order], batch[order], batch_size=num_graphs)  # (B, L, C), (B, L)
        counts = torch.bincount(batch, minlength=num_graphs)
        first = torch.cumsum(counts, 0) - counts  # each tweet's first slot in the sorted order
        pos = torch.empty_like(batch)
        pos[order] = torch.arange(len(batch), device=batch.device) - first[batch[order]]  # node -> its slot
        bias = self._bias(dense, mask, batch, pos, offsets, edge_index_dict or {}, edge_attr_dict or {})
        for attn, norm in zip(self.attn, self.norms):
            messages = attn(dense, dense, dense, attn_mask=bias, need_weights=False)[0]
            dense = norm(dense + self.dropout(torch.relu(messages)))
        index = torch.arange(len(x_dict[self.target]), device=batch.device) + offsets[self.target]
        return self.out(dense[batch[index], pos[index]])

    def _bias(self, dense: Tensor, mask: Tensor, batch: Tensor, pos: Tensor, offsets: dict[str, int],
              edge_index_dict: dict[EdgeType, Tensor], edge_attr_dict: dict[EdgeType, Tensor]) -> Tensor:
        """``(B * heads, L, L)`` additive attention mask: -inf on padding keys, the edges' bias with
        ``edge_bias``."""
        num, length = mask.shape
        bias = dense.new_zeros(num, length, length, self.heads)  # (B, query, key, head)
        if self.edge_bias:
            for r, et in enumerate(self.edge_types):
                if et not in edge_index_dict or et[0] not in offsets or et[2] not in offsets:
                    continue
                src, dst = edge_index_dict[et]
                src, dst = src + offsets[et[0]], dst + offsets[et[2]]
                value = self.relation_bias[r].expand(len(src), self.heads)
                key = "__".join(et)
                if key in self.attr_bias and et in edge_attr_dict:
                    value = value + self.attr_bias[key](edge_attr_dict[et].to(dense.dtype))
                # a message flows source -> destination: the destination (query) attends to the source (key)
                bias = bias.index_put((batch[dst], pos[dst], pos[src]), value.to(bias.dtype), accumulate=True)
        bias = bias.permute(0, 3, 1, 2).masked_fill(~mask[:, None, None, :], float("-inf"))
        return bias.reshape(num * self.heads, length, length)
