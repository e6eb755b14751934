"""What every reader of a file shares: one error type that names the file and line, and strict text.

Readers (CoNLL, captions, detections, features, any later evidence file) stand at
the bottom of the package and import nothing of it but this module.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path


class FormatError(ValueError):
    """A file broke its format; the message is ``file:line: what is wrong``."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


def read_text_strict(path: Path, encoding: str = "utf-8") -> str:
    """A file's text; invalid UTF-8 is a :class:`FormatError` naming the line (for line-based formats)."""
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as err:
        line = path.read_bytes()[:err.start].count(b"\n") + 1
        raise FormatError(path, line, f"not valid UTF-8 ({err.reason})") from None


def check_image_id(image_id: str, what: str = "image id") -> str | None:
    """What makes ``image_id`` no file stem, or None: empty, whitespace or control characters, ``/``,
    ``\\``, ``..``. Every reader of image ids (CoNLL ``IMGID`` lines, captions, detection and feature
    caches) holds them to it: an id names ``<id>.jpg`` in an image folder, and nothing outside it."""
    if not image_id:
        return f"empty {what}"
    bad = next((c for c in image_id if c.isspace() or unicodedata.category(c) in ("Cc", "Cf") or c in "/\\"), None)
    if bad is not None:
        return (f"{what} {image_id[:40]!r} holds {bad!r}: an image id is a file name without its extension "
                f"(no TAB, CR, space, '/' or '\\')" + (" -- a token 'IMGID:...' would start a tweet" if bad == "\t"
                                                        else ""))
    if ".." in image_id:
        return f"{what} {image_id[:40]!r} holds '..': an image id is a file name, not a path"
    return None
