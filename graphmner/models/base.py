"""The contract every tagger follows, its registry, and saving/loading.

A tagger turns a :class:`~graphmner.featurize.Batch` into emissions
``(B, W, T)``; the shared :class:`~graphmner.nn.crf.CRF` turns those into a loss
and into tags. The trainer and the CLI call nothing but :meth:`Tagger.forward`,
:meth:`Tagger.decode`, :meth:`Tagger.save_pretrained` and
:meth:`Tagger.from_pretrained`.

A saved model is a folder: ``config.json`` (model name, model config, encoder
config, and the SHA-256 of every other file), ``model.safetensors`` (all weights),
``labels.json`` and ``tokenizer/`` (and ``evidence.json`` for multimodal models). Loading
it needs no network and unpickles nothing; a file changed since saving (an edited
tokenizer loads, and tags differently) is an error naming it.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, ClassVar

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import AutoTokenizer

from graphmner.data.labels import LabelVocab
from graphmner.data.tokenize import WORD_SHAPES
from graphmner.featurize import Batch, Featurizer
from graphmner.fields import ConfigError, at_least, between, check_fields
from graphmner.nn.crf import CRF
from graphmner.nn.encoders import encode_rows, encoder_from_config, load_encoder, load_tokenizer

log = logging.getLogger(__name__)

CONFIG_FILE, WEIGHTS_FILE, LABELS_FILE, TOKENIZER_DIR = "config.json", "model.safetensors", "labels.json", "tokenizer"

MODELS: dict[str, type[Tagger]] = {}


def register(name: str):
    """Class decorator: make a tagger available as ``--model name``."""

    def add(cls: type[Tagger]) -> type[Tagger]:
        if name in MODELS:
            raise ValueError(f"model {name!r} registered twice")
        cls.name = name
        MODELS[name] = cls
        return cls

    return add


def get_model_class(name: str) -> type[Tagger]:
    """A registered tagger class (the built-in ones register when :mod:`graphmner.models` is imported,
    which importing this module does first)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return MODELS[name]


@dataclass
class TaggerConfig:
    """What every tagger has: a text encoder and a CRF head."""

    # encoder: alias ("minilm", offline), Hugging Face hub name or local path
    encoder: str = "minilm"
    # False: same architecture, random weights (tests, training from scratch)
    pretrained: bool = True
    # encoder config fields to change, e.g. {"num_hidden_layers": 2}
    encoder_overrides: dict[str, Any] = field(default_factory=dict)
    # subword pieces per encoder window, special tokens included; longer tweets get several windows
    max_length: Annotated[int, at_least(4)] = 128
    # dropout on the word states before the emission layer
    dropout: Annotated[float, between(0, 1, high_open=True)] = 0.1
    # add a learned embedding of each word's shape (capitalised, all caps, lower, hashtag, mention, digits,
    # url; graphmner.data.tokenize.WORD_SHAPES) to its state: the case an uncased encoder loses (a control)
    word_shape: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TaggerConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{cls.__name__} has no field(s) {unknown}; known: {sorted(known)}")
        config = cls(**values)
        check_fields(config, "model.")
        return config


