import unicodedata
from pathlib import Path

import pytest

from graphmner.data.conll import (
    ConllFormatError,
    ReadReport,
    Tweet,
    check_entity_types,
    check_image_id,
    is_invisible,
    read_conll,
    write_conll,
)


def write(tmp_path: Path, text: str | bytes, name: str = "x.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_reads_blocks(tmp_path):
    path = write(tmp_path, "IMGID:1\nRT\tO\nGeorge\tB-PER\nZimmerman\tI-PER\n\nIMGID:O_2\n#\tO\nNBA\tB-ORG\n")
    tweets = read_conll(path)
    assert [t.id for t in tweets] == ["1", "O_2"]
    assert tweets[0].tokens == ["RT", "George", "Zimmerman"]
    assert tweets[0].tags == ["O", "B-PER", "I-PER"]
    assert tweets[1].image_id == "O_2"
    assert tweets[0].source == f"{path}:1"


def test_crlf_bom_and_many_blank_lines_are_tolerated(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfIMGID:1\r\nParis\tB-LOC\r\n\r\n\r\n\r\nIMGID:2\r\nx\tO\r\n")
    tweets = read_conll(path)
    assert [t.tokens for t in tweets] == [["Paris"], ["x"]]
    assert tweets[0].id == "1"


def test_whitespace_only_tokens_are_kept_and_counted(tmp_path):
    # Twitter-2015 valid has a no-break-space token tagged O: kept (predictions stay aligned with the file)
    report = ReadReport("x")
    path = write(tmp_path, "IMGID:1\n\u00a0\tO\nx\tO\n\u2003 \tO\n")
    tweets = read_conll(path, report)
    assert tweets[0].tokens == ["\u00a0", "x", "\u2003 "]
    assert report.whitespace_tokens == 2 and report.whitespace_at == [f"{path}:2", f"{path}:4"]
    assert "2 whitespace-only token(s) kept" in report.summary()


def test_whitespace_only_token_inside_an_entity_is_an_error(tmp_path):
    path = write(tmp_path, "IMGID:1\nNew\tB-LOC\n\u00a0\tI-LOC\n")
    with pytest.raises(ConllFormatError, match=r":3: a whitespace-only token '\\xa0' tagged I-LOC"):
        read_conll(path)


def test_imgid_without_tokens_is_skipped_and_counted(tmp_path):
    # an empty tweet (IMGID, then a blank line), two IMGID lines in a row, an IMGID at the end of the file
    path = write(tmp_path, "IMGID:1\n\nIMGID:2\nIMGID:3\nx\tO\n\nIMGID:4\n")
    report = ReadReport("x")
    tweets = read_conll(path, report)
    assert [t.id for t in tweets] == ["3"]
    assert report.skipped_empty == 3 and report.skipped_at == [f"{path}:1", f"{path}:3", f"{path}:7"]
    assert report.as_dict()["skipped_empty_tweets"] == 3
    with pytest.raises(ConllFormatError, match=r":1: no tweets in file \(2 IMGID line\(s\), none with tokens\)"):
        read_conll(write(tmp_path, "IMGID:1\n\nIMGID:2\n", "empty.txt"))


def test_a_5000_token_tweet_is_read_whole(tmp_path):
    lines = "".join(f"w{i}\t{'B-PER' if i == 4321 else 'O'}\n" for i in range(5000))
    report = ReadReport("x")
    tweets = read_conll(write(tmp_path, "IMGID:1\n" + lines), report)
    assert len(tweets[0]) == 5000 and tweets[0].tags[4321] == "B-PER" and report.longest == 5000


def test_entity_types_unseen_in_training_are_an_error_naming_the_line(tmp_path):
    path = write(tmp_path, "IMGID:1\nx\tO\n\nIMGID:2\nParis\tB-LOC\nacme\tB-FOO\n")
    tweets = read_conll(path)
    check_entity_types(tweets, ["FOO", "LOC"])  # B-FOO is fine for a model that knows FOO ...
    with pytest.raises(ConllFormatError) as info:  # ... not for one that does not
        check_entity_types(tweets, ["LOC"], "the training split")
    assert str(info.value) == (f"{path}:6: entity type 'FOO' (B-FOO) is not in the training split; "
                               "known types: ['LOC']")


@pytest.mark.parametrize("text, line, words", [
    ("IMGID:1\nParis B-LOC\n", 2, "no TAB"),
    ("IMGID:1\nParis\tB-LOC\textra\n", 2, "3 TAB-separated columns"),
    ("IMGID:1\nParis\tLOC\n", 2, "not IOB2"),
    ("IMGID:1\nParis\tE-LOC\n", 2, "not IOB2"),
    ("IMGID:1\nParis\tB-\n", 2, "not IOB2"),
    ("Paris\tB-LOC\n", 1, "outside a tweet"),
    ("IMGID:1\nx\tO\n\nParis\tB-LOC\n", 4, "outside a tweet"),
    ("IMGID:1\nParis\tX-PER\n", 2, "not IOB2"),
    ("IMGID:\nx\tO\n", 1, "empty IMGID"),
    ("IMGID:1\n\tO\n", 2, "empty token"),
    ("", 1, "no tweets"),
])
def test_malformed_input_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ConllFormatError) as info:
        read_conll(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}:")
    assert words in str(info.value)


def test_bad_utf8_names_line(tmp_path):
    path = write(tmp_path, b"IMGID:1\nok\tO\ncaf\xe9\tO\n")
    with pytest.raises(ConllFormatError, match=r":3: not valid UTF-8"):
        read_conll(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_conll(tmp_path / "nope.txt")


def test_write_then_read_round_trip(tmp_path):
    tweets = [Tweet("1", ["George", "Bush"], ["B-PER", "I-PER"], "1"), Tweet("2", ["in", "Paris"], ["O", "B-LOC"], "2")]
    path = tmp_path / "out.txt"
    write_conll(path, tweets)
    assert read_conll(path) == tweets


def test_write_predictions_as_third_column(tmp_path):
    tweets = [Tweet("1", ["George", "Bush"], ["B-PER", "I-PER"], "1")]
    path = tmp_path / "pred.conll"
    write_conll(path, tweets, [["B-PER", "O"]])
    assert path.read_text().splitlines() == ["IMGID:1", "George\tB-PER\tB-PER", "Bush\tI-PER\tO", ""]


def test_tags_must_match_tokens():
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        Tweet("1", ["a", "b"], ["O"])


def test_stray_inside_tags_are_repaired_and_counted(tmp_path):
    from graphmner.data.conll import ReadReport

    # Twitter-2015 test: "J . Cole" tagged O O I-PER; and I-LOC right after a PER entity
    path = write(tmp_path, "IMGID:1\nJ\tO\n.\tO\nCole\tI-PER\nParis\tI-LOC\nHilton\tI-LOC\n\nIMGID:2\nx\tI-ORG\n")
    report = ReadReport(str(path))
    tweets = read_conll(path, report)
    assert tweets[0].tags == ["O", "O", "B-PER", "B-LOC", "I-LOC"]
    assert tweets[1].tags == ["B-ORG"]
    assert report.repaired_tags == 3 and report.repaired_at == [f"{path}:4", f"{path}:5", f"{path}:9"]
    assert report.tweets == 2 and report.words == 6


def test_bundled_twitter2015_repairs_are_counted():
    from graphmner.data.datasets import load_dataset

    data = load_dataset("twitter2015")
    assert {s: v["repaired_tags"] for s, v in data.summary().items()} == {"train": 186, "valid": 53, "test": 135}
    assert all(v["repaired_tags"] == 0 for v in load_dataset("twitter2017").summary().values())


def test_untagged_files_only_when_allowed_and_never_mixed(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("IMGID:1\nBears\nwin\n\nIMGID:2\nChicago\n")
    with pytest.raises(ConllFormatError, match=r"raw.txt:2: expected 'token<TAB>tag', found no TAB"):
        read_conll(path)
    tweets = read_conll(path, allow_untagged=True)
    assert [(t.id, t.tokens, t.tags) for t in tweets] == [("1", ["Bears", "win"], None), ("2", ["Chicago"], None)]
    path.write_text("IMGID:1\nBears\tB-ORG\nwin\n")
    with pytest.raises(ConllFormatError, match=r"raw.txt:3: a token without a tag in a tagged file"):
        read_conll(path, allow_untagged=True)
    path.write_text("IMGID:1\nBears\nwin\tO\n")
    with pytest.raises(ConllFormatError, match=r"raw.txt:3: a tagged line in a file of bare tokens"):
        read_conll(path, allow_untagged=True)


def test_tokens_with_no_visible_character_are_kept_and_counted(tmp_path):
    """What the tokenizer drops whole (zero-width space, variation selector, soft hyphen, a lone combining
    mark, a control character, U+FFFD) is read as [UNK]: kept, so predictions stay aligned, and counted."""
    invisible = ["\u200b", "\ufe0f", "\u00ad", "\u0301", "\u0092", "\ufffd", "\u200d\u200d"]
    lines = ["IMGID:1", "Paris\tB-LOC", *(f"{t}\tO" for t in invisible), "caf\u00e9\tO", "e\u0301\tO",
             "\u2764\ufe0f\tO", "Zo\u200be\tB-PER", "\u200b\tI-PER"]
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ReadReport(str(path))
    [tweet] = read_conll(path, report)
    assert len(tweet) == 13 and report.invisible_tokens == len(invisible) + 1  # and the ZWSP inside PER
    assert report.invisible_at[0] == f"{path}:3" and "with no visible character kept" in report.summary()
    assert [is_invisible(t) for t in ("caf\u00e9", "e\u0301", "\u2764\ufe0f", " ", "\u00a0")] == [False] * 5
    # ASCII takes a shortcut: a control character that is not whitespace is invisible, any other is not
    ascii_chars = list(map(chr, range(128)))
    assert [c for c in ascii_chars if is_invisible(c)] == [c for c in ascii_chars if not c.isspace()
                                                           and unicodedata.category(c) == "Cc"]
    assert not is_invisible("a\x01") and is_invisible("\x01\x02") and not is_invisible(" x ")
    # an entity with a visible word may hold one (Zo<ZWSP>e, then a lone ZWSP inside PER)
    assert tweet.tags[-2:] == ["B-PER", "I-PER"]


def test_bundled_twitter2017_invisible_tokens_are_counted():
    from graphmner.data.datasets import load_dataset

    summary = load_dataset("twitter2017").summary()
    assert {s: r["invisible_tokens"] for s, r in summary.items()} == {"train": 116, "valid": 16, "test": 26}


@pytest.mark.parametrize("image_id, said", [
    ("a\tO", "holds '\\t'"), ("a b", "holds ' '"), ("../x", "holds '/'"), ("a\\b", "holds '\\\\'"),
    ("..", "holds '..'"), ("x\u200by", "holds '\\u200b'"),
])
def test_an_image_id_is_a_file_stem(tmp_path, image_id, said):
    path = tmp_path / "t.txt"
    path.write_text(f"IMGID:ok\nx\tO\n\nIMGID:{image_id}\ny\tO\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"t.txt:4: IMGID ") as caught:
        read_conll(path)
    assert said in str(caught.value)
    assert check_image_id("16_05_01_360") is None and check_image_id("O_1234") is None
