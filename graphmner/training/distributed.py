"""Several processes, one model: DistributedDataParallel under ``torchrun``.

    torchrun --nproc_per_node 4 -m graphmner.cli train --model graphmner --dataset twitter2017

NCCL on GPUs (one per process, ``cuda:LOCAL_RANK``), gloo on the CPU. ``train.batch_size`` stays the
*global* batch: every step, the single-process batch is split across the ranks (see
:class:`ShardedBatches`), so that N processes follow the same optimisation path as one, up to
floating-point reduction order (and dropout masks, which each rank draws itself). Evaluation is
sharded too and the predictions are gathered, so every rank computes the same scores; only rank 0
writes files and logs to MLflow.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler


@dataclass(frozen=True)
class DistEnv:
    """This process's place among the processes ``torchrun`` started (rank 0 of 1 without it)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def dist_env() -> DistEnv:
    """Read from the environment ``torchrun`` sets (RANK, WORLD_SIZE, LOCAL_RANK); no side effects."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistEnv()
    return DistEnv(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def init_process_group(env: DistEnv, device: torch.device) -> tuple[torch.device, bool]:
    """Join the process group (NCCL for CUDA, gloo for CPU); returns this rank's device and whether
    the group was created here (and so is destroyed by the caller)."""
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if dist.is_initialized():
        return device, False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=env.rank, world_size=env.world)
    return device, True


def all_gather(obj: Any, env: DistEnv) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` in a single process)."""
    if not env.distributed:
        return [obj]
    out: list[Any] = [None] * env.world
    dist.all_gather_object(out, obj)
    return out


class ShardedBatches(Sampler[list[int]]):
    """The single-process training batches, each split across the ranks.

    Every rank draws the same shuffled batches a ``DataLoader(shuffle=True, generator=seeded)``
    draws and keeps every ``world``-th example of each, so the
    union of the ranks' batches at a step *is* the single-process batch. A final batch with fewer
    examples than ranks is dropped (every rank skips it alike).
    """

    def __init__(self, n: int, batch_size: int, seed: int, env: DistEnv = DistEnv()):
        # a DataLoader of indices, not a sampler of our own: its draws from the generator (a base seed,
        # then the permutation) are what a shuffling DataLoader does, whatever torch version does them
        self.generator = torch.Generator().manual_seed(seed)  # its state is checkpointed
        self.batches = DataLoader(range(n), batch_size=batch_size, shuffle=True, generator=self.generator,
                                  collate_fn=list)
        self.n, self.batch_size, self.env = n, batch_size, env

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            if len(batch) >= self.env.world:
                yield batch[self.env.rank::self.env.world]

    def __len__(self) -> int:
        full, last = divmod(self.n, self.batch_size)
        return full + (1 if last >= self.env.world else 0)
