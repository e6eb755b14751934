"""Experiment grids: models x datasets x seeds x config axes, each run one MLflow run.

    python experiments/grid.py readme --models bert_crf,mm_concat,umt,umgf,graphmner \\
        --datasets twitter2015,twitter2017 --seeds 1 --epochs 3
    python experiments/grid.py fusion --models bert_crf,graphmner --fusion gnn,attention \\
        --evidence captions,none --seeds 1,2,3
    python experiments/grid.py sweep --models graphmner --set model.layers=1,2,3 -- --limit 200
    python experiments/grid.py published-baselines --jobs experiments/studies/published-baselines/grids/first.txt

Every run is ``graphmner train`` in its own process (a crash stays one failed run), writes
``RUNS_DIR/<name>/`` and its log ``RUNS_DIR/<name>.log``, and is an MLflow run in the experiment
``--experiment`` (default: the grid's name) tagged ``grid``, ``variant``, model, dataset, seed,
device and git commit. A run is skipped when its ``metrics.json`` exists or the MLflow store holds a
FINISHED run of the same grid and name, so re-running a grid command finishes what is missing; a run
stopped part-way (its folder holds a complete per-epoch checkpoint and no ``metrics.json``) continues
from its checkpoint (``graphmner train --resume``: as configured when it started, into the same MLflow
run, ending as the uninterrupted run would), so a grid stopped at any moment loses at most the epochs in
progress.
``experiments/table.py --mlflow NAME`` tabulates the runs (``--export`` writes them as a study's runs.jsonl).

An axis applies only to the models whose config has that field: ``--fusion gnn,attention`` gives
graphmner two variants and bert_crf one. ``--evidence`` values join sources with ``+``
(``captions+detections``). Arguments after ``--`` go to every ``graphmner train``.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from graphmner.training.checkpoint import latest_checkpoint

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Job:
    name: str  # <variant>-<dataset>-s<seed>: output folder and MLflow run name
    variant: str  # the row of a results table: model plus its axis values
    args: tuple[str, ...]  # graphmner train arguments


def split_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def model_fields(model: str) -> set[str]:
    from graphmner.models.base import get_model_class

    return {f.name for f in dataclasses.fields(get_model_class(model).config_class)}


def product_jobs(models: list[str], datasets: list[str], seeds: list[str],
                 axes: list[tuple[str, list[str]]]) -> list[Job]:
    """Every model x applicable axis values x dataset x seed, in that order (rows stay together)."""
    jobs: list[Job] = []
    for model in models:
        fields = model_fields(model)
        mine = [(key, values) for key, values in axes if key.split(".", 1)[1] in fields]
        for combo in itertools.product(*(values for _, values in mine)):
            variant, args = model, ["--model", model]
            for (key, _), value in zip(mine, combo):
                short = key.split(".", 1)[1]
                variant += f".{short}-{value}"
                if key == "model.evidence":
                    args += ["--evidence", value.replace("+", ",")]
                else:
                    args.append(f"{key}={value}")
            for dataset in datasets:
                for seed in seeds:
                    name = f"{variant}-{dataset.removeprefix('twitter')}-s{seed}"
                    jobs.append(Job(name, variant, (*args, "--dataset", dataset, "--seed", seed)))
    return jobs


def file_jobs(path: Path) -> list[Job]:
    """A job list: one run per line, ``NAME graphmner-train-arguments...``; ``#`` starts a comment."""
    jobs = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, *args = line.split()
        variant = name.rsplit("-", 2)[0] if re.fullmatch(r".+-[^-]+-s\d+", name) else name
        jobs.append(Job(name, variant, tuple(args)))
    return jobs


def finished_in_mlflow(experiment: str, grid: str, tracking_uri: str | None = None) -> set[str]:
    """Run names of this grid's FINISHED MLflow runs (empty when MLflow is absent or unused)."""
    try:
        import mlflow
    except ImportError:
        return set()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return set()
    runs = client.search_runs([found.experiment_id], max_results=50000,
                              filter_string=f"tags.grid = '{grid}' and attributes.status = 'FINISHED'")
    return {run.info.run_name for run in runs}


