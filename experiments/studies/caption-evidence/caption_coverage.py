"""How often the caption names an entity: the share of gold entities with a word that a caption
concept matches exactly or partially (the graph's match features), per entity type.

    python experiments/studies/caption-evidence/caption_coverage.py --dataset twitter2017 --split test
"""
from __future__ import annotations

import argparse
from collections import Counter

from graphmner.data.datasets import load_dataset
from graphmner.data.labels import tags_to_spans
from graphmner.evidence.visual import dataset_evidence
from graphmner.graph.builder import SEES, GraphConfig, build_graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="twitter2017")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    data = load_dataset(args.dataset, splits=(args.split,))
    evidence = dataset_evidence(data, ["captions"])[0][args.split]
    config = GraphConfig(cross_edges="match")
    total, covered = Counter(), Counter()
    for tweet, ev in zip(data[args.split], evidence):
        graph = build_graph(tweet, ev, config)
        matched = set(graph[SEES].edge_index[1].tolist())  # words some caption concept matches
        for span in tags_to_spans(tweet.tags):
            total[span.type] += 1
            covered[span.type] += any(i in matched for i in range(span.start, span.end))
    n, k = sum(total.values()), sum(covered.values())
    print(f"{args.dataset}/{args.split}: {k}/{n} entities ({100 * k / n:.1f}%) have a word matched by a caption "
          f"concept")
    for kind in sorted(total):
        print(f"  {kind}: {covered[kind]}/{total[kind]} ({100 * covered[kind] / total[kind]:.1f}%)")


if __name__ == "__main__":
    main()
