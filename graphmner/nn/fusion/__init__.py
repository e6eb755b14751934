"""Fusion layers: word states + visual node states -> fused word states.

``gnn.py`` is message passing over the sparse multimodal graph (PyG
``HeteroConv``). Its ablation partners move messages between the same nodes
another way: ``dense.py``, self-attention among all nodes of a tweet, with or
without the graph's edges as attention biases; ``attention.py``, cross-attention
from words to the visual nodes. Each returns a *delta* for the word states; the
model adds it through a gate. ``CrossModalLayer`` is the transformer layer of
the attention baselines (UMT, UMGF).
"""
from graphmner.nn.fusion.attention import AttentionFusion, CrossModalLayer
from graphmner.nn.fusion.dense import DenseGraphFusion
from graphmner.nn.fusion.gnn import GNNFusion

__all__ = ["AttentionFusion", "CrossModalLayer", "DenseGraphFusion", "GNNFusion"]
