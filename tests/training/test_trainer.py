import json

import pytest

from graphmner.config import TrainConfig
from graphmner.models.base import Tagger, get_model_class
from graphmner.training.callbacks import Callback, MLflowCallback, flatten
from graphmner.training.trainer import Trainer, evaluate
from tests.conftest import tiny_model_config


class Recorder(Callback):
    def __init__(self):
        self.epochs, self.ended = [], None

    def on_epoch_end(self, epoch, metrics):
        self.epochs.append((epoch, metrics))

    def on_train_end(self, result, output_dir):
        self.ended = result


def fit(tmp_path, tiny_data, tiny_labels, callbacks=(), epochs=3):
    model = get_model_class("bert_crf")(tiny_model_config(), tiny_labels)
    featurize = model.featurizer()
    config = TrainConfig(epochs=epochs, batch_size=4, lr_encoder=1e-3, lr_head=1e-2, device="cpu")
    trainer = Trainer(model, config, callbacks)
    return trainer.fit(featurize(tiny_data["train"]), featurize(tiny_data["valid"]), featurize(tiny_data["test"]),
                       tmp_path / "out", run_config={"train": {"epochs": epochs}})


def test_fit_writes_outputs_and_selects_on_dev(tmp_path, tiny_data, tiny_labels):
    recorder = Recorder()
    result = fit(tmp_path, tiny_data, tiny_labels, [recorder])
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"best_epoch", "dev", "test", "train_seconds", "epoch_seconds", "train_loss", "dev_f1",
                            "epochs_trained", "processes", "device", "cpu_kernels"}
    assert metrics["processes"] == 1 and metrics["train_loss"] == [m["train_loss"] for _, m in recorder.epochs]
    assert {"f1", "precision", "recall", "per_type"} <= set(metrics["test"])
    assert 0.0 <= metrics["test"]["f1"] <= 1.0 and len(metrics["epoch_seconds"]) == 3
    dev_f1 = [m["dev_f1"] for _, m in recorder.epochs]
    assert metrics["dev_f1"] == dev_f1 and metrics["epochs_trained"] == 3
    assert metrics["best_epoch"] == 1 + dev_f1.index(max(dev_f1))  # first epoch with the best dev F1
    assert metrics["dev"]["f1"] == pytest.approx(max(dev_f1))
    # the returned and the saved model carry the best-dev weights: re-scoring dev reproduces it
    loaded = Tagger.from_pretrained(out / "model")
    rescored, _ = evaluate(loaded, loaded.featurizer()(tiny_data["valid"]))
    assert rescored["f1"] == pytest.approx(metrics["dev"]["f1"])
    assert (out / "predictions" / "test.conll").is_file() and (out / "report_test.txt").is_file()
    assert recorder.ended == result.metrics


def test_mlflow_callback_logs_params_metrics_artifacts(tmp_path, tiny_data, tiny_labels):
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    callback = MLflowCallback("test-exp", tracking_uri=uri, run_name="tiny", tags={"seed": "1"})
    fit(tmp_path, tiny_data, tiny_labels, [callback], epochs=2)
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.search_runs([client.get_experiment_by_name("test-exp").experiment_id])[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny" and run.data.tags["seed"] == "1"
    assert run.data.params["train.epochs"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "dev_f1")] == [1, 2]
    assert "test_f1" in run.data.metrics and "best_epoch" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "report_test.txt", "predictions"} <= artifacts and "model" not in artifacts


def test_mlflow_marks_a_crash_failed(tmp_path, tiny_data, tiny_labels):
    import mlflow

    class Boom(Callback):
        def on_epoch_end(self, epoch, metrics):
            raise RuntimeError("boom")

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(RuntimeError, match="boom"):
        fit(tmp_path, tiny_data, tiny_labels, [MLflowCallback("crash", tracking_uri=uri), Boom()], epochs=1)
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.search_runs([client.get_experiment_by_name("crash").experiment_id])[0]
    assert run.info.status == "FAILED" and "boom" in run.data.tags["error"]


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": {}}) == {"a.b": 1, "a.c.d": None, "e": {}}


def scripted_dev(monkeypatch, dev_f1: list[float]):
    """Make the per-epoch dev evaluations return ``dev_f1`` in turn, and record the weights each epoch ended with
    and the weights the final test evaluation used."""
    from graphmner.training import trainer as trainer_module

    real, seen = trainer_module.evaluate, {"epochs": [], "test": None}

    def evaluate(model, examples, *args, records=None, **kwargs):
        scores, predicted = real(model, examples, *args, records=records, **kwargs)
        weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if records is None:  # the dev evaluation after an epoch (the final ones collect per-tweet records)
            seen["epochs"].append(weights)
            scores = {**scores, "f1": dev_f1[len(seen["epochs"]) - 1]}
        elif kwargs.get("desc") == "test":
            seen["test"] = weights
        return scores, predicted

    monkeypatch.setattr(trainer_module, "evaluate", evaluate)
    return seen


def same_weights(a: dict, b: dict) -> bool:
    return all(bool((a[k] == b[k]).all()) for k in a)


