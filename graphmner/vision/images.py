"""Reading tweet images: one opener for every image consumer (detection, feature extraction).

Images are opened with Pillow, so PNG data behind a ``.jpg`` name, grayscale,
palette and EXIF-rotated images all work; whatever cannot be read raises, and
callers count it and record why, never substituting another image.
"""
from __future__ import annotations

import sys
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")


def list_images(image_dir: str | Path) -> list[Path]:
    """The image files of a folder (by suffix), sorted; a clear error if there are none."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f"--image-dir {image_dir} is not a directory")
    paths = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
    return paths


def _pil_open():
    # ultralytics replaces PIL.Image.open with a wrapper that, on a file PIL cannot identify, tries to
    # install and import a HEIF plugin (offline: "No module named 'pi_heif'" instead of the real reason).
    # Keep Pillow's own opener so an unreadable image is reported as what it is.
    from PIL import Image

    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", None) or Image.open


def open_image(path: str | Path):
    """An RGB PIL image, EXIF orientation applied; raises on anything unreadable."""
    from PIL import ImageOps

    with _pil_open()(path) as image:
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")
