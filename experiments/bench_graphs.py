"""Graph-building throughput on one core: tweets per second of build_graph.

    python experiments/bench_graphs.py --dataset twitter2017 --split train --repeat 3
    python experiments/bench_graphs.py --knowledge --evidence captions,knowledge   # everything on

Evidence is collected first (not timed). A pass is timed by the process's CPU time, so that other work on
the machine counts as little as it can, and the best of --repeat passes is reported, since such work
only ever slows a pass down. Text evidence is parsed once per text and the parse is cached for the
process, so the first pass, which parses, is slower and is shown among the passes: it is what one
``graphmner train`` pays, once per split.
"""
from __future__ import annotations

import argparse
import time

import torch

from graphmner.data.datasets import load_dataset
from graphmner.evidence.visual import TEXT_SOURCES, dataset_evidence, parse_sources
from graphmner.graph.builder import TEXT_NODES, GraphConfig, build_graph
from graphmner.graph.knowledge import load_gazetteer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="twitter2017")
    parser.add_argument("--split", default="train")
    parser.add_argument("--cross-edges", default="all", choices=("all", "match"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--knowledge", action="store_true",
                        help="with knowledge (gazetteer) nodes, graphmner's default")
    parser.add_argument("--evidence", default="captions",
                        help="evidence sources, as graphmner train --evidence (text sources add candidate and "
                             "sentence nodes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(args.dataset, splits=(args.split,))
    tweets = data[args.split]
    sources = parse_sources(args.evidence)
    evidence = dataset_evidence(data, sources)[0][args.split]
    text_nodes = TEXT_NODES if any(s in TEXT_SOURCES for s in sources) else ()
    config = GraphConfig(cross_edges=args.cross_edges, text_nodes=text_nodes)
    if args.knowledge:
        config.knowledge = load_gazetteer()
    rates = []
    for _ in range(args.repeat):
        start = time.process_time()
        for tweet, ev in zip(tweets, evidence):
            build_graph(tweet, ev, config)
        rates.append(len(tweets) / (time.process_time() - start))
    print(f"{args.dataset}/{args.split}: {len(tweets)} tweets, evidence {'+'.join(sources) or 'none'}, "
          f"gazetteer {'on' if args.knowledge else 'off'}, cross_edges={args.cross_edges}: "
          f"best {max(rates):.0f} tweets/s (passes: {', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