def test_the_best_dev_epoch_is_the_one_tested_when_it_is_a_middle_one(tmp_path, tiny_data, tiny_labels, monkeypatch):
    seen = scripted_dev(monkeypatch, [0.50, 0.80, 0.60])  # epoch 2 is the best on dev
    result = fit(tmp_path, tiny_data, tiny_labels, epochs=3)
    assert result.metrics["best_epoch"] == 2 and result.metrics["dev_f1"] == [0.50, 0.80, 0.60]
    first, middle, last = seen["epochs"]
    assert not same_weights(middle, last) and not same_weights(first, middle)  # training moved the weights
    assert same_weights(seen["test"], middle)  # test was scored with epoch 2's weights, not the last ones
    saved = Tagger.from_pretrained(tmp_path / "out" / "model").state_dict()
    assert same_weights({k: v for k, v in saved.items()}, middle)


def test_patience_stops_training_after_epochs_without_a_better_dev(tmp_path, tiny_data, tiny_labels, monkeypatch):
    seen = scripted_dev(monkeypatch, [0.50, 0.80, 0.70, 0.79, 0.90, 0.95])
    model = get_model_class("bert_crf")(tiny_model_config(), tiny_labels)
    config = TrainConfig(epochs=6, patience=2, batch_size=4, lr_encoder=1e-3, lr_head=1e-2, device="cpu")
    featurize = model.featurizer()
    result = Trainer(model, config).fit(featurize(tiny_data["train"]), featurize(tiny_data["valid"]),
                                        featurize(tiny_data["test"]), tmp_path / "out")
    # epochs 3 and 4 bring nothing better than epoch 2: training ends after epoch 4, epoch 2's weights are kept
    assert result.metrics["epochs_trained"] == 4 and len(seen["epochs"]) == 4
    assert result.metrics["best_epoch"] == 2 and same_weights(seen["test"], seen["epochs"][1])


@pytest.mark.parametrize("curve, patience", [
    ([0.50, 0.80, 0.70, 0.79, 0.90, 0.95], 2),
    ([0.50, 0.80, 0.80, 0.79, 0.90, 0.95], 1),  # a tie is no improvement
    ([0.50, 0.60, 0.70, 0.65, 0.66, 0.64], 3),  # runs to the end
])
def test_the_recipe_tool_stops_where_the_trainer_does(tmp_path, tiny_data, tiny_labels, monkeypatch, curve, patience):
    """experiments/table.py --patience reads early stopping off a long run's dev curve: it must stop where
    the trainer stops, and keep the epoch the trainer keeps."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "experiments" / "table.py"
    spec = importlib.util.spec_from_file_location("recipe_table", path)
    table = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = table
    spec.loader.exec_module(table)
    scripted_dev(monkeypatch, curve)
    model = get_model_class("bert_crf")(tiny_model_config(), tiny_labels)
    config = TrainConfig(epochs=len(curve), patience=patience, batch_size=4, lr_encoder=1e-3, lr_head=1e-2,
                         device="cpu")
    featurize = model.featurizer()
    result = Trainer(model, config).fit(featurize(tiny_data["train"]), featurize(tiny_data["valid"]),
                                        featurize(tiny_data["test"]), tmp_path / "out")
    trained, best_epoch, best = table.early_stop(curve, patience)
    assert (result.metrics["epochs_trained"], result.metrics["best_epoch"]) == (trained, best_epoch)
    assert best == max(curve[:trained])


@pytest.mark.parametrize("schedule, warmup, expected", [
    # UMGF's StepLR(2 epochs, 0.8) with 3 steps an epoch and no warm-up
    ("step", 0.0, [1.0] * 6 + [0.8] * 6 + [0.64] * 3),
    # the default: linear warm-up over 2 of 15 steps, then linear decay to 0
    ("linear", 0.15, [1 / 3, 2 / 3] + [(15 - s) / 13 for s in range(2, 15)]),
])
def test_learning_rate_schedules(tiny_labels, schedule, warmup, expected):
    model = get_model_class("bert_crf")(tiny_model_config(), tiny_labels)
    config = TrainConfig(epochs=5, lr_head=1.0, warmup_ratio=warmup, schedule=schedule, step_epochs=2, step_gamma=0.8,
                         device="cpu")
    optimizer, scheduler = Trainer(model, config)._optimizer(steps=15, steps_per_epoch=3)
    head = next(g for g in optimizer.param_groups if g["name"] == "head")
    seen = []
    for _ in range(15):
        seen.append(head["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx(expected)



def test_progress_bars_hide_for_other_ranks_and_under_tqdm_disable():
    import os
    import subprocess
    import sys

    check = ("from tqdm.auto import tqdm; from graphmner.training.trainer import _bar_kwargs; "
             "print(tqdm([], **_bar_kwargs(True)).disable, tqdm([], **_bar_kwargs(False)).disable)")
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    shown = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["False", "True"]
    # tqdm reads TQDM_DISABLE when imported; a batch job's wish holds where graphmner would show a bar
    hidden = subprocess.run([sys.executable, "-c", check], env={**env, "TQDM_DISABLE": "1"}, capture_output=True,
                            text=True, check=True)
    assert hidden.stdout.split() == ["True", "True"]
