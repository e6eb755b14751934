"""Knowledge for new tweets, written by a local instruction-following language model, the way PGIM's was.

A model trained with ``--evidence knowledge`` reads, for each tweet, a text that names and explains its
entities ("Named entities: 1. Citifield (stadium/venue) ... Reasoning: ..."). The bundled corpora carry
PGIM's; a new tweet needs its own. :class:`KnowledgeWriter` prompts a causal language model (a Hugging Face
name or a local path) with the tweet, its image caption when there is one, and a few demonstrations: the
training tweets most similar to it (cosine of frozen sentence embeddings) with their bundled knowledge as
the answer. No gold tag is in any prompt. Decoding is greedy, so the same model writes the same text.

What it writes is a text evidence file (JSON Lines ``{"image_id", "text"}``, as
:mod:`graphmner.data.text_evidence` reads), appended a tweet at a time: an interrupted run keeps what it
wrote, and a second run over the same file writes only what is missing (the file is the cache).

    graphmner knowledge --lm Qwen/Qwen2.5-1.5B-Instruct --input new.conll --captions new_captions.txt \\
        --output new_knowledge.jsonl
    graphmner predict --model-dir runs/x/model --input new.conll --knowledge-file new_knowledge.jsonl
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from graphmner.data.conll import Tweet
from graphmner.data.datasets import load_dataset
from graphmner.data.text_evidence import TEXT_EVIDENCE_FILES, read_text_evidence
from graphmner.nn.encoders import resolve_encoder
from graphmner.nn.sentence import embed_texts, shared_embedder
from graphmner.vision.captions import read_captions

log = logging.getLogger(__name__)

INSTRUCTION = ("Read the tweet and the description of its image. List the named entities of the tweet (people, "
               "places, organisations and other names), each with a short type in parentheses, then explain in a "
               "few sentences who or what they are and how the image relates to them. Answer as in the examples: "
               "'Named entities: 1. <name> (<type>) 2. ... Reasoning: ...'.")


@dataclass(frozen=True)
class Demonstration:
    """One in-context example: a training tweet, its image caption, and its knowledge (the answer shown)."""

    text: str
    caption: str
    answer: str


def demonstrations_from(dataset: str, limit: int | None = None) -> list[Demonstration]:
    """Demonstrations from a corpus's training split (a bundled corpus's name, or a folder of the same layout
    with ``knowledge_pgim.jsonl``): every tweet with knowledge, and its caption if any."""
    folder = Path(dataset)
    data = (load_dataset(folder.name, folder, splits=("train",), limit=limit) if folder.is_dir()
            else load_dataset(dataset, splits=("train",), limit=limit))
    knowledge = read_text_evidence(data.root / TEXT_EVIDENCE_FILES["knowledge"])
    captions = read_captions(data.caption_file) if data.caption_file else {}
    out = []
    for tweet in data["train"]:
        key = tweet.image_id or tweet.id
        if knowledge.get(key, "").strip():
            out.append(Demonstration(" ".join(tweet.tokens), captions.get(key, ""), knowledge[key]))
    return out


def _turn(text: str, caption: str) -> str:
    return f"Tweet: {text}\nImage: {caption or '(no description)'}"


class KnowledgeWriter:
    """Writes PGIM-style knowledge for tweets with a local causal language model.

    Args:
        lm: a causal language model: Hugging Face name (online) or local path.
        demonstrations: in-context examples to choose from (:func:`demonstrations_from`); may be empty.
        shots: demonstrations per prompt, the most similar to the tweet.
        max_new_tokens: longest answer (PGIM's are about 100 words, 150 pieces).
        embedder: sentence-embedding model that ranks demonstrations by similarity (``minilm`` offline).
    """

    def __init__(self, lm: str, demonstrations: Sequence[Demonstration] = (), shots: int = 2,
                 max_new_tokens: int = 200, device: str = "cpu", embedder: str = "minilm"):
        path = resolve_encoder(lm)
        if path.startswith(("/", ".", "~")) and not Path(path).expanduser().is_dir():
            raise FileNotFoundError(f"--lm {lm}: no such folder (a local model folder, or a Hugging Face name)")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path).to(device).eval()
        self.device, self.shots, self.max_new_tokens = device, shots, max_new_tokens
        self.demonstrations = list(demonstrations)
        self.embedder = shared_embedder(embedder, 64) if self.demonstrations and shots else None
        self.demo_embeddings = None
        if self.embedder is not None:  # the training tweets' embeddings, from the disk cache after the first run
            cached = embed_texts([d.text for d in self.demonstrations], embedder, max_length=self.embedder.max_length)
            self.demo_embeddings = torch.stack([cached[d.text] for d in self.demonstrations])

    def examples_for(self, text: str) -> list[Demonstration]:
        """The ``shots`` demonstrations most similar to ``text``, least similar first (the closest nearest
        the question)."""
        if self.embedder is None:
            return []
        sims = self.demo_embeddings @ self.embedder.embed([text])[0]
        best = torch.topk(sims, min(self.shots, len(self.demonstrations))).indices.tolist()
        return [self.demonstrations[i] for i in reversed(best)]

    def prompt_ids(self, text: str, caption: str) -> torch.Tensor:
        """``(1, L)`` the prompt's token ids: the model's chat template when it has one, else plain text."""
        examples = self.examples_for(text)
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": INSTRUCTION}]
            for d in examples:
                messages += [{"role": "user", "content": _turn(d.text, d.caption)},
                             {"role": "assistant", "content": d.answer}]
            messages.append({"role": "user", "content": _turn(text, caption)})
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
            return ids if isinstance(ids, torch.Tensor) else ids["input_ids"]
        parts = [INSTRUCTION] + [f"{_turn(d.text, d.caption)}\nAnswer: {d.answer}" for d in examples]
        prompt = "\n\n".join(parts + [f"{_turn(text, caption)}\nAnswer:"])
        return self.tokenizer(prompt, return_tensors="pt")["input_ids"]

    @torch.no_grad()
    def write_one(self, text: str, caption: str = "") -> str:
        """The knowledge text for one tweet (whitespace collapsed; may be empty)."""
        ids = self.prompt_ids(text, caption).to(self.device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        out = self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=self.max_new_tokens,
                                  do_sample=False, pad_token_id=pad)
        answer = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        return " ".join(answer.split())

    def write(self, tweets: Sequence[Tweet], output: str | Path, captions: dict[str, str] | None = None) -> int:
        """Knowledge for every tweet whose image id ``output`` does not hold yet, appended to it; returns how
        many were written. Tweets sharing an image id share its knowledge (as in the bundled files)."""
        output, captions = Path(output), captions or {}
        done = read_text_evidence(output) if output.is_file() else {}
        todo: dict[str, Tweet] = {}
        for tweet in tweets:
            key = tweet.image_id or tweet.id
            if key not in done:
                todo.setdefault(key, tweet)
        if len(todo) < len({t.image_id or t.id for t in tweets}):
            log.info("%s already holds knowledge for %d of these tweets' images: kept", output,
                     len({t.image_id or t.id for t in tweets}) - len(todo))
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("a", encoding="utf-8") as sink:
            for key, tweet in tqdm(todo.items(), desc="knowledge", unit="tweet", disable=not todo):
                text = self.write_one(" ".join(tweet.tokens), captions.get(key, ""))
                sink.write(json.dumps({"image_id": key, "text": text}, ensure_ascii=False) + "\n")
                sink.flush()  # an interrupted run keeps every answer written so far
        return len(todo)
