"""The scorer behind every number: seqeval strict IOB2, checked against hand-computed cases."""
import random

import pytest

from graphmner.eval.metrics import entity_scores
from graphmner.eval.significance import entity_counts, f1_of


def test_micro_average_and_per_type_support():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    scores = entity_scores(gold, predicted)
    # gold: PER, LOC, ORG (3); predicted: PER, ORG (wrong type at word 4), ORG; correct: PER, ORG in tweet 2
    assert (scores["precision"], scores["recall"]) == pytest.approx((2 / 3, 2 / 3))
    assert scores["f1"] == pytest.approx(2 / 3) and scores["support"] == 3
    per = scores["per_type"]
    assert per["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert per["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert per["ORG"]["precision"] == pytest.approx(0.5) and per["ORG"]["recall"] == 1.0
    assert per["ORG"]["support"] == 1 and per["ORG"]["f1"] == pytest.approx(2 / 3)


def test_an_entity_split_in_two_is_two_wrong_entities():
    scores = entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "B-PER", "O"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
    # a boundary off by one is wrong too: strict matching, no partial credit
    assert entity_scores([["B-LOC", "I-LOC", "O"]], [["B-LOC", "I-LOC", "I-LOC"]])["f1"] == 0.0


def test_entities_never_continue_across_tweets():
    # an I- that starts a tweet does not continue the previous tweet's entity, and in strict mode starts none
    gold = [["O", "B-PER"], ["I-PER", "O"]]
    assert entity_scores(gold, gold)["support"] == 1
    scores = entity_scores(gold, [["O", "B-PER"], ["B-PER", "O"]])
    assert (scores["precision"], scores["recall"]) == (0.5, 1.0)


def test_a_stray_inside_tag_is_no_entity_in_strict_mode():
    scores = entity_scores([["B-LOC", "O"]], [["I-LOC", "O"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)


def test_an_empty_gold_set():
    assert entity_scores([["O", "O"]], [["O", "O"]])["f1"] == 0.0  # nothing to find, nothing found: 0, not 1
    scores = entity_scores([["O", "O"]], [["B-PER", "O"]])
    assert scores["support"] == 0 and scores["precision"] == 0.0 and scores["per_type"]["PER"]["support"] == 0


def test_every_word_must_be_scored():
    with pytest.raises(ValueError, match="sequence 0: 2 gold tags but 1 predicted"):
        entity_scores([["O", "O"]], [["O"]])


def test_the_bootstrap_counts_agree_with_the_scorer():
    # the paired bootstrap recomputes F1 from per-tweet counts: on random tag sequences (stray I- tags
    # included) those counts give exactly seqeval's strict micro F1
    rng = random.Random(0)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]
    for _ in range(20):
        gold = [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(30)]
        predicted = [[rng.choice(tags) for _ in g] for g in gold]
        f1 = float(f1_of(entity_counts(gold, predicted).sum(0)))
        assert f1 == pytest.approx(entity_scores(gold, predicted)["f1"])
