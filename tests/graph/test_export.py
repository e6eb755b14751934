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
