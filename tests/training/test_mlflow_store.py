"""An MLflow store that cannot be used fails before any data is read; a run whose results could not be
stored is FAILED, not FINISHED."""
import mlflow
import pytest

from graphmner.cli import main
from graphmner.training.callbacks import MLflowCallback, check_store


def test_a_store_that_cannot_be_used_is_one_line_before_any_data(tmp_path, capsys):
    not_a_database = tmp_path / "store.txt"
    not_a_database.write_text("not a database\n")
    for uri, said in ((f"sqlite:///{not_a_database}", "file is not a database"),
                      ("nonsense://x", "unsupported URI 'nonsense://x'")):
        with pytest.raises(ValueError, match="cannot be used") as err:
            check_store(uri, "e")
        assert said in str(err.value) and "pass --no-mlflow" in str(err.value)
        # the command line says it in one line, and reads no data (a folder without its CoNLL files would be
        # the error)
        (tmp_path / "no-data").mkdir(exist_ok=True)
        assert main(["train", "--data-dir", str(tmp_path / "no-data"), "--output-dir", str(tmp_path / "r"),
                     f"mlflow.tracking_uri={uri}"]) == 2
        assert "cannot be used" in capsys.readouterr().err
    good = f"sqlite:///{tmp_path}/mlflow.db"
    check_store(good, "fresh")  # a new store and experiment are fine
    client = mlflow.MlflowClient(tracking_uri=good)
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(ValueError, match="experiment 'gone' is deleted"):
        check_store(good, "gone")


def test_results_that_could_not_be_stored_mark_the_run_failed(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.json").write_text("{}\n")
    callback = MLflowCallback("e", uri, "r", run_id_file=tmp_path / "run" / "mlflow_run_id")
    callback.on_train_begin({"train": {"epochs": 1}})

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(callback.mlflow, "log_artifact", full_disk)
    with pytest.raises(OSError, match="MLflow could not store the run's results .*marked FAILED"):
        callback.on_train_end({"best_epoch": 1, "train_seconds": 1.0}, tmp_path / "run")
    run = mlflow.MlflowClient(tracking_uri=uri).get_run((tmp_path / "run" / "mlflow_run_id").read_text().strip())
    assert run.info.status == "FAILED" and "No space left on device" in run.data.tags["error"]
