"""Experiment configuration: dataclasses with commented defaults.

A run's config is built in layers: these defaults, then a YAML file holding only
deltas (``experiments/configs/*.yaml``), then command-line flags, then dotted
overrides such as ``train.lr_encoder=3e-5 model.dropout=0.2``. The resolved
config is saved with every run and logged to MLflow as its parameters.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from graphmner.vision.captions import PLACEHOLDER_MIN_IMAGES


@dataclass
class DataConfig:
    # registered corpus: twitter2015 | twitter2017 (bundled with the package)
    dataset: str = "twitter2017"
    # a folder of the same layout (train.txt, valid.txt, test.txt[, captions, images/]) instead of the bundled copy
    data_dir: str | None = None
    # keep only the first N tweets of each split (smoke runs and tests); None = all
    limit: int | None = None
    # control: give every tweet another tweet's visual evidence (same distribution, wrong image)
    evidence_shuffle: bool = False
    # detection cache (graphmner detect) for models with evidence "detections"
    detections: str | None = None
    # image feature cache (graphmner extract-features) for models with evidence "features"
    features: str | None = None
    # a caption text shared by at least this many images is a placeholder, not evidence (0: keep every caption)
    placeholder_captions: int = PLACEHOLDER_MIN_IMAGES


@dataclass
class TrainConfig:
    # epochs over the training split; the best dev epoch is kept
    epochs: int = 3
    # early stopping: end training once this many epochs in a row bring no better dev F1 (the learning-rate
    # schedule still spans `epochs`); None trains every epoch
    patience: int | None = None
    # tweets per optimisation step
    batch_size: int = 32
    # tweets per evaluation step
    eval_batch_size: int = 64
    # AdamW learning rate of the text encoder
    lr_encoder: float = 5e-5
    # AdamW learning rate of everything else (emission layer, CRF, fusion)
    lr_head: float = 1e-3
    # AdamW weight decay (not applied to biases, norms or the CRF)
    weight_decay: float = 0.01
    # share of all steps spent warming the learning rate up linearly from 0; then linear decay to 0
    warmup_ratio: float = 0.1
    # gradient clipping by global norm; 0 disables
    max_grad_norm: float = 1.0
    # seeds python, numpy and torch (initialisation, dropout, shuffling)
    seed: int = 1
    # "auto" (cuda if available), "cpu", "cuda", "cuda:1", ...
    device: str = "auto"
    # torch CPU threads; None = torch's default
    num_threads: int | None = None
    # write OUTPUT_DIR/checkpoints/epoch-N after every epoch (graphmner train --resume OUTPUT_DIR continues)
    checkpoint: bool = True
    # keep the last checkpoint once training has finished (it holds two copies of the weights)
    keep_checkpoint: bool = False


@dataclass
class MLflowConfig:
    # log the run to MLflow
    enabled: bool = True
    # MLflow experiment name
    experiment: str = "graphmner"
    # None: $MLFLOW_TRACKING_URI if set, else MLflow's local default (./mlflow.db, artifacts in ./mlruns)
    tracking_uri: str | None = None
    # None: "<model>-<dataset>-s<seed>"
    run_name: str | None = None
    # extra run tags, e.g. {"grid": "readme", "variant": "graphmner"} (experiments/grid.py sets these);
    # model, dataset, seed, device and the git commit are always tagged
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class ExperimentConfig:
    # the tagger and its config fields: {"name": "bert_crf", "encoder": "minilm", ...}
    model: dict[str, Any] = field(default_factory=lambda: {"name": "bert_crf"})
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mlflow: MLflowConfig = field(default_factory=MLflowConfig)
    # where metrics.json, predictions and model/ are written
    output_dir: str = "runs/latest"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, the model section as given (:func:`graphmner.training.run.resolved_config`
        fills in the model's defaults)."""
        return asdict(self)


def _build(cls, values: dict[str, Any], where: str):
    """A dataclass from a dict, rejecting unknown keys with their dotted path."""
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown config key(s) {[f'{where}{k}' for k in unknown]}; known under "
                         f"'{where or '<top>'}': {sorted(names)}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name) if name in names else None
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ValueError(f"config key '{where}{name}' must be a mapping, got {value!r}")
            kwargs[name] = _build(type(default), value, f"{where}{name}.")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _merge(base: dict, delta: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in delta.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"train.lr_encoder=3e-5"`` -> ``{"train": {"lr_encoder": 3e-05}}``; values parsed as YAML."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key.sub=value")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw != "" else None
    if isinstance(value, str) and value.lower() in ("none", "null"):
        value = None
    if isinstance(value, str):  # YAML 1.1 reads 3e-5 as a string; a number was meant
        try:
            value = float(value)
        except ValueError:
            pass
    out: dict[str, Any] = value
    for part in reversed(key.strip().split(".")):
        out = {part: out}
    return out


def load_config(path: str | Path | None = None, *deltas: dict[str, Any], overrides: list[str] = ()) -> ExperimentConfig:
    """Defaults <- YAML file <- ``deltas`` (e.g. from CLI flags) <- dotted ``overrides``.

    The ``model`` section is checked against the model's config when a run starts
    (:func:`graphmner.models.base.model_config`), before any data is read."""
    values = asdict(ExperimentConfig())
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config file must be a YAML mapping")
        values = _merge(values, loaded)
    for delta in deltas:
        values = _merge(values, delta)
    for text in overrides:
        values = _merge(values, parse_override(text))
    return _build(ExperimentConfig, values, "")
