"""The one trainer: AdamW with separate encoder/head learning rates, linear
warm-up and decay, per-epoch dev evaluation, best-dev weights, test once with
those weights (never selected on test)."""
from __future__ import annotations

import copy
import json
import logging
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from graphmner.config import TrainConfig
from graphmner.data.conll import write_conll
from graphmner.eval.metrics import entity_scores, format_report
from graphmner.featurize import Batch, Example
from graphmner.models.base import Tagger
from graphmner.training.callbacks import Callback
from graphmner.training.checkpoint import CHECKPOINTS, TrainState, latest_checkpoint, load_checkpoint, save_checkpoint
from graphmner.training.distributed import DistEnv, ShardedBatches, all_gather, dist_env, init_process_group

log = logging.getLogger(__name__)

ONE_PROCESS = DistEnv()  # the default: not under torchrun


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is cuda when there is one, else cpu; a device this machine lacks is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        raise ValueError(f"device {name!r}: this machine has {found} CUDA device(s); use cpu or auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r}: MPS is not available here; use cpu or auto")
    return device


def device_name(device: torch.device) -> str:
    """``cpu (2 threads)`` or the GPU's name: what a seconds-per-epoch figure was measured on."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def cpu_kernels(device: torch.device) -> dict[str, str]:
    """``{"cpu_kernels": "AVX512"}`` on a CPU, else ``{}``: which vector kernels torch runs. The same seed gives
    other last digits under other kernels (a CPU without AVX-512, or ``ATEN_CPU_CAPABILITY=avx2``)."""
    return {"cpu_kernels": torch.backends.cpu.get_cpu_capability()} if device.type == "cpu" else {}


def _bar_kwargs(show: bool = True) -> dict[str, Any]:
    # redraw often on a terminal, rarely in a log file
    kwargs = {"mininterval": 0.5 if sys.stderr.isatty() else 30.0, "dynamic_ncols": True, "leave": False}
    if not show:
        kwargs["disable"] = True  # else left to tqdm, so that TQDM_DISABLE=1 (a batch job's wish) holds
    return kwargs


def make_loader(examples: Sequence[Example], batch_size: int, collate: Callable[[Sequence[Example]], Batch]
                ) -> DataLoader:
    """Batches in input order (evaluation); training batches come from :class:`ShardedBatches`."""
    return DataLoader(list(examples), batch_size=batch_size, collate_fn=collate)


@torch.no_grad()
def predict(model: Tagger, examples: Sequence[Example], batch_size: int = 64, device: torch.device | str = "cpu",
            desc: str = "predict", env: DistEnv = ONE_PROCESS, records: list | None = None) -> list[list[str]]:
    """Tags for every word of every example, in input order.

    Under ``torchrun`` (``env``) each rank tags every ``world``-th example and all ranks get all tags.
    ``records``, given, is extended with the model's per-tweet records (``Tagger.tweet_records``: e.g.
    graphmner's fusion gate), in input order.
    """
    model.eval()
    mine = list(range(env.rank, len(examples), env.world))
    out: list[list[str]] = []
    extra: list[dict] = []
    loader = make_loader([examples[i] for i in mine], batch_size, model.featurizer().collate)
    # one batch (a tweet tagged from Python, say) is over before a bar could say anything
    bar = tqdm(loader, desc=desc, **_bar_kwargs(env.is_main and len(loader) > 1))
    for batch in bar:
        tags, tweet_records = model.predict_step(batch.to(device))
        out.extend(tags)
        if records is not None:
            extra.extend(tweet_records)
    if not env.distributed:
        if records is not None:
            records.extend(extra)
        return out
    tagged: list[list[str] | None] = [None] * len(examples)
    gathered: list[dict | None] = [None] * len(examples)
    for rank, (part, part_extra) in enumerate(all_gather((out, extra), env)):
        for i, tags in zip(range(rank, len(examples), env.world), part):
            tagged[i] = tags
        for i, record in zip(range(rank, len(examples), env.world), part_extra):
            gathered[i] = record
    if records is not None:
        records.extend(r for r in gathered if r is not None)
    return tagged


def evaluate(model: Tagger, examples: Sequence[Example], batch_size: int = 64, device: torch.device | str = "cpu",
             desc: str = "eval", env: DistEnv = ONE_PROCESS, records: list | None = None
             ) -> tuple[dict, list[list[str]]]:
    """Strict IOB2 entity scores over every word, and the predicted tags (``records``: see :func:`predict`)."""
    predicted = predict(model, examples, batch_size, device, desc, env, records)
    gold = [ex.tweet.tags for ex in examples]
    return entity_scores(gold, predicted), predicted


@dataclass
class FitResult:
    metrics: dict[str, Any]  # what metrics.json holds
    model: Tagger  # with the best-dev weights loaded


class Trainer:
    """Fits a :class:`Tagger`; callbacks observe (MLflow, ...)."""

    def __init__(self, model: Tagger, config: TrainConfig, callbacks: Sequence[Callback] = ()):
        self.model, self.config, self.callbacks = model, config, list(callbacks)
        self.device = resolve_device(config.device)

    def _optimizer(self, steps: int, steps_per_epoch: int):
        cfg = self.config
        groups = self.model.parameter_groups(cfg.lr_encoder, cfg.lr_head, cfg.weight_decay)
        # fused: one kernel over all parameters, the same update; on one CPU thread a step of MiniLM's 22M
        # parameters takes 0.04 s instead of 0.21 (a graphmner training step is about 3 s)
        optimizer = torch.optim.AdamW(groups, fused=self.device.type in ("cpu", "cuda"))
        warmup = int(cfg.warmup_ratio * steps)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            if cfg.schedule == "step":
                return cfg.step_gamma ** (step // (cfg.step_epochs * steps_per_epoch))
            return max(0.0, (steps - step) / max(1, steps - warmup))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def fit(self, train: Sequence[Example], dev: Sequence[Example], test: Sequence[Example] | None = None,
            output_dir: str | Path | None = None, run_config: dict[str, Any] | None = None,
            resume: bool = False) -> FitResult:
        """Train, keep the best dev epoch, evaluate test with it, write outputs.

        Writes to ``output_dir`` (when given): ``metrics.json``, ``model/``,
        ``predictions/{dev,test}.conll``, ``report_{dev,test}.txt``, and a checkpoint after every epoch
        (``checkpoints/``; see :mod:`graphmner.training.checkpoint`). ``resume`` continues from the
        last complete checkpoint in ``output_dir``, ending as the uninterrupted run would.
        """
        output_dir = Path(output_dir) if output_dir is not None else None
        for cb in self.callbacks:
            cb.on_train_begin(run_config or {})
        try:
            result = self._fit(train, dev, test, output_dir, resume)
        except BaseException as err:
            for cb in self.callbacks:
                cb.on_exception(err)
            raise
        for cb in self.callbacks:
            cb.on_train_end(result.metrics, output_dir)
        return result

    def _fit(self, train, dev, test, output_dir: Path | None, resume: bool) -> FitResult:
        env = dist_env()
        owns_group = False
        if env.distributed:
            self.device, owns_group = init_process_group(env, self.device)
        try:
            return self._fit_loop(train, dev, test, output_dir, env, resume)
        finally:
            if owns_group:
                torch.distributed.destroy_process_group()

    def _fit_loop(self, train, dev, test, output_dir: Path | None, env: DistEnv, resume: bool) -> FitResult:
        cfg, model = self.config, self.model
        writes = output_dir is not None and env.is_main  # under torchrun, rank 0 alone writes
        model.to(self.device)
        forward = model
        if env.distributed:
            # some parameters see no gradient in some batches (e.g. the fusion of a batch without evidence)
            forward = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda"
                                              else None, find_unused_parameters=True)
        sampler = ShardedBatches(len(train), cfg.batch_size, cfg.seed, env)
        # a generator of its own: without one a DataLoader draws its base seed from torch's global RNG each
        # epoch, which shifts every dropout mask (the shuffling loader before ShardedBatches drew it from its
        # seeded generator, leaving the global RNG alone)
        loader = DataLoader(list(train), batch_sampler=sampler, collate_fn=model.featurizer().collate,
                            generator=torch.Generator().manual_seed(cfg.seed))
        optimizer, scheduler = self._optimizer(cfg.epochs * len(loader), len(loader))
        state, best_state = TrainState(), None
        if resume:
            folder = latest_checkpoint(output_dir) if output_dir is not None else None
            if folder is None:
                raise FileNotFoundError(f"{output_dir}: no complete checkpoint to resume from")
            state, best_state = load_checkpoint(folder, model, optimizer, scheduler, sampler.generator, self.device)
            log.info("resuming from %s: %d of %d epochs done", folder, state.epoch, cfg.epochs)
        epoch_seconds, train_losses, dev_f1 = state.epoch_seconds, state.train_losses, state.dev_f1
        start = time.perf_counter()
        for epoch in range(state.epoch + 1, cfg.epochs + 1):
            # checked before each epoch rather than after, so that a resumed run stops where the original would
            if cfg.patience and state.epoch - state.best_epoch >= cfg.patience:
                if env.is_main:
                    log.info("early stop after epoch %d: no better dev F1 for %d epochs (best: epoch %d, %.4f)",
                             state.epoch, cfg.patience, state.best_epoch, state.best_f1)
                break
            t0 = time.perf_counter()
            model.train()
            total, steps = 0.0, 0
            bar = tqdm(loader, desc=f"epoch {epoch}/{cfg.epochs}", **_bar_kwargs(env.is_main))
            for step, batch in enumerate(bar):
                loss = forward(batch.to(self.device)).loss
                if env.distributed:
                    # DDP averages gradients over ranks; weighting each rank's batch mean by its share of the
                    # global batch makes that the global batch mean, as in one process
                    global_n = min(cfg.batch_size, len(train) - step * cfg.batch_size)
                    loss = loss * (len(batch) * env.world / global_n)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                value = loss.detach()
                if env.distributed:
                    value = value / env.world
                    torch.distributed.all_reduce(value)
                total, steps = total + value.item(), steps + 1
                bar.set_postfix(loss=f"{total / steps:.3f}", refresh=False)
            dev_scores, _ = evaluate(model, dev, cfg.eval_batch_size, self.device, desc="dev", env=env)
            epoch_seconds.append(time.perf_counter() - t0)
            train_losses.append(total / max(steps, 1))
            dev_f1.append(dev_scores["f1"])
            if env.is_main:
                log.info("epoch %d: train loss %.4f | dev P %.4f R %.4f F1 %.4f | %.1fs", epoch, train_losses[-1],
                         dev_scores["precision"], dev_scores["recall"], dev_scores["f1"], epoch_seconds[-1])
            if dev_scores["f1"] > state.best_f1:  # ties keep the earlier epoch
                state.best_f1, state.best_epoch, state.best_dev = dev_scores["f1"], epoch, dev_scores
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            state.epoch = epoch
            if writes and cfg.checkpoint:
                state.elapsed += time.perf_counter() - start
                start = time.perf_counter()
                save_checkpoint(output_dir, state, model, best_state, optimizer, scheduler, sampler.generator)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, {"train_loss": train_losses[-1], "dev_precision": dev_scores["precision"],
                                        "dev_recall": dev_scores["recall"], "dev_f1": dev_scores["f1"],
                                        "epoch_seconds": epoch_seconds[-1]})
        train_seconds = state.elapsed + time.perf_counter() - start
        model.load_state_dict(best_state)
        metrics: dict[str, Any] = {"best_epoch": state.best_epoch, "dev": state.best_dev,
                                   "train_seconds": train_seconds,
                                   "epoch_seconds": epoch_seconds, "train_loss": train_losses, "dev_f1": dev_f1,
                                   "epochs_trained": state.epoch,
                                   "processes": env.world, "device": device_name(self.device),
                                   **cpu_kernels(self.device)}
        splits = {"dev": dev}
        if test is not None:
            splits["test"] = test
        for split, examples in splits.items():
            records: list[dict] = []
            scores, predicted = evaluate(model, examples, cfg.eval_batch_size, self.device, desc=split, env=env,
                                         records=records)
            metrics[split] = scores
            if writes:
                write_conll(output_dir / "predictions" / f"{split}.conll", [ex.tweet for ex in examples], predicted)
                (output_dir / f"report_{split}.txt").write_text(format_report(scores), encoding="utf-8")
                if records:  # per tweet: graphmner's mean fusion gate, evidence quality, image type
                    (output_dir / "predictions" / f"{split}_tweets.jsonl").write_text(
                        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        if writes:
            model.save_pretrained(output_dir / "model")
            (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
            if not cfg.keep_checkpoint:
                shutil.rmtree(output_dir / CHECKPOINTS, ignore_errors=True)
        return FitResult(metrics, model)
