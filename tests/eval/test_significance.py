"""graphmner compare: a paired bootstrap over tweets on two prediction files."""
import json

import pytest

from graphmner.cli import main
from graphmner.data.conll import ConllFormatError, Tweet, write_conll
from graphmner.eval.significance import compare_files, paired_bootstrap


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
