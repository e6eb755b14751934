"""Checkpoints and --resume: a run killed (kill -9) mid-training and resumed ends as the uninterrupted run (CPU)."""
import json
import os
import subprocess
import sys

from graphmner.cli import main
from graphmner.training.checkpoint import CHECKPOINTS, COMPLETE, latest_checkpoint
from graphmner.training.run import SESSIONS, record_session
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
    sessions = json.loads((out / SESSIONS).read_text())
    this_machine = {k: sessions[0][k] for k in ("commit", "git_dirty", "device", "cpu_kernels")}
    # as if the run had started from other code on another machine
    elsewhere = {"after_epoch": 0, "commit": "0" * 40, "git_dirty": "true", "device": "cpu (7 threads)",
                 "cpu_kernels": "AVX512"}
    (out / SESSIONS).write_text(json.dumps([elsewhere]))

    assert resume_logging_to(out, uri) == 0
    assert run_metrics(out) == run_metrics(uninterrupted)
    predictions = "predictions/test.conll"
    assert (out / predictions).read_text() == (uninterrupted / predictions).read_text()
    run = client.get_run(run_id)  # the same MLflow run, finished, every epoch logged once
    assert run.info.status == "FINISHED" and run.data.tags["resumed"] == "true"
    assert [m.step for m in client.get_metric_history(run_id, "dev_f1")] == [1, 2, 3, 4]
    # the record names the code and machine the run started with, and the stretch after the resume
    record = json.loads((out / "run.json").read_text())
    assert {k: record[k] for k in this_machine} == {k: elsewhere[k] for k in this_machine}
    assert record["resumes"] == [{"after_epoch": 2, **this_machine}]
    assert len(record["epoch_seconds"]) == 4


def test_a_resume_that_trains_the_same_epochs_again_replaces_the_stretch_that_left_nothing(tmp_path):
    def machine(n):
        return {"commit": f"{n}" * 40, "git_dirty": "false", "device": f"cpu ({n} threads)", "cpu_kernels": "AVX2"}

    def checkpoint(epoch):
        (tmp_path / CHECKPOINTS / f"epoch-{epoch}").mkdir(parents=True)
        (tmp_path / CHECKPOINTS / f"epoch-{epoch}" / COMPLETE).touch()

    assert record_session(tmp_path, machine(1), resume=False) == [{"after_epoch": 0, **machine(1)}]
    checkpoint(3)
    assert record_session(tmp_path, machine(2), resume=True) == [{"after_epoch": 0, **machine(1)},
                                                                  {"after_epoch": 3, **machine(2)}]
    # killed before epoch 4 was checkpointed: the next resume trains epoch 4 again, on machine 3
    assert record_session(tmp_path, machine(3), resume=True) == [{"after_epoch": 0, **machine(1)},
                                                                  {"after_epoch": 3, **machine(3)}]
    checkpoint(5)
    assert [s["after_epoch"] for s in record_session(tmp_path, machine(4), resume=True)] == [0, 3, 5]
    # a fresh run in the folder starts the list anew
    assert record_session(tmp_path, machine(5), resume=False) == [{"after_epoch": 0, **machine(5)}]
    # a folder from before stretches were kept: where the run began is not known, and not guessed
    (tmp_path / SESSIONS).unlink()
    unknown = dict.fromkeys(machine(6))
    assert record_session(tmp_path, machine(6), resume=True) == [{"after_epoch": 0, **unknown},
                                                                  {"after_epoch": 5, **machine(6)}]


def test_resume_errors(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no config.yaml there" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--epochs", "9"]) == 2
    assert "drop ['--epochs']" in capsys.readouterr().err
