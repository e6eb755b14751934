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
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import torch
from torch import Tensor

from graphmner.data.conll import Tweet
from graphmner.data.labels import LabelVocab


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
    """One tweet, tokenised: encoder rows and where each word's first piece is."""

    tweet: Tweet
    rows: list[list[int]]  # piece ids with special tokens, one list per window
    word_row: list[int]  # window index of each word
    word_pos: list[int]  # position of each word's first piece in its window
    tag_ids: list[int] | None


class Featurizer:
    """Turns tweets into :class:`Example` s for a given tokenizer and length limit."""

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

    def __call__(self, tweets: Sequence[Tweet]) -> list[Example]:
        if not tweets:
            return []
        encoded = self.tokenizer([t.tokens for t in tweets], is_split_into_words=True, add_special_tokens=False)
        return [self._example(t, encoded["input_ids"][i], encoded.word_ids(i)) for i, t in enumerate(tweets)]

    def _example(self, tweet: Tweet, ids: list[int], word_ids: list[int | None]) -> Example:
        pieces: list[list[int]] = [[] for _ in tweet.tokens]
        for piece, w in zip(ids, word_ids):
            if w is not None:
                pieces[w].append(piece)
        # a single word longer than a window keeps its first pieces: only the first is labelled
        pieces = [p[:self.budget] if p else [self.unk_id] for p in pieces]
        rows, word_row, word_pos = [], [0] * len(pieces), [0] * len(pieces)
        for r, win in enumerate(plan_windows([len(p) for p in pieces], self.budget)):
            row = list(self.prefix)
            for w in range(win.start, win.end):
                if win.core_start <= w < win.core_end:
                    word_row[w], word_pos[w] = r, len(row)
                row.extend(pieces[w])
            rows.append(row + self.suffix)
        tag_ids = None
        if tweet.tags is not None and self.labels is not None:
            tag_ids = self.labels.encode(tweet.tags, where=tweet.source or f"tweet {tweet.id}")
        return Example(tweet, rows, word_row, word_pos, tag_ids)


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
    """

    input_ids: Tensor
    attention_mask: Tensor
    word_row: Tensor
    word_pos: Tensor
    word_mask: Tensor
    tags: Tensor | None
    tweets: list[Tweet]

    def to(self, device: torch.device | str) -> "Batch":
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in moved.items():
            if isinstance(value, Tensor):
                moved[name] = value.to(device, non_blocking=True)
        return Batch(**moved)

    def __len__(self) -> int:
        return len(self.tweets)


def collate(examples: Sequence[Example], pad_id: int = 0) -> Batch:
    """Pad a list of examples into a :class:`Batch`."""
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
    labelled = all(ex.tag_ids is not None for ex in examples)
    tags = torch.zeros((len(examples), width), dtype=torch.long) if labelled else None
    offset = 0
    for b, ex in enumerate(examples):
        n = len(ex.word_pos)
        word_row[b, :n] = torch.tensor(ex.word_row) + offset
        word_pos[b, :n] = torch.tensor(ex.word_pos)
        word_mask[b, :n] = True
        if tags is not None:
            tags[b, :n] = torch.tensor(ex.tag_ids)
        offset += len(ex.rows)
    return Batch(input_ids, attention_mask, word_row, word_pos, word_mask, tags, [ex.tweet for ex in examples])
