"""Which gold entities PGIM's entity list names, as the graph links it: an entity is named when one
candidate node's exact mention edges reach every word of it ("NewYorkMets" -> "New York Mets"). Prints the
share per dataset, split and entity type, and with ``--groups DIR`` writes the dev and test tweets of each
dataset in two groups, one ``DATASET SPLIT TWEET_ID`` a line, for ``table.py --tweets``:

- ``named.txt``: tweets with no gold entity that the list misses (those without a gold entity too: a
  model's false entities there count against its precision);
- ``missed.txt``: tweets with a gold entity that the list does not name.

    python experiments/studies/knowledge-evidence/knowledge_names.py --groups runs/knowledge-names
    python experiments/table.py knowledge-evidence --reference bert_crf --only \\
        --rows bert_crf,graphmner_knowledge,concat_knowledge --tweets runs/knowledge-names/missed.txt

The groups are made from the gold tags: they describe where a model's F1 comes from, and choose nothing.
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from graphmner.data.conll import Tweet
from graphmner.data.datasets import DATASETS, RECORD_SPLITS, load_dataset
from graphmner.data.labels import tags_to_spans
from graphmner.evidence.visual import VisualEvidence, dataset_evidence
from graphmner.graph.builder import CANDIDATE_MENTIONS, GraphConfig, build_graph

GROUPS = ("named", "missed")
_CANDIDATES = GraphConfig(text_nodes=("candidates",))


def named_entities(tweet: Tweet, evidence: VisualEvidence) -> list[tuple[str, bool]]:
    """Each gold entity of ``tweet`` (its type) and whether one candidate of the knowledge names all its words."""
    mentions = build_graph(tweet, evidence, _CANDIDATES)[CANDIDATE_MENTIONS]
    exact: dict[int, set[int]] = {}  # candidate -> the words it spells exactly
    for candidate, word, (is_exact, _) in zip(*mentions.edge_index.tolist(), mentions.edge_attr.tolist()):
        if is_exact:
            exact.setdefault(candidate, set()).add(word)
    return [(span.type, any(set(range(span.start, span.end)) <= words for words in exact.values()))
            for span in tags_to_spans(tweet.tags)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated (default: both)")
    parser.add_argument("--groups", type=Path, metavar="DIR", help="write the tweets of each group under DIR")
    args = parser.parse_args()
    lines: dict[str, list[str]] = {group: [] for group in GROUPS}
    for dataset in args.datasets.split(","):
        data = load_dataset(dataset, splits=tuple(RECORD_SPLITS.values()))
        evidence, _ = dataset_evidence(data, ["knowledge"])
        for split, corpus_split in RECORD_SPLITS.items():
            named, total, groups = Counter(), Counter(), Counter()
            for tweet, ev in zip(data[corpus_split], evidence[corpus_split]):
                entities = named_entities(tweet, ev)
                for kind, is_named in entities:
                    total[kind] += 1
                    named[kind] += is_named
                group = "named" if all(is_named for _, is_named in entities) else "missed"
                groups[group] += 1
                lines[group].append(f"{dataset} {split} {tweet.id}\n")
            n, k = sum(total.values()), sum(named.values())
            kinds = ", ".join(f"{kind} {named[kind]}/{total[kind]} ({100 * named[kind] / total[kind]:.1f} %)"
                              for kind in sorted(total))
            print(f"{dataset} {split}: the entity list names {k}/{n} gold entities ({100 * k / n:.1f} %): {kinds}; "
                  f"tweets {', '.join(f'{g} {groups[g]}' for g in GROUPS)}")
    if args.groups:
        args.groups.mkdir(parents=True, exist_ok=True)
        for group, group_lines in lines.items():
            (args.groups / f"{group}.txt").write_text("".join(group_lines), encoding="utf-8")
        print(f"groups -> {args.groups}/{{{','.join(GROUPS)}}}.txt")


if __name__ == "__main__":
    main()
