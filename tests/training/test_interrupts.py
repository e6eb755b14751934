"""A crash marks the MLflow run FAILED with the error; Ctrl-C marks it KILLED, exits 130 without a
traceback, and leaves the last complete checkpoint usable: resumed, the run ends as the uninterrupted one."""
import os
import subprocess
import sys

import mlflow

from graphmner.training.checkpoint import latest_checkpoint
from tests.training.conftest import ARGS, resume_logging_to, run_metrics

# After epoch 2 is checkpointed and logged, the process sends itself SIGINT, which is what Ctrl-C in a
# terminal does (Python raises KeyboardInterrupt wherever the main thread is); or raises a crash.
INTERRUPT = """
import os, signal, sys
from graphmner.training.callbacks import MLflowCallback
logged = MLflowCallback.on_epoch_end
def on_epoch_end(self, epoch, metrics):
    logged(self, epoch, metrics)
    if epoch == 2:
        if os.environ["HOW"] == "ctrl-c":
            os.kill(os.getpid(), signal.SIGINT)
        else:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
MLflowCallback.on_epoch_end = on_epoch_end
from graphmner.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _train(out, uri, how):
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": os.getcwd(), "HOW": how}
    return subprocess.run([sys.executable, "-c", INTERRUPT, "train", *ARGS, "--output-dir", str(out),
                           "--experiment", "interrupts"], env=env, capture_output=True, text=True, timeout=600)


def test_ctrl_c_marks_the_run_killed_and_the_checkpoint_resumes(uninterrupted, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "run"
    stopped = _train(out, uri, "ctrl-c")
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    last = stopped.stderr.strip().splitlines()[-1]
    hint = f"the last complete epoch is checkpointed: graphmner train --resume {out}"
    assert last == f"graphmner train: interrupted; {hint}"
    assert "Traceback" not in stopped.stderr
    client = mlflow.MlflowClient(tracking_uri=uri)
    run_id = (out / "mlflow_run_id").read_text().strip()
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["error"].startswith("KeyboardInterrupt")
    assert latest_checkpoint(out).name == "epoch-2" and not (out / "metrics.json").exists()

    assert resume_logging_to(out, uri) == 0
    assert run_metrics(out) == run_metrics(uninterrupted)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run_id, "dev_f1")] == [1, 2, 3, 4]


def test_a_crash_marks_the_run_failed_with_the_error(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "run"
    crashed = _train(out, uri, "crash")
    # a bug, not bad input: the traceback is what the user needs, and the exit status says failure
    assert crashed.returncode == 1 and "RuntimeError: CUDA error" in crashed.stderr
    run = mlflow.MlflowClient(tracking_uri=uri).get_run((out / "mlflow_run_id").read_text().strip())
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "RuntimeError: CUDA error: an illegal memory access was encountered"
    assert latest_checkpoint(out).name == "epoch-2"  # and it can be resumed like the Ctrl-C run
