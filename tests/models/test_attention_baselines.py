"""mm_concat, umt and umgf: the shared model contract, with every visual-token source."""
import pytest
import torch

from graphmner.evidence.visual import VisualEvidence
from tests.models.base_model_test import BaseModelTest


class TestMMConcat(BaseModelTest):
    model_name = "mm_concat"
    model_changes = {"visual_tokens": "caption", "join": "concat"}


class TestMMConcatGateObjects(BaseModelTest):
    model_name = "mm_concat"
    model_changes = {"visual_tokens": "objects", "join": "gate"}


class TestUMT(BaseModelTest):
    model_name = "umt"
    model_changes = {"visual_tokens": "caption", "heads": 2}


class TestUMGF(BaseModelTest):
    model_name = "umgf"
    model_changes = {"visual_tokens": "objects", "heads": 2, "layers": 2}


class TestUMGFCaption(BaseModelTest):
    model_name = "umgf"
    model_changes = {"visual_tokens": "caption", "heads": 2, "layers": 1}


def test_umgf_keeps_four_visual_nodes(tiny_data, tiny_labels):
    t = TestUMGF()
    model = t.make(tiny_labels).eval()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 6))
    hidden = torch.zeros(batch.input_ids.shape[0], batch.input_ids.shape[1], model.hidden_size)
    tokens, mask = model.visual(batch, hidden)
    assert tokens.shape[1] == 4 and mask.sum(1).max() == 4


def test_umt_span_head_constrains_typed_tags(tiny_data, tiny_labels):
    t = TestUMT()
    model = t.make(tiny_labels).eval()
    tags = model.labels.tags
    # the conversion adds the B score to every B-X, the I score to every I-X, the O score to O
    for j, tag in enumerate(tags):
        expected = 0 if tag == "O" else (1 if tag.startswith("B-") else 2)
        assert model.conversion[:, j].tolist() == [float(k == expected) for k in range(3)]
    batch = model.featurizer().collate(t.examples(model, tiny_data, "train", 4))
    out = model(batch)
    typed, span = out.emissions, out.span_emissions
    assert span.shape == (*batch.word_mask.shape, 3)
    with torch.no_grad():
        model.span_classifier.bias += torch.tensor([0.0, 5.0, 0.0])
    typed_after = model(batch).emissions
    shift = (typed_after - typed)[batch.word_mask]
    for j, tag in enumerate(tags):
        assert torch.allclose(shift[:, j], torch.full_like(shift[:, j], 5.0 if tag.startswith("B-") else 0.0),
                              atol=1e-5)
    out = model(batch)  # typed CRF loss + weighted span CRF loss
    model.config.span_loss_weight = 0.0
    assert out.loss > model(batch).loss


def test_grid_tokens_from_image_features(tiny_data, tiny_labels):
    # region features as the visual tokens (the online path), here random: 3 of 4 tweets have an image
    t = TestUMT()
    t.model_changes = {**TestUMT.model_changes, "visual_tokens": "grid", "feature_dim": 16, "evidence": ["features"]}
    model = t.make(tiny_labels)
    tweets = tiny_data["train"][:4]
    evidence = [VisualEvidence(tw.image_id, grid=torch.randn(49, 16) if i else None) for i, tw in enumerate(tweets)]
    batch = model.featurizer().collate(model.featurizer()(tweets, evidence))
    grid, present = batch.extra["image_grid"], batch.extra["image_present"]
    assert grid.shape == (4, 49, 16) and present.tolist() == [False, True, True, True]
    model.eval()
    text, fused = model._states(batch)
    assert torch.equal(fused[0], text[0]) and not torch.allclose(fused[1:], text[1:])
    model.train()
    model(batch).loss.backward()
    assert model.visual.project[0].weight.grad is not None


def test_unknown_options_are_errors(tiny_labels):
    t = TestMMConcat()
    # checked where the config is built, before a model is made
    t.model_changes = {"join": "sum"}
    with pytest.raises(ValueError, match=r"'model.join': 'sum' is not allowed \(must be one of concat, gate\)"):
        t.make(tiny_labels)
    t.model_changes = {"visual_tokens": "pixels"}
    with pytest.raises(ValueError, match=r"'model.visual_tokens': 'pixels' is not allowed \(must be one of caption"):
        t.make(tiny_labels)


class TestUMTKnowledge(BaseModelTest):
    model_name = "umt"
    model_changes = {"visual_tokens": "caption", "heads": 2, "evidence": ["captions", "knowledge"]}