def file_hashes(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under a model folder but its config (``{"tokenizer/vocab.txt": hex, ...}``)."""
    out = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != CONFIG_FILE):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        out[path.relative_to(directory).as_posix()] = digest.hexdigest()
    return out


def check_file_hashes(directory: Path, recorded: dict[str, str] | None) -> None:
    """Every file the folder's config lists has the content it was saved with, and the tokenizer has no
    file it did not list (a ``tokenizer.json`` added beside ``vocab.txt`` would be read instead)."""
    if recorded is None:
        log.warning("%s was saved without content hashes (an older graphmner): edited files cannot be detected",
                    directory)
        return
    if not isinstance(recorded, dict):
        raise ValueError(f"{directory / CONFIG_FILE}: 'files' is not a mapping of file names to hashes")
    found = file_hashes(directory)
    for name, digest in recorded.items():
        if name not in found:
            raise FileNotFoundError(f"{directory / name}: missing (the model was saved with it)")
        if found[name] != digest:
            raise ValueError(f"{directory / name}: changed since the model was saved (its SHA-256 is not the one "
                             f"{CONFIG_FILE} records); restore the file or save the model again")
    added = sorted(n for n in found if n not in recorded and n.startswith(TOKENIZER_DIR + "/"))
    if added:
        raise ValueError(f"{directory / added[0]}: not part of the saved model (its tokenizer would read it)")


def model_config(values: dict[str, Any]) -> tuple[type[Tagger], TaggerConfig]:
    """The class and typed config (defaults filled in) of a config's ``model`` section
    (``{"name": "graphmner", "layers": 3, ...}``); an unknown model or key is an error naming it."""
    values = dict(values)
    cls = get_model_class(values.pop("name", "bert_crf"))
    return cls, cls.config_class.from_dict(values)


@dataclass
class TaggerOutput:
    """What a tagger's forward pass returns; models add their own optional fields in a subclass
    (as Hugging Face models return attentions), never keeping them on ``self``."""

    emissions: Tensor  # (B, W, T) scores per word and tag
    loss: Tensor | None = None  # CRF negative log-likelihood when asked for and the batch has tags


class Tagger(nn.Module):
    """Base class: owns the encoder, tokenizer, label vocabulary and CRF."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[TaggerConfig]] = TaggerConfig

    def __init__(self, config: TaggerConfig, labels: LabelVocab, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__()
        self.config, self.labels = config, labels
        self.encoder = encoder if encoder is not None else load_encoder(config.encoder, config.pretrained,
                                                                        config.encoder_overrides)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.encoder)
        vocabulary = getattr(getattr(self.encoder, "config", None), "vocab_size", None)
        if isinstance(vocabulary, int) and len(self.tokenizer) > vocabulary:
            raise ValueError(f"the tokenizer has {len(self.tokenizer)} tokens, more than the {vocabulary} embeddings "
                             f"of the encoder {config.encoder!r}: they do not belong together")
        positions = getattr(getattr(self.encoder, "config", None), "max_position_embeddings", None)
        # RoBERTa-style encoders (MPNet) spend two positions on padding: their tokenizer knows the real length
        usable = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(positions, int) and isinstance(usable, int) and usable < positions:
            positions = usable
        if isinstance(positions, int) and config.max_length > positions:
            raise ConfigError(f"config key 'model.max_length': {config.max_length} is not allowed (the encoder "
                              f"{config.encoder!r} has {positions} positions)")
        self.crf = CRF(labels.tags)
        if config.word_shape:  # created only when used: the other models' initialisation stays unchanged
            self.shape_embedding = nn.Embedding(len(WORD_SHAPES), self.hidden_size)
            nn.init.zeros_(self.shape_embedding.weight)  # start from the plain encoder states

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    @property
    def evidence_sources(self) -> list[str]:
        """Visual evidence this model reads (``captions``, ``detections``); none for text-only models."""
        return list(getattr(self.config, "evidence", []) or [])

    @property
    def needs_evidence(self) -> bool:
        """Whether the featurizer takes one VisualEvidence per tweet (possibly empty ones)."""
        return bool(self.evidence_sources)

    def tweet_records(self, batch: Batch, output: TaggerOutput) -> list[dict]:
        """Per tweet, what the model wants logged from its output (written to
        ``predictions/{split}_tweets.jsonl``); nothing by default."""
        return []

    def featurizer(self) -> Featurizer:
        """Tweets (and evidence, for multimodal models) -> examples -> batches; models with inputs of
        their own return their own featurizer."""
        return Featurizer(self.tokenizer, self.labels, self.config.max_length)

    def add_emission_head(self, width: int | None = None) -> None:
        """The emission head every tagger ends with: ``dropout -> linear (width -> tags)``.

        Called by each model after its own layers, so that seeded initialisation follows the order in which
        the model's parts are written."""
        self.dropout = nn.Dropout(self.config.dropout)
        self.classifier = nn.Linear(width or self.hidden_size, len(self.labels))

    def gather_words(self, hidden: Tensor, batch: Batch) -> Tensor:
        """``(C, L, H)`` encoder states -> ``(B, W, H)`` the state of each word's first piece (plus its shape
        embedding with ``word_shape``): where every model reads its word states."""
        states = hidden[batch.word_row, batch.word_pos]
        if self.config.word_shape:
            states = states + self.shape_embedding(batch.word_shape)
        return states

    def encode_words(self, batch: Batch) -> Tensor:
        """``(B, W, H)`` first-piece state of every word."""
        return self.gather_words(encode_rows(self.encoder, batch.input_ids, batch.attention_mask,
                                             batch.token_type_ids), batch)

    def text_states(self, batch: Batch) -> Tensor:
        """``(B, W, H)`` word states from the tweet's words alone: second segments masked out.

        The reference that a multimodal model must reproduce for a tweet without evidence.
        """
        ids, mask = batch.input_ids, batch.attention_mask
        if batch.token_type_ids is not None:
            first = batch.token_type_ids == 0
            ids, mask = torch.where(first, ids, torch.zeros_like(ids)), mask * first
        return self.gather_words(encode_rows(self.encoder, ids, mask), batch)

    def word_representations(self, batch: Batch) -> Tensor:
        """``(B, W, H)`` the word states the emission head reads; multimodal models fuse evidence here."""
        return self.encode_words(batch)

    def emit(self, batch: Batch) -> TaggerOutput:
        """The forward pass without the loss: emissions ``(B, W, T)`` and the model's optional outputs."""
        return TaggerOutput(self.classifier(self.dropout(self.word_representations(batch))))

    def emissions(self, batch: Batch) -> Tensor:
        """``(B, W, T)`` scores per word and tag."""
        return self.emit(batch).emissions

    def loss(self, output: TaggerOutput, batch: Batch) -> Tensor:
        """The training loss of ``output`` against ``batch.tags``: the CRF's negative log-likelihood."""
        return self.crf.loss(output.emissions.float(), batch.tags, batch.word_mask)

    def forward(self, batch: Batch, compute_loss: bool = True) -> TaggerOutput:
        output = self.emit(batch)
        if compute_loss and batch.tags is not None:
            output.loss = self.loss(output, batch)
        return output

    @torch.no_grad()
    def predict_step(self, batch: Batch) -> tuple[list[list[str]], list[dict]]:
        """IOB2 tags for every word of every tweet in the batch, and the per-tweet records of the pass."""
        output = self.forward(batch, compute_loss=False)
        tags = [self.labels.decode(path) for path in self.crf.decode(output.emissions.float(), batch.word_mask)]
        return tags, self.tweet_records(batch, output)

    def decode(self, batch: Batch) -> list[list[str]]:
        """IOB2 tags for every word of every tweet in the batch."""
        return self.predict_step(batch)[0]

    def parameter_groups(self, lr_encoder: float, lr_head: float, weight_decay: float) -> list[dict]:
        """AdamW groups: encoder vs. everything else; no decay on biases, norms and the CRF."""
        groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            part = "encoder" if name.startswith("encoder.") else "head"
            is_crf = name.split(".")[0].endswith("crf")  # the CRF and any auxiliary one (UMT's span_crf)
            decay = param.ndim >= 2 and not is_crf and "norm" not in name.lower()
            groups.setdefault((part, decay), []).append(param)
        return [{"params": params, "lr": lr_encoder if part == "encoder" else lr_head,
                 "weight_decay": weight_decay if decay else 0.0, "name": f"{part}{'' if decay else '_no_decay'}"}
                for (part, decay), params in groups.items()]

    def save_pretrained(self, directory: str | Path) -> None:
        """Write safetensors weights, labels, tokenizer and, last, config JSON with every file's hash."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "pt", "model": self.name})
        self.labels.save(directory / LABELS_FILE)
        self.tokenizer.save_pretrained(str(directory / TOKENIZER_DIR))
        meta = {"model": self.name, "config": asdict(self.config), "encoder_config": self.encoder.config.to_dict(),
                "files": file_hashes(directory)}
        (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> Tagger:
        """Load a folder written by :meth:`save_pretrained` (any registered model)."""
        directory = Path(directory)
        for name in (CONFIG_FILE, WEIGHTS_FILE, LABELS_FILE, TOKENIZER_DIR):
            if not (directory / name).exists():
                raise FileNotFoundError(f"{directory} is not a saved graphmner model: {name} is missing")

        def damaged(name: str, err: Exception) -> ValueError:
            reason = " ".join(str(err).split())  # torch's messages span lines
            return ValueError(f"{directory / name}: damaged or not written by graphmner ({type(err).__name__}: "
                              f"{reason[:300]})")

        try:
            meta = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            model_cls = get_model_class(meta["model"])
            config = model_cls.config_class.from_dict(meta["config"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{directory / CONFIG_FILE}: not a valid model config ({err})") from err
        if cls is not Tagger and not issubclass(model_cls, cls):
            raise TypeError(f"{directory} holds a {meta['model']!r} model, not {cls.__name__}")
        try:
            labels = LabelVocab.load(directory / LABELS_FILE)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
            raise damaged(LABELS_FILE, err) from err
        try:
            encoder = encoder_from_config(meta["encoder_config"])
        except Exception as err:  # transformers raises many types for a config it cannot build
            raise damaged(CONFIG_FILE, err) from err
        try:  # local files only; a tokenizer never runs code from the folder (no trust_remote_code)
            tokenizer = AutoTokenizer.from_pretrained(str(directory / TOKENIZER_DIR), local_files_only=True)
        except Exception as err:  # tokenizers / transformers raise their own types for damaged files
            raise damaged(TOKENIZER_DIR, err) from err
        model = model_cls(config, labels, encoder=encoder, tokenizer=tokenizer)
        try:
            state = load_file(str(directory / WEIGHTS_FILE), device=str(map_location))
            model.load_state_dict(state, strict=True)
        except Exception as err:  # safetensors raises its own error types for truncated files
            raise damaged(WEIGHTS_FILE, err) from err
        check_file_hashes(directory, meta.get("files"))
        return model
