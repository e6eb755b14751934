import pytest

from graphmner.data.conll import Tweet
from graphmner.evidence.visual import (
    VisualEvidence,
    VisualObject,
    caption_concepts,
    collect_evidence,
    evidence_words,
    shuffle_evidence,
)


def test_caption_concepts_are_content_words_in_order():
    concepts = caption_concepts("kawhi leonard is the nba's block of the year, the year")
    assert [c.label for c in concepts] == ["kawhi", "leonard", "nba", "block", "year"]
    assert all(c.source == "caption" and c.box_xyxyn is None and c.score == 1.0 for c in concepts)


def test_evidence_words_place_every_object():
    detected = [VisualObject("dog", (0, 0, 1, 1), 0.9, "detector"), VisualObject("cell phone", None, 0.5, "detector")]
    ev = VisualEvidence("1", caption_concepts("a dog on a red sofa") + detected,
                        caption="a dog on a red sofa")
    words, index = evidence_words(ev)
    assert words == ["a", "dog", "on", "a", "red", "sofa", "dog", "cell phone"]
    assert [words[i] for i in index] == ["dog", "red", "sofa", "dog", "cell phone"]


def test_collect_counts_missing_and_never_fills_in():
    tweets = [Tweet("a", ["x"], ["O"], "a"), Tweet("b", ["y"], ["O"], "b"), Tweet("c", ["z"], ["O"], "c")]
    evidence, report = collect_evidence(tweets, ["captions"], {"a": "a dog", "c": ""})
    assert evidence[0].caption == "a dog" and evidence[1].is_empty and evidence[2].is_empty
    assert report.as_dict() == {"tweets": 3, "with_caption": 1, "with_detections": 0, "with_features": 0, "empty": 2,
                                "unreadable_image": 0, "with_image_file": 0}
    assert report.missing_examples == ["b", "c"]
    with pytest.raises(ValueError, match="unknown evidence source"):
        collect_evidence(tweets, ["pixels"], {})
    with pytest.raises(ValueError, match="needs a caption file"):
        collect_evidence(tweets, ["captions"], None)
    with pytest.raises(ValueError, match="needs a feature cache"):
        collect_evidence(tweets, ["features"], None)


def test_features_give_the_image_grid():
    import torch

    from graphmner.vision.features import ImageFeatures

    cache = ImageFeatures({"a": 0}, torch.ones(1, 4, dtype=torch.bfloat16), torch.ones(1, 3, 4, dtype=torch.bfloat16),
                          {}, {"dim": 4, "regions": 3})
    tweets = [Tweet("a", ["x"], ["O"], "a"), Tweet("b", ["y"], ["O"], "b")]
    evidence, report = collect_evidence(tweets, ["features"], features=cache)
    assert evidence[0].grid.shape == (3, 4) and evidence[0].grid.dtype == torch.float32 and not evidence[0].is_empty
    assert evidence[1].grid is None and evidence[1].is_empty and report.with_features == 1 and report.empty == 1


def test_shuffle_gives_everyone_another_tweets_evidence():
    evidence = [VisualEvidence(str(i), caption=f"c{i}") for i in range(50)]
    shuffled = shuffle_evidence(evidence, seed=1)
    assert sorted(e.caption for e in shuffled) == sorted(e.caption for e in evidence)  # same distribution
    assert all(s.caption != e.caption for s, e in zip(shuffled, evidence))  # wrong image for everyone
    assert shuffle_evidence(evidence, seed=1) == shuffled and shuffle_evidence(evidence, seed=2) != shuffled


def test_parse_sources():
    from graphmner.evidence.visual import parse_sources

    assert parse_sources("captions, detections") == ["captions", "detections"]
    assert parse_sources("none") == [] and parse_sources("") == []


def test_concept_kinds_hint_at_entity_types():
    from graphmner.evidence.visual import CONCEPT_KINDS, concept_kind

    kinds = {w: CONCEPT_KINDS[concept_kind(w)] for w in ("man", "players", "stadium", "Team", "stop sign",
                                                         "screenshot", "dog", "", "glass")}
    assert kinds == {"man": "person", "players": "person", "stadium": "place", "Team": "organisation",
                     "stop sign": "text", "screenshot": "text", "dog": "other", "": "other", "glass": "other"}


def test_dataset_evidence_reports_every_file(tmp_path):
    """Captions and detections for images no tweet has, tweets with no entry, a repeated line, an image
    the detector could not read: each counted in the file's report and the split's, nothing filled in."""
    import json

    from graphmner.data.datasets import load_dataset
    from graphmner.evidence.visual import dataset_evidence

    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(f"IMGID:{split}1\nParis\tB-LOC\n\nIMGID:{split}2\nx\tO\n")
    (tmp_path / "captions_blip2.txt").write_text(
        "train1.jpg :a city street\nvalid1.jpg :a man\ntest1.jpg :a dog\nstray.jpg :a cat\ntrain1.jpg :a city street\n")
    cache = tmp_path / "det.jsonl"
    dog = {"label": "dog", "box_xyxyn": [0, 0, 1, 1], "score": 0.9}
    cache.write_text("\n".join(json.dumps(e) for e in (
        {"meta": {"weights": "yolov8n.pt"}}, {"image_id": "train1", "objects": [dog]}, {"image_id": "test2",
        "error": "image file is truncated"}, {"image_id": "other", "objects": []})) + "\n")
    data = load_dataset("mine", tmp_path)
    files: list = []
    evidence, reports = dataset_evidence(data, ["captions", "detections"], detections=cache, source_reports=files)
    captions, detections = files
    assert captions.as_dict() == {"entries": 4, "duplicates_skipped": 1, "empty": 0, "unreadable": 0,
                                  "without_tweet": 1}
    assert detections.as_dict() == {"entries": 2, "duplicates_skipped": 0, "empty": 0, "unreadable": 1,
                                    "without_tweet": 1}
    assert reports["train"].as_dict() == {"tweets": 2, "with_caption": 1, "with_detections": 1, "with_features": 0,
                                          "empty": 1, "unreadable_image": 0, "with_image_file": 0}
    assert reports["test"].unreadable_image == 1 and reports["test"].empty == 1
    assert evidence["test"][1].is_empty and evidence["train"][1].is_empty  # never filled in
