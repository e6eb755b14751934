"""The one CRF every model decodes with: a thin layer over ``torchcrf.CRF``.

Models produce emissions only; this module turns them into a loss and into
Viterbi paths. Transitions that IOB2 forbids (``O -> I-X``, ``B-X -> I-Y``,
start ``-> I-X``) start at a large negative score. Gold sequences never use
them, so gradients only push them lower, and decoding never produces an
``I-`` tag that seqeval's strict mode would discard.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torchcrf import CRF as _TorchCRF

FORBIDDEN = -1e4


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags.

    Args:
        tags: the tag strings, in id order (e.g. ``LabelVocab.tags``); used to
            forbid invalid IOB2 transitions. ``None`` leaves all allowed.
        num_tags: needed only when ``tags`` is None.

    Shapes:
        emissions: ``(B, W, T)``; tags: ``(B, W)``; mask: ``(B, W)`` bool whose
        first column is True (every sequence has a word).
    """

    def __init__(self, tags: list[str] | None = None, num_tags: int | None = None):
        super().__init__()
        num_tags = len(tags) if tags is not None else num_tags
        self.crf = _TorchCRF(num_tags, batch_first=True)
        if tags is not None:
            with torch.no_grad():
                for j, to in enumerate(tags):
                    if to.startswith("I-"):
                        self.crf.start_transitions[j] = FORBIDDEN
                        for i, frm in enumerate(tags):
                            if frm[2:] != to[2:] or frm == "O":
                                self.crf.transitions[i, j] = FORBIDDEN

    @property
    def num_tags(self) -> int:
        return self.crf.num_tags

    def loss(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean negative log-likelihood per sequence, a scalar."""
        return -self.crf(emissions, tags, mask=mask, reduction="mean")

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The best tag path of each sequence, of its unpadded length."""
        return self.crf.decode(emissions, mask=mask)
