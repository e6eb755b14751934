"""What every reader of a file shares: one error type that names the file and line, and strict text.

Readers (CoNLL, captions, detections, features, any later evidence file) stand at
the bottom of the package and import nothing of it but this module.
"""
from __future__ import annotations

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
