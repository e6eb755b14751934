import pytest

from graphmner.data.datasets import load_dataset
from graphmner.formats import FormatError
from graphmner.vision.captions import read_captions
from graphmner.vision.sources import SourceReport


def test_bundled_captions_cover_every_tweet():
    for name in ("twitter2015", "twitter2017"):
        data = load_dataset(name)
        captions = read_captions(data.caption_file)
        assert all(t.image_id in captions for split in data.splits.values() for t in split)
    assert captions["16_05_27_62"] == "a group of people playing music on a stage"


def test_format_errors_name_the_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("1.jpg :a dog\n2.jpg :\nno caption here\n")
    with pytest.raises(FormatError, match=r"c.txt:3: expected '<image_id>.jpg :<caption>'"):
        read_captions(path)
    path.write_text("1.jpg :a dog\n2.jpg :\n1.jpg :a cat\n")
    with pytest.raises(FormatError, match=r":3: image 1 already captioned differently on line 1: 'a dog'"):
        read_captions(path)
    path.write_bytes(b"1.jpg :a dog\n2.jpg :caf\xe9\n")
    with pytest.raises(FormatError, match=r"c.txt:2: not valid UTF-8"):
        read_captions(path)
    with pytest.raises(FileNotFoundError, match="caption file not found"):
        read_captions(tmp_path / "missing.txt")


def test_empty_captions_are_kept_and_identical_repeats_counted(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("\ufeff1.jpg :a dog\r\n2.jpg :\r\n\r\n1.jpg :a dog\r\n")  # BOM, CRLF, a repeated line
    report = SourceReport("captions", str(path))
    assert read_captions(path, report) == {"1": "a dog", "2": ""}
    assert (report.entries, report.empty, report.duplicates) == (2, 1, 1)
    assert report.duplicate_at == [f"{path}:4"] and "1 identical repeated entries skipped" in report.summary()


@pytest.mark.parametrize("line, said", [
    ("../../etc/passwd.jpg :a cat", "image id '../../etc/passwd' holds '/'"),
    ("a\\b.jpg :a cat", "image id 'a\\\\b' holds '\\\\'"),
    ("..x.jpg :a cat", "holds '..'"),
])
def test_an_image_id_is_a_file_stem_in_captions_too(tmp_path, line, said):
    path = tmp_path / "c.txt"
    path.write_text(f"1.jpg :a dog\n{line}\n")
    with pytest.raises(FormatError, match=r"c.txt:2: ") as caught:
        read_captions(path)
    assert said in str(caught.value)