def train_command(job: Job, runs_dir: Path, common: list[str]) -> tuple[list[str], Path | None]:
    """The ``graphmner train`` command of a job, and the checkpoint it resumes from (None: a fresh run).

    A resumed run takes nothing from the job line or ``common``: its folder's config.yaml says everything.
    """
    folder = runs_dir / job.name
    train = [sys.executable, "-m", "graphmner.cli", "train"]
    checkpoint = latest_checkpoint(folder)
    if checkpoint is not None:
        return [*train, "--resume", str(folder)], checkpoint
    return [*train, *job.args, "--output-dir", str(folder), *common, f"mlflow.run_name={job.name}",
            f"mlflow.tags.variant={job.variant}"], None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", help="the grid's name: MLflow tag, default experiment and runs/<grid>/")
    parser.add_argument("--jobs", type=Path, help="a job-list file instead of the product below")
    parser.add_argument("--models", default="graphmner", help="comma-separated registered model names")
    parser.add_argument("--datasets", default="twitter2015,twitter2017")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--epochs", help="passed to every run (default: the config's)")
    parser.add_argument("--fusion", help="axis model.fusion, e.g. gnn,attention")
    parser.add_argument("--evidence", help="axis model.evidence, e.g. captions,none,captions+detections")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2",
                        help="any config axis, e.g. model.layers=1,2 (repeatable)")
    parser.add_argument("--experiment", help="MLflow experiment (default: the grid's name)")
    parser.add_argument("--runs-dir", type=Path, help="default runs/<grid>")
    parser.add_argument("--parallel", type=int, default=1,
                        help="runs at once; each gets cores/parallel torch threads")
    parser.add_argument("--no-mlflow", action="store_true", help="metrics.json only (machines without MLflow)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and what would be skipped")
    args = parser.parse_args(argv)

    if args.jobs:
        jobs = file_jobs(args.jobs)
    else:
        axes = [("model.fusion", split_list(args.fusion))] if args.fusion else []
        axes += [("model.evidence", split_list(args.evidence))] if args.evidence else []
        for item in args.set:
            key, _, values = item.partition("=")
            if not key.startswith("model.") or not values:
                parser.error(f"--set {item!r}: expected model.FIELD=V1,V2 (other settings go after --)")
            axes.append((key, split_list(values)))
        jobs = product_jobs(split_list(args.models), split_list(args.datasets), split_list(args.seeds), axes)
    experiment = args.experiment or args.grid
    runs_dir = args.runs_dir or Path("runs") / args.grid
    done = set() if args.no_mlflow else finished_in_mlflow(experiment, args.grid)
    todo = [j for j in jobs if j.name not in done and not (runs_dir / j.name / "metrics.json").exists()]
    resuming = [j for j in todo if latest_checkpoint(runs_dir / j.name) is not None]
    print(f"grid {args.grid!r}: {len(jobs)} runs, {len(jobs) - len(todo)} finished already, {len(todo)} to run"
          + (f" ({len(resuming)} from a checkpoint)" if resuming else "")
          + f" -> {runs_dir}/, MLflow experiment {experiment!r}" + (" (off)" if args.no_mlflow else ""))
    if args.dry_run:
        if hasattr(signal, "SIGPIPE"):  # a listing piped into head ends quietly, as ls's does
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        for job in jobs:
            checkpoint = latest_checkpoint(runs_dir / job.name) if job in todo else None
            status = "done" if job not in todo else f"resume after {checkpoint.name}" if checkpoint else "run "
            print(f"  {status} {job.name}: graphmner train {' '.join(job.args)}")
        return 0

    threads = max(1, (os.cpu_count() or 1) // args.parallel)
    common = [*extra]
    if args.epochs:
        common += ["--epochs", args.epochs]
    # the grid and variant tags also name the run in its run.json, with or without MLflow
    common.append(f"mlflow.tags.grid={args.grid}")
    common += ["--no-mlflow"] if args.no_mlflow else ["--experiment", experiment]
    if args.parallel > 1:
        common.append(f"train.num_threads={threads}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.parallel > 1:
        env["OMP_NUM_THREADS"] = str(threads)  # else each process's OpenMP pool takes every core
    runs_dir.mkdir(parents=True, exist_ok=True)

    running: list[tuple[Job, subprocess.Popen, float]] = []
    failed: list[str] = []
    bar = tqdm(total=len(todo), desc=f"grid {args.grid}", unit="run")

    def reap(block: bool) -> None:
        while running and (block or any(p.poll() is not None for _, p, _ in running)):
            for item in list(running):
                job, proc, t0 = item
                if proc.poll() is None:
                    continue
                running.remove(item)
                bar.update()
                log = runs_dir / f"{job.name}.log"
                status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see {log})"
                if proc.returncode:
                    failed.append(job.name)
                last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                tqdm.write(f"{job.name}: {status} in {time.time() - t0:.0f}s"
                           + (f"  {last[0]}" if proc.returncode == 0 and last else ""))
            if block:
                time.sleep(1)

    for job in todo:
        while len(running) >= args.parallel:
            time.sleep(1)
            reap(block=False)
        cmd, checkpoint = train_command(job, runs_dir, common)
        with open(runs_dir / f"{job.name}.log", "a" if checkpoint else "w") as log:
            if checkpoint:  # the log goes on where the stopped run's ended
                log.write(f"\n[grid] resuming from {checkpoint}\n")
                log.flush()
            running.append((job, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), time.time()))
    reap(block=True)
    bar.close()
    if failed:
        print(f"{len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
