"""Test F1 per row from gpu_grid.sh log archives (the runs' `graphmner train` output).

    python experiments/summarize_logs.py experiments/results/issue3_pilot_logs/*.tgz

A run named ROW-DATASET-sSEED (e.g. gnn-2017-s3) becomes one seed of ROW on
DATASET; prints a Markdown table of F1 per seed, mean ± sample std, and the mean
seconds per epoch (training pass + dev evaluation, as logged by the trainer;
on a shared GPU this depends on how many runs shared it).
"""
from __future__ import annotations

import re
import statistics
import sys
import tarfile
from collections import defaultdict

# the line may follow a progress bar's carriage returns (tqdm on a machine where TQDM_DISABLE is not honoured)
LINE = re.compile(r"(?:^|[\r ])test  P (\S+)  R (\S+)  F1 (\S+)", re.M)
EPOCH = re.compile(r"epoch \d+: train loss .* \| ([0-9.]+)s$", re.M)


def main(paths: list[str]) -> None:
    rows: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    for path in paths:
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                if not member.name.endswith(".log"):
                    continue
                name = member.name.rsplit("/", 1)[-1][:-4]
                row, dataset, seed = name.rsplit("-", 2)
                text = archive.extractfile(member).read().decode("utf-8", "replace")
                match = LINE.search(text)
                if match is None:
                    print(f"warning: {path}:{member.name} has no test line (failed run)", file=sys.stderr)
                    continue
                rows[(row, dataset)][int(seed[1:])] = 100 * float(match.group(3))
                seconds[(row, dataset)] += [float(s) for s in EPOCH.findall(text)]
    print("| row | dataset | n | test F1 per seed | mean ± std | s/epoch |")
    print("|---|---|---|---|---|---|")
    for (row, dataset), seeds in sorted(rows.items()):
        f1 = [seeds[s] for s in sorted(seeds)]
        std = f"{statistics.stdev(f1):.2f}" if len(f1) > 1 else "n/a"
        per_seed = ", ".join(f"s{s}: {seeds[s]:.2f}" for s in sorted(seeds))
        per_epoch = f"{statistics.mean(seconds[(row, dataset)]):.0f}" if seconds[(row, dataset)] else "n/a"
        print(f"| {row} | {dataset} | {len(f1)} | {per_seed} | {statistics.mean(f1):.2f} ± {std} | {per_epoch} |")


if __name__ == "__main__":
    main(sys.argv[1:])
