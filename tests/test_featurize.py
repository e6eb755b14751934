import pytest
import torch

from graphmner.data.conll import Tweet
from graphmner.data.labels import LabelVocab
from graphmner.featurize import Featurizer, collate, plan_windows


@pytest.mark.parametrize("counts, budget", [([1] * 30, 8), ([3, 1, 4, 1, 5, 9, 2, 6], 10), ([2] * 5, 10), ([5], 5)])
def test_windows_cover_every_word_once_within_budget(counts, budget):
    windows = plan_windows(counts, budget)
    cores = [w for win in windows for w in range(win.core_start, win.core_end)]
    assert cores == list(range(len(counts)))  # each word in exactly one core, in order
    for win in windows:
        assert win.start <= win.core_start < win.core_end <= win.end
        assert sum(counts[win.start:win.end]) <= budget


def test_long_window_has_context_on_both_sides():
    windows = plan_windows([1] * 30, 8)
    middle = windows[len(windows) // 2]
    assert middle.start < middle.core_start and middle.core_end < middle.end


def test_long_tweet_every_word_gets_its_own_first_piece(tokenizer):
    words = [f"word{i}" for i in range(60)]  # "word12" -> several pieces each
    labels = LabelVocab(["PER"])
    tweet = Tweet("t", words, ["B-PER" if i % 7 == 0 else "O" for i in range(60)])
    featurizer = Featurizer(tokenizer, labels, max_length=16)
    ex = featurizer([tweet])[0]
    assert len(ex.rows) > 1
    assert all(len(r) <= 16 for r in ex.rows)
    assert len(ex.word_pos) == 60 and len(ex.tag_ids) == 60
    for i, w in enumerate(words):
        first = tokenizer(w, add_special_tokens=False)["input_ids"][0]
        assert ex.rows[ex.word_row[i]][ex.word_pos[i]] == first


def test_word_without_pieces_becomes_unknown(tokenizer):
    tweet = Tweet("t", ["hi", "\ufe0f", "\u00a0", "there"], ["O"] * 4)
    ex = Featurizer(tokenizer, LabelVocab([]), max_length=32)([tweet])[0]
    pieces = [ex.rows[r][p] for r, p in zip(ex.word_row, ex.word_pos)]
    assert pieces[1] == pieces[2] == tokenizer.unk_token_id
    assert ex.rows[0][0] == tokenizer.cls_token_id and ex.rows[0][-1] == tokenizer.sep_token_id


def test_collate_shapes_and_offsets(tokenizer):
    labels = LabelVocab(["LOC"])
    tweets = [Tweet("a", ["in", "Paris"], ["O", "B-LOC"]), Tweet("b", [f"w{i}" for i in range(20)], ["O"] * 20)]
    examples = Featurizer(tokenizer, labels, max_length=12)(tweets)
    batch = collate(examples, pad_id=tokenizer.pad_token_id)
    rows = sum(len(ex.rows) for ex in examples)
    assert batch.input_ids.shape[0] == rows > 2
    assert batch.word_mask.shape == (2, 20) and batch.word_mask.sum().item() == 22
    assert batch.tags[0, :2].tolist() == [0, 1]
    assert batch.word_row[1].min().item() == 1  # the second tweet's rows come after the first's
    gathered = batch.input_ids[batch.word_row, batch.word_pos]
    assert gathered[0, 1].item() == tokenizer("Paris", add_special_tokens=False)["input_ids"][0]
    assert batch.to("cpu").input_ids.dtype == torch.long


def test_unlabelled_tweets_have_no_tags(tokenizer):
    examples = Featurizer(tokenizer, None)([Tweet("a", ["hi"])])
    assert collate(examples).tags is None
