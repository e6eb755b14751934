"""Sentence embeddings from a frozen text encoder, and a disk cache of them.

The bundled MiniLM is a sentence-embedding model (all-MiniLM-L6-v2: mean pooling, unit length).
:class:`SentenceEmbedder` runs it without gradients; :func:`embed_texts` embeds many texts once and
keeps the result on disk (``$GRAPHMNER_CACHE``, else ``~/.cache/graphmner``), keyed by the encoder and
the texts, so that a second run over the same corpus reads them back; a few texts (a new tweet's
knowledge at predict time) are embedded again each time by the process's one loaded embedder, and leave
no file. Users: the zero-shot image types
(:mod:`graphmner.nn.zero_shot`) and graphmner's text-evidence nodes, which are encoded apart from the
tweet (once, not per epoch), the cheap way to bring 100 words of knowledge into a model.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformers import AutoConfig

from graphmner.nn.encoders import load_encoder, load_tokenizer, resolve_encoder
from graphmner.paths import cache_root

log = logging.getLogger(__name__)


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """Sentence-transformers' pooling: the mean of the token states, unit length. ``(B, L, H) -> (B, H)``."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


def embedding_width(encoder: str) -> int:
    """Width of the embeddings :class:`SentenceEmbedder` makes with this encoder (its config only)."""
    return AutoConfig.from_pretrained(resolve_encoder(encoder)).hidden_size


class SentenceEmbedder:
    """Unit-length mean-pooled embeddings of texts, from a frozen encoder.

    Args:
        encoder: a sentence-embedding model: alias (``minilm``), hub name or path.
        batch_size: texts per forward pass.
        max_length: pieces per text; longer texts are cut.
    """

    def __init__(self, encoder: str = "minilm", batch_size: int = 128, device: str = "cpu", max_length: int = 64):
        self.name, self.batch_size, self.device, self.max_length = encoder, batch_size, device, max_length
        self.tokenizer = load_tokenizer(encoder)
        self.model = load_encoder(encoder).to(device).eval()

    @property
    def width(self) -> int:
        return self.model.config.hidden_size

    @torch.no_grad()
    def embed(self, texts: Sequence[str], progress: bool = False) -> Tensor:
        """``(N, H)`` unit-length embeddings."""
        out = []
        # similar lengths in one batch: padding costs as much as real pieces
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc=f"embedding {len(texts)} texts", unit="batch", disable=not progress):
            chunk = [texts[i] for i in order[start:start + self.batch_size]]
            enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="pt").to(self.device)
            out.append(mean_pool(self.model(**enc).last_hidden_state, enc["attention_mask"]).float().cpu())
        if not out:
            return torch.zeros(0, self.width)
        embedded = torch.cat(out)
        return embedded[torch.argsort(torch.tensor(order))]


# distinct texts from which a set is kept on disk: a corpus's thousands are worth a file; a few new
# tweets' texts take milliseconds to embed again, and a file each would pile up in the cache
PERSIST_MIN = 256


@functools.lru_cache(maxsize=2)
def shared_embedder(encoder: str, max_length: int) -> SentenceEmbedder:
    """The process's embedder for this encoder and length, loaded once: loading it costs more than
    embedding a few texts."""
    return SentenceEmbedder(encoder, max_length=max_length)


def embed_texts(texts: Sequence[str], encoder: str = "minilm", max_length: int = 128,
                cache: str | Path | None = None) -> dict[str, Tensor]:
    """``{text: (H,) embedding}`` for every distinct text, from the disk cache when it holds this set.

    A set of at least :data:`PERSIST_MIN` distinct texts is kept in a cache file keyed by the encoder,
    ``max_length`` and the sorted distinct texts: another set of texts (another corpus, split or source) is
    another file; a changed text recomputes its set. A smaller set is embedded each time, without a file.
    """
    distinct = sorted(set(texts))
    if not distinct:
        return {}
    if len(distinct) < PERSIST_MIN:
        return dict(zip(distinct, shared_embedder(encoder, max_length).embed(distinct)))
    key = hashlib.sha1("\n".join([encoder, str(max_length), *distinct]).encode()).hexdigest()[:16]
    path = cache_root(cache) / f"text_embeddings-{key}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, weights_only=True)
            if stored.get("texts") == distinct:
                return dict(zip(distinct, stored["embeddings"]))
        except (RuntimeError, OSError, EOFError, AttributeError) as err:  # a damaged file is recomputed
            log.warning("%s: unreadable embedding cache (%s); recomputing", path, err)
    embeddings = shared_embedder(encoder, max_length).embed(distinct, progress=len(distinct) > 2000)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"texts": distinct, "embeddings": embeddings}, tmp)
    tmp.replace(path)  # atomic: a concurrent run reads the old file or the whole new one
    log.info("embedded %d texts with %s -> %s", len(distinct), encoder, path)
    return dict(zip(distinct, embeddings))
