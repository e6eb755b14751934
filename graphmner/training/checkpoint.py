"""Per-epoch checkpoints: everything needed to continue a run as if it had never stopped.

``OUTPUT_DIR/checkpoints/epoch-N/`` holds, after epoch N:

- ``model.safetensors`` (the weights now) and ``best.safetensors`` (the best-dev weights so far);
- ``optimizer.pt``: optimizer and scheduler state, torch's and the batch sampler's RNG states (plain
  tensors and numbers, loaded with ``torch.load(weights_only=True)``: nothing is unpickled);
- ``state.json``: epoch, best-dev bookkeeping, per-epoch seconds and losses, Python's and NumPy's
  RNG states;
- ``COMPLETE``, written last.

A folder without ``COMPLETE`` was interrupted while being written and is ignored, so a run killed at
any moment leaves its last complete checkpoint usable; older checkpoints are removed once a newer
one is complete.
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

CHECKPOINTS = "checkpoints"
COMPLETE = "COMPLETE"


@dataclass
class TrainState:
    """The trainer's bookkeeping after ``epoch`` (0 before the first)."""

    epoch: int = 0
    best_f1: float = -1.0
    best_epoch: int = 0
    best_dev: dict[str, Any] | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    dev_f1: list[float] = field(default_factory=list)  # dev F1 after each epoch
    elapsed: float = 0.0  # training seconds before this process started


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    root = Path(output_dir) / CHECKPOINTS
    found = [p for p in root.glob("epoch-*") if (p / COMPLETE).is_file() and p.name[6:].isdigit()]
    return max(found, key=lambda p: int(p.name[6:]), default=None)


def epochs_done(output_dir: str | Path) -> int:
    """How many epochs the newest complete checkpoint holds (0: none)."""
    folder = latest_checkpoint(output_dir)
    return int(folder.name[6:]) if folder is not None else 0


def save_checkpoint(output_dir: str | Path, state: TrainState, model: torch.nn.Module, best_state: dict,
                    optimizer, scheduler, sampler_generator: torch.Generator) -> Path:
    root = Path(output_dir) / CHECKPOINTS
    folder = root / f"epoch-{state.epoch}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              str(folder / "model.safetensors"))
    save_file({k: v.contiguous() for k, v in best_state.items()}, str(folder / "best.safetensors"))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(), "sampler_rng": sampler_generator.get_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
               str(folder / "optimizer.pt"))
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    (folder / "state.json").write_text(json.dumps({
        "state": asdict(state), "python_rng": _to_lists(random.getstate()),
        "numpy_rng": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}), encoding="utf-8")
    (folder / COMPLETE).write_text("", encoding="utf-8")
    for old in root.glob("epoch-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer, scheduler, sampler_generator: torch.Generator,
                    device: torch.device) -> tuple[TrainState, dict]:
    """Restore everything :func:`save_checkpoint` wrote; returns the state and the best-dev weights."""

    try:
        model.load_state_dict(load_file(str(folder / "model.safetensors"), device=str(device)))
        best_state = load_file(str(folder / "best.safetensors"))
        saved = torch.load(str(folder / "optimizer.pt"), map_location=device, weights_only=True)
        values = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"].cpu())
        sampler_generator.set_state(saved["sampler_rng"].cpu())
        if saved["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in saved["cuda_rng"]])
        random.setstate(_to_tuples(values["python_rng"]))
        kind, keys, pos, has_gauss, cached = values["numpy_rng"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
        state = TrainState(**values["state"])
    except Exception as err:  # safetensors, torch and json raise their own types for damaged files
        reason = " ".join(str(err).split())  # torch's messages span lines
        raise ValueError(f"{folder}: damaged checkpoint ({type(err).__name__}: {reason[:300]}); the run cannot "
                         f"resume from it") from err
    return state, best_state


def _to_lists(value):
    return [_to_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _to_tuples(value):
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value
