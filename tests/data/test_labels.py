import pytest

from graphmner.data.labels import LabelVocab, Span, spans_to_tags, tags_to_spans


def test_spans_strict_iob2():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "B-ORG", "I-ORG", "I-PER"]
    # the stray I-LOC after O and the I-PER after an ORG start nothing (seqeval strict)
    assert tags_to_spans(tags) == [Span(0, 2, "PER"), Span(4, 5, "ORG"), Span(5, 7, "ORG")]


def test_spans_round_trip():
    spans = [Span(0, 1, "LOC"), Span(2, 5, "MISC"), Span(5, 6, "PER")]
    tags = spans_to_tags(spans, 7)
    assert tags == ["B-LOC", "O", "B-MISC", "I-MISC", "I-MISC", "B-PER", "O"]
    assert tags_to_spans(tags) == spans


def test_spans_to_tags_rejects_overlap_and_out_of_range():
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_tags([Span(0, 2, "PER"), Span(1, 3, "LOC")], 4)
    with pytest.raises(ValueError, match="outside"):
        spans_to_tags([Span(2, 5, "PER")], 4)


def test_vocab_order_encode_decode(tmp_path):
    vocab = LabelVocab.from_tags([["B-PER", "O"], ["B-LOC", "I-LOC"]])
    assert vocab.tags == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    ids = vocab.encode(["O", "B-PER", "I-PER", "B-LOC"])
    assert ids == [0, 3, 4, 1]
    assert vocab.decode(ids) == ["O", "B-PER", "I-PER", "B-LOC"]
    vocab.save(tmp_path / "labels.json")
    assert LabelVocab.load(tmp_path / "labels.json") == vocab


def test_unknown_tag_names_where():
    vocab = LabelVocab(["PER"])
    with pytest.raises(KeyError, match=r"test.txt:7: tag 'B-FOO' is not in the label vocabulary"):
        vocab.encode(["B-FOO"], where="test.txt:7")
