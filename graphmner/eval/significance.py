"""Is one system better than another on the same tweets? A paired bootstrap over tweets.

Both systems' predictions for the same tweets are resampled together (tweets drawn with replacement,
the same draw for both), and entity-level micro F1 (strict IOB2, as :mod:`graphmner.eval.metrics`) is
recomputed for each on every resample. The spread of the difference gives a 95 % percentile interval;
the p-value is two-sided, for "no difference": the share of resampled differences at least as far from
the observed one as the observed one is from zero (the bootstrap distribution shifted to the null;
Berg-Kirkpatrick et al., EMNLP 2012, two-sided), with the +1 correction so that it is never 0.

Several seeds per system: :func:`bootstrap_counts` takes each system's runs as a stack of per-tweet
counts and compares seed-averaged F1 on every resample (the same tweets drawn for every run), which
is the tweet-level test of a results-table row against its reference. :func:`seed_permutation_test`
is the seed-level one (do the seeds' F1s of one system differ from the other's more than a random
relabelling of the runs would?), and :func:`holm` adjusts a table's p-values for its many comparisons.
A run's per-tweet counts travel in its record (:func:`counts_text`, :func:`gold_digest`), so that a
committed results file is enough to recompute every p-value.
"""
from __future__ import annotations

import hashlib
import itertools
import math
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
    return bootstrap_counts(entity_counts(gold, predicted_a)[None], entity_counts(gold, predicted_b)[None],
                            resamples, seed, chunk)


def bootstrap_counts(a: np.ndarray, b: np.ndarray, resamples: int = 1000, seed: int = 1,
                     chunk: int = 250) -> dict[str, float]:
    """:func:`paired_bootstrap` on per-tweet counts of several runs per system (seeds).

    Args:
        a, b: ``(S_a, N, 3)`` and ``(S_b, N, 3)`` :func:`entity_counts` of each run of A and of B, on the
            same ``N`` tweets. A system's F1 is the mean of its runs' F1s, on the data and on every resample.
    """
    if a.ndim != 3 or b.ndim != 3 or a.shape[1:] != b.shape[1:] or a.shape[2] != 3:
        raise ValueError(f"counts of shapes {a.shape} and {b.shape}; expected (runs, tweets, 3) over the same tweets")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    f1_a, f1_b = float(f1_of(a.sum(1)).mean()), float(f1_of(b.sum(1)).mean())
    delta, tweets = f1_b - f1_a, a.shape[1]
    rng = np.random.default_rng(seed)
    deltas = []
    for start in range(0, resamples, chunk):  # (chunk, N) draws at a time: bounded memory
        draws = rng.integers(0, tweets, size=(min(chunk, resamples - start), tweets))
        # (runs, chunk, 3) summed counts of every run on every resample -> mean F1 over runs
        deltas.append(f1_of(b[:, draws].sum(2)).mean(0) - f1_of(a[:, draws].sum(2)).mean(0))
    resampled = np.concatenate(deltas)
    extreme = int(np.sum(np.abs(resampled - delta) >= abs(delta)))
    low, high = np.percentile(resampled, [2.5, 97.5])
    return {"f1_a": f1_a, "f1_b": f1_b, "delta": delta, "ci_low": float(low), "ci_high": float(high),
            "p": (extreme + 1) / (resamples + 1), "resamples": resamples, "tweets": tweets}


def seed_permutation_test(a: Sequence[float], b: Sequence[float], max_exact: int = 20000, resamples: int = 20000,
                          seed: int = 1) -> dict[str, float]:
    """Two-sided permutation test of the difference of mean scores of two sets of runs (seeds).

    Every way of relabelling the pooled runs into groups of the two sizes is tried (5 + 5 seeds: 252),
    or ``resamples`` random ones when there are more than ``max_exact``; p is the share whose difference
    of means is at least as large in size as the observed one. With 5 + 5 seeds the smallest p is
    2/252 = 0.008; with 3 + 3 it is 0.1, so fewer seeds cannot support a claim at 0.05.

    Returns:
        ``{"delta": mean(b) - mean(a), "p", "n_a", "n_b", "exact"}``.
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a seed-level test needs at least 2 runs per system, got {len(a)} and {len(b)}")
    pooled, n_a = np.asarray(list(a) + list(b), dtype=float), len(a)
    observed = pooled[n_a:].mean() - pooled[:n_a].mean()
    total, tolerance = pooled.sum(), 1e-9 * max(1.0, abs(observed))
    exact = math.comb(len(pooled), n_a) <= max_exact
    if exact:
        groups = np.array(list(itertools.combinations(range(len(pooled)), n_a)))
    else:
        rng = np.random.default_rng(seed)
        groups = np.argsort(rng.random((resamples, len(pooled))), axis=1)[:, :n_a]
    sum_a = pooled[groups].sum(1)
    deltas = (total - sum_a) / len(b) - sum_a / n_a
    p = float(np.mean(np.abs(deltas) >= abs(observed) - tolerance))
    return {"delta": float(observed), "p": p, "n_a": n_a, "n_b": len(b), "exact": exact}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order): controls the chance of any false claim among a
    table's comparisons."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def counts_text(counts: np.ndarray) -> str:
    """Per-tweet counts ``(N, 3)`` as text for a run record: ``"c p g"`` triples joined by ``,``
    (``"110,000,111"``) when every count is below 10, else space-separated triples."""
    if counts.size and counts.max() >= 10:
        return ",".join(" ".join(str(v) for v in row) for row in counts.tolist())
    return ",".join("".join(str(v) for v in row) for row in counts.tolist())


def counts_of_text(text: str) -> np.ndarray:
    """The inverse of :func:`counts_text`: ``(N, 3)`` int counts."""
    rows = [r.split() if " " in r else list(r) for r in text.split(",")] if text else []
    if any(len(r) != 3 for r in rows):
        raise ValueError("per-tweet counts: every tweet needs three numbers (correct, predicted, gold)")
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def gold_digest(tweets: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A short hash of ``(tweet id, gold tags)`` in order: two runs' counts pair up only if it matches."""
    text = "\n".join(f"{tweet_id}\t{' '.join(tags)}" for tweet_id, tags in tweets)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


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
