"""Fusion layers: word states + visual node states -> fused word states.

``gnn.py`` is message passing over the sparse multimodal graph (PyG
``HeteroConv``); ``attention.py`` is the ablation partner: dense multi-head
cross-attention from words to the same visual nodes. Both return a *delta*
for the word states; the model adds it through a gate. ``CrossModalLayer``
is the transformer layer of the attention baselines (UMT, UMGF).
"""
from graphmner.nn.fusion.attention import AttentionFusion, CrossModalLayer
from graphmner.nn.fusion.gnn import GNNFusion

__all__ = ["AttentionFusion", "CrossModalLayer", "GNNFusion"]
