"""The command line end to end on the tiny corpus (random tiny encoder)."""
import json
import logging

import pytest
import torch

from graphmner.cli import main
from tests.conftest import TINY_DATA, TINY_ENCODER

TINY = [f"model.encoder_overrides={json.dumps(TINY_ENCODER)}", "model.pretrained=false", "train.batch_size=4",
        "train.lr_encoder=1e-3", "train.lr_head=1e-2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--model", "bert_crf", "--data-dir", str(TINY_DATA), "--dataset", "tiny", "--epochs", "2",
                 "--seed", "1", "--output-dir", str(out), "--encoder", "minilm", "--no-mlflow", "--device", "cpu",
                 *TINY])
    assert code == 0
    return out


def test_train_writes_metrics_and_model(trained, capsys):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["best_epoch"] in (1, 2) and "per_type" in metrics["test"]
    assert (trained / "model" / "model.safetensors").is_file() and (trained / "config.yaml").is_file()


def test_a_finished_run_is_replaced_only_when_asked(trained, tmp_path, capsys):
    before = (trained / "metrics.json").read_text()
    assert main(["train", "--data-dir", str(TINY_DATA), "--output-dir", str(trained), "--no-mlflow", *TINY]) == 2
    assert f"{trained} holds a finished run (metrics.json): pass --overwrite" in capsys.readouterr().err
    assert (trained / "metrics.json").read_text() == before  # nothing touched
    out = tmp_path / "again"
    args = ["train", "--data-dir", str(TINY_DATA), "--epochs", "1", "--output-dir", str(out), "--no-mlflow",
            "--device", "cpu", *TINY]
    assert main(args) == 0 and main([*args, "--overwrite"]) == 0
    # without --dataset, a --data-dir run is named after its folder, not after a bundled corpus
    record = json.loads((out / "run.json").read_text())
    assert record["dataset"] == TINY_DATA.name
    # which CPU kernels ran: the same seed's last digits depend on them
    kernels = torch.backends.cpu.get_cpu_capability()
    assert record["cpu_kernels"] == json.loads((out / "metrics.json").read_text())["cpu_kernels"] == kernels


def test_train_from_config_file_matches_flags(trained, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  dataset: tiny\n  data_dir: {TINY_DATA}\ntrain:\n  epochs: 2\n  seed: 1\n"
                      f"  device: cpu\nmlflow:\n  enabled: false\n")
    assert main(["train", "--config", str(config), "--output-dir", str(tmp_path / "o"), *TINY]) == 0
    a = json.loads((trained / "metrics.json").read_text())
    b = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert a["test"]["f1"] == b["test"]["f1"] and a["dev"] == b["dev"]  # same seed, same config, same result


def test_evaluate_reproduces_test_scores(trained, capsys, tmp_path):
    assert main(["evaluate", "--model-dir", str(trained / "model"), "--data-dir", str(TINY_DATA), "--split", "test",
                 "--device", "cpu", "--json", "--output", str(tmp_path / "p.conll")]) == 0
    scores = json.loads(capsys.readouterr().out)
    expected = json.loads((trained / "metrics.json").read_text())["test"]
    assert scores["f1"] == pytest.approx(expected["f1"])
    assert (tmp_path / "p.conll").read_text().startswith("IMGID:")
    # "dev", as every table says, is the corpus's valid.txt
    assert main(["evaluate", "--model-dir", str(trained / "model"), "--data-dir", str(TINY_DATA), "--split", "dev",
                 "--device", "cpu", "--json"]) == 0
    dev = json.loads((trained / "metrics.json").read_text())["dev"]
    assert json.loads(capsys.readouterr().out)["f1"] == pytest.approx(dev["f1"])


