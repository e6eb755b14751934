import pytest

from graphmner.data.datasets import DATASETS, load_dataset
from tests.conftest import TINY_DATA


@pytest.mark.parametrize("name, sizes", [("twitter2015", (4000, 1000, 3257)), ("twitter2017", (3373, 723, 723))])
def test_bundled_corpora_have_the_published_split_sizes(name, sizes):
    data = load_dataset(name)
    assert tuple(len(data[s]) for s in ("train", "valid", "test")) == sizes
    assert data.caption_file is not None and data.caption_file.name == "captions_blip2.txt"
    types = {tag[2:] for t in data["train"] for tag in t.tags if tag != "O"}
    assert types == ({"PER", "LOC", "ORG", "OTHER"} if name == "twitter2015" else {"PER", "LOC", "ORG", "MISC"})


def test_data_dir_and_limit():
    data = load_dataset("tiny", data_dir=TINY_DATA, limit=5)
    assert [len(data[s]) for s in ("train", "valid", "test")] == [5, 5, 5]
    assert data.caption_file.name == "captions_blip2.txt" and data.image_dir is None


def test_unknown_dataset_and_missing_dir(tmp_path):
    with pytest.raises(KeyError, match="unknown dataset 'twitter2099'"):
        load_dataset("twitter2099")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        load_dataset(data_dir=tmp_path / "missing")
    assert set(DATASETS) == {"twitter2015", "twitter2017"}
