import pytest
import torch

from tests.models.base_model_test import BaseModelTest


# Each feature is tested on its own (knowledge nodes off, as by default), then with knowledge nodes
# (TestGraphMNERKnowledge and the fusion ablation's classes, whose nodes include them).
class TestGraphMNERGNN(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "conv": "gatv2", "channels": 32, "heads": 2, "knowledge": False}


class TestGraphMNERTransformerConv(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "conv": "transformer", "channels": 32, "heads": 2, "layers": 1,
                     "knowledge": False}


class TestGraphMNERSage(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "conv": "sage", "channels": 32, "layers": 3, "knowledge": False}


class TestGraphMNERAttention(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "attention", "channels": 32, "heads": 2, "knowledge": False}


def test_unknown_fusion_is_an_error(tiny_labels):
    from graphmner.models.graphmner import GraphMNER, GraphMNERConfig
    from tests.conftest import TINY_ENCODER

    config = GraphMNERConfig(pretrained=False, encoder_overrides=dict(TINY_ENCODER), fusion="umgf")
    with pytest.raises(ValueError, match="unknown fusion 'umgf'; known: gnn, dense, dense_edges, attention"):
        GraphMNER(config, tiny_labels)


def test_gate_starts_nearly_closed(tiny_data, tiny_labels):
    t = TestGraphMNERGNN()
    model = t.make(tiny_labels).eval()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 4))
    gate = model(batch).gate  # returned with the output, not kept on the model
    assert gate.shape == batch.word_mask.shape and not bool(gate[~batch.word_mask].any())
    assert torch.allclose(gate[batch.word_mask], torch.sigmoid(torch.tensor(-3.0)), atol=1e-6)


def test_capacity_control_fuses_tweets_without_evidence(tiny_data, tiny_labels):
    # model.fuse_without_evidence with --evidence none: the same layers, no image at all
    t = TestGraphMNERGNN()
    t.model_changes = {**TestGraphMNERGNN.model_changes, "evidence": [], "fuse_without_evidence": True,
                       "gate_init": 0.0}
    model = t.make(tiny_labels).eval()
    assert model.evidence_sources == [] and model.needs_evidence
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 4))
    assert batch.extra["graph"]["object"].num_nodes == 0
    assert not torch.allclose(model.word_representations(batch), model.text_states(batch))
    model.config.fuse_without_evidence = False  # without the flag the same batch is the text path exactly
    assert torch.equal(model.word_representations(batch), model.text_states(batch))


class TestGraphMNERConceptKinds(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "channels": 32, "heads": 2, "concept_kinds": True, "knowledge": False}


def test_concept_kinds_reach_the_fused_states(tiny_data, tiny_labels):
    t = TestGraphMNERConceptKinds()
    t.model_changes = {**t.model_changes, "gate_init": 0.0}
    model = t.make(tiny_labels).eval()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 4))
    kinds = batch.extra["graph"]["object"].kind
    assert kinds.shape == (batch.extra["graph"]["object"].num_nodes,) and bool((kinds > 0).any())
    before = model.word_representations(batch)
    assert torch.equal(before, model.word_representations(batch))  # zero-initialised: no effect yet
    with torch.no_grad():
        model.kind_embedding.weight[1:].normal_()
    assert not torch.allclose(before, model.word_representations(batch))
    assert "kind_embedding.weight" not in TestGraphMNERGNN().make(tiny_labels).state_dict()


class TestGraphMNERNoiseGate(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "channels": 32, "heads": 2, "noise_gate": True, "knowledge": False}


class TestGraphMNERImageWordBias(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "channels": 32, "heads": 2, "image_word_bias": True, "knowledge": False}


def test_noise_gate_reads_image_types_and_scales_the_gate(tiny_data, tiny_labels):
    from graphmner.evidence.image_types import TYPE_NAMES

    t = TestGraphMNERNoiseGate()
    model = t.make(tiny_labels).eval()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 6))
    has_types = batch.extra["graph"].quality[:, -1] == 1
    assert bool(has_types.all())  # every tiny test tweet has a caption, so its image type is scored
    out = model(batch)
    # starts as the default model's gate times σ(3), the same for every tweet
    assert torch.allclose(out.quality, torch.sigmoid(torch.tensor(3.0)).expand(6))
    expected = torch.sigmoid(torch.tensor(-3.0)) * torch.sigmoid(torch.tensor(3.0))
    assert torch.allclose(out.gate[batch.word_mask], expected)
    with torch.no_grad():
        model.quality[2].weight.normal_()
    out = model(batch)
    assert out.quality.unique().numel() > 1  # now it depends on the evidence
    records = model.tweet_records(batch, out)
    assert [r["id"] for r in records] == [tw.id for tw in batch.tweets]
    assert all(r["image_type"] in TYPE_NAMES and 0 < r["quality"] < 1 and 0 < r["gate"] < 1 for r in records)
    assert "quality.0.weight" not in TestGraphMNERGNN().make(tiny_labels).state_dict()


