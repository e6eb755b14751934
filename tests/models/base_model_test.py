"""What every tagger must do. A model's test subclasses :class:`BaseModelTest`
and sets ``model_name`` (and ``model_changes`` for its own config fields)."""
from __future__ import annotations

import torch

from graphmner.data.collate import collate
from graphmner.data.conll import Tweet
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

    def test_emissions_and_loss_shapes(self, tiny_data, tiny_labels):
        model = self.make(tiny_labels)
        batch = collate(model.featurizer()(tiny_data["train"][:4]))
        out = model(batch)
        assert out.emissions.shape == (4, batch.word_mask.shape[1], len(tiny_labels))
        assert out.loss.ndim == 0 and torch.isfinite(out.loss)
        out.loss.backward()
        assert any(p.grad is not None for p in model.encoder.parameters())

    def test_training_pass_fits_a_few_tweets(self, tiny_data, tiny_labels):
        model = self.make(tiny_labels)
        batch = collate(model.featurizer()(tiny_data["train"][:4]))
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
        examples = model.featurizer()(tiny_data["test"])
        before = model.emissions(collate(examples))
        model.save_pretrained(tmp_path / "m")
        loaded = Tagger.from_pretrained(tmp_path / "m").eval()
        assert type(loaded) is type(model) and loaded.config == model.config and loaded.labels == model.labels
        assert torch.equal(loaded.emissions(collate(loaded.featurizer()(tiny_data["test"]))), before)
        assert predict(loaded, examples) == predict(model, examples)

    def test_long_tweet_gets_a_tag_per_word(self, tiny_labels):
        model = self.make(tiny_labels).eval()
        model.config.max_length = 16
        tweet = Tweet("long", [f"token{i}" for i in range(200)], ["O"] * 200)
        examples = model.featurizer()([tweet])
        assert len(examples[0].rows) > 10
        assert len(predict(model, examples)[0]) == 200
