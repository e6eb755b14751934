"""What every tagger must do. A model's test subclasses :class:`BaseModelTest`
and sets ``model_name`` (and ``model_changes`` for its own config fields).
Multimodal models (those with evidence sources) also must reduce to their text
path when a tweet has no evidence."""
from __future__ import annotations

import pytest
import torch

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import VisualEvidence, dataset_evidence
from graphmner.models.base import Tagger, get_model_class
from graphmner.training.trainer import predict
from tests.conftest import tiny_model_config


class BaseModelTest:
    model_name: str = ""
    model_changes: dict = {}

    def make(self, labels) -> Tagger:
        torch.manual_seed(0)
        cls = get_model_class(self.model_name)
        base = tiny_model_config()
        config = cls.config_class.from_dict({**base.__dict__, **self.model_changes})
        return cls(config, labels)

    def examples(self, model: Tagger, data, split: str, n: int | None = None):
        tweets = data[split][:n]
        if not model.needs_evidence:
            return model.featurizer()(tweets)
        evidence = dataset_evidence(data, model.evidence_sources)[0][split][:n]
        return model.featurizer()(tweets, evidence)

    def test_emissions_and_loss_shapes(self, tiny_data, tiny_labels):
        model = self.make(tiny_labels)
        batch = model.featurizer().collate(self.examples(model, tiny_data, "train", 4))
        out = model(batch)
        assert out.emissions.shape == (4, batch.word_mask.shape[1], len(tiny_labels))
        assert out.loss.ndim == 0 and torch.isfinite(out.loss)
        out.loss.backward()
        assert any(p.grad is not None for p in model.encoder.parameters())

    def test_training_pass_fits_a_few_tweets(self, tiny_data, tiny_labels):
        model = self.make(tiny_labels)
        batch = model.featurizer().collate(self.examples(model, tiny_data, "train", 4))
        groups = model.parameter_groups(lr_encoder=1e-3, lr_head=1e-2, weight_decay=0.0)
        optimizer = torch.optim.AdamW(groups)
        model.train()
        first = model(batch).loss.item()
        for _ in range(40):
            optimizer.zero_grad()
            loss = model(batch).loss
            loss.backward()
            optimizer.step()
        model.eval()
        assert loss.item() < 0.2 * first
        gold = [t.tags for t in batch.tweets]
        assert model.decode(batch) == gold  # memorised

    def test_save_load_gives_identical_predictions(self, tmp_path, tiny_data, tiny_labels):
        model = self.make(tiny_labels).eval()
        examples = self.examples(model, tiny_data, "test")
        before = model.emissions(model.featurizer().collate(examples))
        model.save_pretrained(tmp_path / "m")
        loaded = Tagger.from_pretrained(tmp_path / "m").eval()
        assert type(loaded) is type(model) and loaded.config == model.config and loaded.labels == model.labels
        batch = loaded.featurizer().collate(self.examples(loaded, tiny_data, "test"))
        assert torch.equal(loaded.emissions(batch), before)
        assert predict(loaded, examples) == predict(model, examples)

    def test_5000_word_tweet_gets_a_tag_per_word(self, tiny_data, tiny_labels):
        # hostile input: a "tweet" of 5,000 words (a scraped thread pasted into one block) is windowed by the
        # encoder and fused with its evidence like any other, one tag per word
        model = self.make(tiny_labels).eval()
        model.config.max_length = 64
        tweet = Tweet("long", [f"word{i}" if i % 7 else "Chicago" for i in range(5000)], ["O"] * 5000)
        evidence = None
        if model.needs_evidence:
            evidence = dataset_evidence(tiny_data, model.evidence_sources)[0]["test"][:1]
            assert not evidence[0].is_empty
        examples = model.featurizer()([tweet], evidence)
        assert len(examples[0].rows) > 100
        tags = predict(model, examples)[0]
        assert len(tags) == 5000 and set(tags) <= set(tiny_labels.tags)

    def test_empty_evidence_is_the_text_path(self, tiny_data, tiny_labels):
        model = self.make(tiny_labels).eval()
        if not model.evidence_sources:
            pytest.skip("text-only model")
        tweets = tiny_data["test"][:6]
        # tweets 0, 2, 4 have no evidence; 1, 3, 5 keep theirs: mixing both in one batch must not leak
        real = dataset_evidence(tiny_data, model.evidence_sources)[0]["test"][:6]
        evidence = [VisualEvidence(t.image_id) if i % 2 == 0 else real[i] for i, t in enumerate(tweets)]
        batch = model.featurizer().collate(model.featurizer()(tweets, evidence))
        text_path = model.text_states(batch)
        fused = model.word_representations(batch)
        for i in range(6):
            n = len(tweets[i])
            if i % 2 == 0:
                # the same states, up to the rounding of a differently shaped encoder batch
                assert torch.allclose(fused[i, :n], text_path[i, :n], atol=1e-5)
            else:
                assert not torch.allclose(fused[i, :n], text_path[i, :n])
