"""mm_concat, umt and umgf: the shared model contract, with every visual-token source."""
import pytest
import torch

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import VisualEvidence, caption_concepts
from tests.models.base_model_test import BaseModelTest


class TestMMConcat(BaseModelTest):
    model_name = "mm_concat"
    model_changes = {"visual_tokens": "caption", "join": "concat"}


class TestMMConcatGateObjects(BaseModelTest):
    model_name = "mm_concat"
    model_changes = {"visual_tokens": "objects", "join": "gate"}


class TestUMT(BaseModelTest):
    model_name = "umt"
    model_changes = {"visual_tokens": "caption"}


class TestUMGF(BaseModelTest):
    model_name = "umgf"
    model_changes = {"visual_tokens": "kinds", "heads": 2, "layers": 2, "width": 16, "ffn": 8}


class TestUMGFObjects(BaseModelTest):
    model_name = "umgf"
    model_changes = {"visual_tokens": "objects", "heads": 2, "layers": 1, "width": 16, "ffn": 8}


class TestUMGFCaption(BaseModelTest):
    model_name = "umgf"
    model_changes = {"visual_tokens": "caption", "heads": 2, "layers": 1, "width": 16, "ffn": 8}


def test_umgf_keeps_four_visual_nodes(tiny_data, tiny_labels):
    t = TestUMGFObjects()
    model = t.make(tiny_labels).eval()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 6))
    hidden = torch.zeros(batch.input_ids.shape[0], batch.input_ids.shape[1], model.hidden_size)
    tokens, mask = model.visual(batch, hidden)
    assert tokens.shape[1] == 4 and mask.sum(1).max() == 4


def test_kinds_tokens_are_one_per_kind_of_umgfs_regions_else_the_whole_caption(tiny_labels):
    # UMGF's four regions are grounded for person, miscellaneous, location and organisation; the stand-in reads
    # the caption's concepts of each kind (person, text, place, organisation), else the whole caption
    t = TestUMGF()
    model = t.make(tiny_labels).eval()
    tweet = Tweet("t", ["Go", "Bears"], ["O", "B-ORG"], image_id="1.jpg")
    caption = "a man holding a sign in a stadium"
    evidence = [VisualEvidence("1.jpg", objects=caption_concepts(caption), caption=caption)]
    featurizer = model.featurizer()
    batch = featurizer.collate(featurizer([tweet], evidence))
    row = batch.extra["visual_row"][0]
    hidden = torch.zeros(batch.input_ids.shape[0], batch.input_ids.shape[1], model.hidden_size)
    hidden[row, :, 0] = torch.arange(batch.input_ids.shape[1], dtype=torch.float)  # a piece's state: its position
    tokens, mask = model.visual(batch, hidden)
    pieces = [featurizer.tokenizer.convert_ids_to_tokens(int(i)) for i in batch.input_ids[row]]
    first = {piece: k for k, piece in reversed(list(enumerate(pieces)))}
    caption_positions = [k for k, piece in enumerate(pieces) if piece not in ("[CLS]", "[SEP]", "[PAD]")]
    assert mask.tolist() == [[True] * 4]
    assert tokens[0, :, 0].tolist() == [first["man"], first["sign"], first["stadium"],
                                        sum(caption_positions) / len(caption_positions)]


def test_umgf_is_wired_as_its_public_code(tiny_data, tiny_labels):
    t = TestUMGF()
    model = t.make(tiny_labels).eval()
    hidden, width = model.hidden_size, model.config.width
    assert model.classifier.in_features == hidden + width  # hidden2tag over [encoder states; fused states]
    assert len(model.layers) == 2 and model.layers[0].word_ffn[0].out_features == model.config.ffn
    visual_attention = model.layers[0].visual_attention  # queries and keys projected, values and output not
    assert isinstance(visual_attention.value, torch.nn.Identity) and isinstance(visual_attention.output,
                                                                                torch.nn.Identity)
    seen = {}
    model.layers[0].word_gate.register_forward_hook(lambda m, args, out: seen.update(pairs=args[0]))
    model.classifier.register_forward_hook(lambda m, args, out: seen.update(classified=args[0]))
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 4))
    words = model.text_states(batch)[..., :hidden]
    model(batch)
    # a sigmoid gate per (word, visual node) pair: (B, W, 4, 2 * width)
    assert seen["pairs"].shape == (4, batch.word_mask.shape[1], 4, 2 * width)
    assert torch.equal(seen["classified"][..., :hidden], words)  # the encoder's own states beside the fused


def with_grid(t: BaseModelTest, data, labels, tweets: int, regions: int, dim: int):
    """A model of test ``t`` reading ``dim``-wide region features, and a batch of ``tweets`` tweets with
    random ``(regions, dim)`` features, but the first, which has no image."""
    t.model_changes = {**type(t).model_changes, "visual_tokens": "grid", "feature_dim": dim, "evidence": ["features"]}
    model = t.make(labels)
    chosen = data["train"][:tweets]
    evidence = [VisualEvidence(tw.image_id, grid=torch.randn(regions, dim) if i else None)
                for i, tw in enumerate(chosen)]
    return model, model.featurizer().collate(model.featurizer()(chosen, evidence))


def test_umgf_grid_nodes_are_region_features_with_a_trained_last_layer(tiny_data, tiny_labels):
    model, batch = with_grid(TestUMGF(), tiny_data, tiny_labels, tweets=3, regions=4, dim=12)
    assert model.visual_fc.in_features == model.visual_fc.out_features == 12  # UMGF's new 2048 -> 2048 layer
    model(batch).loss.backward()
    assert model.visual_fc.weight.grad is not None and model.visual_map[0].weight.grad is not None


