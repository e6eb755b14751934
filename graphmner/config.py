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
from typing import Annotated, Any

import yaml

from graphmner.fields import NON_EMPTY, ConfigError, above, at_least, between, check_fields, matches, one_of
from graphmner.formats import read_text_strict
from graphmner.vision.captions import PLACEHOLDER_MIN_IMAGES

DEVICE = matches(r"auto|cpu|mps|cuda(:\d+)?", "auto, cpu, mps, cuda or cuda:N")


@dataclass
class DataConfig:
    # registered corpus: twitter2015 | twitter2017 (bundled with the package); None: twitter2017, or with
    # data_dir the folder's name (which names the run in MLflow and the tables)
    dataset: str | None = None
    # a folder of the same layout (train.txt, valid.txt, test.txt[, captions, images/]) instead of the bundled copy
    data_dir: str | None = None
    # keep only the first N tweets of each split (smoke runs and tests); None = all
    limit: Annotated[int, at_least(1)] | None = None
    # control: give every tweet another tweet's visual evidence (same distribution, wrong image)
    evidence_shuffle: bool = False
    # detection cache (graphmner detect) for models with evidence "detections"
    detections: str | None = None
    # image feature cache (graphmner extract-features) for models with evidence "features"
    features: str | None = None
    # a caption text shared by at least this many images is a placeholder, not evidence (0: keep every caption)
    placeholder_captions: Annotated[int, at_least(0)] = PLACEHOLDER_MIN_IMAGES


@dataclass
class TrainConfig:
    # epochs over the training split; the best dev epoch is kept. 15 is the recipe: the cheapest schedule whose
    # dev F1 is inside the seed spread of 20-epoch runs (experiments/studies/training-recipe)
    epochs: Annotated[int, at_least(1)] = 15
    # early stopping: end training once this many epochs in a row bring no better dev F1 (the learning-rate
    # schedule still spans `epochs`); None trains every epoch
    patience: Annotated[int, at_least(1)] | None = None
    # tweets per optimisation step
    batch_size: Annotated[int, at_least(1)] = 32
    # tweets per evaluation step
    eval_batch_size: Annotated[int, at_least(1)] = 64
    # AdamW learning rate of the text encoder
    lr_encoder: Annotated[float, at_least(0)] = 5e-5
    # AdamW learning rate of everything else (emission layer, CRF, fusion)
    lr_head: Annotated[float, above(0)] = 1e-3
    # AdamW weight decay (not applied to biases, norms or the CRF)
    weight_decay: Annotated[float, at_least(0)] = 0.01
    # share of all steps spent warming the learning rate up linearly from 0; then the schedule
    warmup_ratio: Annotated[float, between(0, 1, high_open=True)] = 0.1
    # after the warm-up: "linear" decay to 0 at the last step, or "step": times step_gamma every step_epochs
    # epochs (UMGF's StepLR)
    schedule: Annotated[str, one_of("linear", "step")] = "linear"
    step_epochs: Annotated[int, at_least(1)] = 2
    step_gamma: Annotated[float, between(0, 1)] = 0.8
    # gradient clipping by global norm; 0 disables
    max_grad_norm: Annotated[float, at_least(0)] = 1.0
    # seeds python, numpy and torch (initialisation, dropout, shuffling)
    seed: Annotated[int, between(0, 2**32 - 1)] = 1
    # "auto" (cuda if available), "cpu", "cuda", "cuda:1", ...
    device: Annotated[str, DEVICE] = "auto"
    # torch CPU threads; None = torch's default
    num_threads: Annotated[int, at_least(1)] | None = None
    # write OUTPUT_DIR/checkpoints/epoch-N after every epoch (graphmner train --resume OUTPUT_DIR continues)
    checkpoint: bool = True
    # keep the last checkpoint once training has finished (it holds two copies of the weights)
    keep_checkpoint: bool = False


@dataclass
class MLflowConfig:
    # log the run to MLflow
    enabled: bool = True
    # MLflow experiment name
    experiment: Annotated[str, NON_EMPTY] = "graphmner"
    # None: $MLFLOW_TRACKING_URI if set, else MLflow's local default (./mlflow.db, artifacts in ./mlruns)
    tracking_uri: str | None = None
    # None: "<model>-<dataset>-s<seed>"
    run_name: str | None = None
    # extra run tags, e.g. {"grid": "readme", "variant": "graphmner"} (experiments/grid.py sets these);
    # model, dataset, seed, device and the git commit are always tagged
    tags: dict[str, str | int | float | bool] = field(default_factory=dict)


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
        raise ConfigError(f"unknown config key(s) {[f'{where}{k}' for k in unknown]}; known under "
                         f"'{where or '<top>'}': {sorted(names)}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name) if name in names else None
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{where}{name}' must be a mapping, got {value!r}")
            kwargs[name] = _build(type(default), value, f"{where}{name}.")
        else:
            kwargs[name] = value
    built = cls(**kwargs)
    check_fields(built, where)
    return built


def _merge(base: dict, delta: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in delta.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class _ConfigLoader(yaml.SafeLoader):
    """YAML without aliases (a config needs none, and nested aliases, a "billion laughs", would expand into
    gigabytes once the config is copied) and without a key given twice (PyYAML keeps the last silently)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(problem=f"an alias (*{event.anchor}); a config has none",
                                       problem_mark=event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        first: dict = {}
        for key_node, _ in node.value:
            key = key_node.value
            if key in first:
                raise yaml.MarkedYAMLError(problem=f"the key {key!r} twice (first on line {first[key] + 1})",
                                           problem_mark=key_node.start_mark)
            first[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def read_yaml(text: str, path: str | Path | None = None, what: str = "") -> Any:
    """YAML text as Python values; a syntax error (or an alias) is a :class:`ConfigError` naming
    ``path:line:column`` (a file) or ``what``, column N (a one-line value)."""
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if path is not None:
            at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        else:
            at = f"{what}, column {mark.column + 1}" if mark is not None else what
        raise ConfigError(f"{at}: not valid YAML: {problem}") from None


def parse_override(text: str) -> dict[str, Any]:
    """``"train.lr_encoder=3e-5"`` -> ``{"train": {"lr_encoder": 3e-05}}``; values parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key.sub=value")
    key, raw = text.split("=", 1)
    if not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"override {text!r}: {key!r} is not a dotted key (train.epochs, model.layers, ...)")
    value = read_yaml(raw, what=f"override {text!r}: the value") if raw != "" else None
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
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        loaded = read_yaml(read_text_strict(path), path) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config file must be a YAML mapping (key: value lines)")
        values = _merge(values, loaded)
    for delta in deltas:
        values = _merge(values, delta)
    for text in overrides:
        values = _merge(values, parse_override(text))
    return _build(ExperimentConfig, values, "")
