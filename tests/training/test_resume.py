"""Checkpoints and --resume: a run killed (kill -9) mid-training and resumed ends as the uninterrupted run (CPU)."""
import os
import subprocess
import sys

from graphmner.cli import main
from graphmner.training.checkpoint import CHECKPOINTS, latest_checkpoint
from tests.training.conftest import ARGS, resume_logging_to, run_metrics

# kill -9 right after epoch 2 was checkpointed and logged: nothing gets to clean up
KILLER = """
import os, sys
from graphmner.training.callbacks import MLflowCallback
logged = MLflowCallback.on_epoch_end
def on_epoch_end(self, epoch, metrics):
    logged(self, epoch, metrics)
    if epoch == 2:
        os._exit(137)
MLflowCallback.on_epoch_end = on_epoch_end
from graphmner.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_run_resumes_to_the_same_end(uninterrupted, tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "run"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": os.getcwd()}
    killed = subprocess.run([sys.executable, "-c", KILLER, "train", *ARGS, "--output-dir", str(out),
                             "--experiment", "resume"], env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == 137, killed.stderr[-2000:]
    assert not (out / "metrics.json").exists() and latest_checkpoint(out).name == "epoch-2"
    (out / CHECKPOINTS / "epoch-3").mkdir()  # a checkpoint the kill interrupted half-written: ignored
    client = mlflow.MlflowClient(tracking_uri=uri)
    run_id = (out / "mlflow_run_id").read_text().strip()
    assert client.get_run(run_id).info.status == "RUNNING"  # kill -9 left it so

    assert resume_logging_to(out, uri) == 0
    assert run_metrics(out) == run_metrics(uninterrupted)
    predictions = "predictions/test.conll"
    assert (out / predictions).read_text() == (uninterrupted / predictions).read_text()
    run = client.get_run(run_id)  # the same MLflow run, finished, every epoch logged once
    assert run.info.status == "FINISHED" and run.data.tags["resumed"] == "true"
    assert [m.step for m in client.get_metric_history(run_id, "dev_f1")] == [1, 2, 3, 4]


def test_resume_errors(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no config.yaml there" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--epochs", "9"]) == 2
    assert "drop ['--epochs']" in capsys.readouterr().err
