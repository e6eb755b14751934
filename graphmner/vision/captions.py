"""Caption files: one line per image, ``<image_id>.jpg :<caption>``.

The bundled BLIP-2 captions (PGIM / RiVEG release) use this format. A line that
does not match, or an image id given twice, is an error naming file and line.
An empty caption (two images in Twitter-2015) is kept as an empty string: the
image exists, the captioner said nothing.
"""
from __future__ import annotations

import re
from pathlib import Path

from graphmner.data.conll import ConllFormatError

_LINE = re.compile(r"^(?P<id>[^\s]+?)\.(?:jpe?g|png|gif) ?:(?P<caption>.*)$", re.IGNORECASE)


def read_captions(path: str | Path) -> dict[str, str]:
    """``{image_id: caption}`` from a caption file (ids without the extension)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caption file not found: {path}")
    captions: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConllFormatError(path, number, f"expected '<image_id>.jpg :<caption>', found {line[:80]!r}")
        image_id = match["id"]
        if image_id in captions:
            raise ConllFormatError(path, number, f"image {image_id} already captioned on line {first_seen[image_id]}")
        captions[image_id], first_seen[image_id] = match["caption"].strip(), number
    return captions
