"""Log finished run folders into MLflow, as the runs of a grid: for runs made where MLflow is not
installed (a GPU machine running ``gpu_grid.sh``, which brings their folders back as ``runs.tgz``).

    tar -xzf runs.tgz -C /tmp/gpu && python experiments/import_runs.py gnn5 /tmp/gpu/gpu_runs/*
    python experiments/table.py --mlflow gnn5

Each folder (``metrics.json`` + ``config.yaml``, as ``graphmner train`` writes them) becomes one
FINISHED run named after the folder, logged through the same MLflow callback as a live run
(same params and metric names; per-epoch ``train_loss``, ``dev_f1`` and ``epoch_seconds``), tagged
``grid``, ``variant`` (the folder name without ``-<dataset>-s<seed>``), model, dataset, seed, device and
``imported_from``. The folder's ``run.json`` (its per-run results) is given the same run name, grid and
variant before it is logged; ``--commit`` sets the commit the runs were trained from (the copy of the tree
a GPU machine receives may name none, or an older commit with the changes since as uncommitted ones). A
folder already imported into the grid (same run name) is skipped.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml


def variant_of(name: str) -> str:
    return name.rsplit("-", 2)[0] if re.fullmatch(r".+-[^-]+-s\d+", name) else name


def import_run(folder: Path, grid: str, experiment: str, tracking_uri: str | None, done: set[str],
               commit: str | None = None) -> str:
    from graphmner.training.callbacks import RUN_RECORD, MLflowCallback

    metrics_file, config_file = folder / "metrics.json", folder / "config.yaml"
    if not metrics_file.is_file() or not config_file.is_file():
        return "skipped (no metrics.json + config.yaml: not a finished run)"
    if folder.name in done:
        return "skipped (already in MLflow)"
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    dataset = config["data"].get("dataset") or Path(config["data"].get("data_dir") or "?").name
    tags = {"grid": grid, "variant": variant_of(folder.name), "model": config["model"]["name"], "dataset": dataset,
            "seed": str(config["train"]["seed"]), "device": metrics.get("device", "unknown"),
            "processes": str(metrics.get("processes", 1)), "imported_from": str(folder.resolve())}
    record_file = folder / RUN_RECORD
    if record_file.is_file():  # written under the name the run had where it ran: it gets its name here
        record = json.loads(record_file.read_text(encoding="utf-8"))
        record.update({"run": folder.name, "grid": grid, "variant": tags["variant"]})
        if commit:
            record["commit"] = commit
        record_file.write_text(json.dumps(record) + "\n", encoding="utf-8")
    callback = MLflowCallback(experiment, tracking_uri, folder.name, tags)
    callback.on_train_begin(config)
    losses, dev_f1 = metrics.get("train_loss") or [], metrics.get("dev_f1") or []
    for epoch, seconds in enumerate(metrics["epoch_seconds"], start=1):
        values = {"epoch_seconds": seconds}
        if epoch <= len(losses):
            values["train_loss"] = losses[epoch - 1]
        if epoch <= len(dev_f1):
            values["dev_f1"] = dev_f1[epoch - 1]
        callback.on_epoch_end(epoch, values)
    callback.on_train_end(metrics, folder)
    return f"imported (test F1 {100 * metrics['test']['f1']:.2f})"


def full_commit(name: str) -> str:
    """The full hash of ``name`` (a hash or its prefix, a branch, a tag) in this checkout; a one-line error if
    it names no commit here."""
    root = Path(__file__).resolve().parents[1]
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], cwd=root,
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"--commit {name}: no such commit in {root}")
    return found.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", help="the grid's name (MLflow tag; default experiment)")
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--experiment", help="MLflow experiment (default: the grid's name)")
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else ./mlflow.db")
    parser.add_argument("--commit", help="the git commit the runs were trained from (replaces their records' own)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from grid import finished_in_mlflow

    commit = full_commit(args.commit) if args.commit else None
    experiment = args.experiment or args.grid
    done = finished_in_mlflow(experiment, args.grid, args.tracking_uri)
    for folder in sorted(args.folders):
        if folder.is_dir():
            print(f"{folder.name}: {import_run(folder, args.grid, experiment, args.tracking_uri, done, commit)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
