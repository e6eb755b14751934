"""Entity-level scores with seqeval, strict IOB2 (an entity counts only if
both its boundaries and its type match exactly)."""
from __future__ import annotations

from collections.abc import Sequence

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Micro precision/recall/F1 (fractions) and the same per entity type.

    Returns:
        ``{"precision", "recall", "f1", "support", "per_type": {TYPE: {...}}}``
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sequence {i}: {len(g)} gold tags but {len(p)} predicted; every word must be scored")
    report = classification_report([list(g) for g in gold], [list(p) for p in predicted], mode="strict",
                                   scheme=IOB2, output_dict=True, zero_division=0)
    micro = report["micro avg"]

    def row(r: dict) -> dict:
        return {"precision": float(r["precision"]), "recall": float(r["recall"]), "f1": float(r["f1-score"]),
                "support": int(r["support"])}

    types = sorted(k for k in report if not k.endswith(" avg"))
    return {**row(micro), "per_type": {t: row(report[t]) for t in types}}


def format_report(scores: dict) -> str:
    """A plain-text table of per-type and micro scores."""
    lines = [f"{'type':<8} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for name, r in list(scores["per_type"].items()) + [("micro", scores)]:
        lines.append(f"{name:<8} {r['precision']:>9.4f} {r['recall']:>9.4f} {r['f1']:>9.4f} {r['support']:>8d}")
    return "\n".join(lines) + "\n"
