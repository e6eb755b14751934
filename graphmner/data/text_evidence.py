"""Text evidence that names things, one text per image id: LLM knowledge and long image descriptions.

The bundled files (``data_prep/bundle_text_evidence.py`` makes them from the published releases) are JSON
Lines, ``{"image_id": "...", "text": "..."}`` a line, one file per corpus and source:

- ``knowledge_pgim.jsonl``: PGIM's ChatGPT knowledge, written from the tweet and its BLIP-2 caption
  ("Named entities: 1. Citifield (stadium/venue) ... Reasoning: ..."); every tweet but the last of each
  Twitter-2015 split;
- ``descriptions_owl.jsonl``: mPLUG-Owl descriptions of the images, about 91 words (RiVEG), for the
  Twitter-GMNER tweets (69 % of Twitter-2015, 89 % of Twitter-2017);
- ``knowledge_gmner.jsonl``: RiVEG's ChatGPT knowledge, written from those descriptions, same tweets.

A tweet without an entry has no such evidence (counted where the evidence is made, never an error); a line
that is not such an object, an image id that is no file stem, or an image given two different texts is a
:class:`~graphmner.formats.FormatError` naming file and line. An identical repeated line is skipped and
counted. No label is ever read from these files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from graphmner.formats import FormatError, check_image_id, read_text_strict

TEXT_EVIDENCE_FILES = {"knowledge": "knowledge_pgim.jsonl", "descriptions": "descriptions_owl.jsonl",
                       "knowledge_gmner": "knowledge_gmner.jsonl"}


@dataclass
class TextEvidenceReport:
    """What a text evidence file held."""

    path: str
    entries: int = 0
    duplicates: int = 0  # identical repeated lines, skipped
    empty: int = 0  # entries with an empty or blank text (kept: the source said nothing; no evidence)


def read_text_evidence(path: str | Path, report: TextEvidenceReport | None = None) -> dict[str, str]:
    """``{image_id: text}`` from a JSON Lines text evidence file; ``report`` gets the counts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text evidence file not found: {path}")
    report = report if report is not None else TextEvidenceReport(str(path))
    texts: dict[str, str] = {}
    first: dict[str, int] = {}
    for number, line in enumerate(read_text_strict(path, encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise FormatError(path, number, f"not a JSON object ({err.msg})") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("image_id"), str) \
                or not isinstance(entry.get("text"), str):
            raise FormatError(path, number, 'expected {"image_id": "<id>", "text": "<text>"}')
        image_id, text = entry["image_id"], entry["text"]
        problem = check_image_id(image_id)
        if problem is not None:
            raise FormatError(path, number, problem)
        if image_id in texts:
            if texts[image_id] != text:
                raise FormatError(path, number, f"image {image_id} already has a different text on line "
                                                f"{first[image_id]}")
            report.duplicates += 1
            continue
        texts[image_id], first[image_id] = text, number
    report.entries, report.empty = len(texts), sum(not t.strip() for t in texts.values())
    return texts