def test_umt_span_head_constrains_typed_tags_through_the_published_conversion(tiny_data, tiny_labels):
    t = TestUMT()
    model = t.make(tiny_labels).eval()
    tags = model.labels.tags
    types = len({tag[2:] for tag in tags if tag != "O"})
    # UMT's trans_matrix: O -> O with 1, B -> every B-X and I -> every I-X with 1/K
    for j, tag in enumerate(tags):
        row = 0 if tag == "O" else (1 if tag.startswith("B-") else 2)
        weight = 1.0 if tag == "O" else 1.0 / types
        assert model.conversion[:, j].tolist() == [weight if k == row else 0.0 for k in range(3)]
    batch = model.featurizer().collate(t.examples(model, tiny_data, "train", 4))
    out = model(batch)
    typed, span = out.emissions, out.span_emissions
    assert span.shape == (*batch.word_mask.shape, 3)
    with torch.no_grad():
        model.span_classifier.bias += torch.tensor([0.0, 4.0, 0.0])
    shift = (model(batch).emissions - typed)[batch.word_mask]
    for j, tag in enumerate(tags):  # emissions = 0.5 typed + 0.5 span C: a B score of +4 moves every B-X by 0.5
        expected = 0.5 * 4.0 / types if tag.startswith("B-") else 0.0
        assert torch.allclose(shift[:, j], torch.full_like(shift[:, j], expected), atol=1e-5)
    out = model(batch)  # typed CRF loss + weighted span CRF loss
    model.config.span_loss_weight = 0.0
    assert out.loss > model(batch).loss


def test_umt_is_wired_as_its_public_code(tiny_data, tiny_labels):
    """Which states feed which layer: the span head reads its own text-only layer, the alignment's queries are
    the main text states and its memory the word-aware image states, the classifier reads [Q; g * P]."""
    t = TestUMT()
    model = t.make(tiny_labels).eval()
    hidden = model.hidden_size
    assert model.classifier.in_features == 2 * hidden and model.gate.in_features == 2 * hidden
    assert model.visual_for_text is not model.visual_for_image  # one projection per direction
    seen = {}

    def keep(name):
        def hook(module, args, output):
            seen[name] = (args, output)
        return hook

    for name in ("span_self", "main_self", "text_to_image", "image_to_text", "text_to_text", "span_classifier",
                 "classifier", "gate"):
        getattr(model, name).register_forward_hook(keep(name))
    batch = model.featurizer().collate(t.examples(model, tiny_data, "train", 4))
    model(batch)
    main, span_states = seen["main_self"][1], seen["span_self"][1]
    assert torch.equal(seen["span_classifier"][0][0], span_states)
    assert torch.equal(seen["text_to_image"][0][0], main)  # P: the main text states attend V1
    assert torch.equal(seen["image_to_text"][0][1], main)  # A: the image attends the main text states
    q_args, q = seen["text_to_text"]
    assert torch.equal(q_args[0], main) and torch.equal(q_args[1], seen["image_to_text"][1])  # Q = CMT(T <- A)
    p = seen["text_to_image"][1]
    gate = torch.sigmoid(seen["gate"][1])
    assert torch.equal(seen["gate"][0][0], torch.cat([q, p], dim=-1))
    assert torch.equal(seen["classifier"][0][0], torch.cat([q, gate * p], dim=-1))
    assert model.encoder.config.num_attention_heads == model.main_self.attn.num_heads  # heads: the encoder's


def test_grid_tokens_from_image_features(tiny_data, tiny_labels):
    # region features as the visual tokens (the online path), here random: 3 of 4 tweets have an image
    model, batch = with_grid(TestUMT(), tiny_data, tiny_labels, tweets=4, regions=49, dim=16)
    grid, present = batch.extra["image_grid"], batch.extra["image_present"]
    assert grid.shape == (4, 49, 16) and present.tolist() == [False, True, True, True]
    model.eval()
    text, fused = model.text_states(batch), model.word_representations(batch)
    assert torch.equal(fused[0], text[0]) and not torch.allclose(fused[1:], text[1:])
    model.train()
    model(batch).loss.backward()
    # UMT maps the 16-d region features to the encoder's width twice, once per direction
    for projection in (model.visual_for_text, model.visual_for_image):
        assert projection.in_features == 16 and projection.weight.grad is not None


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
    model_changes = {"visual_tokens": "caption", "heads": 4, "evidence": ["captions", "knowledge"]}


def test_mm_concat_joins_one_image_vector_to_every_word(tiny_data, tiny_labels):
    # MMNerModel's shape: h' = h + W [h; v], v the image's one vector (here the mean of its projected regions)
    model, batch = with_grid(TestMMConcat(), tiny_data, tiny_labels, tweets=3, regions=5, dim=12)
    model.eval()
    seen = {}
    model.join.register_forward_hook(lambda m, args, out: seen.update(joined=args[0], delta=out))
    fused = model.word_representations(batch)
    words = model.text_states(batch)
    image = model.visual.project(batch.extra["image_grid"]).mean(dim=1)  # (B, H)
    hidden = model.hidden_size
    assert torch.allclose(seen["joined"][..., :hidden], words, atol=1e-6)
    assert torch.allclose(seen["joined"][1:, :, hidden:], image[1:, None].expand_as(words[1:]), atol=1e-6)
    assert torch.allclose(fused[1:], words[1:] + seen["delta"][1:], atol=1e-6)
    assert torch.equal(fused[0], words[0])  # the tweet without an image: the text path
