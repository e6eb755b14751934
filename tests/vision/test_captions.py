import pytest

from graphmner.data.conll import ConllFormatError
from graphmner.data.datasets import load_dataset
from graphmner.vision.captions import read_captions


def test_bundled_captions_cover_every_tweet():
    for name in ("twitter2015", "twitter2017"):
        data = load_dataset(name)
        captions = read_captions(data.caption_file)
        assert all(t.image_id in captions for split in data.splits.values() for t in split)
    assert captions["16_05_27_62"] == "a group of people playing music on a stage"


def test_format_errors_name_the_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("1.jpg :a dog\n2.jpg :\nno caption here\n")
    with pytest.raises(ConllFormatError, match=r"c.txt:3: expected '<image_id>.jpg :<caption>'"):
        read_captions(path)
    path.write_text("1.jpg :a dog\n2.jpg :\n1.jpg :a cat\n")
    with pytest.raises(ConllFormatError, match=r":3: image 1 already captioned on line 1"):
        read_captions(path)
    path.write_text("1.jpg :a dog\n2.jpg :\n")
    assert read_captions(path) == {"1": "a dog", "2": ""}
