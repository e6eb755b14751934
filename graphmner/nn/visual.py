"""Visual tokens for attention-based multimodal models, whatever their source.

``caption`` and ``objects`` tokens are encoder states of the evidence row
(the caption and object labels read by the text encoder: offline); ``grid``
tokens are cached region features of a vision backbone (``graphmner
extract-features``), projected to the encoder's width. Downstream every model
sees the same thing: ``(B, R, H)`` tokens and a ``(B, R)`` mask, where a tweet
without evidence has no valid token at all.
"""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from graphmner.data.collate import VISUAL_TOKENS, Batch


class VisualTokens(nn.Module):
    """``(batch, encoder states (C, L, H))`` -> tokens ``(B, R, H)``, mask ``(B, R)``.

    Args:
        source: ``caption`` | ``objects`` | ``grid``.
        hidden: the encoder's width.
        feature_dim: width of the cached region features (``grid`` only).
        max_tokens: keep at most this many tokens per tweet (UMGF's four visual nodes), None for all.
    """

    def __init__(self, source: str, hidden: int, feature_dim: int = 2048, max_tokens: int | None = None):
        super().__init__()
        if source not in VISUAL_TOKENS:
            raise ValueError(f"unknown visual tokens {source!r}; known: {', '.join(VISUAL_TOKENS)}")
        self.source, self.max_tokens = source, max_tokens
        if source == "grid":  # region features live in the backbone's space: learn the map to the encoder's
            self.project = nn.Sequential(nn.Linear(feature_dim, hidden), nn.LayerNorm(hidden))

    def forward(self, batch: Batch, hidden: Tensor) -> tuple[Tensor, Tensor]:
        num = len(batch)
        if self.source == "grid":
            if batch.image_grid is None:  # no tweet of the batch has features
                return hidden.new_zeros(num, 0, hidden.shape[-1]), hidden.new_zeros(num, 0, dtype=bool)
            tokens = self.project(batch.image_grid.to(hidden.dtype))
            mask = batch.image_present[:, None].expand(-1, tokens.shape[1])
        else:
            states = hidden[batch.visual_row, batch.visual_pos]  # (V, H)
            tokens, mask = to_dense_batch(states, batch.visual_index, batch_size=num)
        if self.max_tokens is not None:
            tokens, mask = tokens[:, :self.max_tokens], mask[:, :self.max_tokens]
        return tokens, mask
