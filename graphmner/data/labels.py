"""The tag vocabulary and conversions between IOB2 tags and entity spans."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Span:
    """An entity over words ``[start, end)`` of a tweet."""

    start: int
    end: int
    type: str


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Strict IOB2 decoding, as seqeval's strict mode does.

    An entity starts at ``B-X`` and continues over ``I-X``; an ``I-X`` that does
    not continue a ``B-X``/``I-X`` of the same type starts no entity.
    """
    spans: list[Span] = []
    start, kind = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        if kind is not None and not (prefix == "I" and label == kind):
            spans.append(Span(start, i, kind))
            start, kind = None, None
        if prefix == "B":
            start, kind = i, label
    return spans


def spans_to_tags(spans: Iterable[Span], length: int) -> list[str]:
    """The IOB2 tags of non-overlapping spans over ``length`` words."""
    tags = ["O"] * length
    for span in spans:
        if not 0 <= span.start < span.end <= length:
            raise ValueError(f"span {span} outside a sequence of {length} words")
        if any(t != "O" for t in tags[span.start:span.end]):
            raise ValueError(f"span {span} overlaps another span")
        tags[span.start] = f"B-{span.type}"
        for i in range(span.start + 1, span.end):
            tags[i] = f"I-{span.type}"
    return tags


class LabelVocab:
    """Maps IOB2 tags to ids: ``O`` is 0, then ``B-X``, ``I-X`` per type, sorted."""

    def __init__(self, entity_types: Iterable[str]):
        self.entity_types = sorted(set(entity_types))
        self.tags = ["O"] + [f"{p}-{t}" for t in self.entity_types for p in ("B", "I")]
        self._index = {tag: i for i, tag in enumerate(self.tags)}

    @classmethod
    def from_tags(cls, tag_sequences: Iterable[Sequence[str]]) -> LabelVocab:
        """The vocabulary of every entity type seen in ``tag_sequences``."""
        return cls({tag[2:] for tags in tag_sequences for tag in tags if tag != "O"})

    def __len__(self) -> int:
        return len(self.tags)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelVocab) and self.tags == other.tags

    def __repr__(self) -> str:
        return f"LabelVocab({self.entity_types})"

    def encode(self, tags: Sequence[str], where: str = "") -> list[int]:
        """Tag ids; a tag outside the vocabulary is an error naming ``where``."""
        try:
            return [self._index[t] for t in tags]
        except KeyError as err:
            raise KeyError(f"{where + ': ' if where else ''}tag {err.args[0]!r} is not in the label "
                           f"vocabulary {self.tags} (types seen in training)") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tags[i] for i in ids]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"tags": self.tags}, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> LabelVocab:
        tags = json.loads(Path(path).read_text(encoding="utf-8"))["tags"]
        vocab = cls(t[2:] for t in tags if t != "O")
        if vocab.tags != tags:
            raise ValueError(f"{path}: tags {tags} are not in the canonical order {vocab.tags}")
        return vocab
