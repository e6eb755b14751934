"""Tweets in, batches out: CoNLL reading, labels, corpora, collation."""
from graphmner.data.conll import ConllFormatError, Tweet, read_conll, write_conll
from graphmner.data.datasets import DATASETS, Dataset, load_dataset
from graphmner.data.labels import LabelVocab, Span, spans_to_tags, tags_to_spans

__all__ = ["ConllFormatError", "Tweet", "read_conll", "write_conll", "DATASETS", "Dataset", "load_dataset",
           "LabelVocab", "Span", "spans_to_tags", "tags_to_spans"]
