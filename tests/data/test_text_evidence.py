"""Text evidence files (LLM knowledge, image descriptions): the bundled coverage, and bad lines."""
import importlib.util
import re
from pathlib import Path

import pytest

from graphmner.data.datasets import load_dataset
from graphmner.data.text_evidence import TEXT_EVIDENCE_FILES, TextEvidenceReport, read_text_evidence
from graphmner.formats import FormatError

ROOT = Path(__file__).resolve().parents[2]

# tweets with an entry per split (train, valid, test), as the data card of the releases gives them
COVERAGE = {
    ("twitter2015", "knowledge"): (3999, 999, 3256), ("twitter2017", "knowledge"): (3373, 723, 723),
    ("twitter2015", "descriptions"): (2789, 699, 2236), ("twitter2017", "descriptions"): (2994, 637, 642),
    ("twitter2015", "knowledge_gmner"): (2789, 699, 2236), ("twitter2017", "knowledge_gmner"): (2994, 637, 642),
}


@pytest.mark.parametrize("corpus, source", sorted(COVERAGE))
def test_bundled_text_evidence_covers_the_tweets_the_releases_cover(corpus, source):
    data = load_dataset(corpus)
    report = TextEvidenceReport("")
    texts = read_text_evidence(data.root / TEXT_EVIDENCE_FILES[source], report)
    covered = tuple(sum(t.image_id in texts for t in data[s]) for s in ("train", "valid", "test"))
    assert covered == COVERAGE[(corpus, source)] and report.entries == sum(covered) and report.duplicates == 0
    words = sum(len(t.split()) for t in texts.values()) / len(texts)
    assert 60 < words < 140  # about 100 words each (BLIP-2 captions: about 10)


def test_pgim_knowledge_is_the_text_after_eos_and_never_a_tag():
    texts = read_text_evidence(load_dataset("twitter2017").root / "knowledge_pgim.jsonl")
    assert texts["17_06_12598"].startswith("Named entities:1. Britney (person/performer)")
    tag = re.compile(r"^[BI]-(PER|LOC|ORG|MISC)$")
    assert not any(tag.match(w) or w == "<EOS>" for t in texts.values() for w in t.split())


@pytest.mark.parametrize("line, said", [
    ("{not json", "not a JSON object"),
    ('["a", "b"]', 'expected {"image_id": "<id>", "text": "<text>"}'),
    ('{"image_id": 7, "text": "x"}', "expected {"),
    ('{"image_id": "a", "text": null}', "expected {"),
    ('{"image_id": "../a", "text": "x"}', "image id '../a' holds '/'"),
    ('{"image_id": "1", "text": "other"}', "image 1 already has a different text on line 1"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, said):
    path = tmp_path / "k.jsonl"
    path.write_text('{"image_id": "1", "text": "a cat"}\n' + line + "\n")
    with pytest.raises(FormatError, match=r"k.jsonl:2: ") as caught:
        read_text_evidence(path)
    assert said in str(caught.value)


def test_repeats_are_skipped_and_counted_and_empty_texts_kept(tmp_path):
    path = tmp_path / "k.jsonl"
    path.write_text('{"image_id": "1", "text": "a cat"}\n\n{"image_id": "2", "text": ""}\n'
                    '{"image_id": "1", "text": "a cat"}\n')
    report = TextEvidenceReport(str(path))
    assert read_text_evidence(path, report) == {"1": "a cat", "2": ""}
    assert (report.entries, report.duplicates, report.empty) == (2, 1, 1)
    with pytest.raises(FileNotFoundError, match="text evidence file not found"):
        read_text_evidence(tmp_path / "missing.jsonl")


@pytest.mark.skipif(not (ROOT.parent / "shared" / "datasets" / "pgim").is_dir(), reason="needs ../shared/datasets")
def test_the_bundled_files_are_what_the_script_makes_from_the_releases(capsys):
    spec = importlib.util.spec_from_file_location("bundle_text_evidence", ROOT / "data_prep" /
                                                  "bundle_text_evidence.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "bundled files match" in out and "twitter2015 knowledge_pgim: train 3999/4000, valid 999/1000" in out
