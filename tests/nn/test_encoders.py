from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from graphmner.nn.encoders import encoder_from_config, load_encoder, mpnet_dir, resolve_encoder
from tests.conftest import TINY_ENCODER

# read at collection, before the tests' own cache folder replaces $GRAPHMNER_CACHE
FETCHED_MPNET = mpnet_dir()


def test_minilm_alias_is_the_bundled_pretrained_model():
    path = Path(resolve_encoder("minilm"))
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
    assert resolve_encoder("bert-base-uncased") == "bert-base-uncased"  # hub names pass through


def test_the_mpnet_alias_names_the_script_that_fetches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHMNER_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"encoder 'mpnet': .*all-mpnet-base-v2 holds no model; .*"
                                                r"python data_prep/fetch_mpnet.py"):
        resolve_encoder("mpnet")


@pytest.mark.skipif(not (FETCHED_MPNET / "model.safetensors").is_file(),
                    reason="all-mpnet-base-v2 not fetched (python data_prep/fetch_mpnet.py)")
def test_fetched_mpnet_loads_every_weight(monkeypatch):
    monkeypatch.setenv("GRAPHMNER_CACHE", str(FETCHED_MPNET.parents[1]))
    path = resolve_encoder("mpnet")
    assert Path(path) == FETCHED_MPNET
    model, info = AutoModel.from_pretrained(path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (768, 12)
    assert AutoTokenizer.from_pretrained(path).tokenize("New York") == ["new", "york"]  # uncased, like MiniLM


def test_an_encoder_without_segment_types_gets_no_token_type_ids():
    from graphmner.nn.encoders import encode_rows

    class NoSegments(torch.nn.Module):  # MPNet's forward has no token_type_ids, and its config no type_vocab_size
        config = type("Config", (), {})()

        def forward(self, input_ids, attention_mask):
            return type("Out", (), {"last_hidden_state": input_ids.unsqueeze(-1).float()})()

    ids = torch.ones(2, 4, dtype=torch.long)
    assert encode_rows(NoSegments(), ids, torch.ones_like(ids), torch.zeros_like(ids)).shape == (2, 4, 1)


def test_random_init_from_config_and_rebuild():
    encoder = load_encoder("minilm", pretrained=False, overrides=TINY_ENCODER)
    assert encoder.config.hidden_size == 32 and encoder.config.num_hidden_layers == 1
    rebuilt = encoder_from_config(encoder.config.to_dict())
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in encoder.parameters())


def test_short_rows_are_encoded_narrower_with_the_same_states():
    from graphmner.nn.encoders import encode_rows

    encoder = load_encoder("minilm", pretrained=False, overrides=TINY_ENCODER).eval()
    torch.manual_seed(0)
    lengths = [20, 5, 18, 3, 9]  # 5, 3 and 9 are at most half of 20: a second, 10-wide batch
    ids = torch.zeros(len(lengths), 20, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1000, 2000, (n,))
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    types[1, 2:5] = 1
    whole = encoder(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
    split = encode_rows(encoder, ids, mask, types)
    for i, n in enumerate(lengths):
        assert torch.allclose(split[i, :n], whole[i, :n], atol=1e-5)
    encoder.train()
    encode_rows(encoder, ids, mask).sum().backward()
    assert encoder.embeddings.word_embeddings.weight.grad is not None
