import pytest

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import VisualEvidence
from graphmner.graph.builder import (
    CANDIDATE,
    CANDIDATE_MENTIONS,
    SENTENCE,
    SENTENCE_MENTIONS,
    SENTENCE_NEXT,
    GraphConfig,
    build_graph,
    graph_metadata,
    normalise,
)
from graphmner.graph.evidence_text import (
    CANDIDATE_KINDS,
    MAX_CANDIDATES,
    MAX_SPAN,
    TweetWords,
    candidate_mentions,
    hint_kind,
    parse_evidence_text,
    sentence_mentions,
)

PGIM = ("Named entities:1. Citifield (stadium/venue)2. NewYorkMets (baseball team)Reasoning:The sentence "
        "mentions Citifield, a stadium in New York City. The NewYorkMets play there! The image shows a selfie.")


def kinds(*names: str) -> list[int]:
    return [CANDIDATE_KINDS.index(n) for n in names]


def test_pgim_knowledge_gives_candidates_with_hints_and_kinds_and_sentences():
    parsed = parse_evidence_text(PGIM)
    assert [(c.surface, c.hint) for c in parsed.candidates] == [("Citifield", "stadium/venue"),
                                                                 ("NewYorkMets", "baseball team")]
    assert [c.kind for c in parsed.candidates] == kinds("location", "organisation")
    assert parsed.candidates[0].text == "Citifield (stadium/venue)"
    assert parsed.sentences == ("The sentence mentions Citifield, a stadium in New York City.",
                                "The NewYorkMets play there!", "The image shows a selfie.")


@pytest.mark.parametrize("hint, kind", [("person/handle", "person"), ("charity organization", "organisation"),
                                        ("event/festival", "miscellaneous"), ("country/team", "location"),
                                        ("year", "other"), ("", "other"), ("NFL teams", "organisation")])
def test_a_hint_names_a_coarse_kind_by_its_first_part(hint, kind):
    assert hint_kind(hint) == CANDIDATE_KINDS.index(kind)


def test_unnumbered_names_are_a_list_and_prose_is_not():
    names = parse_evidence_text("Named entities: Chicago Cubs, Wrigley Field (stadium). Reasoning: Baseball.")
    assert [c.surface for c in names.candidates] == ["Chicago Cubs", "Wrigley Field"]
    prose = parse_evidence_text("Named entities: there is no specific named entity mentioned in the sentence, "
                                "as far as can be told. Reasoning: Food.")
    assert prose.candidates == () and prose.sentences == ("Food.",)


def test_a_number_inside_a_name_is_not_an_enumerator_and_repeats_are_dropped():
    parsed = parse_evidence_text("Named entities: 1. 2017 (year) 2. Apollo 13 (film) 3. apollo 13 (movie) "
                                 "Reasoning: A film.")
    assert [c.surface for c in parsed.candidates] == ["2017", "Apollo 13"]


def test_a_description_is_sentences_only_and_long_lists_are_capped():
    parsed = parse_evidence_text("The image shows a stadium. Two teams play.  A crowd watches.")
    assert parsed.candidates == () and len(parsed.sentences) == 3
    runaway = "Named entities: " + " ".join(f"{k}. Name{k} (person)" for k in range(1, 30))
    assert len(parse_evidence_text(runaway).candidates) == MAX_CANDIDATES


def listed(*names: str):
    return parse_evidence_text("Named entities: " + " ".join(f"{k}. {n}" for k, n in enumerate(names, 1)))


def named(found: dict, k: int, channel: int) -> list[int]:
    return sorted(i for (j, i), c in found.items() if j == k and c == channel)


def test_exact_mentions_join_words_hashtags_and_case_and_partial_ones_share_a_word():
    words = TweetWords([normalise(t) for t in
                        "RT @mets : night at #CitiField with the New York Mets and Kawhi".split()])
    found = candidate_mentions(words, listed("CitiField", "NewYorkMets", "Kawhi Leonard", "The"))
    exact, partial = 0, 1
    assert named(found, 0, exact) == [5] and named(found, 1, exact) == [8, 9, 10]
    assert named(found, 2, partial) == [12] and named(found, 2, exact) == []
    assert not any(k == 3 for k, _ in found)  # a function word names nothing
    spaced = candidate_mentions(words, listed("New York Mets"), offset=4)
    assert named(spaced, 4, exact) == [8, 9, 10]
    assert named(spaced, 4, partial) == [1]  # "@mets" is one of its words; the spelled ones are not partial


