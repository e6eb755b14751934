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

from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from graphmner.data.conll import Tweet
from graphmner.data.labels import LabelVocab

VISUAL_TOKENS = ("caption", "objects", "grid")  # what multimodal models may attend to, see Featurizer


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

    Multimodal models add an evidence row (after the word windows) holding
    the caption and object labels, where each graph ``object`` node finds its
    state, and the tweet's graph.
    """

    tweet: Tweet
    rows: list[list[int]]  # piece ids with special tokens, one list per window
    word_row: list[int]  # window index of each word
    word_pos: list[int]  # position of each word's first piece in its window
    tag_ids: list[int] | None
    object_row: list[int] = field(default_factory=list)  # row of each object node's first piece
    object_pos: list[int] = field(default_factory=list)
    graph: Any = None  # torch_geometric HeteroData, see graphmner.graph.builder
    token_types: list[list[int]] | None = None  # segment ids per row, when rows hold two segments
    visual_row: list[int] = field(default_factory=list)  # where each visual token (caption / objects) is
    visual_pos: list[int] = field(default_factory=list)
    image_grid: Any = None  # (R, D) region features (visual_tokens="grid"), None without


class Featurizer:
    """Turns tweets (and their visual evidence) into :class:`Example` s.

    Args:
        tokenizer: the encoder's tokenizer.
        labels: the tag vocabulary (None for unlabelled text).
        max_length: pieces per encoder row, special tokens included.
        graph_builder: ``(tweet, evidence) -> HeteroData``; given, every example
            gets an evidence row and a graph (graph models).
        second_segment: given, ``evidence -> words`` appended to every window
            as a second segment (``[CLS] tweet [SEP] caption [SEP]``).
        visual_tokens: given, every example records its visual tokens:
            ``"caption"`` every piece of the evidence row (the caption and object
            labels, encoded by the text encoder), ``"objects"`` each object's first
            piece there, ``"grid"`` the image's region features (``evidence.grid``).
    """

    def __init__(self, tokenizer, labels: LabelVocab | None, max_length: int = 128,
                 graph_builder: Callable | None = None, second_segment: Callable | None = None,
                 visual_tokens: str | None = None):
        if visual_tokens not in (None, *VISUAL_TOKENS):
            raise ValueError(f"unknown visual tokens {visual_tokens!r}; known: {', '.join(VISUAL_TOKENS)}")
        self.tokenizer, self.labels, self.max_length = tokenizer, labels, max_length
        self.graph_builder, self.second_segment, self.visual_tokens = graph_builder, second_segment, visual_tokens
        with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        k = next(i for i in range(len(with_special)) if with_special[i:i + len(plain)] == plain)
        self.prefix, self.suffix = with_special[:k], with_special[k + len(plain):]
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 1:
            raise ValueError(f"max_length={max_length} leaves no room beside the special tokens")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else self.pad_id

    def _pieces(self, word_lists: Sequence[Sequence[str]], budget: int) -> list[list[list[int]]]:
        """Per text, per word: its piece ids (``[UNK]`` for a word with none, at most ``budget``)."""
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

    def __call__(self, tweets: Sequence[Tweet], evidence: Sequence | None = None) -> list[Example]:
        if not tweets:
            return []
        needs_evidence = self.graph_builder is not None or self.second_segment is not None or bool(self.visual_tokens)
        evidence_row = self.graph_builder is not None or self.visual_tokens in ("caption", "objects")
        if needs_evidence and (evidence is None or len(evidence) != len(tweets)):
            raise ValueError("this featurizer needs one VisualEvidence per tweet")
        segments = [[] for _ in tweets]
        if self.second_segment is not None:
            # a caption gets at most half of each row; the tweet's windows get the rest
            segments = [[p for word in words for p in word][:self.budget // 2]
                        for words in self._pieces([self.second_segment(e) for e in evidence], self.budget)]
        shared = self.budget - self.budget // 2 - len(self.suffix)
        word_pieces = self._pieces([t.tokens for t in tweets], self.budget)
        if evidence_row:
            from graphmner.vision.evidence import evidence_words

            evidence_text = [evidence_words(e) for e in evidence]  # (words, object -> word index)
            evidence_pieces = self._pieces([words for words, _ in evidence_text], self.budget)
        examples = []
        for i, tweet in enumerate(tweets):
            # no second segment (no caption): exactly the text-only rows
            budget = shared if segments[i] else self.budget
            ex = self._example(tweet, [p[:budget] for p in word_pieces[i]], budget)
            if segments[i]:
                first = [len(r) for r in ex.rows]
                ex.rows = [r + segments[i] + self.suffix for r in ex.rows]
                ex.token_types = [[0] * n + [1] * (len(r) - n) for r, n in zip(ex.rows, first)]
            if evidence_row:
                self._add_evidence_row(ex, evidence[i], evidence_text[i][1], evidence_pieces[i])
            if self.visual_tokens == "grid":
                ex.image_grid = evidence[i].grid
            examples.append(ex)
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
        return Example(tweet, rows, word_row, word_pos, tag_ids)

    def _add_evidence_row(self, ex: Example, evidence, object_word: list[int], pieces: list[list[int]]) -> None:
        """Append the evidence row (if there is any evidence text), the graph and the visual token positions;
        objects whose word does not fit in the row are left out of both."""
        from graphmner.vision.evidence import VisualEvidence

        row, starts = list(self.prefix), []
        for p in pieces:
            if len(row) + len(p) > self.budget + len(self.prefix):
                break
            starts.append(len(row))
            row.extend(p)
        keep = [k for k, w in enumerate(object_word) if w < len(starts)]
        if len(keep) < len(object_word):
            evidence = VisualEvidence(evidence.image_id, [evidence.objects[k] for k in keep], evidence.caption,
                                      evidence.image_path)
        if self.graph_builder is not None:
            ex.graph = self.graph_builder(ex.tweet, evidence)
        row_index = len(ex.rows)
        if keep:
            ex.object_row = [row_index] * len(keep)
            ex.object_pos = [starts[object_word[k]] for k in keep]
        if self.visual_tokens == "objects":
            ex.visual_row, ex.visual_pos = list(ex.object_row), list(ex.object_pos)
        elif self.visual_tokens == "caption" and starts:
            ex.visual_pos = list(range(len(self.prefix), len(row)))
            ex.visual_row = [row_index] * len(ex.visual_pos)
        if keep or ex.visual_pos:
            ex.rows.append(row + self.suffix)


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
        object_row, object_pos: ``(O,)`` where each graph object node's first piece is.
        graph: the tweets' graphs as one ``torch_geometric`` batch, or None.
        visual_row, visual_pos, visual_index: ``(V,)`` where each visual token's piece is and its tweet.
        image_grid: ``(B, R, D)`` region features (zeros for tweets without), or None.
        image_present: ``(B,)`` True for tweets with region features.
    """

    input_ids: Tensor
    attention_mask: Tensor
    word_row: Tensor
    word_pos: Tensor
    word_mask: Tensor
    tags: Tensor | None
    tweets: list[Tweet]
    token_type_ids: Tensor | None = None
    object_row: Tensor | None = None
    object_pos: Tensor | None = None
    graph: Any = None
    visual_row: Tensor | None = None
    visual_pos: Tensor | None = None
    visual_index: Tensor | None = None
    image_grid: Tensor | None = None
    image_present: Tensor | None = None

    def to(self, device: torch.device | str) -> "Batch":
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in moved.items():
            if isinstance(value, Tensor) or (name == "graph" and value is not None):
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
    token_type_ids = None
    if any(ex.token_types is not None for ex in examples):
        token_type_ids = torch.zeros_like(input_ids)
        types = [t for ex in examples for t in (ex.token_types or [[0] * len(r) for r in ex.rows])]
        for i, row_types in enumerate(types):
            token_type_ids[i, :len(row_types)] = torch.tensor(row_types)
    offset, object_row, object_pos, visual_row, visual_pos, visual_index = 0, [], [], [], [], []
    for b, ex in enumerate(examples):
        n = len(ex.word_pos)
        word_row[b, :n] = torch.tensor(ex.word_row) + offset
        word_pos[b, :n] = torch.tensor(ex.word_pos)
        word_mask[b, :n] = True
        if tags is not None:
            tags[b, :n] = torch.tensor(ex.tag_ids)
        object_row += [r + offset for r in ex.object_row]
        object_pos += ex.object_pos
        visual_row += [r + offset for r in ex.visual_row]
        visual_pos += ex.visual_pos
        visual_index += [b] * len(ex.visual_pos)
        offset += len(ex.rows)
    graph = None
    if examples[0].graph is not None:
        from torch_geometric.data import Batch as GraphBatch

        graph = GraphBatch.from_data_list([ex.graph for ex in examples])
    image_grid = image_present = None
    grids = [ex.image_grid for ex in examples]
    if any(g is not None for g in grids):
        shape = next(g.shape for g in grids if g is not None)
        image_grid = torch.stack([g if g is not None else torch.zeros(shape) for g in grids])
        image_present = torch.tensor([g is not None for g in grids])
    as_long = partial(torch.tensor, dtype=torch.long)
    return Batch(input_ids, attention_mask, word_row, word_pos, word_mask, tags, [ex.tweet for ex in examples],
                 token_type_ids, as_long(object_row), as_long(object_pos), graph, as_long(visual_row),
                 as_long(visual_pos), as_long(visual_index), image_grid, image_present)
