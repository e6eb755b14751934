"""Zero-shot image types from captions with the bundled (pretrained) MiniLM."""
import pytest

from graphmner.evidence.image_types import TYPE_NAMES, image_type
from graphmner.nn.zero_shot import ImageTypeClassifier, caption_types


@pytest.fixture(scope="module")
def classifier():
    return ImageTypeClassifier("minilm")


def test_embeddings_are_unit_length_sentence_vectors(classifier):
    vectors = classifier.embed(["a dog on a sofa", "a puppy lying on a couch", "a stock market chart"])
    assert vectors.shape == (3, 384)
    assert vectors.norm(dim=-1).sub(1).abs().max() < 1e-5
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3  # paraphrases are close, topics are not


@pytest.mark.parametrize("caption, expected", [
    ("a man in a black suit and tie standing in front of a microphone", "photo of people"),
    ("a screenshot of a text message conversation", "screenshot or text"),
    ("a cartoon drawing of a cat wearing sunglasses", "cartoon or meme"),
    ("a city skyline at night with lights on the buildings", "photo of a place"),
    ("the logo for the new york yankees", "poster or logo"),
    ("a plate of pasta with tomato sauce", "photo of a thing"),
])
def test_plain_captions_get_their_type(classifier, caption, expected):
    assert image_type(classifier.scores([caption])[0].tolist()) == expected


def test_caption_types_are_cached_and_skip_empty_captions(tmp_path, monkeypatch):
    captions = {"1": "a cartoon of a dog", "2": "", "3": "a man speaking at a podium"}
    first = caption_types(captions, cache_dir=tmp_path)
    assert set(first) == {"1", "3"} and all(len(v) == len(TYPE_NAMES) for v in first.values())
    assert len(list(tmp_path.glob("image_types-*.json"))) == 1

    def no_model(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr("graphmner.nn.zero_shot.ImageTypeClassifier", no_model)
    assert caption_types(captions, cache_dir=tmp_path) == first
