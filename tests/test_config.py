import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from graphmner.config import load_config, parse_override
from graphmner.fields import ConfigError
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
RECIPE = {"epochs", "patience", "batch_size", "lr_encoder", "lr_head", "weight_decay", "warmup_ratio", "max_grad_norm",
          "schedule", "step_epochs", "step_gamma"}


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


@pytest.mark.parametrize("override, said", [
    ("train.epochs=0", "'train.epochs': 0 is not allowed (must be >= 1)"),
    ("train.epochs=-1", "'train.epochs': -1 is not allowed (must be >= 1)"),
    ("train.epochs=1.5", "'train.epochs': 1.5 is not allowed (must be an integer)"),
    ("train.epochs=true", "'train.epochs': True is not allowed (must be an integer)"),
    ("train.epochs=[1,2]", "'train.epochs': [1, 2] is not allowed (must be an integer)"),
    ("train.seed=abc", "'train.seed': 'abc' is not allowed (must be an integer)"),
    ("train.lr_encoder=-1e-5", "'train.lr_encoder': -1e-05 is not allowed (must be >= 0)"),
    ("train.lr_head=0", "'train.lr_head': 0 is not allowed (must be > 0)"),
    ("train.lr_head=.nan", "'train.lr_head': nan is not allowed (must be a finite number)"),
    ("train.warmup_ratio=1", "'train.warmup_ratio': 1 is not allowed (must be >= 0 and < 1)"),
    ("train.num_threads=-1", "'train.num_threads': -1 is not allowed (must be >= 1 or null)"),
    ("train.device=banana", "'train.device': 'banana' is not allowed (must be auto, cpu, mps, cuda or cuda:N)"),
    ("data.limit=-1", "'data.limit': -1 is not allowed (must be >= 1 or null)"),
    ("data.limit=0", "'data.limit': 0 is not allowed (must be >= 1 or null)"),
    ("mlflow.experiment=' '", "'mlflow.experiment': ' ' is not allowed (must be a non-empty string)"),
    ("mlflow.tags.grid=[1]", "'mlflow.tags': {'grid': [1]} is not allowed (entry 'grid'"),
])
def test_every_value_is_checked_where_the_config_is_built(override, said):
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides=[override])
    assert said in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("values, said", [
    ({"name": "graphmner", "layers": "abc"}, "'model.layers': 'abc' is not allowed (must be an integer)"),
    ({"name": "graphmner", "fusion": "umgf"}, "'model.fusion': 'umgf' is not allowed (must be one of gnn, dense, "
                                              "dense_edges, attention)"),
    ({"name": "graphmner", "evidence": "captions"}, "'model.evidence': 'captions' is not allowed (must be a list"),
    ({"name": "bert_crf", "dropout": 1.0}, "'model.dropout': 1.0 is not allowed (must be >= 0 and < 1)"),
    ({"name": "bert_crf", "max_length": 2}, "'model.max_length': 2 is not allowed (must be >= 4)"),
    ({"name": "umgf", "visual_tokens": "pixels"}, "must be one of caption, objects, kinds, grid"),
    ({"name": "bert_crf", "encoder_overrides": []}, "'model.encoder_overrides': [] is not allowed (must be a mapping)"),
])
def test_model_sections_are_checked_before_any_data(values, said):
    with pytest.raises(ConfigError, match=re.escape(said)):
        model_config(values)


def test_yaml_errors_name_file_line_and_column(tmp_path):
    tabbed = tmp_path / "tabbed.yaml"
    tabbed.write_text("train:\n\tepochs: 3\n")
    with pytest.raises(ConfigError, match=re.escape(f"{tabbed}:2:1: not valid YAML: found character '\\t'")):
        load_config(tabbed)
    broken = tmp_path / "broken.yaml"
    broken.write_text("train:\n  epochs: [3\n")
    with pytest.raises(ConfigError, match=re.escape(f"{broken}:3:1: not valid YAML")):
        load_config(broken)
    twice = tmp_path / "twice.yaml"
    twice.write_text("train:\n  epochs: 3\n  seed: 1\n  epochs: 20\n")
    with pytest.raises(ConfigError, match=re.escape(f"{twice}:4:3: not valid YAML: the key 'epochs' twice (first on "
                                                    f"line 2)")):
        load_config(twice)
    with pytest.raises(ConfigError, match=r"override 'model.x=\[1': the value, column 3: not valid YAML"):
        load_config(None, overrides=["model.x=[1"])
    with pytest.raises(ConfigError, match="a config file must be a YAML mapping"):
        (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
        load_config(tmp_path / "list.yaml")
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_billion_laughs_is_refused_at_load(tmp_path):
    """Nested aliases under a key that takes any value would grow to gigabytes once copied: a config
    has no aliases at all."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    lines += ["model:", "  encoder_overrides:", "    lol: *a8"]
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=re.escape(f"{laughs}:2:10: not valid YAML: an alias (*a0)")):
        load_config(laughs)


def test_a_device_this_machine_lacks_is_an_error():
    import torch

    from graphmner.training.trainer import resolve_device

    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device 'cuda': this machine has 0 CUDA device\(s\); use cpu or auto"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match=r"device 'cuda:99': this machine has \d+ CUDA device"):
        resolve_device("cuda:99")
