from pathlib import Path

import torch

from graphmner.nn.encoders import encoder_from_config, load_encoder, resolve_encoder
from tests.conftest import TINY_ENCODER


def test_minilm_alias_is_the_bundled_pretrained_model():
    path = Path(resolve_encoder("minilm"))
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
    assert resolve_encoder("bert-base-uncased") == "bert-base-uncased"  # hub names pass through


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
