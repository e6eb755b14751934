"""Determinism: the same seed on the CPU gives the same metrics.json, twice."""
from graphmner.cli import main
from graphmner.training.checkpoint import CHECKPOINTS
from tests.training.conftest import ARGS, run_metrics


def test_same_seed_same_metrics(uninterrupted, tmp_path):
    assert main(["train", *ARGS, "--no-mlflow", "--output-dir", str(tmp_path)]) == 0
    assert run_metrics(tmp_path) == run_metrics(uninterrupted)
    assert not (tmp_path / CHECKPOINTS).exists()  # removed once the run has finished (train.keep_checkpoint)
