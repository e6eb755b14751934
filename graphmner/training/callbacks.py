"""Trainer plugins. The trainer calls these hooks and knows nothing else about them.

The MLflow logger lives here and is the only code that imports ``mlflow``; beside it, the run record
(``DIR/run.json``), the per-run results a study commits (see :func:`run_record`).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from graphmner.data.conll import read_predictions
from graphmner.eval.significance import counts_text, entity_counts, gold_digest

log = logging.getLogger(__name__)


class Callback:
    """No-op hooks; subclass and override what you need."""

    def on_train_begin(self, config: dict[str, Any]) -> None: ...

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def on_train_end(self, result: dict[str, Any], output_dir: Path | None) -> None: ...

    def on_exception(self, error: BaseException) -> None: ...


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


RUN_RECORD = "run.json"


def run_record(config: dict[str, Any], metrics: dict[str, Any], tags: dict[str, str],
               output_dir: str | Path | None = None, sessions: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    """One run as a study's per-run results hold it (a line of ``runs.jsonl``, read by experiments/table.py):
    who it is (grid, variant, dataset, seed), where it ran (device, CPU kernels, encoder, commit), its dev and
    test P/R/F1 (micro and per type), its epochs and seconds, and the resolved config. With the run's
    ``output_dir``, also each split's per-tweet entity counts (``{split}_tweet_counts``,
    :func:`~graphmner.eval.significance.counts_text`) and a digest of its tweets and gold tags (``{split}_gold``),
    from ``predictions/{split}.conll``: what a paired bootstrap over tweets needs, so that p-values are
    recomputed from the record alone. With the run's stretches of training (``sessions``, see
    :func:`graphmner.training.run.record_session`), commit and machine are those it started with, and
    ``resumes`` lists the later stretches (the epochs done when each began, its commit and machine)."""
    model, train = config.get("model", {}), config.get("train", {})
    record: dict[str, Any] = {
        "grid": tags.get("grid"), "run": tags.get("run_name"), "variant": tags.get("variant") or tags.get("model"),
        "dataset": tags.get("dataset"), "seed": int(train.get("seed", tags.get("seed", -1))),
        "model": model.get("name"), "device": metrics.get("device"), "cpu_kernels": metrics.get("cpu_kernels"),
        "encoder": model.get("encoder"),
        "commit": tags.get("mlflow.source.git.commit"), "git_dirty": tags.get("git_dirty"),
        "best_epoch": metrics.get("best_epoch"), "epochs_trained": metrics.get("epochs_trained"),
        "train_seconds": metrics.get("train_seconds"), "epoch_seconds": metrics.get("epoch_seconds"),
        "train_loss": metrics.get("train_loss"), "dev_f1_per_epoch": metrics.get("dev_f1")}
    for split in ("dev", "test"):
        scores = metrics.get(split) or {}
        record.update({f"{split}_{k}": scores.get(k) for k in ("precision", "recall", "f1")})
        record[f"{split}_per_type"] = scores.get("per_type")
    if output_dir is not None:
        record.update(tweet_counts(output_dir))
    if sessions:
        start = sessions[0]
        record.update({k: start[k] for k in ("commit", "git_dirty", "device", "cpu_kernels")})
        record["resumes"] = sessions[1:]
    record["config"] = {k: config[k] for k in ("model", "data", "train") if k in config}
    return record


def tweet_counts(output_dir: str | Path) -> dict[str, str]:
    """``{split}_tweet_counts`` and ``{split}_gold`` for each ``predictions/{split}.conll`` of a run folder."""
    out = {}
    for split in ("dev", "test"):
        predictions = Path(output_dir) / "predictions" / f"{split}.conll"
        if predictions.is_file():
            tweets = read_predictions(predictions)
            out[f"{split}_gold"] = gold_digest([(t.id, t.gold) for t in tweets])
            out[f"{split}_tweet_counts"] = counts_text(entity_counts([t.gold for t in tweets],
                                                                     [t.predicted for t in tweets]))
    return out


class RunRecordCallback(Callback):
    """Writes ``DIR/run.json`` (:func:`run_record`) when a run ends, whether or not MLflow logs it; the
    MLflow callback, placed after this one, logs it as an artifact."""

    def __init__(self, tags: dict[str, str], sessions: list[dict[str, Any]] | None = None):
        self.tags, self.sessions, self.config = dict(tags), sessions, {}

    def on_train_begin(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_train_end(self, result: dict[str, Any], output_dir: Path | None) -> None:
        if output_dir is not None:
            record = run_record(self.config, result, self.tags, output_dir, self.sessions)
            (Path(output_dir) / RUN_RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")


def check_store(tracking_uri: str | None, experiment: str) -> None:
    """Open the MLflow store and look the experiment up, so that a store that cannot be used fails before
    any data is read (one line, not a traceback after training)."""
    import mlflow

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()
    try:
        found = mlflow.MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
    except Exception as err:  # stores fail in their own ways (sqlalchemy, filesystem, HTTP): the cause in one line
        reason = " ".join(str(err).split())[:200]
        raise ValueError(f"MLflow store {uri!r} cannot be used ({type(err).__name__}: {reason}); fix "
                         f"mlflow.tracking_uri / $MLFLOW_TRACKING_URI, or pass --no-mlflow") from None
    if found is not None and found.lifecycle_stage == "deleted":
        raise ValueError(f"MLflow experiment {experiment!r} is deleted in {uri}; restore it (mlflow experiments "
                         f"restore) or choose another --experiment")


class MLflowCallback(Callback):
    """One MLflow run per training run.

    Params: the resolved config (dotted keys). Metrics: per epoch (step = epoch)
    ``train_loss``, ``dev_*``, ``epoch_seconds``; at the end ``best_dev_*``,
    ``test_*`` (micro and per type), ``best_epoch``, ``train_seconds``. Artifacts: everything the trainer wrote to
    the output directory except the model weights (config, metrics.json,
    predictions, per-type reports); ``log_model=True`` adds the model folder.
    """

    def __init__(self, experiment: str = "graphmner", tracking_uri: str | None = None, run_name: str | None = None,
                 tags: dict[str, str] | None = None, log_model: bool = False, run_id_file: Path | None = None):
        import mlflow

        self.mlflow = mlflow
        self.experiment, self.run_name, self.tags, self.log_model = experiment, run_name, tags or {}, log_model
        self.tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        # the run's id is written here; a resumed training (the file exists) continues that run
        self.run_id_file = Path(run_id_file) if run_id_file is not None else None
        self.run = None

    def on_train_begin(self, config: dict[str, Any]) -> None:
        if self.tracking_uri:
            self.mlflow.set_tracking_uri(self.tracking_uri)
        self.mlflow.set_experiment(self.experiment)
        if self.run_id_file is not None and self.run_id_file.is_file():
            run_id = self.run_id_file.read_text(encoding="utf-8").strip()
            self.run = self.mlflow.start_run(run_id=run_id)
            self.mlflow.set_tag("resumed", "true")
            log.info("MLflow run %s continues (experiment %r)", run_id, self.experiment)
            return
        self.run = self.mlflow.start_run(run_name=self.run_name, tags=self.tags)
        if self.run_id_file is not None:
            self.run_id_file.parent.mkdir(parents=True, exist_ok=True)
            self.run_id_file.write_text(self.run.info.run_id + "\n", encoding="utf-8")
        params = {k: ("None" if v is None else str(v))[:6000] for k, v in flatten(config).items()}
        self.mlflow.log_params(params)
        log.info("MLflow run %s (experiment %r, store %s)", self.run.info.run_id, self.experiment,
                 self.mlflow.get_tracking_uri())

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self.mlflow.log_metrics(metrics, step=epoch)

    def on_train_end(self, result: dict[str, Any], output_dir: Path | None) -> None:
        final = {"best_epoch": result["best_epoch"], "train_seconds": result["train_seconds"]}
        # "best_dev_*" so the per-epoch "dev_*" histories stay one value per epoch
        for split, prefix in (("dev", "best_dev"), ("test", "test")):
            if split in result:
                final.update({f"{prefix}_{k}": result[split][k] for k in ("precision", "recall", "f1")})
                for kind, row in result[split].get("per_type", {}).items():
                    final[f"{prefix}_{kind}_f1"] = row["f1"]
        try:
            self.mlflow.log_metrics(final)
            if output_dir is not None:
                for path in sorted(Path(output_dir).iterdir()):
                    if path.is_file():
                        self.mlflow.log_artifact(str(path))
                    elif path.is_dir() and (path.name != "model" or self.log_model):
                        self.mlflow.log_artifacts(str(path), artifact_path=path.name)
        except Exception as err:  # a run missing its results is not FINISHED (MLflow's exit hook would say so)
            reason = " ".join(str(err).split())[:300]
            self.mlflow.set_tag("error", f"results not logged: {type(err).__name__}: {reason}")
            self.mlflow.end_run(status="FAILED")
            raise OSError(f"MLflow could not store the run's results ({type(err).__name__}: {reason}); the run is "
                          f"marked FAILED, its folder {output_dir} is complete") from err
        self.mlflow.end_run(status="FINISHED")

    def on_exception(self, error: BaseException) -> None:
        if self.run is not None and self.mlflow.active_run() is not None:
            killed = isinstance(error, KeyboardInterrupt)
            self.mlflow.set_tag("error", f"{type(error).__name__}: {error}"[:5000])
            self.mlflow.end_run(status="KILLED" if killed else "FAILED")
