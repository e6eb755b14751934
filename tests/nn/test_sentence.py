import torch

from graphmner.nn.sentence import PERSIST_MIN, SentenceEmbedder, embed_texts


def test_embeddings_are_unit_length_in_input_order_and_cached(tmp_path, monkeypatch):
    texts = ["Citifield (stadium/venue)", "a much longer sentence about the New York Mets and their stadium", "NBA"]
    embedder = SentenceEmbedder("minilm")
    direct = embedder.embed(texts)  # sorted by length inside, returned in the order given
    assert direct.shape == (3, 384)
    assert torch.allclose(direct.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(direct[1], embedder.embed(texts[1:2])[0], atol=1e-5)
    # a few texts (a new tweet's knowledge): embedded by the process's one embedder, no file left behind
    few = embed_texts(texts + texts[:1], "minilm", cache=tmp_path)
    assert sorted(few) == sorted(texts) and not list(tmp_path.iterdir())
    assert all(torch.allclose(few[t], direct[i], atol=1e-5) for i, t in enumerate(texts))

    def no_model(*args, **kwargs):
        raise AssertionError("the loaded embedder or the cache should have answered")

    monkeypatch.setattr("graphmner.nn.sentence.SentenceEmbedder", no_model)
    assert all(torch.equal(a, b) for a, b in zip(embed_texts(texts, "minilm").values(), few.values()))
    # a corpus's set (PERSIST_MIN texts or more) is kept on disk and read back
    corpus = [f"tweet number {i}" for i in range(PERSIST_MIN)]
    first = embed_texts(corpus + corpus[:1], "minilm", cache=tmp_path)
    assert sorted(first) == sorted(corpus) and len(list(tmp_path.glob("text_embeddings-*.pt"))) == 1
    monkeypatch.setattr("graphmner.nn.sentence.shared_embedder", no_model)
    again = embed_texts(list(reversed(corpus)), "minilm", cache=tmp_path)
    assert all(torch.equal(again[t], first[t]) for t in corpus)
    assert embed_texts([], "minilm", cache=tmp_path) == {}
