import pytest
import torch

from graphmner.data.collate import collate
from tests.models.base_model_test import BaseModelTest


class TestGraphMNERGNN(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "conv": "gatv2", "channels": 32, "heads": 2}


class TestGraphMNERTransformerConv(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "conv": "transformer", "channels": 32, "heads": 2, "layers": 1}


class TestGraphMNERSage(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "conv": "sage", "channels": 32, "layers": 3}


class TestGraphMNERAttention(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "attention", "channels": 32, "heads": 2}


def test_unknown_fusion_is_an_error(tiny_labels):
    from graphmner.models.graphmner import GraphMNER, GraphMNERConfig
    from tests.conftest import TINY_ENCODER

    config = GraphMNERConfig(pretrained=False, encoder_overrides=dict(TINY_ENCODER), fusion="dense")
    with pytest.raises(ValueError, match="unknown fusion 'dense'"):
        GraphMNER(config, tiny_labels)


def test_gate_starts_nearly_closed(tiny_data, tiny_labels):
    t = TestGraphMNERGNN()
    model = t.make(tiny_labels).eval()
    batch = collate(t.examples(model, tiny_data, "test", 4))
    model.word_representations(batch)
    assert torch.allclose(model.last_gate, torch.sigmoid(torch.tensor(-3.0)), atol=1e-6)


def test_capacity_control_fuses_tweets_without_evidence(tiny_data, tiny_labels):
    # model.fuse_without_evidence with --evidence none: the same layers, no image at all
    t = TestGraphMNERGNN()
    t.model_changes = {**TestGraphMNERGNN.model_changes, "evidence": [], "fuse_without_evidence": True,
                       "gate_init": 0.0}
    model = t.make(tiny_labels).eval()
    assert model.evidence_sources == [] and model.needs_evidence
    batch = collate(t.examples(model, tiny_data, "test", 4))
    assert batch.graph["object"].num_nodes == 0
    assert not torch.allclose(model.word_representations(batch), model.text_states(batch))
    model.config.fuse_without_evidence = False  # without the flag the same batch is the text path exactly
    assert torch.equal(model.word_representations(batch), model.text_states(batch))


class TestGraphMNERConceptKinds(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "channels": 32, "heads": 2, "concept_kinds": True}


def test_concept_kinds_reach_the_fused_states(tiny_data, tiny_labels):
    t = TestGraphMNERConceptKinds()
    t.model_changes = {**t.model_changes, "gate_init": 0.0}
    model = t.make(tiny_labels).eval()
    batch = collate(t.examples(model, tiny_data, "test", 4))
    kinds = batch.graph["object"].kind
    assert kinds.shape == (batch.graph["object"].num_nodes,) and bool((kinds > 0).any())
    before = model.word_representations(batch)
    assert torch.equal(before, model.word_representations(batch))  # zero-initialised: no effect yet
    with torch.no_grad():
        model.kind_embedding.weight[1:].normal_()
    assert not torch.allclose(before, model.word_representations(batch))
    assert "kind_embedding.weight" not in TestGraphMNERGNN().make(tiny_labels).state_dict()
