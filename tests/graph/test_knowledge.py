"""Knowledge nodes: gazetteer matches of word n-grams, in the graph."""
import time

import torch

from graphmner.data.conll import Tweet
from graphmner.graph.builder import KNOWLEDGE, NAMED_BY, NAMES, GraphConfig, build_graph
from graphmner.graph.knowledge import COUNTRY, FIRST_NAME, LAST_NAME, PLACE, Gazetteer, entry_key, load_gazetteer

SMALL = Gazetteer({"new york": (PLACE,), "york": (PLACE,), "paris": (PLACE,), "france": (COUNTRY,),
                   "kawhi": (FIRST_NAME,), "leonard": (FIRST_NAME, LAST_NAME), "mobile": (PLACE,)})


def test_entry_keys():
    assert entry_key("  Saint-Étienne!! ") == "saint tienne" and entry_key("#NewYork") == "newyork"


def test_matches_are_capitalised_or_hashtags_longest_first():
    tokens = ["Kawhi", "Leonard", "flies", "to", "New", "York", ",", "#Paris", "and", "mobile", "#NewYork"]
    assert SMALL.match(tokens) == [(4, 6, PLACE), (0, 1, FIRST_NAME), (1, 2, FIRST_NAME), (1, 2, LAST_NAME),
                                   (7, 8, PLACE), (10, 11, PLACE)]  # not "York" inside "New York", not "mobile"
    assert SMALL.match(["paris", "france"]) == []  # lower case: too ambiguous to count
    assert SMALL.match(["PARIS"]) == [(0, 1, PLACE)]


def test_graph_gets_knowledge_nodes_and_edges():
    tweet = Tweet("1", ["Kawhi", "Leonard", "in", "New", "York"], ["O"] * 5)
    g = build_graph(tweet, None, GraphConfig(knowledge=SMALL))
    assert g[KNOWLEDGE].num_nodes == 4 and g[KNOWLEDGE].kind.tolist() == [PLACE, FIRST_NAME, FIRST_NAME, LAST_NAME]
    assert g[NAMES].edge_index.tolist() == [[0, 0, 1, 2, 3], [3, 4, 0, 1, 1]]
    assert torch.equal(g[NAMED_BY].edge_index, g[NAMES].edge_index.flip(0))
    none = build_graph(Tweet("2", ["nothing", "here"], ["O", "O"]), None, GraphConfig(knowledge=SMALL))
    assert none[KNOWLEDGE].num_nodes == 0 and none[NAMES].edge_index.shape == (2, 0)
    assert KNOWLEDGE not in build_graph(tweet, None).node_types  # off by default: the graph is unchanged


def test_the_real_gazetteer_is_built_once_and_matches_a_split_in_seconds(tmp_path):
    from graphmner.data.datasets import load_dataset

    gazetteer = load_gazetteer(names=False, cache_dir=str(tmp_path))
    assert len(gazetteer) > 30_000 and list(tmp_path.glob("gazetteer-v*-places.json"))
    assert gazetteer.match(["United", "States"]) == [(0, 2, COUNTRY)]
    assert (0, 1, PLACE) in gazetteer.match(["#Chicago"]) and (0, 1, COUNTRY) in gazetteer.match(["USA"])
    tweets = load_dataset("twitter2015", splits=("train",))["train"]
    start = time.perf_counter()
    matched = sum(bool(gazetteer.match(t.tokens)) for t in tweets)
    assert time.perf_counter() - start < 30  # about a second here; generous for a loaded CI machine
    assert matched > 1000  # 4000 tweets: most mention a place or a country


def test_names_come_from_names_dataset():
    gazetteer = load_gazetteer()  # built into the test session's cache (about 40 s, once)
    kinds = {k for _, _, k in gazetteer.match(["Taylor", "Swift"])}
    assert {FIRST_NAME, LAST_NAME} <= kinds
