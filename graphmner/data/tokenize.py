"""Splitting raw tweet text into words the way the Twitter-2015/2017 files do:
``@mentions`` stay whole, ``#`` is split from the hashtag, punctuation stands alone."""
from __future__ import annotations

import re

_TOKEN = re.compile(r"https?://\S+|@\w+|\w+(?:['’]\w+)*|[^\w\s]")


def tokenize_tweet(text: str) -> list[str]:
    """``"RT @x: #NBA finals!"`` -> ``["RT", "@x", ":", "#", "NBA", "finals", "!"]``."""
    return _TOKEN.findall(text)
