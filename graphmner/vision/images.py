"""Reading tweet images: one opener for every image consumer (detection, feature extraction, predict).

Images are opened with Pillow and always come out as 8-bit RGB, whatever the
file held:

- the format is read from the file's bytes, not its name (PNG data behind a
  ``.jpg`` name works);
- EXIF orientation is applied (a phone photo stored sideways comes out upright);
- grayscale, palette and CMYK images are converted; 16-bit images (``I;16``,
  ``I``) are scaled from 0-65535 to 0-255 (Pillow's own conversion clips them,
  which turns most 16-bit photos white); 48-bit RGB is reduced by Pillow;
- transparency (RGBA, LA, palette with a transparent colour) is composited on
  white, as Twitter shows it, instead of letting hidden pixels show through;
- an animated GIF (or any multi-frame file) gives its first frame.

Whatever cannot be read raises :class:`UnreadableImageError` with the reason:
a missing or empty file, bytes that are no image, a truncated file (Pillow's
``LOAD_TRUNCATED_IMAGES`` stays off: a half-decoded photo is not the photo),
images over :data:`MAX_PIXELS` pixels (a 20000x20000 "decompression bomb"
would take 1.2 GB as RGB), and images more than :data:`MAX_ASPECT_RATIO` times
longer than wide or wide than long (a 1x100000 strip passes the pixel limit, but
resized to a 256-pixel shorter side for a backbone it would take 20 GB). Callers
count and record these, never substituting another image.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")

# Pillow's default limit (89.5 M pixels, e.g. 9459x9459), enforced as an error rather than Pillow's
# warning; raise it (graphmner.vision.images.MAX_PIXELS = ...) for genuinely huge images
MAX_PIXELS = 89_478_485
# longest over shortest side; panoramas and banners stay well under it. Every consumer resizes the shorter
# side up (to 224-640 pixels), so an extreme strip grows without bound once resized
MAX_ASPECT_RATIO = 50


class UnreadableImageError(OSError):
    """An image file that cannot be used; the message names the file and why."""

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


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
    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", None) or Image.open


def to_rgb(image):
    """An 8-bit RGB copy of a loaded PIL image (see the module docstring for each mode)."""
    if image.mode.startswith("I"):  # 16-bit (or 32-bit integer) gray: scale, do not clip
        values = np.asarray(image, dtype=np.float64)
        image = Image.fromarray((values.clip(0, 65535) / 257.0).round().astype(np.uint8), mode="L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def open_image(path: str | Path, max_pixels: int | None = None):
    """An 8-bit RGB PIL image, EXIF orientation applied; :class:`UnreadableImageError` otherwise.

    Args:
        max_pixels: refuse larger images (default :data:`MAX_PIXELS`).
    """
    path = Path(path)
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    if not path.is_file():
        raise UnreadableImageError(path, "no such file")
    if path.stat().st_size == 0:
        raise UnreadableImageError(path, "empty file (0 bytes)")
    pillow_limit = Image.MAX_IMAGE_PIXELS
    # Pillow warns between its limit and twice it and raises above, before the size is known; we check
    # the size from the header ourselves, one limit, before any pixel is decoded
    Image.MAX_IMAGE_PIXELS = None
    try:
        with _pil_open()(path) as image:
            width, height = image.size
            if width * height > limit:
                raise UnreadableImageError(path, f"{width}x{height} = {width * height:,} pixels, more than the "
                                                 f"limit of {limit:,} (decompression-bomb guard; raise "
                                                 f"graphmner.vision.images.MAX_PIXELS for huge images)")
            if max(width, height) > MAX_ASPECT_RATIO * max(min(width, height), 1):
                raise UnreadableImageError(path, f"{width}x{height}: more than {MAX_ASPECT_RATIO} times longer "
                                                 f"one way than the other (resized for a model it would grow "
                                                 f"without bound; graphmner.vision.images.MAX_ASPECT_RATIO)")
            image.seek(0)  # the first frame of an animation
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
    except UnreadableImageError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as err:  # what Pillow raises for broken files
        reason = str(err) or type(err).__name__
        if "cannot identify image file" in reason:
            reason = "not an image (Pillow: cannot identify image file)"
        raise UnreadableImageError(path, f"{reason} ({type(err).__name__})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
