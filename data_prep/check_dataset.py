"""Check a dataset folder before training on it, and print what it holds.

    python data_prep/check_dataset.py --dataset twitter2017
    python data_prep/check_dataset.py --data-dir /data/my_tweets

Reads every split with the same strict reader the trainer uses (a malformed
line stops with file and line), then reports per split: tweets, words,
entities per type (after repairing stray I- tags), the longest tweet, and how many tweets have a caption and
an image file, and the captions shared by so many images that they are placeholders. Exit status 1 when a
split has tags of a type unseen in train; 2 with a one-line error for input it cannot read.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from graphmner.data.datasets import load_dataset
from graphmner.data.labels import tags_to_spans
from graphmner.formats import FormatError
from graphmner.vision.captions import placeholder_captions, read_captions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None, help="a registered dataset (twitter2015, twitter2017)")
    parser.add_argument("--data-dir", default=None, help="a folder with train.txt, valid.txt, test.txt")
    args = parser.parse_args(argv)
    if args.dataset is None and args.data_dir is None:
        parser.error("give --dataset or --data-dir")
    try:
        return check(args.dataset, args.data_dir)
    except (FormatError, OSError, KeyError, ValueError) as err:  # what this script exists to find: one line
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"check_dataset.py: error: {message}", file=sys.stderr)
        return 2


def check(dataset: str | None, data_dir: str | None) -> int:
    """Print what the folder holds; 1 when a split has entity types train has not."""
    data = load_dataset(dataset, data_dir)
    captions = read_captions(data.caption_file) if data.caption_file else {}
    images = {p.stem for p in data.image_dir.iterdir()} if data.image_dir else set()
    train_types = {s.type for t in data["train"] for s in tags_to_spans(t.tags)}
    status = 0
    print(f"{data.name} at {data.root}; captions: {data.caption_file or 'none'}; images: {data.image_dir or 'none'}")
    for text, n in placeholder_captions(captions).items():
        print(f"placeholder caption on {n} images (no evidence in training): {text[:70]!r}")
    summary = data.summary()
    for split, tweets in data.splits.items():
        types = Counter(s.type for t in tweets for s in tags_to_spans(t.tags))
        with_caption = sum(t.image_id in captions for t in tweets)
        with_image = sum(t.image_id in images for t in tweets)
        words, longest = sum(len(t) for t in tweets), max(map(len, tweets))
        print(f"{split:>5}: {len(tweets)} tweets, {words} words, longest {longest}; "
              f"entities {dict(sorted(types.items()))}; caption {with_caption}/{len(tweets)}, "
              f"image {with_image}/{len(tweets)}; stray I- tags repaired to B- {summary[split]['repaired_tags']}")
        unseen = set(types) - train_types
        if unseen:
            print(f"       types not in train: {sorted(unseen)}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
