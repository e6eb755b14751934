"""The per-run results of the studies run before runs wrote result files of their own.

The runs of the caption-evidence and denoising-evidence studies ran where MLflow was not installed
(``experiments/gpu_grid.sh``); what they left is one ``graphmner train`` log per run (kept as
``logs/<grid>/<run>.log`` beside each study). This script read those logs once into the study's
``runs.jsonl``, the per-run results that ``experiments/table.py`` tabulates; it is kept so that
anyone can check the conversion (``--check`` rebuilds the records and compares). Later studies
write ``runs.jsonl`` from MLflow (``experiments/table.py export``) and never read a log.

    python experiments/studies/legacy_runs.py --check
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# every log of these studies came from one NVIDIA H200 running 8 to 15 runs side by side (the study pages),
# with the copy of MiniLM that experiments/gpu_grid.sh passes as --encoder (its weights stored in fp16)
DEVICE, ENCODER = "NVIDIA H200", ".gpu/minilm (MiniLM stored in fp16)"
STUDIES = {"caption-evidence": ("pilot-wave1", "pilot-wave2", "pilot-wave3", "pilot-wave4", "final", "5-epochs"),
           "denoising-evidence": ("ablation", "rerun")}
NAME = re.compile(r"^(?P<variant>.+)-(?P<year>2015|2017)-s(?P<seed>\d+)$")
# the trainer's per-epoch line and the CLI's final line (after a progress bar's carriage returns)
EPOCH = re.compile(r"epoch (\d+): train loss (\S+) \| dev P (\S+) R (\S+) F1 (\S+) \| ([0-9.]+)s$", re.M)
TEST = re.compile(r"(?:^|[\r ])test  P (\S+)  R (\S+)  F1 (\S+)  \(best dev epoch (\d+), dev F1 (\S+), (\d+)s\)", re.M)


def grid_args(study: Path, grid: str) -> dict[str, str]:
    """Run name -> its ``graphmner train`` arguments, from the study's grid file."""
    path = study / "grids" / f"{grid}.txt"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, args = line.partition(" ")
            out[name] = args.strip()
    return out


def records(study_name: str) -> list[dict]:
    study = HERE / study_name
    out = []
    for grid in STUDIES[study_name]:
        args = grid_args(study, grid)
        for log in sorted((study / "logs" / grid).glob("*.log")):
            text = log.read_text(encoding="utf-8", errors="replace")
            name = NAME.match(log.stem)
            test = TEST.search(text)
            if name is None or test is None:
                print(f"{log}: no final test line (the run did not finish); left out", file=sys.stderr)
                continue
            epochs = EPOCH.findall(text)
            out.append({
                "grid": grid, "run": log.stem, "variant": name["variant"], "dataset": f"twitter{name['year']}",
                "seed": int(name["seed"]), "args": args.get(log.stem, ""),
                "test_precision": float(test[1]), "test_recall": float(test[2]), "test_f1": float(test[3]),
                "best_epoch": int(test[4]), "dev_f1": float(test[5]), "train_seconds": int(test[6]),
                "dev_f1_per_epoch": [float(e[4]) for e in epochs], "train_loss": [float(e[1]) for e in epochs],
                "epoch_seconds": [float(e[5]) for e in epochs], "device": DEVICE, "encoder": ENCODER,
                "source": str(log.relative_to(study)),
            })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed runs.jsonl, write nothing")
    args = parser.parse_args(argv)
    status = 0
    for study in STUDIES:
        path = HERE / study / "runs.jsonl"
        new = [r for r in records(study)]
        kept = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
        gpu_kept = [r for r in kept if r.get("source", "").startswith("logs/")]
        if args.check:
            same = gpu_kept == new
            print(f"{study}: {len(new)} runs from logs, {'the same as' if same else 'DIFFERENT from'} {path.name}")
            status |= not same
            continue
        others = [r for r in kept if not r.get("source", "").startswith("logs/")]  # runs recorded otherwise
        path.write_text("".join(json.dumps(r) + "\n" for r in new + others), encoding="utf-8")
        print(f"{study}: {len(new)} runs from logs (+{len(others)} recorded otherwise) -> {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
