import pytest
import torch
from torch_geometric.data import Batch

from graphmner.data.conll import Tweet
from graphmner.graph.builder import build_graph
from graphmner.nn.fusion import AttentionFusion, GNNFusion
from graphmner.vision.evidence import VisualEvidence, caption_concepts

H = 16


def graphs():
    a = Tweet("a", ["Bears", "win", "in", "Chicago"], ["O"] * 4)
    b = Tweet("b", ["no", "image"], ["O"] * 2)
    c = Tweet("c", ["Packers", "lose"], ["O"] * 2)
    ev = [VisualEvidence("a", caption_concepts("the chicago bears"), "the chicago bears"), VisualEvidence("b"),
          VisualEvidence("c", caption_concepts("green bay packers"), "green bay packers")]
    return Batch.from_data_list([build_graph(t, e) for t, e in zip((a, b, c), ev)])


@pytest.mark.parametrize("conv", ["gatv2", "transformer", "sage"])
def test_gnn_fusion_shapes_and_gradients(conv):
    g = graphs()
    x = {"word": torch.randn(8, H, requires_grad=True), "object": torch.randn(g["object"].num_nodes, H)}
    out = GNNFusion(H, channels=8, layers=2, conv=conv, heads=2)(x, g.edge_index_dict, g.collect("edge_attr"))
    assert out.shape == (8, H)
    out.sum().backward()
    assert x["word"].grad is not None


def test_gnn_word_states_see_objects():
    # messages from objects reach words: changing an object's state changes the linked words' output
    torch.manual_seed(0)
    g = graphs()
    fusion = GNNFusion(H, channels=8, layers=1, conv="gatv2", heads=2).eval()
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
        GNNFusion(H, channels=10, heads=4)
