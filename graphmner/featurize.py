"""From tweets to model input: subword windows, first-subword labelling, ``Batch``.

A tweet's words are split into subword pieces. Each word is represented by its
*first* piece. A tweet whose pieces do not fit the encoder (``max_length``
including special tokens) is cut into several overlapping *windows*: every
word belongs to exactly one window's *core*, and takes its state from there,
with context on both sides. The CRF still runs over the whole tweet, so no word
is ever dropped from training or scoring.

A word the tokenizer turns into no pieces at all (a lone U+FE0F or a
no-break space occurs in Twitter-2015/2017) is represented by the unknown
token, so it still gets a state and a prediction.

:class:`Featurizer` makes what every model reads (the tweet's encoder rows and
where each word's first piece is). A model that needs more (a graph, visual
tokens, a second segment) owns a subclass beside it, as a Hugging Face model owns
its processor: the subclass puts its inputs in ``Example.extra`` and collates them
into ``Batch.extra``. Every row is encoded as a sequence of its own, so a row a
featurizer adds (after the tweet's rows) never changes the tweet's word states;
only a second segment, written into the tweet's rows, does.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from graphmner.data.conll import Tweet
from graphmner.data.labels import LabelVocab
from graphmner.data.tokenize import word_shape


@dataclass(frozen=True)
class Window:
    """Words ``[start, end)`` go to the encoder; words ``[core_start, core_end)`` take their state here."""

    start: int
    end: int
    core_start: int
    core_end: int


def plan_windows(piece_counts: Sequence[int], budget: int) -> list[Window]:
    """Cover the words with windows of at most ``budget`` pieces.

    Each window's core holds up to half the budget; the rest is filled with
    context, alternately left and right. Counts must already be ``<= budget``.
    """
    n = len(piece_counts)
    if sum(piece_counts) <= budget:
        return [Window(0, n, 0, n)]
    windows, i = [], 0
    while i < n:
        j, used = i, 0
        while j < n and (j == i or used + piece_counts[j] <= budget // 2):
            used += piece_counts[j]
            j += 1
        start, end, grew = i, j, True
        while grew:
            grew = False
            if start > 0 and used + piece_counts[start - 1] <= budget:
                start -= 1
                used += piece_counts[start]
                grew = True
            if end < n and used + piece_counts[end] <= budget:
                used += piece_counts[end]
                end += 1
                grew = True
        windows.append(Window(start, end, i, j))
        i = j
    return windows


@dataclass
class Example:
    """One tweet, tokenised: encoder rows and where each word's first piece is.

    ``extra`` holds what only the model's own featurizer adds (graphmner's graph and object positions,
    the attention baselines' visual tokens); rows a featurizer adds come after the word windows.
    """

    tweet: Tweet
    rows: list[list[int]]  # piece ids with special tokens, one list per window
    word_row: list[int]  # window index of each word
    word_pos: list[int]  # position of each word's first piece in its window
    tag_ids: list[int] | None
    token_types: list[list[int]] | None = None  # segment ids per row, when rows hold two segments
    extra: dict[str, Any] = field(default_factory=dict)
    word_shapes: list[int] = field(default_factory=list)  # graphmner.data.tokenize.word_shape of each word


@dataclass
class Batch:
    """A padded mini-batch; ``B`` tweets, ``C >= B`` encoder rows, ``W`` words, ``L`` pieces.

    Attributes:
        input_ids: ``(C, L)`` piece ids, padded.
        attention_mask: ``(C, L)`` 1 for real pieces.
        word_row: ``(B, W)`` encoder row holding each word's first piece.
        word_pos: ``(B, W)`` position of that piece in its row.
        word_mask: ``(B, W)`` True for real words.
        tags: ``(B, W)`` gold tag ids (0 at padding), or None.
        tweets: the source tweets, in batch order.
        token_type_ids: ``(C, L)`` segment ids when rows hold two segments, else None.
        extra: what the model's featurizer collated for it (tensors, a ``torch_geometric`` batch, ...).
        word_shape: ``(B, W)`` each word's shape (:data:`graphmner.data.tokenize.WORD_SHAPES`; 0 at padding).
    """

    input_ids: Tensor
    attention_mask: Tensor
    word_row: Tensor
    word_pos: Tensor
    word_mask: Tensor
    tags: Tensor | None
    tweets: list[Tweet]
    token_type_ids: Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    word_shape: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        def move(value):
            return value.to(device, non_blocking=True) if isinstance(value, Tensor) else (
                value.to(device) if hasattr(value, "to") else value)

        return Batch(*(move(v) for v in (self.input_ids, self.attention_mask, self.word_row, self.word_pos,
                                          self.word_mask, self.tags)), self.tweets, move(self.token_type_ids),
                     {k: move(v) for k, v in self.extra.items()}, move(self.word_shape))

    def __len__(self) -> int:
        return len(self.tweets)


class Featurizer:
    """Turns tweets (and, for multimodal models, their evidence) into :class:`Example` s and batches.

    Subclasses (each beside the model that reads it) override the hooks :meth:`second_segments`,
    :meth:`add_extras` and :meth:`collate_extras`, and set ``needs_evidence``.

    Args:
        tokenizer: the encoder's tokenizer.
        labels: the tag vocabulary (None for unlabelled text).
        max_length: pieces per encoder row, special tokens included.
    """

    needs_evidence = False  # True: __call__ takes one evidence per tweet

    def __init__(self, tokenizer, labels: LabelVocab | None, max_length: int = 128):
        self.tokenizer, self.labels, self.max_length = tokenizer, labels, max_length
        with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        k = next(i for i in range(len(with_special)) if with_special[i:i + len(plain)] == plain)
        self.prefix, self.suffix = with_special[:k], with_special[k + len(plain):]
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 1:
            raise ValueError(f"max_length={max_length} leaves no room beside the special tokens")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else self.pad_id

    # hooks for the featurizers of multimodal models

    def second_segments(self, evidence: Sequence) -> list[list[str]] | None:
        """Per tweet, the words of a second segment appended to each of its rows
        (``[CLS] tweet [SEP] words [SEP]``); None for none."""
        return None

    def add_extras(self, examples: list[Example], evidence: Sequence | None) -> None:
        """Add what the model needs beyond the tweet's rows (``Example.extra``, rows via :meth:`append_row`)."""

    def collate_extras(self, examples: Sequence[Example], row_offsets: Sequence[int]) -> dict[str, Any]:
        """``Batch.extra`` of these examples; ``row_offsets[b]`` is the batch row of example ``b``'s first row."""
        return {}

    # helpers for the hooks

    def pieces(self, word_lists: Sequence[Sequence[str]], budget: int | None = None) -> list[list[list[int]]]:
        """Per text, per word: its piece ids (``[UNK]`` for a word with none, at most ``budget``)."""
        budget = self.budget if budget is None else budget
        if not any(word_lists):
            return [[] for _ in word_lists]
        encoded = self.tokenizer([list(w) for w in word_lists], is_split_into_words=True, add_special_tokens=False)
        out = []
        for i, words in enumerate(word_lists):
            pieces: list[list[int]] = [[] for _ in words]
            for piece, w in zip(encoded["input_ids"][i], encoded.word_ids(i)):
                if w is not None:
                    pieces[w].append(piece)
            # a single word longer than a row keeps its first pieces: only the first one is used
            out.append([p[:budget] if p else [self.unk_id] for p in pieces])
        return out

    def fit_row(self, pieces: Sequence[Sequence[int]]) -> tuple[list[int], list[int]]:
        """An extra row (without its closing special tokens) of as many whole words as fit, and the position
        of each fitted word's first piece; words that do not fit are left out."""
        row, starts = list(self.prefix), []
        for p in pieces:
            if len(row) + len(p) > self.budget + len(self.prefix):
                break
            starts.append(len(row))
            row.extend(p)
        return row, starts

    def append_row(self, example: Example, row: list[int]) -> int:
        """Close ``row`` (from :meth:`fit_row`), append it to the example's rows, return its index."""
        example.rows.append(row + self.suffix)
        return len(example.rows) - 1

    # featurizing and collating

    def __call__(self, tweets: Sequence[Tweet], evidence: Sequence | None = None) -> list[Example]:
        if not tweets:
            return []
        if self.needs_evidence and (evidence is None or len(evidence) != len(tweets)):
            raise ValueError(f"{type(self).__name__} needs one evidence per tweet")
        segments: list[list[int]] = [[] for _ in tweets]
        second = self.second_segments(evidence) if self.needs_evidence else None
        if second is not None:
            segments = [[p for word in words for p in word] for words in self.pieces(second, budget=self.budget)]
        # with a second segment the tweet's windows get at most half of each row; the segment gets what the
        # longest window leaves (a caption always fits; long knowledge is cut at the end of the row)
        shared = self.budget - self.budget // 2 - len(self.suffix)
        word_pieces = self.pieces([t.tokens for t in tweets])
        examples = []
        for i, tweet in enumerate(tweets):
            # no second segment (e.g. no caption): exactly the text-only rows
            budget = shared if segments[i] else self.budget
            ex = self._example(tweet, [p[:budget] for p in word_pieces[i]], budget)
            if segments[i]:
                first = [len(r) for r in ex.rows]
                room = self.max_length - max(first) - len(self.suffix)
                ex.rows = [r + segments[i][:room] + self.suffix for r in ex.rows]
                ex.token_types = [[0] * n + [1] * (len(r) - n) for r, n in zip(ex.rows, first)]
            examples.append(ex)
        self.add_extras(examples, evidence)
        return examples

    def _example(self, tweet: Tweet, pieces: list[list[int]], budget: int) -> Example:
        rows, word_row, word_pos = [], [0] * len(pieces), [0] * len(pieces)
        for r, win in enumerate(plan_windows([len(p) for p in pieces], budget)):
            row = list(self.prefix)
            for w in range(win.start, win.end):
                if win.core_start <= w < win.core_end:
                    word_row[w], word_pos[w] = r, len(row)
                row.extend(pieces[w])
            rows.append(row + self.suffix)
        tag_ids = None
        if tweet.tags is not None and self.labels is not None:
            tag_ids = self.labels.encode(tweet.tags, where=tweet.source or f"tweet {tweet.id}")
        return Example(tweet, rows, word_row, word_pos, tag_ids, word_shapes=[word_shape(t) for t in tweet.tokens])

    def collate(self, examples: Sequence[Example]) -> Batch:
        """Pad examples into a :class:`Batch`, with this featurizer's extras."""
        batch = collate(examples, self.pad_id)
        offsets, offset = [], 0
        for ex in examples:
            offsets.append(offset)
            offset += len(ex.rows)
        batch.extra = self.collate_extras(examples, offsets)
        return batch


