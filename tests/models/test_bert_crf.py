import pytest
import torch

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


class TestBertCRFWordShape(BaseModelTest):
    model_name = "bert_crf"
    model_changes = {"word_shape": True}


def test_word_shape_reaches_the_word_states(tiny_data, tiny_labels):
    t = TestBertCRFWordShape()
    model = t.make(tiny_labels).eval()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 4))
    assert batch.word_shape.shape == batch.word_mask.shape and bool((batch.word_shape[batch.word_mask] > 0).any())
    before = model.encode_words(batch)
    with torch.no_grad():
        model.shape_embedding.weight.normal_()  # zero-initialised: no effect until it learns
    after = model.encode_words(batch)
    assert not torch.allclose(before, after) and torch.equal(model.text_states(batch), after)
    assert "shape_embedding.weight" not in BaseModelTest.make(TestBertCRF(), tiny_labels).state_dict()


def test_word_states_are_the_first_pieces_states(tiny_labels):
    from types import SimpleNamespace

    model = BaseModelTest.make(TestBertCRF(), tiny_labels).eval()
    hidden = torch.randn(2, 4, 32)  # (rows, pieces, H)
    batch = SimpleNamespace(word_row=torch.tensor([[0, 0], [1, 0]]), word_pos=torch.tensor([[1, 2], [1, 0]]))
    states = model.gather_words(hidden, batch)
    assert states.shape == (2, 2, 32)
    assert torch.equal(states[0, 1], hidden[0, 2]) and torch.equal(states[1, 0], hidden[1, 1])
