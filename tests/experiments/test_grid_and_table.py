"""experiments/grid.py (job expansion), experiments/table.py (MLflow or runs.jsonl -> Markdown) and the
visual-evidence study's word_shapes.py."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphmner import commands
from graphmner.cli import parse_args
from graphmner.data.conll import Tweet
from graphmner.data.datasets import load_dataset
from graphmner.data.text_evidence import read_text_evidence
from graphmner.eval.significance import gold_digest
from graphmner.evidence.visual import VisualEvidence
from graphmner.models.base import model_config

ROOT = Path(__file__).resolve().parents[2]


def _script(name, folder="experiments"):
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


grid, table = _script("grid"), _script("table")
word_shapes = _script("word_shapes", "experiments/studies/visual-evidence")
knowledge_names = _script("knowledge_names", "experiments/studies/knowledge-evidence")


def test_axes_apply_only_to_models_that_have_the_field():
    jobs = grid.product_jobs(["bert_crf", "graphmner"], ["twitter2017"], ["1", "2"],
                             [("model.fusion", ["gnn", "attention"]),
                              ("model.evidence", ["captions+detections", "none"])])
    names = [j.name for j in jobs]
    assert names[:2] == ["bert_crf-2017-s1", "bert_crf-2017-s2"]  # no fusion/evidence field: one variant
    assert len(names) == 2 + 2 * 2 * 2 and len(set(names)) == len(names)
    job = next(j for j in jobs if j.name == "graphmner.fusion-attention.evidence-captions+detections-2017-s2")
    assert job.variant == "graphmner.fusion-attention.evidence-captions+detections"
    assert job.args == ("--model", "graphmner", "model.fusion=attention", "--evidence", "captions,detections",
                        "--dataset", "twitter2017", "--seed", "2")


def test_job_file(tmp_path):
    path = tmp_path / "jobs.txt"
    path.write_text("# comment\n\numt-2017-s1  --model umt --seed 1   # trailing\nodd --model bert_crf\n")
    jobs = grid.file_jobs(path)
    assert [(j.name, j.variant, j.args) for j in jobs] == [
        ("umt-2017-s1", "umt", ("--model", "umt", "--seed", "1")), ("odd", "odd", ("--model", "bert_crf"))]


def test_a_dry_run_piped_into_head_ends_quietly(tmp_path):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("".join(f"bert_crf-s{i}  --model bert_crf --seed {i}\n" for i in range(20000)))
    proc = subprocess.Popen([sys.executable, str(ROOT / "experiments" / "grid.py"), "g", "--jobs", str(jobs),
                             "--runs-dir", str(tmp_path / "runs"), "--no-mlflow", "--dry-run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"grid 'g': 20000 runs")
    proc.stdout.close()  # what head does after its lines: the listing's next writes meet a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait() != 0 and "Traceback" not in err, err


def test_a_run_stopped_part_way_resumes_from_its_checkpoint(tmp_path, capsys):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("bert_crf-2017-s1  --model bert_crf --seed 1\nbert_crf-2017-s2  --model bert_crf --seed 2\n"
                    "bert_crf-2017-s3  --model bert_crf --seed 3\n")
    runs = tmp_path / "runs"
    for epoch in (2, 3):
        (runs / "bert_crf-2017-s1" / "checkpoints" / f"epoch-{epoch}").mkdir(parents=True)
    (runs / "bert_crf-2017-s1" / "checkpoints" / "epoch-2" / "COMPLETE").write_text("")  # epoch 3: half-written
    (runs / "bert_crf-2017-s3").mkdir()
    (runs / "bert_crf-2017-s3" / "metrics.json").write_text("{}")
    first, second, _ = grid.file_jobs(jobs)

    cmd, checkpoint = grid.train_command(first, runs, ["--experiment", "g", "train.num_threads=1"])
    assert checkpoint == runs / "bert_crf-2017-s1" / "checkpoints" / "epoch-2"
    # as configured when it started: no job arguments, no grid-wide ones, which --resume refuses
    assert cmd[2:] == ["graphmner.cli", "train", "--resume", str(runs / "bert_crf-2017-s1")]
    cmd, checkpoint = grid.train_command(second, runs, ["--experiment", "g"])
    assert checkpoint is None
    assert cmd[2:] == ["graphmner.cli", "train", "--model", "bert_crf", "--seed", "2", "--output-dir",
                       str(runs / "bert_crf-2017-s2"), "--experiment", "g", "mlflow.run_name=bert_crf-2017-s2",
                       "mlflow.tags.variant=bert_crf"]

    assert grid.main(["g", "--jobs", str(jobs), "--runs-dir", str(runs), "--no-mlflow", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("grid 'g': 3 runs, 1 finished already, 2 to run (1 from a checkpoint) ->")
    assert [line.split(":")[0].split() for line in out[1:]] == [
        ["resume", "after", "epoch-2", "bert_crf-2017-s1"], ["run", "bert_crf-2017-s2"], ["done", "bert_crf-2017-s3"]]


def _log_run(mlflow, name, tags, f1, seconds):
    with mlflow.start_run(run_name=name, tags=tags):
        for step, s in enumerate(seconds, 1):
            mlflow.log_metric("epoch_seconds", s, step=step)
        if f1 is not None:
            mlflow.log_metric("test_f1", f1)
            mlflow.log_metric("best_dev_f1", f1 - 0.01)


def test_table_from_mlflow_latest_run_per_seed_counts(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("t")
    try:
        common = {"grid": "g", "device": "cpu (2 threads)"}
        _log_run(mlflow, "a", {**common, "variant": "umt", "dataset": "twitter2017", "seed": "1"}, 0.50, [10])
        _log_run(mlflow, "a", {**common, "variant": "umt", "dataset": "twitter2017", "seed": "1"}, 0.80, [30, 50])
        _log_run(mlflow, "b", {**common, "variant": "umt", "dataset": "twitter2017", "seed": "2"}, 0.82, [20])
        _log_run(mlflow, "c", {**common, "model": "bert_crf", "dataset": "twitter2015", "seed": "1"}, 0.70, [5])
        _log_run(mlflow, "d", {"grid": "other", "variant": "umt", "dataset": "twitter2015", "seed": "1"}, 0.9, [1])
        _log_run(mlflow, "e", {**common, "variant": "umgf", "dataset": "twitter2015", "seed": "1"}, None, [1])
    finally:
        mlflow.set_tracking_uri(None)
    cells = table.collect("t", grid="g", tracking_uri=uri)
    assert set(cells) == {("umt", "twitter2017"), ("bert_crf", "twitter2015")}  # no test F1: not a result
    umt = cells[("umt", "twitter2017")]
    assert umt.f1 == pytest.approx({1: 80.0, 2: 82.0}) and umt.text() == "81.00 ± 1.41"
    assert sorted(umt.epoch_seconds) == [20, 30, 50]  # the older seed-1 run is ignored
    text = table.markdown(cells, rows=["umt"])
    assert text.splitlines()[:4] == [
        "| model | Twitter-2015 dev F1 | test F1 | n | s/epoch | Twitter-2017 dev F1 | test F1 | n | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|",
        "| umt |  |  |  |  | 80.00 ± 1.41 | 81.00 ± 1.41 | 2 | 33 |",
        "| bert_crf | 69.00 | 70.00 | 1 | 5 |  |  |  |  |"]
    assert text.splitlines()[-1] == "Regime: CPU, encoder ?."  # these test runs logged no model.encoder
    # the same runs exported as a study's per-run results tabulate the same
    export = tmp_path / "runs.jsonl"
    assert table.main(["--mlflow", "t", "--grid", "g", "--export", str(export), "--tracking-uri", uri]) == 0
    assert table.markdown(table.read_runs(export), rows=["umt"]) == text


def test_table_reads_a_runs_own_record_from_mlflow(tmp_path):
    """A run that logged its run.json (every graphmner train does) is read from it, per-tweet counts
    included; the grid and variant come from the MLflow tags (import_runs may rename them)."""
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    record = {"grid": "gpu", "variant": "x", "dataset": "twitter2017", "seed": 3, "test_f1": 0.8, "dev_f1": 0.81,
              "device": "NVIDIA H200", "encoder": "minilm", "test_tweet_counts": "111,001", "test_gold": "abc"}
    (tmp_path / "run.json").write_text(json.dumps(record))
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("t")
    try:
        with mlflow.start_run(run_name="r", tags={"grid": "g", "variant": "gnn"}):
            mlflow.log_metric("test_f1", 0.8)
            mlflow.log_artifact(str(tmp_path / "run.json"))
    finally:
        mlflow.set_tracking_uri(None)
    [found] = table.mlflow_runs("t", "g", uri)
    assert found["variant"] == "gnn" and found["grid"] == "g" and found["test_tweet_counts"] == "111,001"
    cell = table.collect("t", grid="g", tracking_uri=uri)[("gnn", "twitter2017")]
    assert cell.counts["test"] == {3: "111,001"} and cell.dev == {3: pytest.approx(81.0)}


def test_table_from_runs_file_later_lines_win_and_grids_filter(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    record = {"variant": "gnn", "dataset": "twitter2017", "epoch_seconds": [10.0], "device": "NVIDIA H200"}
    lines = [{**record, "grid": "pilot", "seed": 1, "test_f1": 0.5, "dev_f1": 0.5},
             {**record, "grid": "final", "seed": 1, "test_f1": 0.8, "dev_f1": 0.79},
             {**record, "grid": "final", "seed": 2, "test_f1": 0.82, "dev_f1": 0.81}]
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    cells = table.read_runs(runs)
    assert cells[("gnn", "twitter2017")].text() == "81.00 ± 1.41"  # the pilot's seed 1 was run again later
    assert "older run of ('gnn', 'twitter2017', 1)" in capsys.readouterr().err
    assert table.read_runs(runs, ["pilot"])[("gnn", "twitter2017")].text() == "50.00"
    with pytest.raises(SystemExit, match="no runs of grid"):
        table.read_runs(runs, ["nope"])


def test_every_study_has_a_page_and_its_runs_tabulate():
    studies = sorted(p for p in (ROOT / "experiments" / "studies").iterdir() if p.is_dir())
    index = (ROOT / "experiments" / "README.md").read_text()
    assert studies
    for study in studies:
        assert (study / "README.md").is_file() and f"studies/{study.name}/" in index
        cells = table.read_runs(study / "runs.jsonl")
        assert cells and all(c.f1 for c in cells.values())


def test_write_section_replaces_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- table:x -->\nold\n<!-- /table:x -->\nafter\n")
    table.write_section(readme, "x", "| new |\n")
    assert readme.read_text() == "intro\n<!-- table:x -->\n| new |\n<!-- /table:x -->\nafter\n"
    with pytest.raises(SystemExit, match="table:y"):
        table.write_section(readme, "y", "z")


def test_import_run_folders_then_tabulate(tmp_path, capsys):
    importer = _script("import_runs")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    for seed, f1 in ((1, 0.80), (2, 0.82)):
        run = tmp_path / "gpu_runs" / f"gnn-2017-s{seed}"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(f"model:\n  name: graphmner\ndata:\n  dataset: twitter2017\n"
                                         f"train:\n  seed: {seed}\n")
        (run / "metrics.json").write_text(json.dumps({
            "best_epoch": 2, "train_seconds": 30.0, "epoch_seconds": [10.0, 20.0], "train_loss": [3.0, 1.0],
            "device": "NVIDIA H200", "dev": {"precision": 0.8, "recall": 0.8, "f1": 0.8, "per_type": {}},
            "dev_f1": [0.78, 0.8], "test": {"precision": f1, "recall": f1, "f1": f1, "per_type": {}}}))
    # the record a run writes where it ran: named by its config, no grid, and no commit (a copy without git)
    (tmp_path / "gpu_runs" / "gnn-2017-s1" / "run.json").write_text(json.dumps(
        {"run": "graphmner-twitter2017-s1", "grid": None, "variant": "graphmner", "commit": None,
         "dataset": "twitter2017", "seed": 1, "test_f1": 0.8, "dev_f1": 0.8, "device": "NVIDIA H200",
         "epoch_seconds": [10.0, 20.0]}))
    (tmp_path / "gpu_runs" / "crashed-2017-s3").mkdir()
    folders = [str(p) for p in sorted((tmp_path / "gpu_runs").iterdir())]
    with pytest.raises(SystemExit, match="--commit c0ffee: no such commit in "):
        importer.main(["g", *folders, "--tracking-uri", uri, "--commit", "c0ffee"])
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert importer.main(["g", *folders, "--tracking-uri", uri, "--commit", head[:7]]) == 0
    out = capsys.readouterr().out
    assert "gnn-2017-s1: imported (test F1 80.00)" in out and "crashed-2017-s3: skipped (no metrics.json" in out
    assert importer.main(["g", *folders, "--tracking-uri", uri]) == 0
    assert "gnn-2017-s2: skipped (already in MLflow)" in capsys.readouterr().out
    cells = table.collect("g", grid="g", tracking_uri=uri)
    gnn = cells[("gnn", "twitter2017")]
    assert gnn.text() == "81.00 ± 1.41" and sorted(gnn.epoch_seconds) == [10, 10, 20, 20]
    assert gnn.devices == {"NVIDIA H200"}
    by_run = {r["run"]: r for r in table.mlflow_runs("g", "g", uri)}
    assert sorted(by_run) == ["gnn-2017-s1", "gnn-2017-s2"]  # the folder's name, not the one it ran under
    assert by_run["gnn-2017-s1"]["commit"] == head and by_run["gnn-2017-s1"]["grid"] == "g"
    assert by_run["gnn-2017-s2"]["dev_f1_per_epoch"] == [0.78, 0.8]  # no run.json: the logged history


def test_one_regime_per_table(tmp_path):
    runs = tmp_path / "runs.jsonl"
    base = {"dataset": "twitter2017", "seed": 1, "test_f1": 0.8, "dev_f1": 0.8}
    lines = [{**base, "variant": "bert", "device": "cpu (2 threads)", "encoder": "minilm"},
             {**base, "variant": "gnn", "device": "NVIDIA H200", "encoder": "minilm"}]
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    cells = table.read_runs(runs)
    with pytest.raises(SystemExit, match=r"rows from 2 regimes \(CPU, encoder minilm: bert; NVIDIA H200, encoder "
                                         r"minilm: gnn\)"):
        table.markdown(cells)
    assert table.markdown(cells, mix_regimes=True).splitlines()[-1] == \
        "Regimes (mixed on purpose): CPU, encoder minilm; NVIDIA H200, encoder minilm."
    # the same device with another thread count, or another CPU, is one regime: a CPU
    lines[1] = {**lines[1], "device": "cpu (1 threads)"}
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert table.markdown(table.read_runs(runs)).splitlines()[-1] == "Regime: CPU, encoder minilm."


def test_every_run_writes_its_record_and_the_table_reads_run_folders(tmp_path, capsys):
    from graphmner.cli import main
    from tests.conftest import TINY_DATA, TINY_ENCODER

    for seed in (1, 2):
        assert main(["train", "--model", "bert_crf", "--dataset", "tiny", "--data-dir", str(TINY_DATA), "--epochs", "2",
                     "--seed", str(seed),
                     "--device", "cpu", "--no-mlflow", "--output-dir", str(tmp_path / "runs" / f"bert-s{seed}"),
                     f"model.encoder_overrides={json.dumps(TINY_ENCODER)}", "model.pretrained=false",
                     "train.batch_size=4", "mlflow.tags.grid=g", "mlflow.tags.variant=bert"]) == 0
    record = json.loads((tmp_path / "runs" / "bert-s1" / "run.json").read_text())
    # the per-tweet counts a tweet-level test needs, from the run's own prediction file
    from graphmner.data.conll import read_predictions
    from graphmner.eval.significance import counts_of_text, entity_counts

    scored = read_predictions(tmp_path / "runs" / "bert-s1" / "predictions" / "test.conll")
    assert (counts_of_text(record["test_tweet_counts"]) == entity_counts([t.gold for t in scored],
                                                                         [t.predicted for t in scored])).all()
    assert len(record["test_gold"]) == 16 and record["dev_gold"] != record["test_gold"]
    metrics = json.loads((tmp_path / "runs" / "bert-s1" / "metrics.json").read_text())
    assert (record["grid"], record["variant"], record["seed"], record["model"]) == ("g", "bert", 1, "bert_crf")
    assert record["test_f1"] == metrics["test"]["f1"] and record["dev_f1"] == metrics["dev"]["f1"]
    assert record["dev_f1_per_epoch"] == metrics["dev_f1"] and len(record["epoch_seconds"]) == 2
    assert record["test_per_type"] == metrics["test"]["per_type"] and record["config"]["train"]["epochs"] == 2
    assert record["encoder"] == "minilm" and record["device"].startswith("cpu")
    # a record written before records carried per-tweet counts gets them from its folder's predictions
    older = {k: v for k, v in record.items() if not k.endswith(("_tweet_counts", "_gold"))}
    (tmp_path / "runs" / "bert-s1" / "run.json").write_text(json.dumps(older))
    export = tmp_path / "runs.jsonl"
    assert table.main(["--runs-dir", str(tmp_path / "runs"), "--export", str(export)]) == 0
    cells = table.read_runs(export)
    assert set(cells) == {("bert", "tiny")} and set(cells[("bert", "tiny")].f1) == {1, 2}
    assert cells[("bert", "tiny")].counts["test"][1] == record["test_tweet_counts"]
    assert "| bert |" in capsys.readouterr().out


def _named_run(run, f1):
    """A runs.jsonl line of run ``<variant>-s<seed>``."""
    return {"run": run, "variant": run[:-3], "dataset": "twitter2017", "seed": int(run[-1]), "test_f1": f1}


def test_export_merge_keeps_the_other_runs_and_replaces_a_run_of_the_same_name(tmp_path, capsys):
    study, new = tmp_path / "runs.jsonl", tmp_path / "new.jsonl"
    study.write_text("".join(json.dumps(_named_run(r, 0.8)) + "\n" for r in ("bert-s1", "gnn-s1", "bert-s2")))
    # the new store holds gnn-s1 twice (run again: the later record counts) and a run the study lacks
    new.write_text("".join(json.dumps(_named_run(r, f1)) + "\n" for r, f1 in (("gnn-s1", 0.7), ("gnn-s2", 0.9),
                                                                        ("gnn-s1", 0.85))))
    assert table.main([str(new), "--export", str(study), "--merge"]) == 0
    assert "3 runs ->" in capsys.readouterr().out
    merged = [json.loads(x) for x in study.read_text().splitlines()]
    assert [(r["run"], r["test_f1"]) for r in merged] == [("bert-s1", 0.8), ("gnn-s1", 0.85), ("bert-s2", 0.8),
                                                          ("gnn-s2", 0.9)]
    # without --merge the export is the source's runs alone
    assert table.main([str(new), "--export", str(study)]) == 0
    assert len(study.read_text().splitlines()) == 3
    with pytest.raises(SystemExit):
        table.main([str(new), "--merge"])


def test_another_studys_runs_brought_in_under_this_studys_row_name(tmp_path, capsys):
    other, study = tmp_path / "other.jsonl", tmp_path / "runs.jsonl"
    other.write_text("".join(json.dumps(_named_run(r, 0.8)) + "\n" for r in ("base-s1", "gnn.no-x-s1", "gnn-s1")))
    study.write_text(json.dumps(_named_run("new-s1", 0.9)) + "\n")
    assert table.main([str(other), "--rows", "base,gnn.no-x", "--only", "--rename", "gnn.no-x=gnn",
                       "--export", str(study), "--merge"]) == 0
    merged = [json.loads(x) for x in study.read_text().splitlines()]
    # only the chosen rows are written; a renamed run keeps its name and says what it was
    assert [(r["run"], r["variant"], r.get("renamed_from")) for r in merged] == [
        ("new-s1", "new", None), ("base-s1", "base", None), ("gnn.no-x-s1", "gnn", "gnn.no-x")]
    assert "| gnn |" in capsys.readouterr().out
    for bad in ("gnn.no-x", "missing=gnn", "gnn.no-x=", "a=b=c"):
        with pytest.raises(SystemExit):
            table.main([str(other), "--rename", bad])
    assert "--rename" in capsys.readouterr().err


def test_several_studies_in_one_table_each_row_from_the_first_study_that_has_it(tmp_path, capsys):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(json.dumps(dict(_named_run(r, 0.8), grid="a")) + "\n" for r in ("base-s1", "gnn-s1")))
    # the second study gives "gnn" to another command (0.5), and has a row of its own
    second.write_text("".join(json.dumps(dict(_named_run(r, f1), grid="b")) + "\n"
                              for r, f1 in (("base-s1", 0.8), ("gnn-s1", 0.5), ("new-s1", 0.9))))
    assert table.main([f"{first},{second}", "--rows", "base,gnn,new"]) == 0
    captured = capsys.readouterr()
    rows = [line.split(" | ")[:3] for line in captured.out.splitlines()[2:5]]
    assert rows == [["| base", "", "80.00"], ["| gnn", "", "80.00"], ["| new", "", "90.00"]]
    assert f"{second}: rows base, gnn left out: an earlier study has them" in captured.err
    assert table.main([f"{first},{second}", "--grids", "b"]) == 0  # grids select among every study's runs
    assert [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines()[2:]][:1] == ["| new"]
    with pytest.raises(SystemExit, match="no runs of grid"):
        table.main([f"{first},{second}", "--grids", "c"])


def test_dev_curves_per_run(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    runs.write_text(json.dumps({"variant": "bert", "dataset": "twitter2017", "seed": 1, "test_f1": 0.8,
                                "dev_f1_per_epoch": [0.70, 0.81, 0.80]}) + "\n")
    assert table.main([str(runs), "--curves"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "| run | 1 | 2 | 3 | best |", "|---|---|---|---|---|",
        "| bert twitter2017 s1 | 70.00 | **81.00** | 80.00 | epoch 2, 81.00 |"]


def _counted_run(variant, seed, right, tweets=100, counts=True):
    """A runs.jsonl line: one gold entity a tweet, the first ``right`` tweets' found (nothing else predicted)."""
    line = {"variant": variant, "dataset": "twitter2017", "seed": seed, "test_f1": 2 * right / (right + tweets),
            "dev_f1": 0.5, "device": "cpu", "encoder": "minilm"}
    if counts:
        line.update(test_tweet_counts=",".join("111" if i < right else "001" for i in range(tweets)), test_gold="same")
    return line


