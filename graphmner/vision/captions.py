"""Caption files: one line per image, ``<image_id>.jpg :<caption>``.

The bundled BLIP-2 captions (PGIM / RiVEG release) use this format. A line that
does not match, or an image captioned twice with different texts, is an error
naming file and lines; the same line repeated (files concatenated twice) is
skipped and counted. An empty caption (two images in Twitter-2015) is kept as an
empty string: the image exists, the captioner said nothing.

A caption text given to many images is a placeholder, not a description: 358
Twitter-2017 images share "a man is standing on a skateboard in the snow".
:func:`placeholder_captions` finds such texts; the evidence layer treats them as
no caption and counts them.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import torch

from graphmner.formats import FormatError, check_image_id, read_text_strict
from graphmner.vision.sources import SourceReport

# Images sharing one caption text from which it is a placeholder. In the bundled files this flags one text,
# Twitter-2017's skateboard caption (358 images); the next most shared are "person, person, ..." (21 images,
# Twitter-2015) and "a man in a suit and tie standing at a podium" (13), which describe their images.
PLACEHOLDER_MIN_IMAGES = 50

_LINE = re.compile(r"^(?P<id>[^\s]+?)\.(?:jpe?g|png|gif) ?:(?P<caption>.*)$", re.IGNORECASE)


def read_captions(path: str | Path, report: SourceReport | None = None) -> dict[str, str]:
    """``{image_id: caption}`` from a caption file (ids without the extension); ``report`` gets the counts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caption file not found: {path}")
    report = report if report is not None else SourceReport("captions", str(path))
    text = read_text_strict(path, encoding="utf-8-sig")
    captions: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise FormatError(path, number, f"expected '<image_id>.jpg :<caption>', found {line[:80]!r}")
        image_id, caption = match["id"], match["caption"].strip()
        problem = check_image_id(image_id)
        if problem is not None:
            raise FormatError(path, number, problem)
        if image_id in captions:
            if captions[image_id] != caption:
                raise FormatError(path, number, f"image {image_id} already captioned differently on line "
                                                     f"{first_seen[image_id]}: {captions[image_id][:60]!r}")
            report.count_duplicate(f"{path}:{number}")
            continue
        captions[image_id], first_seen[image_id] = caption, number
    report.entries, report.empty = len(captions), sum(not c for c in captions.values())
    return captions


def placeholder_captions(captions: dict[str, str], min_images: int = PLACEHOLDER_MIN_IMAGES) -> dict[str, int]:
    """``{caption: images}`` for each non-empty caption text shared by at least ``min_images`` images
    (``min_images`` 0 turns the check off)."""
    if min_images < 0:
        raise ValueError(f"placeholder_captions: min_images must be >= 0, got {min_images}")
    if not min_images:
        return {}
    counts = Counter(c for c in captions.values() if c)
    return {text: n for text, n in counts.most_common() if n >= min_images}


class Captioner:
    """An image captioner from the Hugging Face hub or a local folder (e.g. ``Salesforce/blip2-opt-2.7b``,
    the BLIP-2 family the bundled captions come from): PIL images -> captions.

    Used by ``graphmner predict --captioner`` for images that have no caption. Loading needs the
    weights (online, or a local copy); none ship with graphmner.
    """

    def __init__(self, name: str, device: str = "cpu", max_new_tokens: int = 30):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        try:
            self.processor = AutoProcessor.from_pretrained(name)
            self.model = AutoModelForImageTextToText.from_pretrained(name).to(device).eval()
        except (OSError, ValueError) as err:
            raise FileNotFoundError(f"cannot load the captioner {name!r} ({err}); offline, give the caption "
                                    f"instead (--caption / --captions)") from err
        self.name, self.device, self.max_new_tokens = name, device, max_new_tokens

    def __call__(self, images: list) -> list[str]:
        with torch.no_grad():
            inputs = self.processor(images=images, return_tensors="pt").to(self.device)
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        return [text.strip() for text in self.processor.batch_decode(out, skip_special_tokens=True)]
