"""Mean ± std of test F1 over seeds, from the metrics.json files of finished runs.

    python experiments/summarize.py runs/bert_crf-*/metrics.json

Groups runs by their directory name without the dataset and seed
(``<label>-<dataset>-s<seed>`` as the former experiments/seed_grid.sh named them, or
``<label>-2017-s<seed>`` as the job lists do; the label is the model name or a
name for a variant; other directories group by model name) and prints a Markdown table: each seed's F1, the mean ±
sample std, s/epoch.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

import yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", nargs="+", type=Path)
    args = parser.parse_args()
    groups: dict[tuple[str, str], list[tuple[int, dict]]] = defaultdict(list)
    for path in args.metrics:
        config = yaml.safe_load((path.parent / "config.yaml").read_text())
        dataset = config["data"]["dataset"]
        name = path.parent.name
        if f"-{dataset}-" in name:  # <label>-twitter2017-s1 (the former seed_grid.sh)
            label = name.split(f"-{dataset}-")[0]
        elif re.fullmatch(r".+-[^-]+-s\d+", name):  # <label>-2017-s1 (the gpu_grid.sh job names)
            label = name.rsplit("-", 2)[0]
        else:
            label = config["model"]["name"]
        groups[(label, dataset)].append((config["train"]["seed"], json.loads(path.read_text())))
    print("| model | dataset | n | test F1 per seed | mean ± std | test P | test R | s/epoch |")
    print("|---|---|---|---|---|---|---|---|")
    for (model, dataset), runs in sorted(groups.items()):
        runs.sort(key=lambda r: r[0])
        f1 = [100 * m["test"]["f1"] for _, m in runs]
        p = statistics.mean(100 * m["test"]["precision"] for _, m in runs)
        r = statistics.mean(100 * m["test"]["recall"] for _, m in runs)
        sec = statistics.mean(s for _, m in runs for s in m["epoch_seconds"])
        std = statistics.stdev(f1) if len(f1) > 1 else float("nan")
        seeds = ", ".join(f"s{s}: {v:.2f}" for (s, _), v in zip(runs, f1))
        print(f"| {model} | {dataset} | {len(f1)} | {seeds} | {statistics.mean(f1):.2f} ± {std:.2f} "
              f"| {p:.2f} | {r:.2f} | {sec:.0f} |")


if __name__ == "__main__":
    main()
