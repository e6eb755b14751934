"""Text evidence that names things, read as graph material: candidate entities and sentences.

PGIM's and RiVEG's LLM knowledge has one shape::

    Named entities: 1. Citifield (stadium/venue) 2. NewYorkMets (baseball team) Reasoning: The sentence
    mentions Citifield, a stadium in New York City where the New York Mets baseball team plays. ...

:func:`parse_evidence_text` turns it into *candidates* (the surface string ``Citifield``, its free-text type
hint ``stadium/venue`` and the coarse kind the hint names, :data:`CANDIDATE_KINDS`) and the *sentences* of
the reasoning. Text without an entity list (mPLUG-Owl's image descriptions, or knowledge that skipped it)
is sentences only. Nothing here reads a label: the kind is what the LLM wrote, mapped by a small lexicon.

:func:`mention_features` says which tweet words a candidate or a sentence names: exactly (the candidate's
letters and digits equal those of a run of tweet words, so ``NewYorkMets`` names ``#NewYorkMets`` and
``New York Mets`` names ``#NewYorkMets``; case and spaces do not count) or partly (one of its words is a
tweet word: ``Kawhi Leonard`` names ``Leonard``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# the coarse kinds a type hint names, in the order of the corpora's entity types; 0 is anything else
CANDIDATE_KINDS: tuple[str, ...] = ("other", "person", "location", "organisation", "miscellaneous")
_KIND_WORDS = {
    "person": """person people persons player players athlete singer rapper musician actor actress artist
        politician president senator governor minister coach manager photographer author writer journalist
        host comedian celebrity character characters user username handle account individual pitcher
        quarterback footballer boxer wrestler driver model director producer dj youtuber blogger founder ceo
        wrestler golfer fighter chef designer""",
    "location": """location locations place places city cities country countries state states region town
        village island continent street road park arena stadium venue building landmark area neighborhood
        neighbourhood county province district borough capital beach mountain river lake airport hotel
        restaurant bar station square campus""",
    "organisation": """organization organisation organizations team teams company companies league band club
        university college school party network brand agency channel group government association charity
        institution newspaper airline business corporation restaurant_chain franchise label store retailer
        department committee council federation union ministry army police media outlet publication""",
    "miscellaneous": """event events festival tournament competition championship game games match product
        products movie film show series song album book magazine holiday award nationality language religion
        hashtag campaign movement tv television program programme podcast app website game video concert tour
        conference race cup title phrase slogan""",
}
_KIND_OF = {w: CANDIDATE_KINDS.index(kind) for kind, words in _KIND_WORDS.items() for w in words.split()}

MAX_CANDIDATES = 10  # per text: the LLM lists 1-5; a longer list is a runaway generation
MAX_SENTENCES = 8  # per text: the reasoning has 3-5
MAX_NAME_WORDS = 6  # an unnumbered entity list whose entries are longer is prose, not names
MAX_SPAN = 6  # tweet words one exact mention may cover ("Blackburn Festival of Voice")
MIN_PARTIAL = 3  # shortest word that counts as a partial mention
MENTION_FEATURES = 2  # exact, partial

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ENUMERATOR = re.compile(r"(?:^|(?<=[\s):.,;]))(\d{1,2})\.(?!\d)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s*(?=[A-Z\"'(])")
_STOP = frozenset("""a an the of in on at to for with from by and or is are was were be it its this that these
those i me my you your we us our he she him her they them his not no so do up out all can will may has have
had which who what when where there their also as but if than then into about some any more most such""".split())


@dataclass(frozen=True)
class Candidate:
    """One entity the text names: ``surface`` as written, the LLM's type ``hint``, the coarse ``kind``."""

    surface: str
    hint: str
    kind: int  # index into CANDIDATE_KINDS

    @property
    def text(self) -> str:
        """What the node's embedding reads: ``Citifield (stadium/venue)``."""
        return f"{self.surface} ({self.hint})" if self.hint else self.surface


@dataclass(frozen=True)
class ParsedText:
    candidates: tuple[Candidate, ...]
    sentences: tuple[str, ...]


def hint_kind(hint: str) -> int:
    """Index into :data:`CANDIDATE_KINDS` of a type hint: ``stadium/venue`` -> location,
    ``charity organization`` -> organisation, ``year`` -> other. The first part before a slash decides;
    within it the head noun (last word), then the other words."""
    for part in hint.lower().split("/"):
        words = re.findall(r"[a-z]+", part)
        for word in reversed(words):
            kind = _KIND_OF.get(word, _KIND_OF.get(word[:-1], 0) if word.endswith("s") else 0)
            if kind:
                return kind
    return 0


