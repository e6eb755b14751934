"""Named corpora: thin entries over the generic :func:`read_conll`.

A dataset is a folder with ``train.txt``, ``valid.txt``, ``test.txt``, and
optionally ``captions_blip2.txt`` and an ``images/`` folder. Twitter-2015 and
Twitter-2017 ship inside the package (``graphmner/data/corpora``), so
``--dataset twitter2017`` works offline after install; ``--data-dir`` points at
a user's own copy of the same layout (e.g. with the full image set).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from graphmner.data.conll import ReadReport, Tweet, read_conll

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
# A run record names the splits it scores as "dev" and "test": each one's split of the corpus.
RECORD_SPLITS = {"dev": "valid", "test": "test"}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    split_files: tuple[tuple[str, str], ...] = (("train", "train.txt"), ("valid", "valid.txt"), ("test", "test.txt"))
    caption_file: str = "captions_blip2.txt"
    image_dir: str = "images"


DATASETS: dict[str, DatasetSpec] = {
    "twitter2015": DatasetSpec("twitter2015", "Twitter-2015 (Zhang et al., AAAI 2018): PER, LOC, ORG, OTHER"),
    "twitter2017": DatasetSpec("twitter2017", "Twitter-2017 (Lu et al., ACL 2018): PER, LOC, ORG, MISC"),
}


@dataclass
class Dataset:
    """The splits of one corpus, plus where its captions and images live."""

    name: str
    root: Path
    splits: dict[str, list[Tweet]]
    caption_file: Path | None
    image_dir: Path | None
    reports: dict[str, ReadReport] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, int]]:
        """Per split: what the reader read, repaired and skipped (logged with every run)."""
        return {s: r.as_dict() for s, r in self.reports.items()}

    def __getitem__(self, split: str) -> list[Tweet]:
        return self.splits[split]


def bundled_root(name: str) -> Path:
    """The folder of a corpus shipped inside the package."""
    return Path(str(resources.files("graphmner.data") / "corpora" / name))


#: The corpus read when neither a name nor a folder is given.
DEFAULT_DATASET = "twitter2017"


def dataset_root(name: str | None = None, data_dir: str | Path | None = None) -> Path:
    """The folder a corpus is read from (see :func:`load_dataset`); an unknown name or a missing folder is an
    error here, before anything else is done."""
    if data_dir is None:
        name = name or DEFAULT_DATASET
        if name not in DATASETS:
            raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)} (or pass --data-dir)")
        return bundled_root(name)
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-dir {root} is not a directory")
    return root


def load_dataset(name: str | None = None, data_dir: str | Path | None = None,
                 splits: tuple[str, ...] = SPLITS, limit: int | None = None) -> Dataset:
    """Load a registered corpus (``name``) or a folder of the same layout (``data_dir``).

    Args:
        name: a key of :data:`DATASETS` (None: :data:`DEFAULT_DATASET`); with ``data_dir`` it only labels the run (None:
            the folder's name).
        data_dir: a folder holding ``train.txt``/``valid.txt``/``test.txt``.
        splits: which splits to read.
        limit: keep the first ``limit`` tweets of each split (quick runs, tests).
    """
    root = dataset_root(name, data_dir)
    if data_dir is None:
        name = name or DEFAULT_DATASET
    spec = DATASETS.get(name or "", DatasetSpec(name or root.name, f"CoNLL corpus at {root}"))
    files = dict(spec.split_files)
    loaded, reports = {}, {}
    for split in splits:
        if split not in files:
            raise KeyError(f"unknown split {split!r}; known: {list(files)}")
        reports[split] = ReadReport(str(root / files[split]))
        tweets = read_conll(root / files[split], reports[split])
        loaded[split] = tweets[:limit] if limit else tweets
    caption_file = root / spec.caption_file
    image_dir = root / spec.image_dir
    log.info("dataset %s from %s: %s", spec.name, root, ", ".join(f"{s}={len(t)}" for s, t in loaded.items()))
    return Dataset(spec.name, root, loaded,
                   caption_file if caption_file.is_file() else None,
                   image_dir if image_dir.is_dir() else None, reports)
