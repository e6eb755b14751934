"""Text evidence that names things, read as graph material: candidate entities and sentences.

PGIM's and RiVEG's LLM knowledge has one shape::

    Named entities: 1. Citifield (stadium/venue) 2. NewYorkMets (baseball team) Reasoning: The sentence
    mentions Citifield, a stadium in New York City where the New York Mets baseball team plays. ...

:func:`parse_evidence_text` turns it into *candidates* (the surface string ``Citifield``, its free-text type
hint ``stadium/venue`` and the coarse kind the hint names, :data:`CANDIDATE_KINDS`) and the *sentences* of
the reasoning. Text without an entity list (mPLUG-Owl's image descriptions, or knowledge that skipped it)
is sentences only. Nothing here reads a label: the kind is what the LLM wrote, mapped by a small lexicon.

:func:`candidate_mentions` says which tweet words a candidate names: exactly (the candidate's letters and
digits equal those of a run of tweet words, so ``NewYorkMets`` names ``#NewYorkMets`` and ``New York Mets``
names ``#NewYorkMets``; case and spaces do not count) or partly (one of its words is a tweet word:
``Kawhi Leonard`` names ``Leonard``); :func:`sentence_mentions` which content words a sentence holds.
Both look words up in two indexes rather than compare every text with every word: the parse indexes a
text once (a text is matched against its tweet every epoch), :class:`TweetWords` indexes a tweet's words
once for all its texts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

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
    """One text's candidates and sentences, and what matching them against a tweet looks up."""

    candidates: tuple[Candidate, ...]
    sentences: tuple[str, ...]
    # (sentence, candidate): the sentence names the candidate (its words, in order, are among the sentence's)
    about: tuple[tuple[int, int], ...] = ()
    # per candidate its letters and digits, lower case ("" when it cannot name a word: a function word)
    keys: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # token -> the candidates / sentences holding it, as a bit mask
    candidate_tokens: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    sentence_tokens: dict[str, int] = field(default_factory=dict, repr=False, compare=False)


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
    return _indexed(tuple(candidates[:MAX_CANDIDATES]), tuple(sentences[:MAX_SENTENCES]))


def _tokens(text: str) -> list[str]:
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _inverted(token_lists: list[list[str]]) -> dict[str, int]:
    # bit k of a token's mask: item k holds it (a mask allocates nothing, a list per token would)
    index: dict[str, int] = {}
    for k, tokens in enumerate(token_lists):
        for token in tokens:
            index[token] = index.get(token, 0) | 1 << k
    return index


def _bits(mask: int) -> list[int]:
    return [k for k in range(mask.bit_length()) if mask >> k & 1]


def _indexed(candidates: tuple[Candidate, ...], sentences: tuple[str, ...]) -> ParsedText:
    names = [_tokens(c.surface) for c in candidates]
    keys = tuple("".join(tokens) for tokens in names)
    spaced = [f" {' '.join(tokens)} " for tokens in names]
    said = [_tokens(s) for s in sentences]
    about = []
    for j, tokens in enumerate(said):
        joined, words = f" {' '.join(tokens)} ", set(tokens)
        about += [(j, k) for k, name in enumerate(spaced) if keys[k] and (name in joined or keys[k] in words)]
    return ParsedText(candidates, sentences, tuple(about), tuple(k if k not in _STOP else "" for k in keys),
                      _inverted(names), _inverted(said))


class TweetWords:
    """A tweet's words (normalised: :func:`~graphmner.graph.builder.normalise`, lower case, letters and
    digits only) indexed for :func:`candidate_mentions` and :func:`sentence_mentions`."""

    __slots__ = ("n", "letters", "starts", "ends", "content")

    def __init__(self, words: list[str]) -> None:
        self.n = len(words)
        self.letters = "".join(words)  # a candidate's letters are found here, then mapped back to words
        self.starts: dict[int, int] = {}  # offset in letters -> the word with letters that starts there
        self.ends: dict[int, int] = {}  # offset -> the word with letters that ends there
        # a content word (not a function word, long enough to mean something) -> its positions
        self.content: dict[str, list[int]] = {}
        offset = 0
        for i, word in enumerate(words):
            if word:
                self.starts[offset] = i
                offset += len(word)
                self.ends[offset] = i
                if len(word) >= MIN_PARTIAL and word not in _STOP:
                    self.content.setdefault(word, []).append(i)

    def spelling(self, key: str) -> list[tuple[int, int]]:
        """``(first, last)`` word of every run of at most :data:`MAX_SPAN` words whose letters are ``key``."""
        runs = []
        at = self.letters.find(key)
        while at >= 0:
            first, last = self.starts.get(at), self.ends.get(at + len(key))
            if first is not None and last is not None and last - first < MAX_SPAN:
                runs.append((first, last))
            at = self.letters.find(key, at + 1)
        return runs


def candidate_mentions(words: TweetWords, parsed: ParsedText, offset: int = 0) -> dict[tuple[int, int], int]:
    """``{(candidate, word): 0 exact or 1 partial}``: the tweet's words each candidate names (see the module
    docstring; a word named exactly is not also a partial mention). ``offset`` is added to the candidate
    index (the text's first candidate node)."""
    found: dict[tuple[int, int], int] = {}
    for k, key in enumerate(parsed.keys):
        for first, last in words.spelling(key) if key else ():
            found.update(((offset + k, i), 0) for i in range(first, last + 1))
    for word, positions in words.content.items():
        for k in _bits(parsed.candidate_tokens[word]) if word in parsed.candidate_tokens else ():
            for i in positions:
                found.setdefault((offset + k, i), 1)
    return found


def sentence_mentions(words: TweetWords, parsed: ParsedText, offset: int = 0) -> list[tuple[int, int]]:
    """``[(sentence, word)]``, unordered: the tweet's content words each sentence holds as one of its tokens;
    ``offset`` is added to the sentence index."""
    return [(offset + j, i) for word, positions in words.content.items() if word in parsed.sentence_tokens
            for j in _bits(parsed.sentence_tokens[word]) for i in positions]
