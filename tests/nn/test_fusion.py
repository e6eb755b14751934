import pytest
import torch
from torch_geometric.data import Batch

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import VisualEvidence, caption_concepts
from graphmner.graph.builder import build_graph, graph_metadata
from graphmner.nn.fusion import AttentionFusion, DenseGraphFusion, GNNFusion

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


def dense_inputs(g):
    x = {"word": torch.randn(8, H), "object": torch.randn(g["object"].num_nodes, H)}
    return x, {"word": g["word"].batch, "object": g["object"].batch}


@pytest.mark.parametrize("edge_bias", [False, True])
def test_dense_fusion_reaches_every_node_of_its_tweet_only(edge_bias):
    # one layer: changing any node of tweet c changes every word of c (no hops needed), and no other tweet's
    torch.manual_seed(0)
    g = graphs()
    node_types, edge_types, edge_dims = graph_metadata()
    fusion = DenseGraphFusion(H, (node_types, edge_types), edge_dims, channels=8, layers=1, heads=2,
                              edge_bias=edge_bias).eval()
    x, batch = dense_inputs(g)
    before = fusion(x, batch, 3, g.edge_index_dict, g.collect("edge_attr"))
    assert before.shape == (8, H) and torch.isfinite(before).all()
    moved = {**x, "word": x["word"].clone()}
    moved["word"][7] += 1.0  # "lose", the last word of tweet c: two hops from "Packers" along the chain
    after = fusion(moved, batch, 3, g.edge_index_dict, g.collect("edge_attr"))
    assert torch.allclose(before[:6], after[:6], atol=1e-6) and not torch.allclose(before[6], after[6])
    # the same tweets batched alone give the same states (padding changes nothing)
    alone = Batch.from_data_list(g.index_select([2]))
    out = fusion({"word": x["word"][6:], "object": x["object"][g["object"].batch == 2]},
                 {"word": alone["word"].batch, "object": alone["object"].batch}, 1, alone.edge_index_dict,
                 alone.collect("edge_attr"))
    assert torch.allclose(out, before[6:], atol=1e-5)


def test_dense_fusion_without_edge_bias_ignores_edges_and_with_it_starts_equal():
    torch.manual_seed(0)
    g = graphs()
    node_types, edge_types, edge_dims = graph_metadata()
    x, batch = dense_inputs(g)
    torch.manual_seed(1)
    dense = DenseGraphFusion(H, (node_types, edge_types), edge_dims, channels=8, layers=2, heads=2).eval()
    torch.manual_seed(1)
    edged = DenseGraphFusion(H, (node_types, edge_types), edge_dims, channels=8, layers=2, heads=2,
                             edge_bias=True).eval()
    plain = dense(x, batch, 3)
    assert torch.allclose(plain, dense(x, batch, 3, g.edge_index_dict, g.collect("edge_attr")))
    # both edge biases start at zero: the two variants start as the same model
    assert torch.allclose(plain, edged(x, batch, 3, g.edge_index_dict, g.collect("edge_attr")), atol=1e-6)


def test_dense_edge_bias_follows_edges_from_source_to_destination():
    """A large bias on one edge type makes its destinations attend to their sources alone: with only
    ``next`` biased, word 1 of a three-word chain hears words 0 and 2 (its neighbours), not itself."""
    torch.manual_seed(0)
    x = {"word": torch.randn(3, H)}
    chain = {("word", "next", "word"): torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])}
    fusion = DenseGraphFusion(H, (["word"], list(chain)), channels=8, layers=1, heads=2, dropout=0.0,
                              edge_bias=True).eval()
    batch = {"word": torch.zeros(3, dtype=torch.long)}
    with torch.no_grad():
        fusion.relation_bias.fill_(50.0)
    out = fusion(x, batch, 1, chain)
    moved = {"word": x["word"].clone()}
    moved["word"][0] += 1.0
    after = fusion(moved, batch, 1, chain)
    # word 2's only source is word 1: its message does not change (only its residual would, and word 2's
    # own state did not move); word 1 hears word 0
    assert torch.allclose(out[2], after[2], atol=1e-5) and not torch.allclose(out[1], after[1])
    # only "next" edges from word 0 changed; without the bias word 2 hears word 0 too
    with torch.no_grad():
        fusion.relation_bias.zero_()
    assert not torch.allclose(fusion(x, batch, 1, chain)[2], fusion(moved, batch, 1, chain)[2])


def test_dense_edge_bias_reads_edge_features():
    torch.manual_seed(0)
    x, edges, attrs = hand_made()
    fusion = DenseGraphFusion(H, (["word", "thing"], list(edges)), {et: 3 for et in attrs}, channels=8, layers=1,
                              heads=2, edge_bias=True).eval()
    batch = {"word": torch.zeros(2, dtype=torch.long), "thing": torch.zeros(1, dtype=torch.long)}
    with torch.no_grad():
        for layer in fusion.attr_bias.values():
            layer.weight.fill_(1.0)
    out = fusion(x, batch, 1, edges, attrs)
    assert not torch.allclose(out, fusion(x, batch, 1, edges, {et: 2 * a for et, a in attrs.items()}))
