"""One training run from an :class:`ExperimentConfig`: data -> evidence -> model -> trainer -> outputs."""
from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import yaml

from graphmner.config import ExperimentConfig
from graphmner.data.conll import check_entity_types
from graphmner.data.datasets import RECORD_SPLITS, SPLITS, dataset_root, load_dataset
from graphmner.data.labels import LabelVocab
from graphmner.evidence.making import evidence_record, save_evidence_record
from graphmner.evidence.visual import dataset_evidence
from graphmner.models.base import model_config
from graphmner.training.callbacks import Callback, MLflowCallback, RunRecordCallback, check_store
from graphmner.training.checkpoint import epochs_done
from graphmner.training.distributed import dist_env
from graphmner.training.trainer import FitResult, Trainer, cpu_kernels, device_name, resolve_device, set_seed

log = logging.getLogger(__name__)


def run_source() -> dict[str, str]:
    """MLflow's own git tags for the code that runs (``mlflow.source.git.commit``), read from the
    checkout graphmner is imported from, and ``git_dirty`` (uncommitted changes to tracked files).
    Empty when graphmner is not imported from a git checkout (an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return {}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"mlflow.source.git.commit": commit, "git_dirty": str(bool(dirty)).lower()}


SESSIONS = "sessions.json"


def record_session(output_dir: Path, source: dict[str, str | None], resume: bool) -> list[dict[str, Any]]:
    """Add this process's stretch of training to ``DIR/sessions.json`` and return every stretch, the run's
    start first.

    A run resumed from its checkpoint trains in stretches, perhaps from other code or on another machine: each
    is kept (``after_epoch``: the epochs done when it began, and ``source``: ``commit``, ``git_dirty``,
    ``device``, ``cpu_kernels``), so that the run's record names the code it started from and every machine
    its epochs were timed on. A stretch whose epochs the resume trains again (it left no newer checkpoint)
    is dropped; a fresh run starts the list anew.
    """
    path = output_dir / SESSIONS
    if not resume:
        sessions = [{"after_epoch": 0, **source}]
    else:
        after = epochs_done(output_dir)
        if path.is_file():
            sessions = [s for s in json.loads(path.read_text(encoding="utf-8")) if s["after_epoch"] < after]
        else:  # a run folder from before stretches were kept: where and from what code it began is unknown
            sessions = [{"after_epoch": 0, **dict.fromkeys(source)}]
        sessions.append({"after_epoch": after, **source})
    path.write_text(json.dumps(sessions, indent=1) + "\n", encoding="utf-8")
    return sessions


def resolved_config(config: ExperimentConfig) -> dict[str, Any]:
    """The config as a plain dict, its model section with every default of the model's config filled in."""
    values = asdict(config)
    cls, model = model_config(config.model)
    values["model"] = {"name": cls.name, **asdict(model)}
    return values


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (what ``graphmner train --config`` and ``--resume`` read back)."""
    Path(path).write_text(yaml.safe_dump(resolved_config(config), sort_keys=False), encoding="utf-8")


def run_training(config: ExperimentConfig, callbacks: list[Callback] | None = None,
                   resume: bool = False, overwrite: bool = False) -> FitResult:
    """Train and evaluate as ``config`` says; writes ``config.output_dir``.

    The label vocabulary comes from the training split alone. ``resume`` continues an interrupted
    run in ``config.output_dir`` from its last checkpoint (and its MLflow run). A folder that holds a
    finished run (its ``metrics.json``) is replaced only with ``overwrite``.
    """
    if not resume and not overwrite and (Path(config.output_dir) / "metrics.json").is_file():
        raise FileExistsError(f"{config.output_dir} holds a finished run (metrics.json): pass --overwrite to "
                              f"replace it, or another --output-dir")
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)
    set_seed(config.train.seed)
    model_cls, model_settings = model_config(config.model)  # an unknown model or key fails before any data
    device = resolve_device(config.train.device)  # so does a device this machine lacks
    dataset_root(config.data.dataset, config.data.data_dir)  # and an unknown dataset
    if config.mlflow.enabled and dist_env().is_main:  # and an MLflow store that cannot be used
        check_store(config.mlflow.tracking_uri, config.mlflow.experiment)
    data = load_dataset(config.data.dataset, config.data.data_dir, limit=config.data.limit)
    labels = LabelVocab.from_tags(t.tags for t in data["train"])
    for split in RECORD_SPLITS.values():
        check_entity_types(data[split], labels.entity_types, f"the training split {data.reports['train'].path}")
    model = model_cls(model_settings, labels)
    featurize = model.featurizer()
    summary = {"data": data.summary()}
    if model.needs_evidence:
        shuffle = config.train.seed if config.data.evidence_shuffle else None
        source_reports: list = []
        evidence, reports = dataset_evidence(data, model.evidence_sources, shuffle_seed=shuffle,
                                             detections=config.data.detections, features=config.data.features,
                                             source_reports=source_reports,
                                             placeholder_min=config.data.placeholder_captions)
        summary["evidence"] = {s: r.as_dict() for s, r in reports.items()}
        summary["evidence_files"] = {r.kind: r.as_dict() for r in source_reports}
        for split, report in reports.items():
            log.info("evidence %s: %s%s", split, report.as_dict(),
                     " (shuffled across tweets)" if shuffle is not None else "")
            if report.empty and model.evidence_sources:
                log.warning("%d %s tweets have no evidence (e.g. images %s)%s", report.empty, split,
                            ", ".join(report.missing_examples),
                            f"; {report.placeholder_caption} of them a placeholder caption"
                            if report.placeholder_caption else "")
        train, dev, test = (featurize(data[s], evidence[s]) for s in SPLITS)
    else:
        train, dev, test = (featurize(data[s]) for s in SPLITS)
    output_dir = Path(config.output_dir)
    env = dist_env()  # under torchrun, rank 0 alone writes files and logs
    if env.is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, output_dir / "config.yaml")
        # what every reader read, repaired and skipped; also in MLflow (params data_summary.*, this artifact)
        (output_dir / "data_report.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    callbacks = list(callbacks or []) if env.is_main else []
    name = config.mlflow.run_name or f"{model_cls.name}-{data.name}-s{config.train.seed}"
    tags = {"model": model_cls.name, "dataset": data.name, "seed": str(config.train.seed),
            "device": device_name(device), **cpu_kernels(device), "processes": str(env.world),
            **run_source(), **{k: str(v) for k, v in config.mlflow.tags.items()}}
    if env.is_main:  # DIR/run.json, the run's per-run results, first: the MLflow callback logs it
        sessions = record_session(output_dir, {"commit": tags.get("mlflow.source.git.commit"),
                                               "git_dirty": tags.get("git_dirty"), "device": tags["device"],
                                               "cpu_kernels": tags.get("cpu_kernels")}, resume)
        callbacks.append(RunRecordCallback({**tags, "run_name": name}, sessions))
    if config.mlflow.enabled and env.is_main:
        run_id_file = output_dir / "mlflow_run_id"
        if not resume and run_id_file.exists():
            run_id_file.unlink()  # a new run in an old folder is a new MLflow run
        callbacks.append(MLflowCallback(config.mlflow.experiment, config.mlflow.tracking_uri, name, tags=tags,
                                        run_id_file=run_id_file))
    log.info("%s on %s: %d/%d/%d tweets, labels %s", model_cls.name, data.name, len(train), len(dev), len(test),
             labels.tags)
    trainer = Trainer(model, config.train, callbacks)
    run_config = {**resolved_config(config), "data_summary": summary}
    if model.needs_evidence and env.is_main:  # how the evidence was made, so predict can make it for new tweets
        placeholders = [t for r in source_reports if r.kind == "captions" for t in r.placeholder_texts]
        record = evidence_record(model.evidence_sources, data.caption_file, config.data.detections,
                                 config.data.features, config.data.placeholder_captions, placeholders)
        record["shuffled_in_training"] = config.data.evidence_shuffle
        (output_dir / "model").mkdir(exist_ok=True)
        save_evidence_record(output_dir / "model", record)
    return trainer.fit(train, dev, test, output_dir, run_config=run_config, resume=resume)