def _candidate(item: str) -> Candidate | None:
    item = item.strip().strip(".,;:").strip()
    hint = ""
    match = re.match(r"^(.*?)\s*\(([^()]*)\)\s*[.,;]?\s*(.*)$", item)
    if match and match.group(1):
        item, hint = match.group(1).strip(), match.group(2).strip()
    item = item.strip("\"'*").strip()
    if not item or not _NON_ALNUM.sub("", item.lower()):
        return None
    return Candidate(item, hint, hint_kind(hint))


def _items(head: str) -> list[str]:
    """The entries of an entity list: ``1. A (x) 2. B (y)`` by its enumerators, else by commas."""
    cuts, expected = [], 1
    for match in _ENUMERATOR.finditer(head):
        if int(match.group(1)) == expected:
            cuts.append((match.start(), match.end()))
            expected += 1
    if cuts:
        return [head[end:(cuts[k + 1][0] if k + 1 < len(cuts) else len(head))] for k, (_, end) in enumerate(cuts)]
    parts = re.split(r"[,;]\s*(?![^()]*\))", head)
    # an unnumbered list is names ("Chicago Cubs, Wrigley Field"); prose ("there is no named entity in ...") is not
    return parts if all(len(re.sub(r"\([^()]*\)", "", p).split()) <= MAX_NAME_WORDS for p in parts) else []


@lru_cache(maxsize=1 << 15)
def parse_evidence_text(text: str) -> ParsedText:
    """The candidates and sentences of one text (see the module docstring); cached, texts repeat across
    runs and epochs."""
    body = " ".join(text.split())
    candidates: list[Candidate] = []
    head = re.match(r"^\s*named entities\s*:?\s*(.*?)(?:reasoning\s*:\s*|$)(.*)$", body, re.IGNORECASE)
    if head:
        seen = set()
        for item in _items(head.group(1)):
            candidate = _candidate(item)
            key = candidate and _NON_ALNUM.sub("", candidate.surface.lower())
            if candidate is not None and key not in seen and key not in ("none", "na", "no"):
                seen.add(key)
                candidates.append(candidate)
        body = head.group(2)
    sentences = [s.strip() for s in _SENTENCE_END.split(body) if _NON_ALNUM.sub("", s.lower())]
    return ParsedText(tuple(candidates[:MAX_CANDIDATES]), tuple(sentences[:MAX_SENTENCES]))


@lru_cache(maxsize=1 << 16)
def _key(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


@lru_cache(maxsize=1 << 15)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in _NON_ALNUM.split(text.lower()) if t)


@lru_cache(maxsize=1 << 15)
def _token_set(text: str) -> frozenset[str]:
    return frozenset(_tokens(text))


def mention_features(words: list[str], texts: list[str], exact: bool = True) -> np.ndarray:
    """``(len(texts), len(words), 2)`` exact / partial mentions of tweet words by each text.

    Args:
        words: the tweet's words, normalised (:func:`~graphmner.graph.builder.normalise`: lower case,
            letters and digits only).
        texts: candidate surfaces (``exact`` on) or sentences (``exact`` off: a sentence mentions a word
            when the word is one of its tokens, marked as exact, and no partial mentions).
    """
    features = np.zeros((len(texts), len(words), MENTION_FEATURES), dtype=np.float32)
    content = [i for i, w in enumerate(words) if len(w) >= MIN_PARTIAL and w not in _STOP]
    exact_hits: list[tuple[int, int]] = []
    partial_hits: list[tuple[int, int]] = []
    for j, text in enumerate(texts):
        tokens = _token_set(text)
        if not exact:
            exact_hits += [(j, i) for i in content if words[i] in tokens]
            continue
        key = _key(text)  # runs of words whose letters spell the candidate (a function word names nothing)
        spelled: set[int] = set()
        for start in range(len(words) if key and key not in _STOP else 0):
            if not words[start] or not key.startswith(words[start]):
                continue
            joined = ""
            for end in range(start, min(start + MAX_SPAN, len(words))):
                joined += words[end]
                if joined == key:
                    spelled.update(range(start, end + 1))
                if not key.startswith(joined) or joined == key:
                    break
        exact_hits += [(j, i) for i in spelled]
        partial_hits += [(j, i) for i in content if i not in spelled and words[i] in tokens]
    for channel, hits in ((0, exact_hits), (1, partial_hits)):
        if hits:
            rows, cols = zip(*hits)
            features[list(rows), list(cols), channel] = 1.0
    return features


def sentence_mentions(sentence: str, candidates: tuple[Candidate, ...]) -> list[int]:
    """Indices of the candidates a sentence names (the candidate's words, in order, among the sentence's)."""
    tokens = _tokens(sentence)
    joined = " " + " ".join(tokens) + " "
    return [k for k, c in enumerate(candidates) if _tokens(c.surface)
            and (" " + " ".join(_tokens(c.surface)) + " " in joined or _key(c.surface) in tokens)]
