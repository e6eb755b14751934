import pytest

from graphmner.eval.errors import error_counts, span_errors, type_confusion


def test_every_entity_lands_in_one_category():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "O", "B-MISC", "I-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "I-ORG", "O", "B-LOC"]]
    errors = span_errors(gold, pred)
    # PER exact; LOC->ORG same bounds; ORG longer (boundary); MISC[7,9) vs LOC[8,9): both
    assert [e.category for e in errors] == ["correct", "type", "boundary", "both"]
    more = span_errors([["O", "B-PER"]], [["B-LOC", "O"]])
    assert [e.category for e in more] == ["missed", "spurious"]
    assert error_counts(errors + more) == {"correct": 1, "type": 1, "boundary": 1, "both": 1, "missed": 1,
                                           "spurious": 1}
    assert type_confusion(errors + more) == {"LOC": {"ORG": 1}, "MISC": {"LOC": 1}, "O": {"LOC": 1},
                                             "ORG": {"ORG": 1}, "PER": {"O": 1, "PER": 1}}


def test_a_prediction_pairs_once():
    # two gold entities overlap one long prediction: the first pairs, the second is missed
    errors = span_errors([["B-PER", "B-PER"]], [["B-PER", "I-PER"]])
    assert [e.category for e in errors] == ["boundary", "missed"]
    with pytest.raises(ValueError):
        span_errors([["O"]], [])
