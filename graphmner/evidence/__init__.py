"""Per-tweet evidence: what is known about each tweet's image (and, later, about the tweet itself),
joined from the readers' files, and made for new tweets the way training made it."""
from graphmner.evidence.visual import (
                                       EvidenceReport,
                                       VisualEvidence,
                                       VisualObject,
                                       collect_evidence,
                                       dataset_evidence,
                                       parse_sources,
                                       shuffle_evidence,
)

__all__ = ["EvidenceReport", "VisualEvidence", "VisualObject", "collect_evidence", "dataset_evidence",
           "parse_sources", "shuffle_evidence"]