def test_predict_prints_entities_json(trained, capsys):
    assert main(["predict", "--model-dir", str(trained / "model"), "--text", "Kawhi Leonard wins in #Toronto",
                 "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tokens"] == ["Kawhi", "Leonard", "wins", "in", "#", "Toronto"] and len(out["tags"]) == 6
    for entity in out["entities"]:
        assert set(entity) == {"text", "type", "start", "end"}


def test_predict_tags_a_file_with_unknown_gold_types_but_does_not_score_it(trained, tmp_path, capsys):
    path = tmp_path / "t.conll"
    path.write_text("IMGID:1\nAcme\tB-FOO\nin\tO\nParis\tB-LOC\n")
    assert main(["predict", "--model-dir", str(trained / "model"), "--input", str(path), "--device", "cpu",
                 "--output", str(tmp_path / "out.conll")]) == 0
    out = capsys.readouterr().out
    assert "not scored: the gold tags have entity type(s) ['FOO'] this model was not trained on" in out
    assert len((tmp_path / "out.conll").read_text().splitlines()) == 5  # IMGID, 3 words, blank


def test_bad_input_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for split in ("train", "valid", "test"):
        (bad / f"{split}.txt").write_text("IMGID:1\nParis B-LOC\n")
    assert main(["train", "--data-dir", str(bad), "--no-mlflow", *TINY]) == 2
    err = capsys.readouterr().err
    assert f"{bad / 'train.txt'}:2: expected 'token<TAB>tag', found no TAB" in err


def test_type_unseen_in_train_is_an_error_naming_the_tweet(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    (data / "train.txt").write_text("IMGID:1\nParis\tB-LOC\n")
    (data / "valid.txt").write_text("IMGID:1\nParis\tB-LOC\n")
    (data / "test.txt").write_text("IMGID:1\nx\tO\n\nIMGID:2\nAcme\tB-FOO\n")
    assert main(["train", "--data-dir", str(data), "--no-mlflow", "--output-dir", str(tmp_path / "o"), *TINY]) == 2
    err = capsys.readouterr().err
    assert f"{data / 'test.txt'}:5: entity type 'FOO' (B-FOO) is not in the training split" in err


def test_build_graphs_with_networkx_export(tmp_path, capsys):
    from graphmner.graph.export import load_graphs

    out = tmp_path / "graphs.pt"
    assert main(["build-graphs", "--data-dir", str(TINY_DATA), "--split", "test", "--output", str(out),
                 "--networkx", "16_05_01_360"]) == 0
    graphs, meta = load_graphs(out)
    assert len(graphs) == 12 and meta["evidence"] == ["captions"] and meta["knowledge"] is False
    exported = json.loads((tmp_path / "graphs.16_05_01_360.json").read_text())
    assert {n["type"] for n in exported["nodes"]} == {"word", "object"}  # graphmner's default graph
    assert "tweets/s" in capsys.readouterr().out
    assert main(["build-graphs", "--data-dir", str(TINY_DATA), "--split", "test", "--output", str(out),
                 "--networkx", "16_05_01_360", "--knowledge"]) == 0
    exported = json.loads((tmp_path / "graphs.16_05_01_360.json").read_text())
    assert {n["type"] for n in exported["nodes"]} == {"word", "object", "knowledge"}
    assert load_graphs(out)[1]["knowledge"] is True
    assert main(["build-graphs", "--data-dir", str(TINY_DATA), "--split", "test", "--output", str(out),
                 "--networkx", "16_05_01_360", "--evidence", "knowledge", "--text-nodes", "candidates",
                 "--knowledge"]) == 0
    exported = json.loads((tmp_path / "graphs.16_05_01_360.json").read_text())
    assert {n["type"] for n in exported["nodes"]} == {"word", "knowledge", "candidate"}
    assert load_graphs(out)[1]["text_nodes"] == ["candidates"]


def test_build_graphs_keeps_every_tweet_of_a_shared_image(tmp_path, capsys):
    """Tweets that share an image id each keep their graph (the second keyed id#2), and are said."""
    from graphmner.graph.export import load_graphs

    data = tmp_path / "d"
    data.mkdir()
    (data / "test.txt").write_text("IMGID:7\nBears\tB-ORG\n\nIMGID:7\nwin\tO\nagain\tO\n\nIMGID:8\nx\tO\n")
    out = tmp_path / "graphs.pt"
    assert main(["build-graphs", "--data-dir", str(data), "--split", "test", "--evidence", "none", "--output",
                 str(out), "--networkx", "7#2"]) == 0
    printed = capsys.readouterr().out
    graphs, meta = load_graphs(out)
    assert list(graphs) == ["7", "7#2", "8"] and meta["keys_of_shared_ids"] == ["7#2"]
    assert graphs["7"]["word"].num_nodes == 1 and graphs["7#2"]["word"].num_nodes == 2
    assert "1 tweet(s) share an image id with an earlier tweet: their graphs are keyed 7#2" in printed
    assert (tmp_path / "graphs.7#2.json").is_file()


def test_multimodal_model_trains_evaluates_and_predicts(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["train", "--model", "graphmner", "--data-dir", str(TINY_DATA), "--epochs", "1", "--output-dir",
                 str(out), "--no-mlflow", "--device", "cpu", "--evidence", "captions", *TINY, "model.channels=32",
                 "model.heads=2"]) == 0
    config = (out / "config.yaml").read_text()
    assert "evidence:\n  - captions" in config or "evidence:\n- captions" in config
    capsys.readouterr()
    assert main(["evaluate", "--model-dir", str(out / "model"), "--data-dir", str(TINY_DATA), "--device", "cpu",
                 "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["f1"] == pytest.approx(json.loads((out / "metrics.json").read_text())["test"]["f1"])
    assert main(["predict", "--model-dir", str(out / "model"), "--text", "Bears win in Chicago", "--device",
                 "cpu"]) == 0
    assert len(json.loads(capsys.readouterr().out)["tags"]) == 4
    # the controls of a trained model: no evidence, another tweet's evidence; and no source it did not have
    evaluate = ["evaluate", "--model-dir", str(out / "model"), "--data-dir", str(TINY_DATA), "--device", "cpu"]
    for control, said in ((["--evidence", "none"], "12 tweets, evidence none"),
                          (["--evidence-shuffle"], "12 tweets, evidence captions shuffled across tweets")):
        assert main([*evaluate, *control]) == 0
        assert said in capsys.readouterr().out
    assert main([*evaluate, "--evidence", "captions,detections"]) == 2
    assert "evaluate can leave sources out, not add ['detections']" in capsys.readouterr().err
    # an evaluation as a row of a table: dev and test, a run record named after the trained run
    trained = json.loads((out / "run.json").read_text())
    for control, variant in ((["--evidence", "none"], "eval-none"), (["--evidence-shuffle"], "eval-shuffled")):
        folder = tmp_path / "evaluations" / variant
        assert main([*evaluate, *control, "--output-dir", str(folder)]) == 0
        assert f"(variant {trained['variant']}.{variant})" in capsys.readouterr().out
        record = json.loads((folder / "run.json").read_text())
        assert record["variant"] == f"{trained['variant']}.{variant}" and record["seed"] == trained["seed"]
        assert record["evaluation"]["evidence"] == ([] if variant == "eval-none" else ["captions"])
        assert record["evaluation"]["of"] == (trained["run"] or out.name)
        assert record["evaluation"]["of_commit"] == trained["commit"]
        assert record["config"] == trained["config"] and record["dataset"] == trained["dataset"]
        assert len(record["test_tweet_counts"].split(",")) == 12 and record["dev_gold"] and record["dev_f1"] >= 0
    shuffled = json.loads((tmp_path / "evaluations" / "eval-shuffled" / "run.json").read_text())
    assert shuffled["evaluation"]["evidence_shuffle"] is True
    assert main([*evaluate, "--evidence-shuffle", "--output-dir", str(folder)]) == 2
    assert "holds an evaluation (run.json): pass --overwrite" in capsys.readouterr().err


def test_graphmner_without_evidence_sources_trains(tmp_path):
    out = tmp_path / "c"
    assert main(["train", "--model", "graphmner", "--data-dir", str(TINY_DATA), "--epochs", "1", "--output-dir",
                 str(out), "--no-mlflow", "--device", "cpu", "--evidence", "none", *TINY, "model.channels=32",
                 "model.heads=2", "model.fuse_without_evidence=true"]) == 0
    assert (out / "metrics.json").is_file()


def test_overrides_may_come_between_flags(capsys):
    from graphmner.cli import parse_args

    args = parse_args(["train", "--model", "graphmner", "model.layers=3", "--evidence-shuffle", "train.seed=4",
                       "--epochs", "5", "model.heads=2"])
    assert args.overrides == ["model.layers=3", "train.seed=4", "model.heads=2"]
    assert args.evidence_shuffle and args.epochs == 5
    for bad in (["train", "--epcohs", "5"], ["train", "--seed", "1", "model.layers=2", "--wat"],
                ["evaluate", "--model-dir", "m", "x=1"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
        assert "unrecognized arguments" in capsys.readouterr().err


def test_umt_trains_on_extracted_image_features(tmp_path, capsys):
    # the online path, offline: real tweet images -> random-init ResNet-152 grid features -> umt, one epoch
    import shutil

    from tests.conftest import RESOURCES

    data = tmp_path / "data"
    shutil.copytree(TINY_DATA, data)
    (data / "images").mkdir()
    images = sorted((RESOURCES / "images").iterdir())
    for split in ("train", "valid", "test"):
        ids = [line[6:].strip() for line in (data / f"{split}.txt").read_text().splitlines()
               if line.startswith("IMGID:")]
        for image_id, image in zip(ids[:4], images):  # 4 tweets per split get an image, the rest none
            shutil.copy(image, data / "images" / f"{image_id}.jpg")
    features = tmp_path / "features.pt"
    assert main(["extract-features", "--image-dir", str(data / "images"), "--backbone", "resnet152",
                 "--weights", "random", "--output", str(features), "--device", "cpu"]) == 0
    assert "12 images: 12 extracted, 0 unreadable" in capsys.readouterr().out
    out = tmp_path / "umt"
    assert main(["train", "--model", "umt", "--data-dir", str(data), "--epochs", "1", "--output-dir", str(out),
                 "--no-mlflow", "--device", "cpu", "--evidence", "features", "--features", str(features), *TINY,
                 "model.visual_tokens=grid", "model.heads=2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["f1"] <= 1.0 and len(metrics["epoch_seconds"]) == 1
    # a cache of another backbone's width (ResNet-152's 2048 for a model made for ViT's 768): one line
    assert main(["train", "--model", "umt", "--data-dir", str(data), "--epochs", "1", "--output-dir",
                 str(tmp_path / "vit"), "--no-mlflow", "--device", "cpu", "--evidence", "features", "--features",
                 str(features), *TINY, "model.visual_tokens=grid", "model.heads=2", "model.feature_dim=768"]) == 2
    assert "2048-d features, but this model reads 768-d (model.feature_dim)" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["evaluate", "--model-dir", str(out / "model"), "--data-dir", str(data), "--device", "cpu",
                 "--features", str(features), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["f1"] == pytest.approx(metrics["test"]["f1"])
    # predict --image: the image is looked up in the feature cache; a random-init backbone is never re-made
    image = next((data / "images").iterdir())
    assert main(["predict", "--model-dir", str(out / "model"), "--text", "Bears win", "--image", str(image),
                 "--features", str(features), "--device", "cpu"]) == 0
    assert len(json.loads(capsys.readouterr().out)["tags"]) == 2
    assert main(["predict", "--model-dir", str(out / "model"), "--text", "Bears win", "--device", "cpu"]) == 0
    assert len(json.loads(capsys.readouterr().out)["tags"]) == 2  # no image: the text path, not an error
    assert main(["predict", "--model-dir", str(out / "model"), "--text", "Bears win", "--image", str(image),
                 "--device", "cpu"]) == 2
    assert "randomly initialised resnet152" in capsys.readouterr().err


def test_predict_file_with_captions_reproduces_evaluate(tmp_path, capsys, caplog):
    out = tmp_path / "g"
    assert main(["train", "--model", "graphmner", "--data-dir", str(TINY_DATA), "--epochs", "1", "--output-dir",
                 str(out), "--no-mlflow", "--device", "cpu", "--evidence", "captions", *TINY, "model.channels=32",
                 "model.heads=2"]) == 0
    record = json.loads((out / "model" / "evidence.json").read_text())
    assert record["sources"] == ["captions"] and record["captions"]["file"].endswith("captions_blip2.txt")
    assert record["captions"]["placeholder_min"] == 50 and record["captions"]["placeholders"] == []
    capsys.readouterr()
    # the whole test file with the dataset's captions: the same predictions as training's test evaluation
    assert main(["predict", "--model-dir", str(out / "model"), "--input", str(TINY_DATA / "test.txt"), "--captions",
                 str(TINY_DATA / "captions_blip2.txt"), "--output", str(tmp_path / "p.conll"), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{TINY_DATA / 'test.txt'}: 12 tweets")
    assert (tmp_path / "p.conll").read_text() == (out / "predictions" / "test.conll").read_text()
    # a file of bare tokens: token<TAB>predicted, no made-up gold column
    (tmp_path / "raw.txt").write_text("IMGID:x\nBears\nwin\nin\nChicago\n")
    assert main(["predict", "--model-dir", str(out / "model"), "--input", str(tmp_path / "raw.txt"), "--output",
                 str(tmp_path / "raw.out"), "--device", "cpu"]) == 0
    lines = (tmp_path / "raw.out").read_text().splitlines()
    assert lines[0] == "IMGID:x" and [line.split("\t")[0] for line in lines[1:5]] == ["Bears", "win", "in", "Chicago"]
    assert all(len(line.split("\t")) == 2 for line in lines[1:5])
    assert "1 of 1 tweets have no visual evidence" in caplog.text  # no caption given: said, not hidden
    caplog.clear()
    caplog.set_level(logging.INFO, logger="graphmner")
    assert main(["predict", "--model-dir", str(out / "model"), "--text", "Bears win in Chicago", "--caption",
                 "a man holding a chicago bears jersey", "--device", "cpu"]) == 0
    assert "'with_caption': 1" in caplog.text and "no visual evidence" not in caplog.text
    assert main(["predict", "--model-dir", str(out / "model"), "--text", "x", "--output", "o.conll"]) == 2
    assert "--output goes with --input" in capsys.readouterr().err
    # an image for a caption model needs a captioner; one that cannot load is a clear error, not a silent text path
    from tests.conftest import RESOURCES

    assert main(["predict", "--model-dir", str(out / "model"), "--text", "Bears win", "--image",
                 str(RESOURCES / "images" / "27.jpg"), "--captioner", str(tmp_path / "no-such-captioner")]) == 2
    assert "cannot load the captioner" in capsys.readouterr().err


@pytest.mark.parametrize("args, said", [
    (["train", "--epochs", "0"], "argument --epochs: 0 is not allowed (at least 1)"),
    (["train", "--epochs", "1.5"], "argument --epochs: '1.5' is not an integer"),
    (["train", "--limit", "-1"], "argument --limit: -1 is not allowed (at least 1)"),
    (["train", "--seed", "abc"], "argument --seed: 'abc' is not an integer"),
    (["evaluate", "--model-dir", "m", "--batch-size", "0"], "argument --batch-size: 0 is not allowed"),
    (["detect", "--image-dir", "i", "--weights", "w", "--output", "o", "--conf", "2"], "argument --conf: 2 is not in"),
    (["detect", "--image-dir", "i", "--weights", "w", "--output", "o", "--conf", "nan"], "argument --conf: nan"),
    (["detect", "--image-dir", "i", "--weights", "w", "--output", "o", "--batch", "0"], "argument --batch: 0 is not"),
    (["extract-features", "--image-dir", "i", "--backbone", "resnet152", "--output", "o", "--batch", "-2"],
     "argument --batch: -2 is not allowed"),
    (["compare", "a", "b", "--resamples", "0"], "argument --resamples: 0 is not allowed (at least 1)"),
    (["evaluate", "--model-dir", "m", "--split", "dve"], "argument --split: 'dve' is not a split (train, dev, test)"),
])
def test_bad_flag_values_are_one_line_naming_the_flag(args, said, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(args)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and said in err and "Traceback" not in err
