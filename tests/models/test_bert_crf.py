import pytest

from graphmner.models.base import MODELS, Tagger, get_model_class
from tests.models.base_model_test import BaseModelTest


class TestBertCRF(BaseModelTest):
    model_name = "bert_crf"


def test_registry():
    assert get_model_class("bert_crf") is MODELS["bert_crf"]
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        get_model_class("nope")


def test_from_pretrained_names_a_broken_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        Tagger.from_pretrained(tmp_path)
