"""What the training tests share: a tiny graphmner run on the CPU, and that run done once, uninterrupted."""
import json

import pytest

from graphmner.cli import main
from tests.conftest import TINY_DATA, TINY_ENCODER

ARGS = ["--model", "graphmner", "--data-dir", str(TINY_DATA), "--epochs", "4", "--seed", "5", "--device", "cpu",
        f"model.encoder_overrides={json.dumps(TINY_ENCODER)}", "model.pretrained=false", "model.channels=32",
        "model.heads=2", "train.batch_size=4", "train.lr_encoder=1e-3", "train.lr_head=1e-2",
        "train.num_threads=1"]  # one thread in every process: the same float reduction order
TIMINGS = ("train_seconds", "epoch_seconds")


def run_metrics(folder):
    values = json.loads((folder / "metrics.json").read_text())
    return {k: v for k, v in values.items() if k not in TIMINGS}


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    assert main(["train", *ARGS, "--no-mlflow", "--output-dir", str(out)]) == 0
    return out


def resume_logging_to(out, uri: str) -> int:
    """``graphmner train --resume OUT`` with MLflow writing to ``uri`` (the store the interrupted run used)."""
    import os

    import mlflow

    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        return main(["train", "--resume", str(out)])
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
        mlflow.set_tracking_uri(None)
