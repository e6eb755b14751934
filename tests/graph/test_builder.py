import time

import pytest
import torch
from torch_geometric.data import Batch

from graphmner.data.conll import Tweet
from graphmner.evidence.image_types import TYPE_NAMES
from graphmner.evidence.visual import VisualEvidence, VisualObject, caption_concepts
from graphmner.graph.builder import NEAR, NEXT, QUALITY_FEATURES, SEEN_BY, SEES, GraphConfig, build_graph, normalise

TWEET = Tweet("1", ["Go", "#ChicagoBears", "beat", "Packers", "!"], ["O"] * 5)
CAPTION = "the chicago bears and packers playing"


def evidence(with_boxes: bool = True) -> VisualEvidence:
    objects = caption_concepts(CAPTION)  # chicago, bears, packers, playing
    if with_boxes:
        objects += [VisualObject("person", (0.0, 0.0, 0.5, 0.5), 0.9, "detector"),
                    VisualObject("person", (0.4, 0.4, 0.9, 0.9), 0.8, "detector"),
                    VisualObject("ball", (0.95, 0.95, 1.0, 1.0), 0.5, "detector")]
    return VisualEvidence("1", objects, CAPTION)


def pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def test_hand_made_tweet_edge_counts():
    g = build_graph(TWEET, evidence())
    assert g["word"].num_nodes == 5 and g["object"].num_nodes == 7
    assert pairs(g[NEXT].edge_index) == {(0, 1), (1, 2), (2, 3), (3, 4), (1, 0), (2, 1), (3, 2), (4, 3)}
    assert g[SEES].edge_index.shape == (2, 7 * 5) and g[SEES].edge_attr.shape == (35, 2)
    assert torch.equal(g[SEEN_BY].edge_index, g[SEES].edge_index.flip(0))
    matched = {(a, w): tuple(f) for (a, w), f in zip(g[SEES].edge_index.t().tolist(), g[SEES].edge_attr.tolist())
               if any(f)}
    # chicago, bears are inside #ChicagoBears (partial); packers = Packers (exact)
    assert matched == {(0, 1): (0.0, 1.0), (1, 1): (0.0, 1.0), (2, 3): (1.0, 0.0)}
    # caption concepts chained in order; overlapping person boxes near; the far ball alone
    assert pairs(g[NEAR].edge_index) == {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (4, 5), (5, 4)}
    assert g["object"].has_box.tolist() == [False] * 4 + [True] * 3
    assert g["object"].box[4].tolist() == [0.0, 0.0, 0.5, 0.5]
    # chicago, bears, packers, playing: no kind; the detector's two persons do
    assert g["object"].kind.tolist() == [0, 0, 0, 0, 1, 1, 0]


def test_word_match_and_evidence_quality():
    g = build_graph(TWEET, evidence())
    # #ChicagoBears partly matches chicago and bears, Packers exactly matches packers
    assert g["word"].match.tolist() == [0.0, 0.5, 0.0, 1.0, 0.0]
    quality = g.quality[0].tolist()
    assert len(quality) == QUALITY_FEATURES and quality[:len(TYPE_NAMES)] == [0.0] * len(TYPE_NAMES)
    assert quality[len(TYPE_NAMES):] == pytest.approx([7 / 16, (0.9 + 0.8 + 0.5) / 3, 1.0, 0.0])
    typed = VisualEvidence("1", caption_concepts(CAPTION), CAPTION, type_scores=tuple(range(len(TYPE_NAMES))))
    quality = build_graph(TWEET, typed, GraphConfig(cross_edges="match")).quality[0].tolist()
    assert quality == pytest.approx([*range(len(TYPE_NAMES)), 4 / 16, 0.0, 1.0, 1.0])
    assert build_graph(TWEET, None).quality.abs().sum() == 0
    assert build_graph(TWEET, evidence(), GraphConfig(cross_edges="match"))["word"].match.tolist() == [
        0.0, 0.5, 0.0, 1.0, 0.0]


def test_graphs_do_not_share_index_tensors():
    # index tensors come from a cache: a caller that edits one graph must not change the next
    first = build_graph(TWEET, evidence(False))
    first[NEXT].edge_index.zero_()
    first[SEES].edge_index.zero_()
    first[NEAR].edge_index.zero_()
    second = build_graph(TWEET, evidence(False))
    assert second[NEXT].edge_index.max() == 4 and second[SEES].edge_index[1].max() == 4
    assert second[NEAR].edge_index.max() == 3


def test_match_only_cross_edges():
    g = build_graph(TWEET, evidence(), GraphConfig(cross_edges="match"))
    assert g[SEES].edge_index.shape == (2, 3) and bool(g[SEES].edge_attr.any(dim=1).all())
    with pytest.raises(ValueError, match="cross_edges"):
        build_graph(TWEET, evidence(), GraphConfig(cross_edges="some"))


def test_no_evidence_gives_a_words_only_graph():
    g = build_graph(TWEET, VisualEvidence("1"))
    assert g["object"].num_nodes == 0 and g[SEES].edge_index.shape == (2, 0) and g[SEES].edge_attr.shape == (0, 2)
    assert g[NEXT].edge_index.shape == (2, 8) and g[NEAR].edge_index.shape == (2, 0)
    one_word = build_graph(Tweet("2", ["hi"], ["O"]), None)
    assert one_word[NEXT].edge_index.shape == (2, 0)


def test_graphs_batch_with_pyg():
    batch = Batch.from_data_list([build_graph(TWEET, evidence()), build_graph(TWEET, VisualEvidence("1")),
                                  build_graph(TWEET, evidence(False))])
    assert batch["word"].num_nodes == 15 and batch["object"].num_nodes == 11
    assert batch["word"].batch.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert batch[SEES].edge_index[1].max().item() == 14  # word indices offset per graph
    assert batch.quality.shape == (3, QUALITY_FEATURES) and batch["word"].match.shape == (15,)


def test_normalise():
    assert normalise("#ChicagoBears") == "chicagobears" and normalise("@NBA_Finals!") == "nbafinals"


def test_throughput_is_thousands_per_second():
    # a smoke bound far below the measured rate (see README); the benchmark is experiments/bench_graphs.py
    ev = evidence()
    start = time.perf_counter()
    for _ in range(500):
        build_graph(TWEET, ev)
    assert 500 / (time.perf_counter() - start) > 200
