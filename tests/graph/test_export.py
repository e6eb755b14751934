import torch

from graphmner.graph.builder import NEXT, SEES, build_graph
from graphmner.graph.export import load_graphs, save_graphs, to_networkx
from tests.graph.test_builder import TWEET, evidence


def test_save_load_round_trip_without_pickles(tmp_path):
    g = build_graph(TWEET, evidence())
    save_graphs(tmp_path / "g.pt", {"1": g}, {"split": "test"})
    loaded, meta = load_graphs(tmp_path / "g.pt")  # weights_only=True inside
    assert meta == {"split": "test"}
    h = loaded["1"]
    assert h["word"].num_nodes == 5 and h["object"].num_nodes == 7
    assert torch.equal(h[SEES].edge_attr, g[SEES].edge_attr) and torch.equal(h[NEXT].edge_index, g[NEXT].edge_index)


def test_networkx_export_names_nodes_and_edge_types():
    ev = evidence()
    g = to_networkx(TWEET, ev, build_graph(TWEET, ev))
    assert g.nodes["w1"]["text"] == "#ChicagoBears" and g.nodes["o2"]["text"] == "packers"
    assert g.nodes["o4"]["source"] == "detector" and g.nodes["o4"]["box"] == "0.000,0.000,0.500,0.500"
    exact = [(u, v) for u, v, d in g.edges(data=True) if d.get("exact") == 1.0]
    assert exact == [("o2", "w3")] or sorted(exact) == [("o2", "w3"), ("w3", "o2")]
    types = {d["type"] for _, _, d in g.edges(data=True)}
    assert types == {"next", "sees", "seen_by", "near"}
    assert g.number_of_edges() == 8 + 35 + 35 + 8


def test_networkx_export_has_knowledge_nodes():
    from graphmner.data.conll import Tweet
    from graphmner.graph.builder import GraphConfig, build_graph
    from graphmner.graph.export import to_networkx
    from graphmner.graph.knowledge import FIRST_NAME, PLACE, Gazetteer

    tweet = Tweet("1", ["Kawhi", "in", "New", "York"], ["B-PER", "O", "B-LOC", "I-LOC"])
    gazetteer = Gazetteer({"kawhi": (FIRST_NAME,), "new york": (PLACE,)})
    g = to_networkx(tweet, None, build_graph(tweet, None, GraphConfig(knowledge=gazetteer)))
    known = {n: (d["text"], d["kind"]) for n, d in g.nodes(data=True) if d["type"] == "knowledge"}
    assert known == {"k0": ("New York", "place"), "k1": ("Kawhi", "first name")}
    assert {(a, b) for a, b, d in g.edges(data=True) if d["type"] == "names"} == {("k0", "w2"), ("k0", "w3"),
                                                                                   ("k1", "w0")}


def test_text_evidence_nodes_export_with_their_texts_and_survive_a_round_trip(tmp_path):
    from graphmner.data.conll import Tweet
    from graphmner.evidence.visual import VisualEvidence
    from graphmner.graph.builder import CANDIDATE, CANDIDATE_MENTIONS, GraphConfig
    from tests.graph.test_evidence_text import PGIM

    tweet = Tweet("t", "Night at #CitiField".split(), ["O", "O", "B-LOC"])
    ev = VisualEvidence("t", texts={"knowledge": PGIM})
    graph = build_graph(tweet, ev, GraphConfig(text_nodes=("candidates", "sentences")))
    g = to_networkx(tweet, ev, graph)
    assert g.nodes["c0"] == {"type": "candidate", "text": "Citifield (stadium/venue)", "kind": "location",
                             "source": "knowledge"}
    assert g.nodes["s2"]["text"] == "The image shows a selfie." and g.nodes["s2"]["source"] == "knowledge"
    assert [(a, b, d["exact"]) for a, b, d in g.edges(data=True) if d["type"] == "mentions" and a[0] == "c"] == [
        ("c0", "w2", 1.0)]
    only_reasoning = build_graph(tweet, ev, GraphConfig(text_nodes=("sentences",)))
    assert not [n for n in to_networkx(tweet, ev, only_reasoning) if n.startswith("c")]
    save_graphs(tmp_path / "g.pt", {"t": graph})
    loaded = load_graphs(tmp_path / "g.pt")[0]["t"]
    assert torch.equal(loaded[CANDIDATE].kind, graph[CANDIDATE].kind)
    assert torch.equal(loaded[CANDIDATE_MENTIONS].edge_attr, graph[CANDIDATE_MENTIONS].edge_attr)
