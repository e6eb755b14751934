import torch

from graphmner.nn.sentence import SentenceEmbedder, embed_texts


def test_embeddings_are_unit_length_in_input_order_and_cached(tmp_path, monkeypatch):
    texts = ["Citifield (stadium/venue)", "a much longer sentence about the New York Mets and their stadium", "NBA"]
    embedder = SentenceEmbedder("minilm")
    direct = embedder.embed(texts)  # sorted by length inside, returned in the order given
    assert direct.shape == (3, 384)
    assert torch.allclose(direct.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(direct[1], embedder.embed(texts[1:2])[0], atol=1e-5)
    first = embed_texts(texts + texts[:1], "minilm", cache=tmp_path)
    assert sorted(first) == sorted(texts) and len(list(tmp_path.glob("text_embeddings-*.pt"))) == 1

    def no_model(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr("graphmner.nn.sentence.SentenceEmbedder", no_model)
    again = embed_texts(list(reversed(texts)), "minilm", cache=tmp_path)
    assert all(torch.equal(again[t], first[t]) for t in texts)
    assert embed_texts([], "minilm", cache=tmp_path) == {}
