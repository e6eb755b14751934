"""Where graphmner keeps what it computes or fetches once per machine.

``$GRAPHMNER_CACHE``, else ``~/.cache/graphmner``: the gazetteer's merged table, frozen text embeddings,
image-type scores, and encoders fetched by a ``data_prep/`` script (``encoders/<name>/``).
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_root(given: str | Path | None = None) -> Path:
    """``given``, else ``$GRAPHMNER_CACHE``, else ``~/.cache/graphmner`` (not created here)."""
    return Path(given or os.environ.get("GRAPHMNER_CACHE") or Path.home() / ".cache" / "graphmner")
