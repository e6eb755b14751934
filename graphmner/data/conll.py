"""Reading and writing the Twitter MNER CoNLL format.

One tweet per block::

    IMGID:1015799
    RT<TAB>O
    George<TAB>B-PER
    Zimmerman<TAB>I-PER
    <blank line>

``IMGID:<id>`` names the image ``<id>.jpg``. Tags are IOB2 (``O``, ``B-X``,
``I-X``). Anything else is an error that names the file and the line: we never
guess what a malformed line meant. Tolerated, because they change no word or
tag: CRLF line ends, a UTF-8 byte-order mark, extra blank lines.

Three things are read and counted in a :class:`ReadReport` (logged, and kept in
every run's data report), not rejected:

- an ``I-X`` that does not continue an ``X`` entity (after ``O`` or after
  another type; Twitter-2015 has 374, e.g. ``J/O ./O Cole/I-PER``) becomes
  ``B-X``, as seqeval's default mode and conlleval read it, so the entity is
  kept in training and scored in evaluation;
- an ``IMGID`` with no tokens (followed by a blank line, another ``IMGID`` or
  the end of the file) is skipped: a tweet without words has nothing to tag
  and no entity to score;
- a token that is only whitespace (Twitter-2015 ``valid.txt:9658`` is a lone
  no-break space tagged ``O``) is kept, so predictions stay aligned with the
  file; the encoder reads it as ``[UNK]``. Inside an entity (``B-``/``I-``) it
  is an error: an entity cannot be made of nothing;
- a token with no visible character (a zero-width space U+200B or joiner, a
  variation selector U+FE0F, a soft hyphen, a lone combining mark, a control
  character, U+FFFD: Twitter-2017 has 158, every one tagged ``O``) is kept and
  counted the same way: the encoder's tokenizer drops every character of it and
  reads ``[UNK]``. An entity made only of such tokens is an error.

An ``IMGID`` names a file (``<id>.jpg``), so an id is a file stem: one with a TAB
(a token ``IMGID:x<TAB>O``?), a CR (an ``IMGID`` line whose CR hides the next
word), a space, ``/``, a backslash or ``..`` is an error naming file and line.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphmner.data.labels import tags_to_spans
from graphmner.formats import FormatError, check_image_id

log = logging.getLogger(__name__)

IMGID_PREFIX = "IMGID:"
TAG_PATTERN = re.compile(r"^(O|[BI]-[^\s-][^\s]*)$")
# control, format (zero-width, soft hyphen, joiners), and combining marks (variation selectors): what a
# tokenizer drops, leaving a token of them with no piece
_INVISIBLE = frozenset({"Cc", "Cf", "Mn", "Me"})


def is_invisible(token: str) -> bool:
    """A token with no visible character that is not whitespace alone (``"\u200b"``, ``"\ufe0f"``)."""
    if token and token.isascii() and token.isprintable():  # most tokens: printable ASCII is visible or spaces alone
        return False
    return not token.isspace() and all(c.isspace() or c == "\ufffd" or unicodedata.category(c) in _INVISIBLE
                                       for c in token)


class ConllFormatError(FormatError):
    """A CoNLL file broke the format; the message names file and line."""


@dataclass
class Tweet:
    """One annotated tweet: words, their IOB2 tags and the id of its image."""

    id: str
    tokens: list[str]
    tags: list[str] | None = None  # None for unlabelled text (predict)
    image_id: str | None = None
    source: str | None = field(default=None, compare=False)  # "file:line" of IMGID

    def __post_init__(self) -> None:
        if self.tags is not None and len(self.tags) != len(self.tokens):
            raise ValueError(f"tweet {self.id}: {len(self.tokens)} tokens but {len(self.tags)} tags")

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass
class ReadReport:
    """What :func:`read_conll` read and what it repaired."""

    path: str
    tweets: int = 0
    words: int = 0
    repaired_tags: int = 0  # stray I-X turned into B-X
    repaired_at: list[str] = field(default_factory=list)  # "file:line" of the first few repairs
    skipped_empty: int = 0  # IMGID blocks with no tokens
    skipped_at: list[str] = field(default_factory=list)
    whitespace_tokens: int = 0  # tokens that are only whitespace (kept, read as [UNK])
    whitespace_at: list[str] = field(default_factory=list)
    invisible_tokens: int = 0  # tokens with no visible character (zero-width, U+FE0F, ...; kept, read as [UNK])
    invisible_at: list[str] = field(default_factory=list)
    longest: int = 0  # words in the longest tweet

    def count(self, what: str, where: str) -> None:
        """Count one ``repaired``/``skipped``/``whitespace``/``invisible`` event at ``where`` (first three kept)."""
        counter, places = {"repaired": ("repaired_tags", self.repaired_at),
                           "skipped": ("skipped_empty", self.skipped_at),
                           "whitespace": ("whitespace_tokens", self.whitespace_at),
                           "invisible": ("invisible_tokens", self.invisible_at)}[what]
        setattr(self, counter, getattr(self, counter) + 1)
        if len(places) < 3:
            places.append(where)

    @property
    def noteworthy(self) -> bool:
        return bool(self.repaired_tags or self.skipped_empty or self.whitespace_tokens or self.invisible_tokens)

    def as_dict(self) -> dict[str, int]:
        return {"tweets": self.tweets, "words": self.words, "repaired_tags": self.repaired_tags,
                "skipped_empty_tweets": self.skipped_empty, "whitespace_tokens": self.whitespace_tokens,
                "invisible_tokens": self.invisible_tokens, "longest_tweet": self.longest}

    def summary(self) -> str:
        text = f"{self.path}: {self.tweets} tweets, {self.words} words"
        for n, places, what in ((self.repaired_tags, self.repaired_at, "stray I- tag(s) repaired to B-"),
                                (self.skipped_empty, self.skipped_at, "IMGID(s) with no tokens skipped"),
                                (self.whitespace_tokens, self.whitespace_at,
                                 "whitespace-only token(s) kept (read as [UNK])"),
                                (self.invisible_tokens, self.invisible_at,
                                 "token(s) with no visible character kept (read as [UNK])")):
            if n:
                text += f"; {n} {what} (first at {', '.join(places)})"
        return text


def _decode_lines(path: Path) -> Iterable[tuple[int, str]]:
    """Yield (1-based line number, text without line end); strict UTF-8."""
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM is an encoding artefact, not a token
        raw = raw[3:]
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ConllFormatError(path, number, f"not valid UTF-8 ({err.reason} at byte {err.start})") from None
        yield number, text.rstrip("\r")


def read_conll(path: str | Path, report: ReadReport | None = None, allow_untagged: bool = False) -> list[Tweet]:
    """Read a CoNLL file of ``IMGID`` blocks with TAB-separated ``token<TAB>tag`` lines.

    Args:
        path: the file.
        report: filled with counts (tweets, words, repaired tags) when given.
        allow_untagged: also accept a file of bare ``token`` lines (text to tag: ``Tweet.tags`` is None);
            one file is either tagged or not.

    Raises:
        FileNotFoundError: the file does not exist.
        ConllFormatError: a malformed line (no TAB, extra columns, a tag that is
            not IOB2, tokens before any ``IMGID``, an empty token, a whitespace-only
            token inside an entity, invalid UTF-8) or a file with no tweet, with file
            and line in the message.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CoNLL file not found: {path}")
    report = report if report is not None else ReadReport(str(path))
    tweets: list[Tweet] = []
    current: Tweet | None = None
    current_line = 0
    untagged: bool | None = None  # set by the first token line when allow_untagged

    def close() -> None:
        nonlocal current
        if current is not None:
            if current.tokens:
                _check_visible_entities(current, path, current_line)
                tweets.append(current)
            else:
                report.count("skipped", f"{path}:{current_line}")
        current = None

    for number, line in _decode_lines(path):
        if line.startswith(IMGID_PREFIX):
            close()
            image_id = line[len(IMGID_PREFIX):].strip(" ")
            problem = check_image_id(image_id, "IMGID")
            if problem is not None:
                raise ConllFormatError(path, number, problem)
            current, current_line = Tweet(id=image_id, tokens=[], tags=[], image_id=image_id,
                                          source=f"{path}:{number}"), number
            continue
        if line == "":
            close()
            continue
        if current is None:
            raise ConllFormatError(path, number, f"token line outside a tweet (expected 'IMGID:<id>' first): {line!r}")
        columns = line.split("\t")
        if allow_untagged and len(columns) == 1:
            if untagged is False:
                raise ConllFormatError(path, number, f"a token without a tag in a tagged file: {line!r}")
            untagged = True
            if line.isspace():
                report.count("whitespace", f"{path}:{number}")
            elif is_invisible(line):
                report.count("invisible", f"{path}:{number}")
            current.tokens.append(line)
            continue
        if untagged and len(columns) == 2:
            raise ConllFormatError(path, number, f"a tagged line in a file of bare tokens: {line!r}")
        untagged = False if allow_untagged else None
        if len(columns) != 2:
            what = "no TAB" if len(columns) == 1 else f"{len(columns)} TAB-separated columns"
            raise ConllFormatError(path, number, f"expected 'token<TAB>tag', found {what}: {line!r}")
        token, tag = columns
        if token == "":
            raise ConllFormatError(path, number, "empty token")
        if not TAG_PATTERN.match(tag):
            raise ConllFormatError(path, number, f"tag {tag!r} is not IOB2 (O, B-TYPE or I-TYPE)")
        if token.isspace():
            if tag != "O":
                raise ConllFormatError(path, number, f"a whitespace-only token {token!r} tagged {tag}")
            report.count("whitespace", f"{path}:{number}")
        elif is_invisible(token):
            report.count("invisible", f"{path}:{number}")
        previous = current.tags[-1] if current.tags else "O"
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
            report.count("repaired", f"{path}:{number}")
        current.tokens.append(token)
        current.tags.append(tag)
    close()
    if not tweets:
        raise ConllFormatError(path, 1, "no tweets in file" + (f" ({report.skipped_empty} IMGID line(s), none with "
                                                               f"tokens)" if report.skipped_empty else ""))
    if untagged:
        for tweet in tweets:
            tweet.tags = None
    report.tweets, report.words = len(tweets), sum(len(t) for t in tweets)
    report.longest = max(len(t) for t in tweets)
    (log.warning if report.noteworthy else log.info)("%s", report.summary())
    return tweets


