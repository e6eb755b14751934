"""Shared fixtures: a tiny randomly initialised BERT (MiniLM's tokenizer, 1 layer,
32 wide) so model tests run in seconds on a CPU, and a tiny real corpus."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Tiny models gain nothing from intra-op threads, and when other work shares the cores
# (a training run beside the tests) OpenMP's spinning threads slow them down 10-50x.
torch.set_num_threads(1)

RESOURCES = Path(__file__).parent / "resources"


@pytest.fixture(scope="session", autouse=True)
def graphmner_cache(tmp_path_factory):
    """Caches the code writes (image types, gazetteers) go to a temporary folder, not the user's home."""
    import os

    folder = tmp_path_factory.mktemp("graphmner-cache")
    old, os.environ["GRAPHMNER_CACHE"] = os.environ.get("GRAPHMNER_CACHE"), str(folder)
    yield folder
    if old is None:
        del os.environ["GRAPHMNER_CACHE"]
    else:
        os.environ["GRAPHMNER_CACHE"] = old
TINY_DATA = RESOURCES / "tiny"
TINY_ENCODER = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}


def tiny_model_config(**changes):
    from graphmner.models.base import TaggerConfig

    return TaggerConfig(encoder="minilm", pretrained=False, encoder_overrides=dict(TINY_ENCODER), **changes)


@pytest.fixture(scope="session")
def tokenizer():
    from graphmner.nn.encoders import load_tokenizer

    return load_tokenizer("minilm")


@pytest.fixture(scope="session")
def tiny_data():
    from graphmner.data.datasets import load_dataset

    return load_dataset("tiny", data_dir=TINY_DATA)


@pytest.fixture(scope="session")
def tiny_labels(tiny_data):
    from graphmner.data.labels import LabelVocab

    return LabelVocab.from_tags(t.tags for t in tiny_data["train"])
