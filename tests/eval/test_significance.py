"""graphmner compare: a paired bootstrap over tweets on two prediction files."""
import json

import numpy as np
import pytest

from graphmner.cli import main
from graphmner.data.conll import ConllFormatError, Tweet, write_conll
from graphmner.eval.significance import (
    bootstrap_counts,
    compare_files,
    counts_of_text,
    counts_text,
    entity_counts,
    gold_digest,
    holm,
    paired_bootstrap,
    seed_permutation_test,
)


def tweets(n: int) -> list[Tweet]:
    return [Tweet(f"t{i}", ["Visit", "Paris", "now"], ["O", "B-LOC", "O"]) for i in range(n)]


def predictions(path, correct: int, n: int = 100):
    """A run's test predictions: the first ``correct`` tweets right, the others with the entity missed."""
    write_conll(path, tweets(n), [["O", "B-LOC", "O"] if i < correct else ["O"] * 3 for i in range(n)])
    return path


def test_a_known_difference(tmp_path):
    a, b = predictions(tmp_path / "a.conll", 50), predictions(tmp_path / "b.conll", 100)
    result = compare_files(a, b, resamples=1000, seed=1)
    # A: 50 of 100 entities, nothing spurious: P 1, R 0.5, F1 2/3; B: all of them
    assert result["f1_a"] == pytest.approx(2 / 3) and result["f1_b"] == 1.0
    assert result["delta"] == pytest.approx(1 / 3) and result["ci_low"] > 0.2 and result["ci_high"] < 0.45
    assert result["p"] == pytest.approx(1 / 1001)  # no resample comes near "no difference"
    # the same seed gives the same interval; the same file twice has no difference at all
    assert compare_files(a, b, resamples=1000, seed=1) == result
    same = compare_files(a, a, resamples=200)
    assert same["delta"] == 0.0 and same["p"] == 1.0


def test_a_small_difference_is_not_significant():
    gold = [t.tags for t in tweets(100)]
    a = [["O", "B-LOC", "O"] if i < 60 else ["O"] * 3 for i in range(100)]
    b = [["O", "B-LOC", "O"] if 1 <= i < 61 or i == 0 else ["O"] * 3 for i in range(100)]  # one tweet more
    result = paired_bootstrap(gold, a, b, resamples=1000)
    assert result["delta"] > 0 and result["ci_low"] <= 0 <= result["ci_high"] and result["p"] > 0.05


def test_files_of_different_tweets_or_gold_are_an_error(tmp_path):
    a = predictions(tmp_path / "a.conll", 10, n=20)
    other = tweets(20)
    other[3].tags = ["B-PER", "O", "O"]
    write_conll(tmp_path / "gold.conll", other, [t.tags for t in other])
    # tweet t3's IMGID is line 16 of both files (five lines a tweet)
    with pytest.raises(ValueError, match=r"a.conll:16 and .*gold.conll:16: tweet t3 has different gold tags"):
        compare_files(a, tmp_path / "gold.conll")
    with pytest.raises(ValueError, match="has 20 tweets, .* 30"):
        compare_files(a, predictions(tmp_path / "more.conll", 10, n=30))
    (tmp_path / "two.conll").write_text("IMGID:t0\nVisit\tO\n")
    with pytest.raises(ConllFormatError, match=r"two.conll:2: expected 'token<TAB>gold<TAB>predicted'"):
        compare_files(a, tmp_path / "two.conll")


def test_compare_on_run_folders_from_the_command_line(tmp_path, capsys):
    for name, correct in (("a", 50), ("b", 100)):
        (tmp_path / name / "predictions").mkdir(parents=True)
        predictions(tmp_path / name / "predictions" / "test.conll", correct)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"f1_a", "f1_b", "delta", "ci_low", "ci_high", "p"} and result["f1_b"] == 1.0
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "B - A  +33.33 F1  95% CI [" in out and "paired bootstrap over 100 tweets, 1000 resamples" in out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "nope")]) == 2
    assert "no such run folder or prediction file" in capsys.readouterr().err


def test_several_seeds_per_system_at_the_tweet_level():
    gold = [t.tags for t in tweets(100)]
    right = lambda k: [["O", "B-LOC", "O"] if i < k else ["O"] * 3 for i in range(100)]  # noqa: E731
    one = paired_bootstrap(gold, right(50), right(60), resamples=300)
    stacked = bootstrap_counts(entity_counts(gold, right(50))[None], entity_counts(gold, right(60))[None],
                               resamples=300)
    assert stacked == one  # one run a side is the plain paired bootstrap
    # two runs a side: a system's F1 is the mean of its runs' F1s (A: 2/3 and 2·80/180)
    a = np.stack([entity_counts(gold, right(50)), entity_counts(gold, right(80))])
    b = np.stack([entity_counts(gold, right(100)), entity_counts(gold, right(100))])
    result = bootstrap_counts(a, b, resamples=500)
    assert result["f1_a"] == pytest.approx((2 / 3 + 160 / 180) / 2) and result["f1_b"] == 1.0
    assert result["p"] < 0.01 and result["ci_low"] > 0
    with pytest.raises(ValueError, match="over the same tweets"):
        bootstrap_counts(a, b[:, :50])


def test_seed_permutation_test_by_hand():
    # 3 + 3 runs fully separated: 2 of the C(6, 3) = 20 relabellings are as extreme (both directions)
    result = seed_permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert result == {"delta": 3.0, "p": 0.1, "n_a": 3, "n_b": 3, "exact": True}
    # 5 + 5 runs fully separated: 2 / 252, the smallest p five seeds a side can give
    assert seed_permutation_test([80, 80.1, 80.2, 80.3, 80.4], [81, 81.1, 81.2, 81.3, 81.4])["p"] == \
        pytest.approx(2 / 252)
    # interleaved runs: no difference
    assert seed_permutation_test([1.0, 3.0, 5.0], [2.0, 3.0, 4.0])["p"] == 1.0
    # too many relabellings to enumerate: sampled, and still close to the exact answer
    sampled = seed_permutation_test(list(range(12)), [x + 0.5 for x in range(12)], max_exact=100, resamples=4000)
    assert not sampled["exact"] and sampled["p"] > 0.5
    with pytest.raises(ValueError, match="at least 2 runs per system"):
        seed_permutation_test([1.0], [2.0, 3.0])


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 0.03, 0.06, max(0.06, 0.04): adjusted in the input's order
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []


def test_per_tweet_counts_travel_as_text():
    counts = np.array([[1, 1, 1], [0, 2, 1], [0, 0, 0]])
    assert counts_text(counts) == "111,021,000"
    assert (counts_of_text(counts_text(counts)) == counts).all()
    many = np.array([[12, 13, 14], [0, 1, 0]])  # a tweet with ten or more entities
    assert counts_text(many) == "12 13 14,0 1 0" and (counts_of_text(counts_text(many)) == many).all()
    assert counts_of_text("").shape == (0, 3)
    with pytest.raises(ValueError, match="three numbers"):
        counts_of_text("11,1")
    assert gold_digest([("t1", ["O"])]) != gold_digest([("t1", ["B-PER"])]) != gold_digest([("t2", ["B-PER"])])
