"""What an evidence file held: one report type for caption files, detection caches and feature caches."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SourceReport:
    """Counts of one evidence file, filled by its reader and by :func:`~graphmner.evidence.visual.dataset_evidence`.

    ``entries`` are image ids with a usable entry. Counted, never silently dropped or filled in: identical
    repeats of an entry (skipped), empty captions (kept: the captioner said nothing), images the
    detector or backbone could not read (``unreadable``: those tweets get no evidence from this
    source), captions shared by so many images that they describe none (``placeholder``: no evidence),
    and entries for images no tweet of the dataset refers to (``without_tweet``).
    """

    kind: str  # an evidence source: "captions" | "detections" | "features" | "knowledge" | ...
    path: str
    entries: int = 0
    duplicates: int = 0
    empty: int = 0
    unreadable: int = 0
    without_tweet: int = 0
    placeholder: int = 0  # images whose caption is a placeholder shared by many images (no evidence)
    placeholder_texts: list[str] = field(default_factory=list)
    duplicate_at: list[str] = field(default_factory=list)  # "file:line" of the first few repeats

    def as_dict(self) -> dict[str, int]:
        return {"entries": self.entries, "duplicates_skipped": self.duplicates, "empty": self.empty,
                "unreadable": self.unreadable, "without_tweet": self.without_tweet,
                "placeholder_caption": self.placeholder}

    def summary(self) -> str:
        text = f"{self.kind} {self.path}: {self.entries} images"
        empty = "with an empty caption" if self.kind == "captions" else "with an empty text"
        for n, what in ((self.empty, empty), (self.unreadable, "unreadable (no evidence)"),
                        (self.without_tweet, "that no tweet refers to (unused)")):
            if n:
                text += f", {n} {what}"
        if self.placeholder:
            shown = ", ".join(repr(t[:60]) for t in self.placeholder_texts[:3])
            text += f"; {self.placeholder} share a placeholder caption ({shown}), treated as no caption"
        if self.duplicates:
            text += f"; {self.duplicates} identical repeated entries skipped (first at {', '.join(self.duplicate_at)})"
        return text

    def count_duplicate(self, where: str) -> None:
        self.duplicates += 1
        if len(self.duplicate_at) < 3:
            self.duplicate_at.append(where)