def test_image_word_bias_opens_the_gate_of_matching_words(tiny_data, tiny_labels):
    t = TestGraphMNERImageWordBias()
    model = t.make(tiny_labels).eval()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test", 12))
    match = batch.extra["graph"]["word"].match
    assert bool((match > 0).any()) and bool((match == 0).any())
    gate = model(batch).gate[batch.word_mask]  # graph word order
    base = torch.sigmoid(torch.tensor(-3.0))
    # cosine weight starts at 0: an unmatched word keeps the default gate, a matched one is opened by 2 · match
    assert torch.allclose(gate[match == 0], base)
    assert torch.allclose(gate[match == 1], torch.sigmoid(torch.tensor(-1.0)))
    with torch.no_grad():
        model.match_bias[1] = 1.0
    gate = model(batch).gate[batch.word_mask]
    assert not torch.allclose(gate[match == 0], base)  # now every word's closest node counts


def test_training_writes_per_tweet_gate_records(tmp_path):
    import json

    from graphmner.cli import main
    from tests.conftest import TINY_DATA, TINY_ENCODER

    assert main(["train", "--model", "graphmner", "--data-dir", str(TINY_DATA), "--epochs", "1", "--no-mlflow",
                 "--device", "cpu", "--output-dir", str(tmp_path),
                 f"model.encoder_overrides={json.dumps(TINY_ENCODER)}",
                 "model.pretrained=false", "model.channels=16", "model.heads=2", "model.noise_gate=true"]) == 0
    lines = (tmp_path / "predictions" / "test_tweets.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 12 and {"id", "gate", "quality", "image_type"} <= set(records[0])


class TestGraphMNERKnowledge(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "channels": 32, "heads": 2, "knowledge": True}

    def test_empty_evidence_is_the_text_path(self, tiny_data, tiny_labels):
        # knowledge comes from the text: a tweet without an image still fuses its gazetteer matches, and a
        # tweet with neither keeps exactly its text states
        from graphmner.data.conll import Tweet
        from graphmner.evidence.visual import VisualEvidence
        from graphmner.graph.builder import KNOWLEDGE

        model = self.make(tiny_labels).eval()
        tweets = [Tweet("a", ["Visit", "Paris", "now"], ["O"] * 3, "a"), Tweet("b", ["no", "names", "here"],
                                                                                 ["O"] * 3, "b")]
        batch = model.featurizer().collate(model.featurizer()(tweets, [VisualEvidence("a"), VisualEvidence("b")]))
        assert set(batch.extra["graph"][KNOWLEDGE].batch.tolist()) == {0}  # Paris (a place, and a first name too)
        fused, text = model.word_representations(batch), model.text_states(batch)
        assert not torch.allclose(fused[0, :3], text[0, :3]) and torch.allclose(fused[1, :3], text[1, :3], atol=1e-5)


class TestGraphMNERKnowledgeAttention(TestGraphMNERKnowledge):
    model_changes = {"fusion": "attention", "channels": 32, "heads": 2, "knowledge": True}


# the fair fusion ablation: the same nodes (knowledge included) and, for dense_edges, the same edges
class TestGraphMNERDense(TestGraphMNERKnowledge):
    model_changes = {"fusion": "dense", "channels": 32, "heads": 2, "knowledge": True}


class TestGraphMNERDenseEdges(TestGraphMNERKnowledge):
    model_changes = {"fusion": "dense_edges", "channels": 32, "heads": 2, "knowledge": True}


class TestGraphMNERWordShape(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "channels": 32, "heads": 2, "knowledge": False, "word_shape": True}


# Text evidence that names things (PGIM's knowledge) as candidate and sentence nodes, with the captions
class TestGraphMNERTextEvidence(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "gnn", "channels": 32, "heads": 2, "knowledge": False,
                     "evidence": ["captions", "knowledge"]}


class TestGraphMNERTextEvidenceDense(BaseModelTest):
    model_name = "graphmner"
    model_changes = {"fusion": "dense_edges", "channels": 32, "heads": 2, "knowledge": False,
                     "evidence": ["knowledge"], "text_nodes": ["candidates"]}


def test_text_evidence_nodes_carry_frozen_embeddings_and_reach_the_words(tiny_data, tiny_labels):
    t = TestGraphMNERTextEvidence()
    t.model_changes = {**t.model_changes, "evidence": ["knowledge"], "gate_init": 0.0}
    model = t.make(tiny_labels).eval()
    examples = t.examples(model, tiny_data, "test")
    graph = model.featurizer().collate(examples).extra["graph"]
    # the last tiny test tweet has no knowledge: its graph has no candidates, the others do
    assert examples[-1].extra["graph"]["candidate"].num_nodes == 0
    assert all(ex.extra["graph"]["candidate"].num_nodes > 0 for ex in examples[:-1])
    assert graph["candidate"].x.shape == (graph["candidate"].num_nodes, 384)  # MiniLM's sentence width
    assert torch.allclose(graph["sentence"].x.norm(dim=1), torch.ones(graph["sentence"].num_nodes), atol=1e-5)
    batch = model.featurizer().collate(examples)
    fused, text = model.word_representations(batch), model.text_states(batch)
    last = len(batch.tweets[-1])
    assert torch.equal(fused[-1, :last], text[-1, :last])  # no knowledge, no caption: the text path
    assert not torch.allclose(fused[0, :len(batch.tweets[0])], text[0, :len(batch.tweets[0])])
    assert "text_project.0.weight" not in TestGraphMNERGNN().make(tiny_labels).state_dict()


def test_text_evidence_dropout_leaves_out_whole_tweets_text_nodes_in_training_only(tiny_data, tiny_labels):
    t = TestGraphMNERTextEvidence()  # captions and knowledge
    t.model_changes = {**t.model_changes, "text_evidence_dropout": 0.5}
    model = t.make(tiny_labels)
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test"))
    graph, num = batch.extra["graph"], len(batch)
    torch.manual_seed(1)
    kept = model._drop_text_evidence(graph, num)
    had = torch.bincount(graph["candidate"].batch, minlength=num)
    left = {n: torch.bincount(kept[n].batch, minlength=num) for n in ("candidate", "sentence")}
    dropped = (left["candidate"] == 0) & (had > 0)
    assert 0 < int(dropped.sum()) < int((had > 0).sum())
    for n in ("candidate", "sentence"):  # a tweet keeps all its nodes of a kind or none of them
        before = torch.bincount(graph[n].batch, minlength=num)
        assert torch.equal(left[n], torch.where(dropped, 0, before))
    mentions = ("candidate", "mentions", "word")
    src = graph[mentions].edge_index[0]
    assert kept[mentions].edge_index.shape[1] == int((~dropped[graph["candidate"].batch[src]]).sum())
    assert kept[mentions].edge_attr.shape[0] == kept[mentions].edge_index.shape[1]
    assert kept["object"].num_nodes == graph["object"].num_nodes and kept["word"].num_nodes == graph["word"].num_nodes
    # evaluation sees every node: the same states as the same model without the option
    without = TestGraphMNERTextEvidence().make(tiny_labels).eval()
    assert torch.equal(model.eval().word_representations(batch), without.word_representations(batch))
    # knowledge alone, every tweet's knowledge left out in training: no evidence, the gate shut for every word
    t.model_changes = {**t.model_changes, "evidence": ["knowledge"], "text_evidence_dropout": 0.999, "gate_init": 0.0}
    model = t.make(tiny_labels).train()
    batch = model.featurizer().collate(t.examples(model, tiny_data, "test"))
    assert not bool(model.fuse(batch)[1].any())
    assert bool(model.eval().fuse(batch)[1].any())


def test_an_unknown_evidence_source_is_a_config_error():
    from graphmner.fields import ConfigError
    from graphmner.models.graphmner import GraphMNERConfig

    with pytest.raises(ConfigError, match="an item 'knowlege': must be one of captions, detections, features, "
                                          "knowledge, descriptions, knowledge_gmner"):
        GraphMNERConfig.from_dict({"evidence": ["captions", "knowlege"]})
