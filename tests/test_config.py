from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from graphmner.config import load_config, parse_override
from graphmner.models.base import model_config
from graphmner.training.run import resolved_config


def test_layers_defaults_yaml_flags_overrides(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("train:\n  epochs: 7\n  lr_head: 0.002\nmodel:\n  dropout: 0.3\n")
    config = load_config(path, {"train": {"epochs": 2}}, overrides=["train.lr_encoder=3e-5", "data.limit=null"])
    assert config.train.epochs == 2  # flag beats YAML
    assert config.train.lr_head == 0.002 and config.train.lr_encoder == 3e-5
    assert config.data.limit is None and config.train.batch_size == 32
    cls, settings = model_config(config.model)
    assert cls.name == "bert_crf" and settings.dropout == 0.3 and settings.encoder == "minilm"
    resolved = resolved_config(config)
    assert resolved["model"]["name"] == "bert_crf" and resolved["model"]["max_length"] == 128


def test_unknown_keys_are_errors_with_their_path(tmp_path):
    with pytest.raises(ValueError, match=r"train.epoch"):
        load_config(None, overrides=["train.epoch=3"])
    # the model section is checked against the model's own config, before a run reads any data
    with pytest.raises(ValueError, match=r"BertCRF|TaggerConfig has no field\(s\) \['dropuot'\]"):
        model_config(load_config(None, overrides=["model.dropuot=0.2"]).model)
    with pytest.raises(KeyError, match="unknown model"):
        model_config(load_config(None, overrides=["model.name=nope"]).model)


def test_parse_override_values():
    assert parse_override("a.b=3") == {"a": {"b": 3}}
    assert parse_override("a=1e-3") == {"a": 1e-3}
    assert parse_override("a=none") == {"a": None}
    assert parse_override("a={x: 1}") == {"a": {"x": 1}}
    assert parse_override("a=minilm") == {"a": "minilm"}
    with pytest.raises(ValueError, match="key.sub=value"):
        parse_override("oops")


CONFIGS = sorted((Path(__file__).parents[1] / "experiments" / "configs").glob("*.yaml"))
# what defines a run besides its model: the training recipe (not the seed, device or bookkeeping)
RECIPE = {"epochs", "patience", "batch_size", "lr_encoder", "lr_head", "weight_decay", "warmup_ratio", "max_grad_norm"}


def test_shipped_configs_load():
    assert CONFIGS
    for path in CONFIGS:
        model_config(load_config(path).model)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_config_pins_everything_that_defines_it(path):
    # a config named for what it is (a control, a baseline) must not change meaning when a default does:
    # every field of its model and the whole training recipe are written in the file
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    cls, settings = model_config(written["model"])
    missing = {f.name for f in fields(settings)} - set(written["model"])
    assert not missing, f"{path.name} leaves model fields to the defaults: {sorted(missing)}"
    assert RECIPE <= set(written.get("train", {})), f"{path.name} leaves {sorted(RECIPE - set(written['train']))}"


def test_the_capacity_control_is_the_control_it_is_named_for():
    control = load_config(Path(__file__).parents[1] / "experiments" / "configs" / "graphmner_capacity_control.yaml")
    _, settings = model_config(control.model)
    # no evidence of any kind (no image, no knowledge nodes), and the fusion stack runs anyway
    assert settings.evidence == [] and settings.knowledge is False and settings.fuse_without_evidence is True
