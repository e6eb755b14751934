"""Share of a split's tweets per image type (zero-shot from the BLIP-2 captions), and the cache for training.

    python experiments/studies/denoising-evidence/image_types.py --dataset twitter2015 \
        [--split test] [--cache DIR] [--examples 3]

Scores the captions of every split (cached in --cache, else $GRAPHMNER_CACHE or ~/.cache/graphmner: the
files graphmner's noise gate reads), then prints the share of the chosen split per type and a few
examples per type (random, seeded) to read.
"""
from __future__ import annotations

import argparse
import random
from collections import Counter

from graphmner.data.datasets import load_dataset
from graphmner.evidence.image_types import TYPE_NAMES, image_type
from graphmner.evidence.visual import dataset_evidence
from graphmner.nn.zero_shot import with_type_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="twitter2017")
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache", default=None, help="cache folder (default $GRAPHMNER_CACHE or ~/.cache/graphmner)")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--examples", type=int, default=3, help="examples per type to print")
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    evidence = dataset_evidence(data, ["captions"])[0]
    typed = {split: with_type_scores(ev, args.encoder, args.cache) for split, ev in evidence.items()}
    chosen = [e for e in typed[args.split] if e.type_scores is not None]
    counts = Counter(image_type(e.type_scores) for e in chosen)
    print(f"{args.dataset} {args.split}: {len(chosen)} tweets with a caption")
    for name in TYPE_NAMES:
        print(f"  {name:20s} {100 * counts[name] / max(len(chosen), 1):5.1f} %  ({counts[name]})")
    rng = random.Random(7)
    for name in TYPE_NAMES:
        group = [e for e in chosen if image_type(e.type_scores) == name]
        for e in rng.sample(group, min(args.examples, len(group))):
            print(f"  [{name}] {e.image_id}: {e.caption}")


if __name__ == "__main__":
    main()
