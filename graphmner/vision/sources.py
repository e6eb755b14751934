"""What an evidence file held: one report type for caption files, detection caches and feature caches."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SourceReport:
    """Counts of one evidence file, filled by its reader and by :func:`~graphmner.evidence.visual.dataset_evidence`.

    ``entries`` are image ids with a usable entry. Counted, never silently dropped or filled in: identical
    repeats of an entry (skipped), empty captions (kept: the captioner said nothing), images the
    detector or backbone could not read (``unreadable``: those tweets get no evidence from this
    source), and entries for images no tweet of the dataset refers to (``without_tweet``).
    """

    kind: str  # "captions" | "detections" | "features"
    path: str
    entries: int = 0
    duplicates: int = 0
    empty: int = 0
    unreadable: int = 0
    without_tweet: int = 0
    duplicate_at: list[str] = field(default_factory=list)  # "file:line" of the first few repeats

    def as_dict(self) -> dict[str, int]:
        return {"entries": self.entries, "duplicates_skipped": self.duplicates, "empty": self.empty,
                "unreadable": self.unreadable, "without_tweet": self.without_tweet}

    def summary(self) -> str:
        text = f"{self.kind} {self.path}: {self.entries} images"
        for n, what in ((self.empty, "with an empty caption"), (self.unreadable, "unreadable (no evidence)"),
                        (self.without_tweet, "that no tweet refers to (unused)")):
            if n:
                text += f", {n} {what}"
        if self.duplicates:
            text += f"; {self.duplicates} identical repeated entries skipped (first at {', '.join(self.duplicate_at)})"
        return text

    def count_duplicate(self, where: str) -> None:
        self.duplicates += 1
        if len(self.duplicate_at) < 3:
            self.duplicate_at.append(where)
