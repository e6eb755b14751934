"""Where a tagger goes wrong, span by span: the categories of an error analysis.

Every gold and every predicted entity (strict IOB2 spans) lands in exactly one category:

==============  =================================================================
``correct``     same boundaries, same type (what strict F1 counts)
``type``        same boundaries, other type
``boundary``    overlapping, other boundaries, same type
``both``        overlapping, other boundaries and other type
``missed``      a gold entity no prediction overlaps
``spurious``    a predicted entity no gold entity overlaps
==============  =================================================================

A gold entity is paired with the predicted one that overlaps it most (ties: the first), and
each predicted entity pairs at most once.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from graphmner.data.labels import Span, tags_to_spans

CATEGORIES = ("correct", "type", "boundary", "both", "missed", "spurious")


@dataclass(frozen=True)
class SpanError:
    tweet: int  # index of the tweet
    category: str
    gold: Span | None
    predicted: Span | None


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def span_errors(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> list[SpanError]:
    """One :class:`SpanError` per gold entity and per unpaired predicted entity, tweet by tweet."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    out: list[SpanError] = []
    for i, (g_tags, p_tags) in enumerate(zip(gold, predicted)):
        pred = tags_to_spans(p_tags)
        used: set[int] = set()
        for g in tags_to_spans(g_tags):
            best, best_overlap = None, 0
            for j, p in enumerate(pred):
                if j not in used and _overlap(g, p) > best_overlap:
                    best, best_overlap = j, _overlap(g, p)
            if best is None:
                out.append(SpanError(i, "missed", g, None))
                continue
            used.add(best)
            p = pred[best]
            same_bounds, same_type = (g.start, g.end) == (p.start, p.end), g.type == p.type
            category = ("correct" if same_type else "type") if same_bounds else ("boundary" if same_type else "both")
            out.append(SpanError(i, category, g, p))
        out.extend(SpanError(i, "spurious", None, p) for j, p in enumerate(pred) if j not in used)
    return out


def error_counts(errors: Sequence[SpanError]) -> dict[str, int]:
    counts = Counter(e.category for e in errors)
    return {c: counts.get(c, 0) for c in CATEGORIES}


def type_confusion(errors: Sequence[SpanError]) -> dict[str, dict[str, int]]:
    """``{gold type: {predicted type or "O": count}}`` over gold entities (boundaries ignored);
    ``{"O": {type: count}}`` holds the spurious predictions."""
    table: dict[str, Counter] = {}
    for e in errors:
        row = e.gold.type if e.gold else "O"
        col = e.predicted.type if e.predicted else "O"
        table.setdefault(row, Counter())[col] += 1
    return {row: dict(sorted(cols.items())) for row, cols in sorted(table.items())}