def _check_visible_entities(tweet: Tweet, path: Path, imgid_line: int) -> None:
    """An entity needs a word with a visible character (tokens follow their IMGID line)."""
    for span in tags_to_spans(tweet.tags or []):  # the tags are repaired IOB2 here: every entity starts at B-
        words = tweet.tokens[span.start:span.end]
        if all(is_invisible(t) or t.isspace() for t in words):
            raise ConllFormatError(path, imgid_line + 1 + span.start, f"a {span.type} entity made only of tokens "
                                                                      f"with no visible character: {words!r}")


def check_entity_types(tweets: Sequence[Tweet], known: Sequence[str], what: str = "the training data") -> None:
    """Raise, naming file and line, at the first tag whose entity type is not in ``known``.

    A model can neither learn nor predict a type it was not trained on (``B-FOO`` in the test file of a
    PER/LOC/ORG/MISC model): scoring such a file would count every FOO entity as missed without a word.
    """
    known = set(known)
    for tweet in tweets:
        for i, tag in enumerate(tweet.tags or ()):
            if tag != "O" and tag[2:] not in known:
                message = f"entity type {tag[2:]!r} ({tag}) is not in {what}; known types: {sorted(known)}"
                if tweet.source is None:
                    raise ValueError(f"tweet {tweet.id}, word {i + 1}: {message}")
                path, _, line = tweet.source.rpartition(":")
                raise ConllFormatError(path, int(line) + 1 + i, message)  # tokens follow their IMGID line