def _marked_runs(path, rows):
    """runs.jsonl lines: (variant, seeds, tweets right of 100) with per-tweet counts; one entity a tweet."""
    lines = [_counted_run(variant, seed, right + seed, counts=counts)  # each seed a little different
             for variant, seeds, right, counts in rows for seed in seeds]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))


def test_rows_marked_against_a_reference(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    _marked_runs(runs, [("bert", range(1, 6), 50, True), ("better", range(1, 6), 80, True),
                        ("few", range(1, 4), 80, True), ("same", range(1, 6), 50, True),
                        ("old", range(1, 6), 80, False)])
    assert table.main([str(runs), "--reference", "bert", "--rows", "bert,better,few,same,old"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("| model | Twitter-2017 dev F1 | test F1 | n | Δ test vs bert | p tweets | p seeds | s/epoch |")
    row = {line.split(" | ")[0][2:]: line.split(" | ") for line in out[2:7]}
    assert row["bert"][4:7] == ["", "", ""]
    assert row["better"][5] == "< 0.001" and row["better"][6] == "0.008"  # 1/1001 resamples; 2/252 relabellings
    assert row["few"][4].endswith("†") and row["few"][6].endswith("†")  # 3 seeds: no claim
    assert row["same"][4] == "+0.00" and row["same"][5] == "1.000" and row["same"][6] == "1.000"
    assert row["old"][5] == "—"  # runs recorded without per-tweet counts: no tweet-level test
    note = out[8]
    assert ("Multiple comparisons: 4 comparisons (rows × datasets) with bert; each p-value holds for its comparison "
            "alone") in note
    assert ("Holm's correction over the 3 tweet-level tests, these differ from bert at 0.05: better (Twitter-2017"
            in note)
    assert "few (" not in note  # significant, but on 3 seeds
    assert "does not confirm" not in note  # better's seed-level p (0.008) confirms it
    with pytest.raises(SystemExit, match="--reference nope: no such row"):
        table.main([str(runs), "--reference", "nope"])


def test_a_tweet_level_difference_the_seeds_do_not_confirm_is_named(tmp_path, capsys):
    """Two seeds far below the reference and three far above: the seed-averaged predictions differ clearly
    over tweets, but the seed-level test cannot tell the rows apart, and the note says so."""
    lines = [_counted_run(variant, seed, right, tweets=1000)
             for variant, rights in (("bert", [510, 520, 530, 540, 550]), ("noisy", [300, 350, 750, 850, 950]))
             for seed, right in enumerate(rights, start=1)]
    runs = tmp_path / "runs.jsonl"
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert table.main([str(runs), "--reference", "bert", "--rows", "bert,noisy"]) == 0
    note = capsys.readouterr().out.splitlines()[5]
    assert "these differ from bert at 0.05: noisy (Twitter-2017" in note
    assert "the seed-level test does not confirm noisy (Twitter-2017, p seeds 0." in note
    assert note.endswith("a difference inside the seed spread, no measurable effect.")


def test_runs_scored_on_the_tweets_a_text_source_covers(tmp_path, capsys):
    data = load_dataset("twitter2017", splits=("test",))
    descriptions = read_text_evidence(data.root / "descriptions_owl.jsonl")
    covered = [bool(descriptions.get(t.image_id or t.id, "").strip()) for t in data["test"]]
    assert 0 < sum(covered) < len(covered)
    digest = gold_digest([(t.id, t.tags) for t in data["test"]])
    # one gold entity a tweet; "better" finds it exactly on the covered tweets, "bert" on none of them
    def run(variant, seed, found):
        counts = ",".join("111" if hit else "001" for hit in found)
        return {"run": f"{variant}-s{seed}", "variant": variant, "dataset": "twitter2017", "seed": seed,
                "test_f1": 0.0, "dev_f1": 0.5, "test_tweet_counts": counts, "test_gold": digest}
    runs = tmp_path / "runs.jsonl"
    lines = [run("bert", s, [not c for c in covered]) for s in range(1, 6)]
    lines += [run("better", s, covered) for s in range(1, 6)]
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert table.main([str(runs), "--reference", "bert", "--covered-by", "descriptions"]) == 0
    out = capsys.readouterr().out.splitlines()
    row = {line.split(" | ")[0][2:]: line.split(" | ") for line in out[2:4]}
    assert row["bert"][1:4] == ["", "0.00 ± 0.00", "5"]  # no dev counts: no dev F1 of the whole split beside the subset
    assert row["better"][2:6] == ["100.00 ± 0.00", "5", "+100.00", "< 0.001"]
    assert out[-1] == f"F1 on the tweets covered by descriptions, and only those (Twitter-2017 test, " \
                      f"{sum(covered)} of {len(covered)})."
    with pytest.raises(SystemExit, match="--covered-by captions: not a text evidence source"):
        table.main([str(runs), "--covered-by", "captions"])
    with pytest.raises(SystemExit):
        table.main([str(runs), "--covered-by", "descriptions", "--export", str(tmp_path / "out.jsonl")])
    assert "--covered-by rescores the results table" in capsys.readouterr().err
    runs.write_text(json.dumps(dict(lines[0], test_gold="other")) + "\n")
    with pytest.raises(SystemExit, match="bert-s1's test tweets are not the bundled twitter2017 test split"):
        table.main([str(runs), "--covered-by", "descriptions"])


def test_runs_scored_on_the_tweets_a_file_lists(tmp_path, capsys):
    data = load_dataset("twitter2017", splits=("valid", "test"))
    test, dev = data["test"], data["valid"]
    digests = {s: gold_digest([(t.id, t.tags) for t in data[f]]) for s, f in (("test", "test"), ("dev", "valid"))}
    # one gold entity a tweet: "better" finds it on the first 100 test tweets and on no dev tweet
    def run(variant, seed, found_test, found_dev):
        def text(found):
            return ",".join("111" if hit else "001" for hit in found)
        return {"run": f"{variant}-s{seed}", "variant": variant, "dataset": "twitter2017", "seed": seed,
                "test_f1": 0.0, "dev_f1": 0.0, "test_tweet_counts": text(found_test), "test_gold": digests["test"],
                "dev_tweet_counts": text(found_dev), "dev_gold": digests["dev"]}
    runs = tmp_path / "runs.jsonl"
    lines = [run("bert", s, [False] * len(test), [True] * len(dev)) for s in range(1, 6)]
    lines += [run("better", s, [i < 100 for i in range(len(test))], [False] * len(dev)) for s in range(1, 6)]
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    listed = tmp_path / "first.txt"
    listed.write_text("# the first 50 test tweets and 3 dev tweets\n"
                      + "".join(f"twitter2017 test {t.id}\n" for t in test[:50])
                      + "".join(f"twitter2017 dev {t.id}  # a comment\n" for t in dev[:3]))
    assert table.main([str(runs), "--reference", "bert", "--tweets", str(listed)]) == 0
    out = capsys.readouterr().out.splitlines()
    row = {line.split(" | ")[0][2:]: line.split(" | ") for line in out[2:4]}
    assert row["bert"][1:4] == ["100.00 ± 0.00", "0.00 ± 0.00", "5"]
    assert row["better"][1:6] == ["0.00 ± 0.00", "100.00 ± 0.00", "5", "+100.00", "< 0.001"]
    assert out[-1] == f"F1 on the tweets listed in {listed}, and only those (Twitter-2017 dev, 3 of {len(dev)}; " \
                      f"Twitter-2017 test, 50 of {len(test)})."
    listed.write_text(f"twitter2017 test {test[0].id}\ntwitter2017 test no-such-tweet\n")
    with pytest.raises(SystemExit, match=f"{listed}:2: no tweet 'no-such-tweet' in the bundled twitter2017 test"):
        table.main([str(runs), "--tweets", str(listed)])
    listed.write_text(f"twitter2017 valid {test[0].id}\n")
    with pytest.raises(SystemExit, match=f"{listed}:1: expected 'DATASET SPLIT TWEET_ID'"):
        table.main([str(runs), "--tweets", str(listed)])
    listed.write_text(f"twitter2017 dev {dev[0].id}\n")
    with pytest.raises(SystemExit, match="keeps none of the twitter2017 test tweets of run bert-s1"):
        table.main([str(runs), "--tweets", str(listed)])
    with pytest.raises(SystemExit):
        table.main([str(runs), "--tweets", str(listed), "--covered-by", "descriptions"])
    assert "give one" in capsys.readouterr().err


def test_patience_table_reads_early_stopping_off_the_curves(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    curves = {1: [0.70, 0.80, 0.79, 0.78, 0.81, 0.80], 2: [0.70, 0.79, 0.80, 0.78, 0.77, 0.80]}
    runs.write_text("".join(json.dumps({"variant": "bert", "dataset": "twitter2017", "seed": s, "test_f1": 0.8,
                                        "dev_f1_per_epoch": c}) + "\n" for s, c in curves.items()))
    assert table.main([str(runs), "--patience", "1,2,3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| run | seeds | epochs | best dev F1 | patience 1 | patience 2 | patience 3 |"
    # best 81 and 80 (80.50 ± 0.71); patience 1 stops after epochs 3 and 4 keeping 80 and 80; patience 3 runs
    # seed 1 to epoch 6 (81, within one std of the best: ✓) and seed 2 to epoch 6 (80)
    assert out[2] == ("| bert Twitter-2017 | 2 | 6 | 80.50 ± 0.71 | 80.00 ± 0.00 (3.5 ep) ✓ | 80.00 ± 0.00 (4.5 ep) ✓ "
                      "| 80.50 ± 0.71 (6.0 ep) ✓ |")


def test_a_shorter_schedule_is_marked_against_its_long_run(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    long = {1: [0.70, 0.80, 0.81, 0.80], 2: [0.70, 0.79, 0.80, 0.80]}  # best 81 and 80: 80.50 ± 0.71
    short = {1: [0.65, 0.70], 2: [0.64, 0.69]}  # best 70 and 69: 69.50, under 80.50 - 0.71
    close = {1: [0.75, 0.80], 2: [0.74, 0.81]}  # best 80 and 81: 80.50, within
    lines = []
    for variant, curves in (("bert-4ep", long), ("bert-2ep", short), ("other-2ep", close)):
        for seed, curve in curves.items():
            right = round(100 * max(curve))  # dev tweets right of 100, one entity each: F1 = right %
            lines.append({"variant": variant, "dataset": "twitter2017", "seed": seed, "test_f1": 0.8,
                          "dev_f1": max(curve), "dev_f1_per_epoch": curve, "dev_gold": "same",
                          "dev_tweet_counts": ",".join("111" if i < right else "001" for i in range(100))})
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert table.main([str(runs), "--patience", "1", "--rows", "bert-4ep,other-2ep,bert-2ep",
                       "--long-runs", "bert-2ep=bert-4ep,other-2ep=bert-4ep"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| run | seeds | epochs | best dev F1 | patience 1 | best dev vs long run (Δ, p tweets, p seeds) |"
    assert [line.split(" | ")[0] for line in out[2:]] == [  # in --rows order
        "| bert-4ep Twitter-2017", "| other-2ep Twitter-2017", "| bert-2ep Twitter-2017"]
    assert out[2].split(" | ")[3] == "80.50 ± 0.71" and out[2].endswith(" |  |")  # the long run itself
    assert out[3].split(" | ")[3] == "80.50 ± 0.71 ✓"
    short_row = out[4].split(" | ")
    assert short_row[3] == "69.50 ± 0.71" and short_row[4] == "69.50 ± 0.71 (2.0 ep)"  # no ✓: below the floor
    # 11 of 100 tweets fewer right; 2 seeds a side: † and p seeds = 2/6
    delta, p_tweets, p_seeds = short_row[5].rstrip(" |").split(", ")
    assert delta == "-11.00†" and float(p_tweets) < 0.05 and p_seeds == "0.333†"
    with pytest.raises(SystemExit, match="--long-runs: no runs of bert-9ep"):
        table.main([str(runs), "--patience", "1", "--long-runs", "bert-2ep=bert-9ep"])
    with pytest.raises(SystemExit):
        table.main([str(runs), "--patience", "1", "--long-runs", "bert-2ep"])


def test_rows_marked_on_dev_for_a_decision(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    _marked_runs(runs, [("bert", range(1, 6), 50, True), ("better", range(1, 6), 80, True)])
    records = [json.loads(line) for line in runs.read_text().splitlines()]
    for r in records:  # dev: the two rows swap places
        r.update(dev_f1=1.3 - r["test_f1"], dev_tweet_counts=r["test_tweet_counts"].replace("111", "x")
                 .replace("001", "111").replace("x", "001"), dev_gold="d")
    runs.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert table.main([str(runs), "--reference", "bert", "--split", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "Δ dev vs bert" in out[0]
    better = out[3].split(" | ")
    assert better[0] == "| better" and better[4].startswith("-") and better[5] == "< 0.001"
    assert "mean dev F1 minus bert's" in out[5] and "over dev tweets" in out[5]


def test_cost_table_gives_seconds_per_epoch_and_the_ratio_to_a_reference(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    rows = [{"variant": "bert", "dataset": "twitter2017", "seed": 1, "epoch_seconds": [60, 80], "device": "cpu"},
            {"variant": "concat", "dataset": "twitter2017", "seed": 1, "epoch_seconds": [560], "device": "cpu"},
            {"variant": "concat", "dataset": "twitter2015", "seed": 1, "epoch_seconds": [900], "device": "cpu"}]
    runs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert table.main([str(runs), "--cost", "--reference", "bert"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "| variant | dataset | epochs timed | s / epoch | × bert |", "|---|---|---|---|---|",
        "| bert | twitter2017 | 2 | 70 | 1.00 |", "| concat | twitter2017 | 1 | 560 | 8.00 |",
        "| concat | twitter2015 | 1 | 900 | – |", "", "Device: cpu."]
    runs.write_text("".join(json.dumps({**r, "device": d}) + "\n" for r, d in zip(rows, ("cpu", "cuda", "cpu"))))
    with pytest.raises(SystemExit, match="timed on different machines .*: one machine per cost table"):
        table.main([str(runs), "--cost"])
    kernels = ("AVX512", None, "AVX2")  # a record without kernels matches any; two kernels do not match
    runs.write_text("".join(json.dumps({**r, "cpu_kernels": k}) + "\n" for r, k in zip(rows, kernels)))
    with pytest.raises(SystemExit, match=r"\(cpu, AVX2; cpu, AVX512; cpu, CPU kernels not recorded\): one machine"):
        table.main([str(runs), "--cost"])
    runs.write_text("".join(json.dumps({**r, "cpu_kernels": k}) + "\n" for r, k in zip(rows, ("AVX2", None, None))))
    assert table.main([str(runs), "--cost"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Device: cpu, CPU kernels AVX2."


def test_seconds_per_epoch_of_runs_timed_on_different_machines_are_marked(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    run = {"dataset": "twitter2017", "test_f1": 0.8, "dev_f1": 0.8, "device": "cpu (1 threads)"}
    rows = [{**run, "variant": "bert", "seed": 1, "epoch_seconds": [150], "cpu_kernels": "AVX512"},
            {**run, "variant": "bert", "seed": 2, "epoch_seconds": [330], "cpu_kernels": "AVX2"},
            {**run, "variant": "gnn", "seed": 1, "epoch_seconds": [200], "cpu_kernels": "AVX512"},
            {**run, "variant": "gnn", "seed": 2, "epoch_seconds": [220]}]  # a record from before cpu_kernels
    runs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert table.main([str(runs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].endswith("| 240‡ |") and out[3].endswith("| 210 |")
    assert out[5] == ("‡ s/epoch: the mean over runs timed on different machines (cpu (1 threads), AVX2; "
                      "cpu (1 threads), AVX512), not comparable with the other rows' s/epoch.")
    # one run resumed from its checkpoint on another machine: its own epochs mix machines
    resumed = {**rows[2], "resumes": [{"after_epoch": 1, "device": "cpu (1 threads)", "cpu_kernels": "AVX2"}]}
    runs.write_text("".join(json.dumps(r) + "\n" for r in [resumed, rows[3]]))
    assert table.main([str(runs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].endswith("| 210‡ |")
    runs.write_text(json.dumps(resumed) + "\n")
    with pytest.raises(SystemExit, match=r"\(cpu \(1 threads\), AVX2; cpu \(1 threads\), AVX512\): one machine"):
        table.main([str(runs), "--cost"])


def test_word_shapes_counts_words_entities_and_pieces_per_shape():
    class Pieces:  # one piece a character: a URL weighs its length, "\ufe0f" (no pieces) weighs one
        def tokenize(self, word):
            return [c for c in word if c != "\ufe0f"]

    tweets = [Tweet("1", ["Katie", "Hopkins", "wins", "http://t.co"], ["B-PER", "I-PER", "O", "O"]),
              Tweet("2", ["NBA", "\ufe0f"], ["B-ORG", "O"])]
    table = word_shapes.shape_table(tweets, Pieces())
    assert list(table)[0] == "capitalised"  # most frequent first
    # six words, 31 pieces: Katie 5, Hopkins 7, wins 4, the URL 11, NBA 3, the emoji variation selector 1
    assert table["capitalised"] == pytest.approx((100 * 2 / 6, 100.0, 100 * 12 / 31))
    assert table["url"] == pytest.approx((100 / 6, 0.0, 100 * 11 / 31))
    assert table["all caps"] == pytest.approx((100 / 6, 100.0, 100 * 3 / 31))
    assert table["lower"] == pytest.approx((100 / 6, 0.0, 100 * 4 / 31))
    assert table["other"] == pytest.approx((100 / 6, 0.0, 100 / 31))
    assert sum(share for share, _, _ in table.values()) == pytest.approx(100.0)


def test_word_shapes_group_f1_is_the_seed_mean_of_the_group_tweets_f1():
    # per tweet "correct predicted gold": seed 1 gets tweet 0 right and tweet 1 wrong, seed 2 the reverse
    runs = [{"variant": "a", "dataset": "d", "test_tweet_counts": "111,011"},
            {"variant": "a", "dataset": "d", "test_tweet_counts": "011,111"},
            {"variant": "b", "dataset": "d", "test_tweet_counts": "111,111"}]
    first = np.array([True, False])
    assert word_shapes.group_f1(runs, "a", "d", "test", first) == (pytest.approx(50.0), 2)
    assert word_shapes.group_f1(runs, "b", "d", "test", first) == (pytest.approx(100.0), 1)
    # over both tweets each seed has 1 correct of 2 predicted and 2 gold: F1 0.5, pooled per seed, not per tweet
    assert word_shapes.group_f1(runs, "a", "d", "test", np.array([True, True]))[0] == pytest.approx(50.0)


@pytest.mark.parametrize("path", sorted((ROOT / "experiments" / "studies").glob("*/grids/*.txt")),
                         ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_committed_grid_line_is_a_valid_train_command(path):
    """A study's job list must run as written: each line parses as ``graphmner train`` arguments, its
    config (file, flags, overrides) is valid for its model, and a name ending ``-2017-s3`` says the
    dataset and seed that its arguments give, so that no run is filed under another's name."""
    jobs = grid.file_jobs(path)
    assert jobs and len({j.name for j in jobs}) == len(jobs)
    for job in jobs:
        config = commands.train_config(parse_args(["train", *job.args]))
        model_config(config.model)  # an unknown model or model key raises, naming it
        named = re.fullmatch(r".+-(2015|2017)-s(\d+)", job.name)
        if named:
            assert (config.data.dataset, config.train.seed) == (f"twitter{named[1]}", int(named[2])), job.name


def test_an_entity_is_named_when_one_candidate_spells_all_its_words():
    tweet = Tweet("t1", ["Mets", "fans", "at", "#", "New", "York", "Mets", "game", "with", "Kawhi", "Leonard"],
                  ["B-ORG", "O", "O", "O", "B-ORG", "I-ORG", "I-ORG", "O", "O", "B-PER", "I-PER"])
    knowledge = ("Named entities: 1. NewYorkMets (baseball team) 2. Leonard (person)\n"
                 "Reasoning: the New York Mets play at Citi Field.")
    evidence = VisualEvidence("t1", texts={"knowledge": knowledge})
    # "Mets" alone is a partial match of NewYorkMets, "Kawhi Leonard" only half spelled by "Leonard"
    assert knowledge_names.named_entities(tweet, evidence) == [("ORG", False), ("ORG", True), ("PER", False)]
    assert knowledge_names.named_entities(tweet, VisualEvidence("t1")) == [("ORG", False)] * 2 + [("PER", False)]
