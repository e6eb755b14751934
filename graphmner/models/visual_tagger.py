"""What the attention baselines (mm_concat, umt, umgf) share: visual tokens beside the text states.

Visual tokens, whatever their source, reach a model as ``(B, R, H)`` tokens and a
``(B, R)`` mask, where a tweet without evidence has no valid token at all:

- ``caption``: the encoder states of every piece of an evidence row (the caption,
  the object labels and the text sources such as knowledge, read by the text
  encoder: offline; what does not fit in ``max_length`` is cut);
- ``objects``: the state of each object label's first piece in that row;
- ``kinds``: four tokens, one per kind of thing UMGF grounds a region for (person, place, organisation,
  text: :data:`~graphmner.evidence.visual.CONCEPT_KINDS`), each the mean state of the objects of that
  kind in the evidence row, else of the whole row: the text stand-in for UMGF's four typed regions;
- ``grid``: cached region features of a vision backbone (``graphmner
  extract-features``: the 7 x 7 grid, ViT patches, or crops of detected regions), projected to the
  encoder's width.

:class:`VisualFeaturizer` makes the evidence row and records where the tokens are;
:class:`VisualTokens` gathers them; each model file only says how they are fused.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from graphmner.data.labels import LabelVocab
from graphmner.evidence.visual import CONCEPT_KINDS, EvidenceSources, VisualEvidence, concept_kind, evidence_words
from graphmner.featurize import Batch, Example, Featurizer
from graphmner.fields import at_least, one_of
from graphmner.models.base import Tagger, TaggerConfig
from graphmner.nn.encoders import encode_rows

VISUAL_TOKENS = ("caption", "objects", "kinds", "grid")
# the kinds of the "kinds" tokens, in UMGF's order of crops (person, miscellaneous, location, organisation)
TOKEN_KINDS = tuple(CONCEPT_KINDS.index(kind) for kind in ("person", "text", "place", "organisation"))


@dataclass
class VisualTaggerConfig(TaggerConfig):
    # evidence sources: captions (offline), detections, features (graphmner extract-features), and text that
    # names things: knowledge (PGIM), descriptions (mPLUG-Owl), knowledge_gmner (RiVEG), read as caption tokens
    evidence: EvidenceSources = field(default_factory=lambda: ["captions"])
    # "caption" (evidence text through the encoder, offline), "objects", "kinds" (one token per person / text /
    # place / organisation objects), or "grid" (evidence must include features)
    visual_tokens: Annotated[str, one_of(*VISUAL_TOKENS)] = "caption"
    # width of cached region features (grid tokens): 2048 for resnet152, 768 for vit_b_16
    feature_dim: Annotated[int, at_least(1)] = 2048


class VisualFeaturizer(Featurizer):
    """Records each tweet's visual tokens: positions in an evidence row after the tweet's rows
    (``caption``, ``objects``), or the image's region features (``grid``).

    Extras: ``visual_row``, ``visual_pos``, ``visual_index`` ``(V,)`` where each token's piece is and its
    tweet (``kinds``: its tweet * 4 + its kind, the token that piece is averaged into); ``image_grid``
    ``(B, R, D)`` (zeros for tweets without; absent when no tweet has features) and ``image_present`` ``(B,)``.
    """

    needs_evidence = True

    def __init__(self, tokenizer, labels: LabelVocab | None, max_length: int = 128, visual_tokens: str = "caption",
                 feature_dim: int | None = None):
        if visual_tokens not in VISUAL_TOKENS:
            raise ValueError(f"unknown visual tokens {visual_tokens!r}; known: {', '.join(VISUAL_TOKENS)}")
        super().__init__(tokenizer, labels, max_length)
        self.visual_tokens, self.feature_dim = visual_tokens, feature_dim

    def add_extras(self, examples: list[Example], evidence: Sequence[VisualEvidence]) -> None:
        if self.visual_tokens == "grid":
            for ex, ev in zip(examples, evidence):
                if ev.grid is not None and self.feature_dim is not None and ev.grid.shape[-1] != self.feature_dim:
                    raise ValueError(f"image {ev.image_id}: {ev.grid.shape[-1]}-d features, but this model reads "
                                     f"{self.feature_dim}-d (model.feature_dim): the feature cache (data.features, "
                                     f"--features) comes from another backbone than the model's")
                ex.extra["image_grid"] = ev.grid
            return
        texts = [evidence_words(e, with_texts=True) for e in evidence]  # (words, object -> word index)
        for ex, ev, (_, object_word), pieces in zip(examples, evidence, texts, self.pieces([w for w, _ in texts])):
            row, starts = self.fit_row(pieces)
            slots: list[int] = []
            if self.visual_tokens == "objects":  # objects whose word does not fit in the row are left out
                positions = [starts[w] for w in object_word if w < len(starts)]
            elif self.visual_tokens == "kinds" and starts:
                whole = list(range(len(self.prefix), len(row)))
                kinds = [concept_kind(o.label) for o in ev.objects]
                positions = []
                for slot, kind in enumerate(TOKEN_KINDS):
                    found = [starts[w] for w, k in zip(object_word, kinds) if k == kind and w < len(starts)]
                    positions += found or whole  # no object of that kind: the whole evidence, as UMGF's
                    slots += [slot] * len(found or whole)  # grounding always returns some region
            else:
                positions = list(range(len(self.prefix), len(row))) if starts else []
            ex.extra["visual_pos"] = positions
            ex.extra["visual_slot"] = slots
            ex.extra["visual_row"] = [self.append_row(ex, row)] * len(positions) if positions else []

    def collate_extras(self, examples: Sequence[Example], row_offsets: Sequence[int]) -> dict[str, Any]:
        if self.visual_tokens == "grid":
            grids = [ex.extra["image_grid"] for ex in examples]
            if all(g is None for g in grids):
                return {}
            shape = next(g.shape for g in grids if g is not None)
            return {"image_grid": torch.stack([g if g is not None else torch.zeros(shape) for g in grids]),
                    "image_present": torch.tensor([g is not None for g in grids])}
        rows, positions, index = [], [], []
        for b, (ex, offset) in enumerate(zip(examples, row_offsets)):
            rows += [r + offset for r in ex.extra["visual_row"]]
            positions += ex.extra["visual_pos"]
            if self.visual_tokens == "kinds":
                index += [b * len(TOKEN_KINDS) + slot for slot in ex.extra["visual_slot"]]
            else:
                index += [b] * len(ex.extra["visual_pos"])
        return {"visual_row": torch.tensor(rows, dtype=torch.long),
                "visual_pos": torch.tensor(positions, dtype=torch.long),
                "visual_index": torch.tensor(index, dtype=torch.long)}


class VisualTokens(nn.Module):
    """``(batch, encoder states (C, L, H))`` -> tokens ``(B, R, H)``, mask ``(B, R)``.

    Args:
        source: ``caption`` | ``objects`` | ``grid``.
        hidden: the encoder's width.
        feature_dim: width of the cached region features (``grid`` only).
        max_tokens: keep at most this many tokens per tweet (UMGF's four visual nodes), None for all.
        project: map grid features to the encoder's width here (``Linear -> LayerNorm``); False gives them
            as cached, ``(B, R, feature_dim)``, for a model with projections of its own (UMT has two).
    """

    def __init__(self, source: str, hidden: int, feature_dim: int = 2048, max_tokens: int | None = None,
                 project: bool = True):
        super().__init__()
        if source not in VISUAL_TOKENS:
            raise ValueError(f"unknown visual tokens {source!r}; known: {', '.join(VISUAL_TOKENS)}")
        self.source, self.max_tokens = source, max_tokens
        self.width = feature_dim if source == "grid" and not project else hidden  # of the tokens returned
        if source == "grid" and project:  # region features live in the backbone's space: map them to the encoder's
            self.project = nn.Sequential(nn.Linear(feature_dim, hidden), nn.LayerNorm(hidden))

    def forward(self, batch: Batch, hidden: Tensor) -> tuple[Tensor, Tensor]:
        num = len(batch)
        if self.source == "grid":
            if "image_grid" not in batch.extra:  # no tweet of the batch has features
                return hidden.new_zeros(num, 0, self.width), hidden.new_zeros(num, 0, dtype=bool)
            tokens = batch.extra["image_grid"].to(hidden.dtype)
            tokens = self.project(tokens) if hasattr(self, "project") else tokens
            mask = batch.extra["image_present"][:, None].expand(-1, tokens.shape[1])
        elif self.source == "kinds":  # the mean of each token's pieces: (B * 4, H) -> (B, 4, H)
            states = hidden[batch.extra["visual_row"], batch.extra["visual_pos"]]  # (V, H)
            slots = num * len(TOKEN_KINDS)
            index = batch.extra["visual_index"]
            sums = states.new_zeros(slots, states.shape[-1]).index_add_(0, index, states)
            counts = torch.bincount(index, minlength=slots).to(states.dtype)
            tokens = (sums / counts.clamp(min=1.0)[:, None]).view(num, len(TOKEN_KINDS), -1)
            mask = (counts > 0).view(num, len(TOKEN_KINDS))
        else:
            states = hidden[batch.extra["visual_row"], batch.extra["visual_pos"]]  # (V, H)
            tokens, mask = to_dense_batch(states, batch.extra["visual_index"], batch_size=num)
        if self.max_tokens is not None:
            tokens, mask = tokens[:, :self.max_tokens], mask[:, :self.max_tokens]
        return tokens, mask


class VisualTagger(Tagger):
    """A tagger whose featurizer records visual tokens and whose forward reads them (not registered)."""

    def __init__(self, config: VisualTaggerConfig, labels: LabelVocab, encoder: nn.Module | None = None,
                 tokenizer=None, max_visual_tokens: int | None = None, project_grid: bool = True):
        super().__init__(config, labels, encoder, tokenizer)
        self.visual = VisualTokens(config.visual_tokens, self.hidden_size, config.feature_dim, max_visual_tokens,
                                   project_grid)

    @property
    def needs_evidence(self) -> bool:
        return True  # every tweet gets (possibly empty) evidence

    def featurizer(self) -> Featurizer:
        return VisualFeaturizer(self.tokenizer, self.labels, self.config.max_length, self.config.visual_tokens,
                                self.config.feature_dim)

    def encode_with_visual(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Word states ``(B, W, H)``, visual tokens ``(B, R, H)`` (``(B, R, feature_dim)``: grid features
        left unprojected) and their mask ``(B, R)``."""
        hidden = encode_rows(self.encoder, batch.input_ids, batch.attention_mask, batch.token_type_ids)
        tokens, mask = self.visual(batch, hidden)
        return self.gather_words(hidden, batch), tokens, mask
