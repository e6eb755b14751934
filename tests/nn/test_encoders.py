import itertools
import random
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


def test_rows_are_encoded_in_length_groups_with_the_same_states():
    from graphmner.nn.encoders import encode_rows, length_groups

    encoder = load_encoder("minilm", pretrained=False, overrides=TINY_ENCODER).eval()
    torch.manual_seed(0)
    lengths = [20, 5, 18, 3, 9, 5]
    assert len(length_groups(lengths)) > 1
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


def _least_area(lengths: list[int], groups: int) -> int:
    """Every way of cutting the sorted distinct lengths into at most ``groups`` runs, tried."""
    widths = sorted(set(lengths))
    areas = []
    for k in range(1, groups + 1):
        for cuts in itertools.combinations(range(1, len(widths)), k - 1):
            bounds = [0, *cuts, len(widths)]
            areas.append(sum(sum(widths[a] <= n <= widths[b - 1] for n in lengths) * widths[b - 1]
                             for a, b in itertools.pairwise(bounds)))
    return min(areas)


@pytest.mark.parametrize("groups", [1, 2, 3, 4, 5])
def test_length_groups_pad_least_and_hold_every_row_once(groups):
    from graphmner.nn.encoders import length_groups

    rng = random.Random(groups)
    for _ in range(60):
        lengths = [rng.randint(1, 40) for _ in range(rng.randint(1, 14))]
        found = length_groups(lengths, groups)
        assert len(found) <= groups
        assert sorted(r for rows, _ in found for r in rows) == list(range(len(lengths)))
        assert all(lengths[r] <= width for rows, width in found for r in rows)
        assert [w for _, w in found] == sorted({w for _, w in found})  # shortest first, no width twice
        assert sum(len(rows) * width for rows, width in found) == _least_area(lengths, groups)
    assert length_groups([7, 7, 7], groups) == [([0, 1, 2], 7)]  # one length: one call
