"""What the analysis notebooks share: the repository root, and a small trained model when the
reader gives none (so that every notebook runs top to bottom on the bundled data).

``GRAPHMNER_NOTEBOOK_SMALL=1`` (CI) trains with a tiny random encoder on a few tweets: the
notebook's code runs, its figures mean nothing. Otherwise the small model is MiniLM (offline),
trained one epoch on part of the training split: a few minutes on a CPU, and real predictions.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from graphmner.config import load_config
from graphmner.training.run import run_training

ROOT = Path(__file__).resolve().parents[1]
SMALL = os.environ.get("GRAPHMNER_NOTEBOOK_SMALL") == "1"
TINY_ENCODER = '{"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}'


def small_model(model: str, dataset: str, seed: int = 1, output_dir: str | Path | None = None,
                mlflow_uri: str | None = None, experiment: str = "notebook", tags: dict[str, str] | None = None,
                overrides: list[str] = ()):
    """Train ``model`` briefly on ``dataset`` and return the output folder (``<dir>/model`` loads with
    ``Predictor.from_pretrained``). MLflow logging only when ``mlflow_uri`` is given."""
    # a fresh temporary folder ($GRAPHMNER_NOTEBOOK_RUNS, else the system's), kept while the notebook uses it
    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix=f"graphmner-{model}-",
                                                                      dir=os.environ.get("GRAPHMNER_NOTEBOOK_RUNS")))
    # one thread for the tiny model: the test suite runs notebooks beside other tests, one per core
    settings = ["train.batch_size=8", f"train.num_threads={1 if SMALL else 2}"]
    if SMALL:
        settings += [f"model.encoder_overrides={TINY_ENCODER}", "model.pretrained=false", "train.lr_encoder=1e-3",
                     "train.lr_head=1e-2"]
        if model != "bert_crf":
            settings += ["model.heads=2"] + (["model.channels=32"] if model == "graphmner" else [])
    mlflow = {"enabled": mlflow_uri is not None, "tracking_uri": mlflow_uri, "experiment": experiment,
              "tags": tags or {}}
    config = load_config(None, {"model": {"name": model}, "data": {"dataset": dataset, "limit": 40 if SMALL else 800},
                                "train": {"epochs": 1, "seed": seed, "device": "cpu"}, "mlflow": mlflow,
                                "output_dir": str(out)}, overrides=[*settings, *overrides])
    run_training(config)
    return out
