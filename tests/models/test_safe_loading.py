"""Safe loading: weights only from safetensors or ``torch.load(weights_only=True)``; a pickle planted in a
model folder, checkpoint or feature cache is refused without running it; a tampered or truncated model
folder gives one clear error naming the file."""
import json
import pickle
import shutil

import pytest
import torch

from graphmner.cli import main
from graphmner.models.base import Tagger
from graphmner.vision.features import read_features
from tests.conftest import tiny_model_config


class Payload:
    """What an attacker pickles: unpickling it would run ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_labels):
    from graphmner.models.base import get_model_class

    folder = tmp_path_factory.mktemp("model") / "model"
    get_model_class("bert_crf")(tiny_model_config(), tiny_labels).save_pretrained(folder)
    return folder


@pytest.fixture
def copy(saved, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(saved, folder)
    return folder


def test_the_saved_folder_loads(copy):
    assert isinstance(Tagger.from_pretrained(copy), Tagger)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _swap_a_shape(path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = state[key][:, :-1].contiguous()
    save_file(state, str(path))


@pytest.mark.parametrize("name, damage, message", [
    ("model.safetensors", _truncate, "model.safetensors: damaged or not written by graphmner"),
    ("model.safetensors", _swap_a_shape, "size mismatch"),
    ("model.safetensors", lambda p: p.write_bytes(b""), "model.safetensors: damaged"),
    ("config.json", lambda p: p.write_text("{not json"), "config.json: not a valid model config"),
    ("config.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "model": "gpt"})),
     "unknown model 'gpt'"),
    ("config.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "encoder_config": {
        "model_type": "no-such-architecture"}})), "config.json: damaged or not written by graphmner"),
    ("labels.json", _truncate, "labels.json: damaged or not written by graphmner"),
    ("labels.json", lambda p: p.write_text('{"tags": ["B-PER", "O"]}'), "not in the canonical order"),
    ("tokenizer/tokenizer.json", _truncate, "tokenizer: damaged or not written by graphmner"),
])
def test_a_damaged_folder_is_one_clear_error(copy, name, damage, message, capsys):
    damage(copy / name)
    with pytest.raises((ValueError, KeyError)) as info:
        Tagger.from_pretrained(copy)
    assert message in str(info.value)
    # through the CLI: one line naming the problem, exit status 2, no traceback
    assert main(["evaluate", "--model-dir", str(copy), "--dataset", "twitter2017", "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphmner evaluate: error: ") and message in err and "Traceback" not in err


def test_a_missing_file_is_named(copy):
    (copy / "labels.json").unlink()
    with pytest.raises(FileNotFoundError, match="is not a saved graphmner model: labels.json is missing"):
        Tagger.from_pretrained(copy)


def test_a_pickle_in_place_of_the_weights_is_never_unpickled(copy, tmp_path):
    marker = tmp_path / "pwned"
    (copy / "model.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="model.safetensors: damaged or not written by graphmner"):
        Tagger.from_pretrained(copy)
    torch.save({"state": Payload(marker)}, copy / "model.safetensors")  # a torch.save zip, same refusal
    with pytest.raises(ValueError, match="model.safetensors: damaged"):
        Tagger.from_pretrained(copy)
    assert not marker.exists()


def test_a_pickle_in_a_checkpoint_or_feature_cache_is_refused(tmp_path):
    from graphmner.training.checkpoint import load_checkpoint

    marker = tmp_path / "pwned"
    cache = tmp_path / "features.pt"
    torch.save({"ids": ["1"], "global": Payload(marker), "grid": None, "errors": {}, "meta": {}}, cache)
    with pytest.raises(ValueError, match="not a readable feature cache .*UnpicklingError"):
        read_features(cache)
    folder = tmp_path / "epoch-1"
    folder.mkdir()
    model = torch.nn.Linear(2, 2)
    from safetensors.torch import save_file

    save_file(model.state_dict(), str(folder / "model.safetensors"))
    save_file(model.state_dict(), str(folder / "best.safetensors"))
    torch.save({"optimizer": Payload(marker)}, folder / "optimizer.pt")
    optimizer = torch.optim.AdamW(model.parameters())
    with pytest.raises(ValueError, match="epoch-1: damaged checkpoint .*UnpicklingError.*cannot resume from it"):
        load_checkpoint(folder, model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0),
                        torch.Generator(), torch.device("cpu"))
    assert not marker.exists()


@pytest.mark.parametrize("command", [
    ["detect", "--weights", "{weights}", "--output", "{out}/d.jsonl"],
    ["extract-features", "--backbone", "resnet152", "--weights", "{weights}", "--output", "{out}/f.pt",
     "--device", "cpu"],
])
def test_a_pickle_given_as_weights_is_refused_in_one_line(tmp_path, capsys, command):
    """``--weights`` of the detector or the feature backbone: a planted pickle, raw or in a torch.save
    zip, is a one-line error and never runs (ultralytics would unpickle a checkpoint whole by default)."""
    from tests.conftest import RESOURCES

    marker = tmp_path / "pwned"
    for name, write in (("raw.pt", lambda p: p.write_bytes(pickle.dumps(Payload(marker)))),
                        ("zip.pt", lambda p: torch.save({"model": Payload(marker)}, p))):
        weights = tmp_path / name
        write(weights)
        args = [a.format(weights=weights, out=tmp_path) for a in command]
        assert main([args[0], "--image-dir", str(RESOURCES / "images"), *args[1:]]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--weights {weights}: " in err[0] and "Traceback" not in err[0]
    assert not marker.exists()


def test_weights_of_another_architecture_are_one_line(tmp_path, capsys):
    from safetensors.torch import save_file

    from tests.conftest import RESOURCES

    weights = tmp_path / "linear.safetensors"
    save_file(torch.nn.Linear(2, 2).state_dict(), str(weights))
    assert main(["extract-features", "--image-dir", str(RESOURCES / "images"), "--backbone", "resnet152",
                 "--weights", str(weights), "--output", str(tmp_path / "f.pt"), "--device", "cpu"]) == 2
    assert f"--weights {weights}: not the weights of a resnet152" in capsys.readouterr().err


def test_an_edited_tokenizer_that_still_loads_is_refused(copy, saved):
    """Rotating the vocabulary keeps every file valid and its size, and would tag differently: the content
    hashes in config.json catch it; so does a file added to the tokenizer folder."""
    vocab = copy / "tokenizer" / "tokenizer.json"
    data = json.loads(vocab.read_text())
    words = data["model"]["vocab"]
    ids = list(words.values())
    data["model"]["vocab"] = dict(zip(words, ids[1:] + ids[:1]))
    vocab.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"tokenizer/tokenizer.json: changed since the model was saved"):
        Tagger.from_pretrained(copy)
    shutil.copy(saved / "tokenizer" / "tokenizer.json", vocab)
    Tagger.from_pretrained(copy)  # restored: loads
    (copy / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    with pytest.raises(ValueError, match=r"tokenizer/vocab.txt: not part of the saved model"):
        Tagger.from_pretrained(copy)


def test_a_folder_saved_without_hashes_still_loads_with_a_warning(copy, caplog):
    meta = json.loads((copy / "config.json").read_text())
    assert set(meta["files"]) >= {"model.safetensors", "labels.json", "tokenizer/tokenizer.json"}
    del meta["files"]
    (copy / "config.json").write_text(json.dumps(meta))
    Tagger.from_pretrained(copy)
    assert "saved without content hashes" in caplog.text


def test_a_tokenizer_larger_than_the_encoders_embeddings_is_refused(tiny_labels):
    from graphmner.models.base import get_model_class
    from graphmner.nn.encoders import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    tokenizer.add_tokens(["#newtoken"])  # one id past the encoder's last embedding: an index error in training
    with pytest.raises(ValueError, match=r"the tokenizer has 30523 tokens, more than the 30522 embeddings"):
        get_model_class("bert_crf")(tiny_model_config(), tiny_labels, tokenizer=tokenizer)


@pytest.mark.parametrize("tokenizer_length, allowed", [(512, True), (256, False)])
def test_max_length_is_checked_against_the_positions_the_encoder_can_use(tiny_labels, tokenizer_length, allowed):
    # RoBERTa-style encoders (MPNet) hold two more position embeddings than they can use; their tokenizer's
    # model_max_length is the real limit
    from graphmner.fields import ConfigError
    from graphmner.models.base import get_model_class
    from graphmner.nn.encoders import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    tokenizer.model_max_length = tokenizer_length
    model_class, config = get_model_class("bert_crf"), tiny_model_config(max_length=300)
    if allowed:
        assert model_class(config, tiny_labels, tokenizer=tokenizer).config.max_length == 300
    else:
        with pytest.raises(ConfigError, match=r"'model.max_length': 300 is not allowed \(the encoder 'minilm' has "
                                              r"256 positions\)"):
            model_class(config, tiny_labels, tokenizer=tokenizer)