def test_a_run_is_whole_words_with_letters_and_at_most_max_span_long():
    # "ork" is inside a word, punctuation between words is spelled through, a run longer than MAX_SPAN is not one
    words = TweetWords([normalise(t) for t in ["New", "-", "York", "a", "b", "c", "d", "e", "f"]])
    found = candidate_mentions(words, listed("ork", "NewYork", "abcdef", "Yorkabcdef"))
    assert named(found, 0, 0) == [] and named(found, 1, 0) == [0, 1, 2]
    assert named(found, 2, 0) == [3, 4, 5, 6, 7, 8]
    assert MAX_SPAN == 6 and named(found, 3, 0) == []


def test_a_sentence_names_the_content_words_it_holds_and_the_candidates_whose_words_it_holds():
    words = TweetWords([normalise(t) for t in "RT @mets : night at #CitiField with the Mets".split()])
    said = sentence_mentions(words, parse_evidence_text("The Mets play at Citifield tonight. The night is cold."), 2)
    assert sorted(said) == [(2, 1), (2, 5), (2, 8), (3, 3)]
    assert parse_evidence_text(PGIM).about == ((0, 0), (1, 1))


def test_the_graph_links_candidates_and_sentences_to_the_words_they_name():
    tweet = Tweet("t", "Great night at #CitiField with the New York Mets".split(), ["O"] * 9)
    evidence = VisualEvidence("t", texts={"knowledge": PGIM})
    graph = build_graph(tweet, evidence, GraphConfig(text_nodes=("candidates", "sentences")))
    node_types, edge_types, dims = graph_metadata(knowledge=False, text_nodes=True)
    assert set(graph.node_types) == set(node_types) and set(graph.edge_types) == set(edge_types)
    assert graph[CANDIDATE].num_nodes == 2 and graph[SENTENCE].num_nodes == 3
    assert graph[CANDIDATE].kind.tolist() == kinds("location", "organisation")
    assert graph[CANDIDATE_MENTIONS].edge_index.tolist() == [[0, 1, 1, 1], [3, 6, 7, 8]]
    assert graph[CANDIDATE_MENTIONS].edge_attr.shape == (4, dims[CANDIDATE_MENTIONS])
    # "New York City" holds "New" and "York"; a sentence names words by token, so "NewYorkMets" is not "Mets"
    assert sorted(set(graph[SENTENCE_MENTIONS].edge_index[1].tolist())) == [3, 6, 7]
    assert graph[SENTENCE_NEXT].edge_index.tolist() == [[0, 1, 1, 2], [1, 2, 0, 1]]
    for edge_type in graph.edge_types:
        src, _, dst = edge_type
        index = graph[edge_type].edge_index
        assert index.shape[0] == 2 and (index.numel() == 0 or (
            int(index[0].max()) < graph[src].num_nodes and int(index[1].max()) < graph[dst].num_nodes))


def test_without_text_evidence_the_types_are_there_with_no_nodes_and_halves_can_be_kept():
    tweet = Tweet("t", ["New", "York"], ["B-LOC", "I-LOC"])
    empty = build_graph(tweet, VisualEvidence("t"), GraphConfig(text_nodes=("candidates", "sentences")))
    assert empty[CANDIDATE].num_nodes == 0 and empty[SENTENCE].num_nodes == 0
    assert empty[CANDIDATE_MENTIONS].edge_index.shape == (2, 0)
    evidence = VisualEvidence("t", texts={"knowledge": PGIM})
    only_list = build_graph(tweet, evidence, GraphConfig(text_nodes=("candidates",)))
    assert only_list[CANDIDATE].num_nodes == 2 and only_list[SENTENCE].num_nodes == 0
    only_reasoning = build_graph(tweet, evidence, GraphConfig(text_nodes=("sentences",)))
    assert only_reasoning[CANDIDATE].num_nodes == 0 and only_reasoning[SENTENCE].num_nodes == 3
    assert CANDIDATE not in build_graph(tweet, evidence).node_types  # a model without text evidence
    with pytest.raises(ValueError, match="text_nodes must be among"):
        build_graph(tweet, evidence, GraphConfig(text_nodes=("facts",)))


def test_two_text_sources_keep_their_sentence_chains_apart():
    tweet = Tweet("t", ["Mets"], ["B-ORG"])
    evidence = VisualEvidence("t", texts={"knowledge": PGIM, "descriptions": "A stadium. A crowd."})
    graph = build_graph(tweet, evidence, GraphConfig(text_nodes=("candidates", "sentences")))
    assert graph[SENTENCE].source.tolist() == [0, 0, 0, 1, 1]
    assert graph[SENTENCE_NEXT].edge_index.tolist() == [[0, 1, 3, 1, 2, 4], [1, 2, 4, 0, 1, 3]]
