"""Cross-attention fusion (UMT-style): every word attends to its tweet's visual nodes.

The ablation partner of :class:`~graphmner.nn.fusion.gnn.GNNFusion`: the same
word and object nodes, but a dense attention over all objects of the tweet
instead of message passing along typed sparse edges:

    z = LayerNorm(q + MHA(q, k, v)); delta = W_o(z + FFN(z)),  q = W_w h_word, k = v = W_o h_object
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch


class AttentionFusion(nn.Module):
    """Multi-head cross-attention from words to visual nodes; returns a word-state delta.

    Shapes:
        word: ``(N_w, H)`` with ``word_batch`` ``(N_w,)`` tweet index;
        obj: ``(N_o, H)`` with ``object_batch`` ``(N_o,)``; returns ``(N_w, H)``.
        ``num_graphs`` is the number of tweets ``B``.
    """

    def __init__(self, in_channels: int, channels: int = 256, layers: int = 1, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.word_in, self.object_in = nn.Linear(in_channels, channels), nn.Linear(in_channels, channels)
        self.attn = nn.ModuleList(nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
                                  for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(layers))
        self.ffn = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(2 * channels, channels))
        self.out = nn.Linear(channels, in_channels)

    def forward(self, word: Tensor, word_batch: Tensor, obj: Tensor, object_batch: Tensor, num_graphs: int) -> Tensor:
        q, word_mask = to_dense_batch(self.word_in(word), word_batch, batch_size=num_graphs)  # (B, W, C)
        kv, obj_mask = to_dense_batch(self.object_in(obj), object_batch, batch_size=num_graphs)  # (B, O, C)
        if kv.shape[1] == 0:  # no tweet in the batch has evidence
            return torch.zeros_like(word)
        # a tweet without objects attends to nothing; unmask one slot to avoid NaN, the model gates it out
        key_padding = ~obj_mask
        key_padding[:, 0] = False
        z = q
        for attn, norm in zip(self.attn, self.norms):
            z = norm(z + attn(z, kv, kv, key_padding_mask=key_padding, need_weights=False)[0])
        z = z + self.ffn(z)
        return self.out(z[word_mask])


class CrossModalLayer(nn.Module):
    """One post-norm transformer layer whose queries attend another sequence (UMT's cross-modal transformer)::

        z = LayerNorm(x + MHA(x, m, m)); out = LayerNorm(z + FFN(z))

    Shapes: ``x`` ``(B, N, H)``, ``memory`` ``(B, M, H)``, ``memory_mask`` ``(B, M)`` True for valid
    slots; returns ``(B, N, H)``. A row with no valid memory slot gets ``x`` back unchanged (its
    attention would be a softmax over nothing).
    """

    def __init__(self, hidden: int, heads: int, dropout: float = 0.1):
        super().__init__()
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(4 * hidden, hidden))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        has_memory = memory_mask.any(dim=1)  # (B,)
        if memory.shape[1] == 0 or not bool(has_memory.any()):
            return x
        padding = ~memory_mask
        padding[:, 0] = padding[:, 0] & has_memory  # one open slot for empty rows, discarded below
        z = self.norm1(x + self.dropout(self.attn(x, memory, memory, key_padding_mask=padding,
                                                  need_weights=False)[0]))
        out = self.norm2(z + self.dropout(self.ffn(z)))
        return torch.where(has_memory[:, None, None], out, x)
