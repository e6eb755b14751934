"""Bad input end to end, through the command line: one line naming file and line (exit 2, no traceback),
or a counted skip that the run reports in its log, data_report.json and MLflow params."""
import json
import shutil

import mlflow
import pytest

from graphmner.cli import main
from tests.conftest import TINY_DATA, TINY_ENCODER

TINY = ["--model", "graphmner", "--epochs", "1", "--device", "cpu", "--no-mlflow",
        f"model.encoder_overrides={json.dumps(TINY_ENCODER)}", "model.pretrained=false", "model.channels=16",
        "model.heads=2", "train.num_threads=1"]


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(TINY_DATA, folder)
    return folder


@pytest.mark.parametrize("split, text, line, words", [
    ("train", b"IMGID:1\nParis B-LOC\n", 2, "expected 'token<TAB>tag', found no TAB"),
    ("train", b"IMGID:1\nParis\tB-LOC\tNNP\n", 2, "found 3 TAB-separated columns"),
    ("train", b"IMGID:1\ncaf\xe9\tO\n", 2, "not valid UTF-8"),
    ("train", b"IMGID:1\nParis\tX-PER\n", 2, "tag 'X-PER' is not IOB2"),
    ("train", b"IMGID:1\nNew\tB-LOC\n\xc2\xa0\tI-LOC\n", 3, "a whitespace-only token '\\xa0' tagged I-LOC"),
    ("test", b"IMGID:1\nx\tO\nAcme\tB-FOO\n", 3, "entity type 'FOO' (B-FOO) is not in the training split"),
    ("valid", b"", 1, "no tweets in file"),
    ("valid", b"Paris\tB-LOC\n", 1, "token line outside a tweet"),
    ("train", "IMGID:1\nNew\tO\n\u200b\tB-LOC\n\ufe0f\tI-LOC\n".encode(), 3, "a LOC entity made only of tokens "
                                                                              "with no visible character"),
    ("train", b"IMGID:1\nx\tO\nIMGID:2\tO\n", 3, "IMGID '2\\tO' holds '\\t'"),
    ("train", b"IMGID:1\rParis\tB-LOC\n", 1, "IMGID '1\\rParis\\tB-LOC' holds '\\r'"),
    ("train", b"IMGID:../../etc/passwd\nx\tO\n", 1, "holds '/'"),
])
def test_malformed_files_stop_with_one_line(data, tmp_path, capsys, split, text, line, words):
    (data / f"{split}.txt").write_bytes(text)
    assert main(["train", "--data-dir", str(data), *TINY, "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"graphmner train: error: {data / f'{split}.txt'}:{line}: ") and words in err[-1]
    assert not any("Traceback" in e for e in err)


def test_missing_file_and_folder(data, tmp_path, capsys):
    (data / "valid.txt").unlink()
    assert main(["train", "--data-dir", str(data), *TINY, "--output-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == f"graphmner train: error: CoNLL file not found: {data / 'valid.txt'}"
    assert main(["train", "--data-dir", str(tmp_path / "nowhere"), *TINY]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_an_unknown_dataset_fails_before_anything_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where MLflow's default store would be made
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["train", "--dataset", "twitter2099", "--output-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == ("graphmner train: error: unknown dataset 'twitter2099'; known: "
                                               "['twitter2015', 'twitter2017'] (or pass --data-dir)")
    assert list(tmp_path.iterdir()) == []


def test_counted_oddities_train_and_are_reported(data, tmp_path, caplog, monkeypatch):
    """CRLF + BOM, an empty tweet, two IMGIDs in a row, a stray I- tag, a whitespace-only token, captions
    for images with no tweet, a repeated caption line: the run trains and reports each count."""
    train = (data / "train.txt").read_text(encoding="utf-8")
    odd = "IMGID:empty\n\nIMGID:twice\nIMGID:odd\nJ\tO\n.\tO\nCole\tI-PER\n\u00a0\tO\n\n"
    (data / "train.txt").write_bytes(b"\xef\xbb\xbf" + (odd + train).replace("\n", "\r\n").encode("utf-8"))
    captions = (data / "captions_blip2.txt").read_text(encoding="utf-8").splitlines()
    (data / "captions_blip2.txt").write_text("\n".join([*captions, captions[0], "nobody.jpg :a cat"]) + "\n")
    out = tmp_path / "run"
    caplog.set_level("INFO")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    args = [a for a in TINY if a != "--no-mlflow"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    try:
        assert main(["train", "--data-dir", str(data), *args, "--output-dir", str(out), "--experiment", "odd"]) == 0
    finally:
        mlflow.set_tracking_uri(None)
    report = json.loads((out / "data_report.json").read_text())
    # the 12 tweets and 168 words of the tiny train split, plus the odd tweet's 4 words
    # (the tiny train split has one token that is a lone U+FE0F variation selector: counted, kept)
    assert report["data"]["train"] == {"tweets": 13, "words": 172, "repaired_tags": 1, "skipped_empty_tweets": 2,
                                       "whitespace_tokens": 1, "invisible_tokens": 1, "longest_tweet": 25}
    assert report["evidence_files"]["captions"] == {"entries": 37, "duplicates_skipped": 1, "empty": 0,
                                                    "unreadable": 0, "without_tweet": 1, "placeholder_caption": 0}
    assert report["evidence"]["train"]["empty"] == 1  # the odd tweet has no caption: counted, not filled in
    logged = caplog.text
    assert "2 IMGID(s) with no tokens skipped" in logged and "1 identical repeated entries skipped" in logged
    assert "that no tweet refers to (unused)" in logged
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run((out / "mlflow_run_id").read_text().strip())
    params = run.data.params
    assert params["data_summary.data.train.skipped_empty_tweets"] == "2"
    assert params["data_summary.evidence_files.captions.duplicates_skipped"] == "1"
    assert "data_report.json" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_predict_counts_an_unreadable_image_and_tags_from_text(tmp_path):
    """``predict --image``: a broken image gives that tweet no evidence, recorded with the reason."""
    from graphmner.data.conll import Tweet
    from graphmner.evidence.making import EvidenceMaker
    from tests.conftest import RESOURCES

    (tmp_path / "empty.jpg").write_bytes(b"")
    maker = EvidenceMaker(["detections"], {"detections": {"weights": "yolov8n.yaml", "conf": 0.0, "max_det": 2,
                                                          "imgsz": 96}})
    tweets = [Tweet("27", ["a"], image_id="27"), Tweet("empty", ["b"], image_id="empty")]
    evidence, report = maker(tweets, {"27": RESOURCES / "images" / "27.jpg", "empty": tmp_path / "empty.jpg"})
    assert len(evidence[0].objects) == 2 and evidence[1].is_empty
    assert maker.unreadable == {"empty": "empty file (0 bytes)"} and report.empty == 1
