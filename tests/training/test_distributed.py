"""DistributedDataParallel: the sharded sampler, and two gloo processes under torchrun vs one process."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader

from graphmner.cli import main
from graphmner.training.distributed import DistEnv, ShardedBatches
from tests.conftest import TINY_DATA, TINY_ENCODER


@pytest.mark.parametrize("n,batch", [(12, 4), (10, 4), (9, 4)])
def test_sharded_batches_are_the_single_process_batches_split(n, batch):
    reference = DataLoader(list(range(n)), batch_size=batch, shuffle=True,
                           generator=torch.Generator().manual_seed(7), collate_fn=list)
    one = ShardedBatches(n, batch, seed=7)
    two = [ShardedBatches(n, batch, seed=7, env=DistEnv(rank, 2)) for rank in (0, 1)]
    for _epoch in range(2):  # the generator runs on across epochs, as the DataLoader's does
        expected = [b for b in reference]
        assert list(one) == expected  # one process: exactly the batches training drew before
        shards = [list(s) for s in two]
        kept = [b for b in expected if len(b) >= 2]  # a final batch of 1 cannot be split over 2 ranks
        assert len(shards[0]) == len(shards[1]) == len(kept) == len(two[0])
        for step, b in enumerate(kept):
            assert sorted(shards[0][step] + shards[1][step]) == sorted(b)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NO_DROPOUT = {**TINY_ENCODER, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
ARGS = ["--model", "bert_crf", "--data-dir", str(TINY_DATA), "--epochs", "2", "--seed", "3", "--no-mlflow",
        "--device", "cpu", f"model.encoder_overrides={json.dumps(NO_DROPOUT)}", "model.pretrained=false",
        "model.dropout=0.0", "train.batch_size=4", "train.lr_encoder=1e-3", "train.lr_head=1e-2"]


def test_two_gloo_processes_match_one(tmp_path):
    single = tmp_path / "single"
    assert main(["train", *ARGS, "--output-dir", str(single)]) == 0
    multi = tmp_path / "multi"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                           "127.0.0.1", "--master_port", str(_free_port()), "-m", "graphmner.cli", "train", *ARGS,
                           "--output-dir", str(multi)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test  P") == 1  # rank 0 alone reports
    a = json.loads((single / "metrics.json").read_text())
    b = json.loads((multi / "metrics.json").read_text())
    assert a["processes"] == 1 and b["processes"] == 2
    # same global batches, gradients averaged over ranks: the same optimisation path up to reduction order
    assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
    assert b["best_epoch"] == a["best_epoch"]
    assert b["dev"]["f1"] == pytest.approx(a["dev"]["f1"], abs=1e-6)
    assert b["test"]["f1"] == pytest.approx(a["test"]["f1"], abs=1e-6)
    assert (multi / "predictions" / "test.conll").read_text() == (single / "predictions" / "test.conll").read_text()
