import pytest
import torch
from torch_geometric.data import Batch

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import VisualEvidence, caption_concepts
from graphmner.graph.builder import build_graph, graph_metadata
from graphmner.nn.fusion import AttentionFusion, GNNFusion

H = 16


def graphs():
    a = Tweet("a", ["Bears", "win", "in", "Chicago"], ["O"] * 4)
    b = Tweet("b", ["no", "image"], ["O"] * 2)
    c = Tweet("c", ["Packers", "lose"], ["O"] * 2)
    ev = [VisualEvidence("a", caption_concepts("the chicago bears"), "the chicago bears"), VisualEvidence("b"),
          VisualEvidence("c", caption_concepts("green bay packers"), "green bay packers")]
    return Batch.from_data_list([build_graph(t, e) for t, e in zip((a, b, c), ev)])


def hand_made():
    """Two "word" nodes in a chain and one "thing" node linked to word 0 (with a 3-d edge feature)."""
    x = {"word": torch.randn(2, H), "thing": torch.randn(1, H)}
    edges = {("word", "next", "word"): torch.tensor([[0, 1], [1, 0]]),
             ("thing", "about", "word"): torch.tensor([[0], [0]]),
             ("word", "rev_about", "thing"): torch.tensor([[0], [0]])}
    attrs = {("thing", "about", "word"): torch.ones(1, 3), ("word", "rev_about", "thing"): torch.ones(1, 3)}
    return x, edges, attrs


@pytest.mark.parametrize("conv", ["gatv2", "transformer", "sage"])
def test_gnn_fusion_takes_any_schema(conv):
    # the layer knows no dataset: node and edge types (and edge feature widths) come in as arguments
    torch.manual_seed(0)
    x, edges, attrs = hand_made()
    fusion = GNNFusion(H, (["word", "thing"], list(edges)), {et: 3 for et in attrs}, target="word", channels=8,
                       layers=1, conv=conv, heads=2).eval()
    out = fusion(x, edges, attrs)
    assert out.shape == (2, H)
    moved = {**x, "thing": x["thing"] + 1.0}
    after = fusion(moved, edges, attrs)
    # one layer: the thing reaches word 0 (its edge), not word 1 (two hops away)
    assert not torch.allclose(out[0], after[0]) and torch.allclose(out[1], after[1])


def test_gnn_fusion_reads_edge_features():
    # TransformerConv adds the edge's embedding to its message (GATv2 only weighs edges by it, and a node
    # with one in-edge gives it all the weight whatever its features)
    torch.manual_seed(0)
    x, edges, attrs = hand_made()
    fusion = GNNFusion(H, (["word", "thing"], list(edges)), {et: 3 for et in attrs}, channels=8, layers=1,
                       conv="transformer", heads=2).eval()
    out = fusion(x, edges, attrs)
    assert not torch.allclose(out, fusion(x, edges, {et: 2 * a for et, a in attrs.items()}))


def test_gnn_fusion_rejects_an_unknown_target():
    with pytest.raises(ValueError, match="target node type 'word'"):
        GNNFusion(H, (["token"], [("token", "next", "token")]))


@pytest.mark.parametrize("conv", ["gatv2", "transformer", "sage"])
def test_gnn_fusion_over_tweet_graphs(conv):
    g = graphs()
    node_types, edge_types, edge_dims = graph_metadata()
    x = {"word": torch.randn(8, H, requires_grad=True), "object": torch.randn(g["object"].num_nodes, H)}
    fusion = GNNFusion(H, (node_types, edge_types), edge_dims, channels=8, layers=2, conv=conv, heads=2)
    out = fusion(x, g.edge_index_dict, g.collect("edge_attr"))
    assert out.shape == (8, H)
    out.sum().backward()
    assert x["word"].grad is not None


def test_gnn_word_states_see_objects():
    # messages from objects reach words: changing an object's state changes the linked words' output
    torch.manual_seed(0)
    g = graphs()
    node_types, edge_types, edge_dims = graph_metadata()
    fusion = GNNFusion(H, (node_types, edge_types), edge_dims, channels=8, layers=1, conv="gatv2", heads=2).eval()
    x = {"word": torch.randn(8, H), "object": torch.randn(g["object"].num_nodes, H)}
    before = fusion(x, g.edge_index_dict, g.collect("edge_attr"))
    x["object"] = x["object"] + 1.0
    after = fusion(x, g.edge_index_dict, g.collect("edge_attr"))
    assert not torch.allclose(before[:4], after[:4])  # tweet a has objects
    assert torch.allclose(before[4:6], after[4:6])  # tweet b has none, and graphs do not mix


def test_attention_fusion_shapes_and_isolation():
    torch.manual_seed(0)
    g = graphs()
    fusion = AttentionFusion(H, channels=8, heads=2).eval()
    words, objects = torch.randn(8, H), torch.randn(g["object"].num_nodes, H)
    out = fusion(words, g["word"].batch, objects, g["object"].batch, 3)
    assert out.shape == (8, H) and torch.isfinite(out).all()
    shifted = objects.clone()
    shifted[g["object"].batch == 2] += 1.0  # only tweet c's objects change
    out2 = fusion(words, g["word"].batch, shifted, g["object"].batch, 3)
    assert torch.allclose(out[:6], out2[:6]) and not torch.allclose(out[6:], out2[6:])


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="not divisible"):
        GNNFusion(H, (["word"], [("word", "next", "word")]), channels=10, heads=4)