def write_conll(path: str | Path, tweets: Sequence[Tweet], predictions: Sequence[Sequence[str]] | None = None) -> None:
    """Write tweets as CoNLL: ``token<TAB>gold[<TAB>predicted]`` under each IMGID line
    (``token<TAB>predicted`` for untagged tweets: no gold column is made up)."""
    if predictions is not None and len(predictions) != len(tweets):
        raise ValueError(f"{len(tweets)} tweets but {len(predictions)} predictions")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i, tweet in enumerate(tweets):
            out.write(f"{IMGID_PREFIX}{tweet.image_id or tweet.id}\n")
            gold = tweet.tags if tweet.tags is not None else ["O"] * len(tweet)
            for j, token in enumerate(tweet.tokens):
                cols = [token] + ([gold[j]] if tweet.tags is not None or predictions is None else [])
                cols += [predictions[i][j]] if predictions is not None else []
                out.write("\t".join(cols) + "\n")
            out.write("\n")


@dataclass
class ScoredTweet:
    """One tweet of a prediction file: its words, gold tags and predicted tags."""

    id: str
    tokens: list[str]
    gold: list[str]
    predicted: list[str]
    line: int  # the line of its IMGID


def read_predictions(path: str | Path) -> list[ScoredTweet]:
    """A prediction file as :func:`write_conll` writes one with predictions (``DIR/predictions/test.conll``):
    ``IMGID`` blocks of ``token<TAB>gold<TAB>predicted`` lines. Anything else is a :class:`ConllFormatError`
    naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prediction file not found: {path}")
    tweets: list[ScoredTweet] = []
    for number, line in _decode_lines(path):
        if line.startswith(IMGID_PREFIX):
            image_id = line[len(IMGID_PREFIX):].strip(" ")
            problem = check_image_id(image_id, "IMGID")
            if problem is not None:
                raise ConllFormatError(path, number, problem)
            tweets.append(ScoredTweet(image_id, [], [], [], number))
            continue
        if line == "":
            continue
        if not tweets:
            raise ConllFormatError(path, number, f"token line outside a tweet (expected 'IMGID:<id>' first): {line!r}")
        columns = line.split("\t")
        if len(columns) != 3:
            raise ConllFormatError(path, number, f"expected 'token<TAB>gold<TAB>predicted', found {len(columns)} "
                                                 f"column(s): {line!r} (a file of a run with gold tags is needed)")
        for tag in columns[1:]:
            if not TAG_PATTERN.match(tag):
                raise ConllFormatError(path, number, f"tag {tag!r} is not IOB2 (O, B-TYPE or I-TYPE)")
        tweets[-1].tokens.append(columns[0])
        tweets[-1].gold.append(columns[1])
        tweets[-1].predicted.append(columns[2])
    tweets = [t for t in tweets if t.tokens]
    if not tweets:
        raise ConllFormatError(path, 1, "no tweets in file")
    return tweets
