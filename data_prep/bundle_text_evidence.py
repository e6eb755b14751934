"""Bundle the text evidence that names things: PGIM's LLM knowledge, mPLUG-Owl image descriptions and
RiVEG's knowledge, converted from the published files into the project's own files, one per corpus and
source, keyed by image id.

    python data_prep/bundle_text_evidence.py                    # from ../shared/datasets into the package
    python data_prep/bundle_text_evidence.py --check            # regenerate and compare with the bundled files

Writes ``graphmner/data/corpora/<corpus>/{knowledge_pgim,descriptions_owl,knowledge_gmner}.jsonl``: one
JSON object a line, ``{"image_id": ..., "text": ...}``, in the corpus' order (train, valid, test). A tweet
without an entry has no such evidence; the counts per split are printed (and checked by the tests).

- PGIM (``pgim/{2015,2017}.zip``): CoNLL blocks of the tweet's tokens, ``<EOS>``, then the knowledge, one
  word a line. A block is matched to the UMT tweet with the same tokens, in order; only the words after
  ``<EOS>`` are kept (the tags before it are the gold tags: never read).
- mPLUG-Owl (``riveg/owl_{train,dev,test}.txt``): ``imgid:<id>###text`` entries over several lines, joined
  to whichever corpus has that image id.
- RiVEG knowledge (``riveg/knowledge_gmner.zip``, PGIM's format for the Twitter-GMNER tweets, GMNER's
  tokenisation): the n-th block belongs to the n-th ``IMGID`` of ``riveg/gmner_{split}_ids.txt``; a block
  whose tokens are not that line's text is left out (counted), never given to another tweet.

A malformed file is a one-line error naming file and line.
"""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections import Counter
from functools import cache
from pathlib import Path

from graphmner.data.conll import read_conll
from graphmner.formats import FormatError, check_image_id

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "graphmner" / "data" / "corpora"
SHARED = ROOT.parent / "shared" / "datasets"
SPLITS = ("train", "valid", "test")
EOS = "<EOS>"


@cache
def tweets_of(corpus: str, split: str) -> list:
    """A bundled split, read once."""
    return read_conll(CORPORA / corpus / f"{split}.txt")


