"""What kind of image a tweet has: the types a caption is scored against, and their prototypes.

Many tweet images say nothing about the tweet's entities: cartoons, memes,
screenshots of text, stock pictures. :mod:`graphmner.nn.zero_shot` scores a
caption against these types; the graph's quality features and the analysis
read the scores (``VisualEvidence.type_scores``, in :data:`TYPE_NAMES` order).

Types and prototypes are written as BLIP-2 writes captions ("a cartoon of a man
with a hat"), not as labels, because that is what the embeddings compare with.
"""
from __future__ import annotations

from collections.abc import Sequence

# type -> prototype captions; "photo" types are the ones whose content can name an entity
IMAGE_TYPES: dict[str, tuple[str, ...]] = {
    "photo of people": ("a man in a suit speaking at a podium", "a group of people posing for a photo",
                        "a woman smiling at the camera", "a football player running on the field",
                        "a singer performing on stage"),
    "photo of a place": ("a city street with tall buildings", "a view of the ocean at sunset",
                         "a stadium full of fans", "a crowd of people at a rally in a square",
                         "a building with a flag on top"),
    "photo of a thing": ("a plate of food on a table", "a car parked on the side of the road",
                         "a dog sitting on the grass", "a pair of shoes on the floor", "a bottle of beer"),
    "screenshot or text": ("a screenshot of a tweet", "a text message on a phone screen",
                           "a sign that says welcome", "a page of a newspaper article",
                           "a quote on a black background"),
    "cartoon or meme": ("a cartoon of a man with a hat", "a meme with a funny face", "a drawing of a character",
                        "an animated character from a movie", "a comic strip"),
    "poster or logo": ("a poster for a concert", "the logo of a company", "a flyer for an event",
                       "an advertisement for a product", "a book cover"),
}
TYPE_NAMES: tuple[str, ...] = tuple(IMAGE_TYPES)


def image_type(scores: Sequence[float]) -> str:
    """The name of the best-scoring type."""
    return TYPE_NAMES[max(range(len(scores)), key=scores.__getitem__)]
