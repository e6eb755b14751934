"""Is one system better than another on the same tweets? A paired bootstrap over tweets.

Both systems' predictions for the same tweets are resampled together (tweets drawn with replacement,
the same draw for both), and entity-level micro F1 (strict IOB2, as :mod:`graphmner.eval.metrics`) is
recomputed for each on every resample. The spread of the difference gives a 95 % percentile interval;
the p-value is two-sided, for "no difference": the share of resampled differences at least as far from
the observed one as the observed one is from zero (the bootstrap distribution shifted to the null;
Berg-Kirkpatrick et al., EMNLP 2012, two-sided), with the +1 correction so that it is never 0.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphmner.data.conll import read_predictions
from graphmner.data.labels import tags_to_spans


def entity_counts(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> np.ndarray:
    """``(N, 3)`` per tweet: correct entities, predicted entities, gold entities (strict IOB2 spans)."""
    counts = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, predicted)):
        gold_spans, predicted_spans = set(tags_to_spans(g)), set(tags_to_spans(p))
        counts[i] = (len(gold_spans & predicted_spans), len(predicted_spans), len(gold_spans))
    return counts


def f1_of(counts: np.ndarray) -> np.ndarray:
    """Micro F1 from summed counts ``(..., 3)``: ``2 tp / (predicted + gold)``, 0 when both are 0."""
    denominator = counts[..., 1] + counts[..., 2]
    return np.where(denominator > 0, 2 * counts[..., 0] / np.maximum(denominator, 1), 0.0)


def paired_bootstrap(gold: Sequence[Sequence[str]], predicted_a: Sequence[Sequence[str]],
                     predicted_b: Sequence[Sequence[str]], resamples: int = 1000, seed: int = 1,
                     chunk: int = 250) -> dict[str, float]:
    """F1 of A and B on the same tweets, ``delta = f1_b - f1_a``, its 95 % interval and a two-sided p-value.

    Returns:
        ``{"f1_a", "f1_b", "delta", "ci_low", "ci_high", "p", "resamples", "tweets"}`` (F1 as fractions).
    """
    if not (len(gold) == len(predicted_a) == len(predicted_b)):
        raise ValueError(f"{len(gold)} gold tweets, {len(predicted_a)} and {len(predicted_b)} predicted")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    a, b = entity_counts(gold, predicted_a), entity_counts(gold, predicted_b)
    f1_a, f1_b = float(f1_of(a.sum(0))), float(f1_of(b.sum(0)))
    delta = f1_b - f1_a
    rng = np.random.default_rng(seed)
    deltas = []
    for start in range(0, resamples, chunk):  # (chunk, N) draws at a time: bounded memory
        draws = rng.integers(0, len(gold), size=(min(chunk, resamples - start), len(gold)))
        deltas.append(f1_of(b[draws].sum(1)) - f1_of(a[draws].sum(1)))
    resampled = np.concatenate(deltas)
    extreme = int(np.sum(np.abs(resampled - delta) >= abs(delta)))
    low, high = np.percentile(resampled, [2.5, 97.5])
    return {"f1_a": f1_a, "f1_b": f1_b, "delta": delta, "ci_low": float(low), "ci_high": float(high),
            "p": (extreme + 1) / (resamples + 1), "resamples": resamples, "tweets": len(gold)}


def prediction_file(path: str | Path, split: str = "test") -> Path:
    """A prediction file, or the ``predictions/{split}.conll`` of a run folder (or of its parent's run)."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "predictions" / f"{split}.conll", path / f"{split}.conll"):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"{path}: no predictions/{split}.conll (a run folder written by graphmner train, "
                                f"or a prediction file)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such run folder or prediction file")
    return path


def compare_files(path_a: str | Path, path_b: str | Path, resamples: int = 1000, seed: int = 1,
                  split: str = "test") -> dict[str, float]:
    """:func:`paired_bootstrap` on two prediction files (or run folders) of the same tweets.

    Raises:
        ValueError: the files differ in their tweets, words or gold tags (naming both files' lines).
    """
    file_a, file_b = prediction_file(path_a, split), prediction_file(path_b, split)
    tweets_a, tweets_b = read_predictions(file_a), read_predictions(file_b)
    for a, b in zip(tweets_a, tweets_b):
        where = f"{file_a}:{a.line} and {file_b}:{b.line}"
        if a.id != b.id:
            raise ValueError(f"{where}: different tweets ({a.id!r} and {b.id!r}); compare predictions of one split")
        if a.tokens != b.tokens:
            raise ValueError(f"{where}: tweet {a.id} has different words")
        if a.gold != b.gold:
            word = next(i for i, (x, y) in enumerate(zip(a.gold, b.gold)) if x != y) if len(a.gold) == len(b.gold) \
                else min(len(a.gold), len(b.gold))
            raise ValueError(f"{where}: tweet {a.id} has different gold tags (word {word + 1})")
    if len(tweets_a) != len(tweets_b):
        raise ValueError(f"{file_a} has {len(tweets_a)} tweets, {file_b} {len(tweets_b)}; compare predictions of "
                         f"one split")
    return paired_bootstrap([t.gold for t in tweets_a], [t.predicted for t in tweets_a],
                            [t.predicted for t in tweets_b], resamples, seed)