def collate(examples: Sequence[Example], pad_id: int = 0) -> Batch:
    """Pad what every model reads into a :class:`Batch` (no extras: see :meth:`Featurizer.collate`)."""
    rows = [row for ex in examples for row in ex.rows]
    length = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, :len(row)] = torch.tensor(row)
        attention_mask[i, :len(row)] = 1
    width = max(len(ex.word_pos) for ex in examples)
    word_row = torch.zeros((len(examples), width), dtype=torch.long)
    word_pos = torch.zeros((len(examples), width), dtype=torch.long)
    word_mask = torch.zeros((len(examples), width), dtype=torch.bool)
    shapes = torch.zeros((len(examples), width), dtype=torch.long)
    labelled = all(ex.tag_ids is not None for ex in examples)
    tags = torch.zeros((len(examples), width), dtype=torch.long) if labelled else None
    token_type_ids = None
    if any(ex.token_types is not None for ex in examples):
        token_type_ids = torch.zeros_like(input_ids)
        types = [t for ex in examples for t in (ex.token_types or [[0] * len(r) for r in ex.rows])]
        for i, row_types in enumerate(types):
            token_type_ids[i, :len(row_types)] = torch.tensor(row_types)
    offset = 0
    for b, ex in enumerate(examples):
        n = len(ex.word_pos)
        word_row[b, :n] = torch.tensor(ex.word_row) + offset
        word_pos[b, :n] = torch.tensor(ex.word_pos)
        word_mask[b, :n] = True
        shapes[b, :n] = torch.tensor(ex.word_shapes or [0] * n)
        if tags is not None:
            tags[b, :n] = torch.tensor(ex.tag_ids)
        offset += len(ex.rows)
    return Batch(input_ids, attention_mask, word_row, word_pos, word_mask, tags, [ex.tweet for ex in examples],
                 token_type_ids, word_shape=shapes)
