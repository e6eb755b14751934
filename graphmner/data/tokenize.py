"""Splitting raw tweet text into words the way the Twitter-2015/2017 files do:
``@mentions`` stay whole, ``#`` is split from the hashtag, punctuation stands alone."""
from __future__ import annotations

import re

_TOKEN = re.compile(r"https?://\S+|@\w+|\w+(?:['’]\w+)*|[^\w\s]")


def tokenize_tweet(text: str) -> list[str]:
    """``"RT @x: #NBA finals!"`` -> ``["RT", "@x", ":", "#", "NBA", "finals", "!"]``."""
    return _TOKEN.findall(text)


# What a word looks like, independent of what it says: the case information an uncased encoder loses
# ("Apple" / "apple"), and the marks of tweets (hashtags, mentions, links). Index 0 is everything else.
WORD_SHAPES: tuple[str, ...] = ("other", "capitalised", "all caps", "lower", "hashtag", "mention", "digits", "url")
_SHAPE_INDEX = {name: i for i, name in enumerate(WORD_SHAPES)}


def word_shape(token: str) -> int:
    """Index into :data:`WORD_SHAPES`: ``"Chicago"`` capitalised, ``"NBA"`` all caps, ``"win"`` lower,
    ``"#"``/``"#NBA"`` hashtag, ``"@x"`` mention, ``"2017"`` digits, ``"http://t.co/x"`` url, ``"!"`` other."""
    if token.startswith(("http://", "https://")):
        return _SHAPE_INDEX["url"]
    if token.startswith("#"):
        return _SHAPE_INDEX["hashtag"]
    if token.startswith("@") and len(token) > 1:
        return _SHAPE_INDEX["mention"]
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return _SHAPE_INDEX["digits"] if any(c.isdigit() for c in token) else _SHAPE_INDEX["other"]
    if all(c.isupper() for c in letters):
        return _SHAPE_INDEX["all caps"] if len(letters) > 1 else _SHAPE_INDEX["capitalised"]
    if letters[0].isupper():
        return _SHAPE_INDEX["capitalised"]
    return _SHAPE_INDEX["lower"] if all(c.islower() for c in letters) else _SHAPE_INDEX["other"]