def zip_blocks(archive: Path, member: str) -> list[tuple[list[str], str, int]]:
    """``(tweet tokens, knowledge text, first line)`` per block of a PGIM-format member of a zip."""
    where = f"{archive}!{member}"
    try:
        raw = zipfile.ZipFile(archive).read(member)
    except (KeyError, zipfile.BadZipFile) as err:
        raise FormatError(archive, 1, f"no readable {member} ({err})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(where, raw[:err.start].count(b"\n") + 1, "not valid UTF-8") from None
    blocks, tokens, knowledge, start, after = [], [], [], 1, False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if tokens or knowledge:
                if not after:
                    raise FormatError(where, start, f"a tweet without {EOS}")
                blocks.append((tokens, " ".join(knowledge), start))
            tokens, knowledge, after, start = [], [], False, number + 1
            continue
        token = line.split("\t")[0]  # the tag column is never read
        if token == EOS:
            after = True
        elif after:
            knowledge.append(token)
        else:
            tokens.append(token)
    if tokens or knowledge:
        if not after:
            raise FormatError(where, start, f"a tweet without {EOS}")
        blocks.append((tokens, " ".join(knowledge), start))
    return blocks


def pgim(corpus: str, shared: Path) -> tuple[list[dict], dict[str, Counter]]:
    """PGIM's knowledge matched to the bundled corpus' tweets by their tokens, in order."""
    archive = shared / "pgim" / f"{corpus[-4:]}.zip"
    entries, counts = [], {}
    for split in SPLITS:
        tweets = tweets_of(corpus, split)
        blocks = zip_blocks(archive, f"{split}.txt")
        counts[split], j = Counter(tweets=len(tweets)), 0
        for tweet in tweets:
            if j < len(blocks) and blocks[j][0] == tweet.tokens:
                if blocks[j][1]:
                    entries.append({"image_id": tweet.image_id, "text": blocks[j][1]})
                    counts[split]["with"] += 1
                j += 1
        if j < len(blocks):
            raise FormatError(f"{archive}!{split}.txt", blocks[j][2], f"a tweet that matches no tweet of "
                                                                       f"{corpus}/{split}.txt in order")
    return entries, counts


def owl_entries(path: Path) -> dict[str, str]:
    """``{image_id: description}`` of an mPLUG-Owl file."""
    out: dict[str, str] = {}
    current, lines, first = None, [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("imgid:"):
            if current is not None:
                out[current] = " ".join(" ".join(lines).split())
            head, sep, rest = line[len("imgid:"):].partition("###")
            if not sep:
                raise FormatError(path, number, "expected 'imgid:<id>###<text>'")
            problem = check_image_id(head)
            if problem is not None:
                raise FormatError(path, number, problem)
            if head in out or head == current:
                raise FormatError(path, number, f"image {head} described twice (first near line {first})")
            current, lines, first = head, [rest], number
        elif current is None:
            if line.strip():
                raise FormatError(path, number, "text before the first 'imgid:' line")
        else:
            lines.append(line)
    if current is not None:
        out[current] = " ".join(" ".join(lines).split())
    return out


def gmner_ids(path: Path) -> list[tuple[str, str]]:
    """``(image_id, tweet text)`` in order from a Twitter-GMNER id file (``IMGID:<id>``, then the text)."""
    pairs, pending = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if line.startswith("IMGID:"):
            image_id = line[len("IMGID:"):]
            problem = check_image_id(image_id)
            if problem is not None:
                raise FormatError(path, number, problem)
            pending = image_id
        elif pending is not None:
            pairs.append((pending, line))
            pending = None
    return pairs


def riveg(shared: Path, ids_of: dict[str, str]) -> tuple[dict[str, list[dict]], dict[str, list[dict]], Counter]:
    """Owl descriptions and RiVEG knowledge per corpus, keyed by image id; ``ids_of`` maps image id -> corpus."""
    folder, counts = shared / "riveg", Counter()
    descriptions: dict[str, list[dict]] = {c: [] for c in set(ids_of.values())}
    knowledge: dict[str, list[dict]] = {c: [] for c in set(ids_of.values())}
    seen: dict[str, str] = {}
    for split in ("train", "dev", "test"):
        for image_id, text in owl_entries(folder / f"owl_{split}.txt").items():
            if image_id not in ids_of:
                counts["descriptions without tweet"] += 1
            elif image_id not in seen:
                seen[image_id] = text
                descriptions[ids_of[image_id]].append({"image_id": image_id, "text": text})
        pairs = gmner_ids(folder / f"gmner_{split}_ids.txt")
        blocks = zip_blocks(folder / "knowledge_gmner.zip", f"{'valid' if split == 'dev' else split}.txt")
        for (image_id, text), (tokens, words, _) in zip(pairs, blocks):
            if " ".join(text.split()) != " ".join(tokens):
                counts["knowledge blocks not matching their id line"] += 1
            elif image_id not in ids_of:
                counts["knowledge without tweet"] += 1
            elif words:
                knowledge[ids_of[image_id]].append({"image_id": image_id, "text": words})
        counts["knowledge blocks without an id"] += max(0, len(blocks) - len(pairs))
    return descriptions, knowledge, counts


def in_corpus_order(entries: list[dict], corpus: str) -> list[dict]:
    order = {t.image_id: i for i, t in enumerate(t for s in SPLITS for t in tweets_of(corpus, s))}
    return sorted(entries, key=lambda e: order[e["image_id"]])


def build(shared: Path) -> dict[Path, str]:
    """Every bundled file's path and text, and the coverage printed."""
    corpora = ("twitter2015", "twitter2017")
    ids_of = {t.image_id: c for c in corpora for s in SPLITS for t in tweets_of(c, s)}
    split_of = {t.image_id: s for c in corpora for s in SPLITS for t in tweets_of(c, s)}
    files: dict[Path, str] = {}
    descriptions, knowledge, riveg_counts = riveg(shared, ids_of)
    for corpus in corpora:
        entries, counts = pgim(corpus, shared)
        sources = {"knowledge_pgim": entries, "descriptions_owl": in_corpus_order(descriptions[corpus], corpus),
                   "knowledge_gmner": in_corpus_order(knowledge[corpus], corpus)}
        for name, items in sources.items():
            files[CORPORA / corpus / f"{name}.jsonl"] = "".join(json.dumps(e, ensure_ascii=False) + "\n"
                                                                for e in items)
            per_split = Counter(split_of[e["image_id"]] for e in items)
            total = {s: c["tweets"] for s, c in counts.items()}
            print(f"{corpus} {name}: " + ", ".join(f"{s} {per_split[s]}/{total[s]}" for s in SPLITS))
    for what, n in sorted(riveg_counts.items()):
        print(f"riveg: {n} {what}")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared datasets folder")
    parser.add_argument("--check", action="store_true", help="compare with the bundled files instead of writing")
    args = parser.parse_args(argv)
    try:
        files = build(args.shared)
    except (FormatError, OSError, ValueError) as err:
        print(f"bundle_text_evidence.py: error: {err}", file=sys.stderr)
        return 2
    differ = []
    for path, text in files.items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                differ.append(path)
        else:
            path.write_text(text, encoding="utf-8")
    if args.check:
        print("bundled files match" if not differ else f"differ from the sources: {[str(p) for p in differ]}")
        return 1 if differ else 0
    print(f"wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
