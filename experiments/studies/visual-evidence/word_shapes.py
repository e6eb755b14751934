"""How the two datasets differ in word shape, and where the case control's gain falls.

The case control (bert_crf plus a learned word-shape embedding) is measurably better than bert_crf
on Twitter-2015 and not on Twitter-2017. This script prints the facts the study page quotes about
why that might be, all descriptive: each shape's share of the training words and how often a word of
that shape is (part of) an entity, per dataset; and the seed-averaged F1 of bert_crf and of the case
control on the tweets with and without a word of a given shape, from the per-tweet counts in
``runs.jsonl`` (no significance test: the groups were chosen after seeing the result).

    python experiments/studies/visual-evidence/word_shapes.py
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphmner.data.conll import Tweet
from graphmner.data.datasets import RECORD_SPLITS, load_dataset
from graphmner.data.tokenize import WORD_SHAPES, word_shape
from graphmner.eval.significance import counts_of_text, f1_of
from graphmner.nn.encoders import load_tokenizer

HERE = Path(__file__).resolve().parent


def shape_table(tweets: Sequence[Tweet], tokenizer) -> dict[str, tuple[float, float, float]]:
    """Per shape, most frequent first: % of all words, % of the words of that shape tagged as (part of) an
    entity, % of all the encoder's word pieces (a word the tokenizer drops counts one, as featurize reads it)."""
    words, in_entities, pieces = Counter(), Counter(), Counter()
    for tweet in tweets:
        for token, tag in zip(tweet.tokens, tweet.tags):
            shape = WORD_SHAPES[word_shape(token)]
            words[shape] += 1
            in_entities[shape] += tag != "O"
            pieces[shape] += max(1, len(tokenizer.tokenize(token)))
    n_words, n_pieces = sum(words.values()), sum(pieces.values())
    return {shape: (100 * n / n_words, 100 * in_entities[shape] / n, 100 * pieces[shape] / n_pieces)
            for shape, n in words.most_common()}


def group_f1(runs: Sequence[dict], variant: str, dataset: str, split: str, mask: np.ndarray) -> tuple[float, int]:
    """Mean over the variant's seeds of the F1 (%) on the tweets where ``mask`` is true ``(N,)``; and the seeds."""
    scores = [f1_of(counts_of_text(run[f"{split}_tweet_counts"])[mask].sum(0))
              for run in runs if run["variant"] == variant and run["dataset"] == dataset]
    return 100 * float(np.mean(scores)) if scores else float("nan"), len(scores)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=HERE / "runs.jsonl", help="the study's per-run results")
    parser.add_argument("--reference", default="bert_crf")
    parser.add_argument("--variant", default="bert_crf.word-shape")
    parser.add_argument("--encoder", default="minilm", help="whose word pieces to count")
    args = parser.parse_args(argv)
    if not args.runs.is_file():
        parser.error(f"--runs {args.runs}: no such file")
    tokenizer = load_tokenizer(args.encoder)
    runs = [json.loads(line) for line in args.runs.read_text().splitlines() if line.strip()]
    for dataset in ("twitter2015", "twitter2017"):
        data = load_dataset(dataset)
        print(f"{dataset}, training words by shape: % of words, % of them in an entity, % of {args.encoder}'s pieces")
        for shape, (share, entity, pieces) in shape_table(data["train"], tokenizer).items():
            print(f"  {shape:12s} {share:5.1f} {entity:5.0f} {pieces:5.1f}")
        for split, name in RECORD_SPLITS.items():
            shapes = [{WORD_SHAPES[word_shape(token)] for token in tweet.tokens} for tweet in data[name]]
            for shape in ("all caps", "hashtag", "mention", "url"):
                has = np.array([shape in held for held in shapes])
                for label, mask in ((f"with a word '{shape}'", has), ("without one", ~has)):
                    if not mask.any():
                        print(f"  {split}: no tweet {label}")
                        continue
                    ref, n_ref = group_f1(runs, args.reference, dataset, split, mask)
                    var, n_var = group_f1(runs, args.variant, dataset, split, mask)
                    print(f"  {split} {label:24s} {mask.sum():5d} tweets  {args.reference} {ref:6.2f} ({n_ref})"
                          f"  {args.variant} {var:6.2f} ({n_var})  delta {var - ref:+.2f}")


if __name__ == "__main__":
    main()
