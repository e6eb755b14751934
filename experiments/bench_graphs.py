"""Graph-building throughput on one core: tweets per second of build_graph.

    python experiments/bench_graphs.py --dataset twitter2017 --split train --repeat 3

Evidence is collected first (not timed); the best of --repeat passes is reported,
since other work on the machine only ever slows a pass down.
"""
from __future__ import annotations

import argparse
import time

import torch

from graphmner.data.datasets import load_dataset
from graphmner.evidence.visual import dataset_evidence
from graphmner.graph.builder import GraphConfig, build_graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="twitter2017")
    parser.add_argument("--split", default="train")
    parser.add_argument("--cross-edges", default="all", choices=("all", "match"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--knowledge", action="store_true",
                        help="with knowledge (gazetteer) nodes, graphmner's default")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(args.dataset, splits=(args.split,))
    tweets = data[args.split]
    evidence = dataset_evidence(data, ["captions"])[0][args.split]
    config = GraphConfig(cross_edges=args.cross_edges)
    if args.knowledge:
        from graphmner.graph.knowledge import load_gazetteer

        config.knowledge = load_gazetteer()
    rates = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for tweet, ev in zip(tweets, evidence):
            build_graph(tweet, ev, config)
        rates.append(len(tweets) / (time.perf_counter() - start))
    print(f"{args.dataset}/{args.split}: {len(tweets)} tweets, cross_edges={args.cross_edges}: "
          f"best {max(rates):.0f} tweets/s (passes: {', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
