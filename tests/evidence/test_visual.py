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
from tests.conftest import RESOURCES


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
                                "unreadable_image": 0, "with_image_file": 0, "placeholder_caption": 0}
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
                                  "without_tweet": 1, "placeholder_caption": 0}
    assert detections.as_dict() == {"entries": 2, "duplicates_skipped": 0, "empty": 0, "unreadable": 1,
                                    "without_tweet": 1, "placeholder_caption": 0}
    assert reports["train"].as_dict() == {"tweets": 2, "with_caption": 1, "with_detections": 1, "with_features": 0,
                                          "empty": 1, "unreadable_image": 0, "with_image_file": 0,
                                          "placeholder_caption": 0}
    assert reports["test"].unreadable_image == 1 and reports["test"].empty == 1
    assert evidence["test"][1].is_empty and evidence["train"][1].is_empty  # never filled in


def test_a_caption_shared_by_many_images_is_no_evidence(tmp_path):
    """Twitter-2017 gives 358 images one caption ("a man is standing on a skateboard in the snow"): a text
    shared by placeholder_min images or more is counted (file and split) and the tweet gets no caption,
    while a caption two images share by chance stays evidence."""
    from graphmner.data.datasets import load_dataset
    from graphmner.evidence.visual import dataset_evidence

    placeholder = "a man is standing on a skateboard in the snow"
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("".join(f"IMGID:{split}{i}\nParis\tB-LOC\n\n" for i in range(4)))
    lines = [f"train{i}.jpg :{placeholder}" for i in range(3)] + [f"valid{i}.jpg :{placeholder}" for i in range(2)]
    lines += ["train3.jpg :a red bus", "valid2.jpg :a red bus", "test0.jpg :a dog"]
    (tmp_path / "captions_blip2.txt").write_text("\n".join(lines) + "\n")
    data = load_dataset("mine", tmp_path)
    files: list = []
    evidence, reports = dataset_evidence(data, ["captions"], source_reports=files, placeholder_min=5)
    assert files[0].placeholder == 5 and files[0].placeholder_texts == [placeholder]
    assert "5 share a placeholder caption" in files[0].summary()
    assert reports["train"].placeholder_caption == 3 and reports["valid"].placeholder_caption == 2
    assert reports["train"].with_caption == 1 and reports["train"].empty == 3
    assert all(e.is_empty for e in evidence["train"][:3]) and evidence["train"][3].caption == "a red bus"
    assert evidence["valid"][2].caption == "a red bus"  # shared by two images: still a description
    kept, reports = dataset_evidence(data, ["captions"], placeholder_min=0)  # the check off
    assert kept["train"][0].caption == placeholder and reports["train"].placeholder_caption == 0
    shuffled, _ = dataset_evidence(data, ["captions"], shuffle_seed=1, placeholder_min=5)
    assert sum(e.caption == placeholder for e in shuffled["train"]) == 0  # dropped before shuffling


def test_placeholder_captions_counts_shared_texts():
    from graphmner.vision.captions import placeholder_captions

    captions = {"a": "same", "b": "same", "c": "same", "d": "other", "e": "", "f": "", "g": ""}
    assert placeholder_captions(captions, 3) == {"same": 3}  # empty captions are counted elsewhere
    assert placeholder_captions(captions, 4) == {} and placeholder_captions(captions, 0) == {}
    assert placeholder_captions(captions) == {}  # the default needs many more images
    with pytest.raises(ValueError, match="min_images must be >= 0"):
        placeholder_captions(captions, -1)


def test_bundled_twitter2017_placeholder_is_found():
    """The bundled Twitter-2017 captions: the default flags the skateboard caption alone (358 images);
    Twitter-2015 has none."""
    from graphmner.data.datasets import load_dataset
    from graphmner.vision.captions import placeholder_captions, read_captions

    for name, expected in (("twitter2017", {"a man is standing on a skateboard in the snow": 358}),
                           ("twitter2015", {})):
        assert placeholder_captions(read_captions(load_dataset(name, splits=("test",)).caption_file)) == expected


def test_new_tweets_given_a_training_placeholder_get_no_caption():
    """A model trained with a placeholder treated as no caption sees it as none at prediction too."""
    from graphmner.evidence.making import EvidenceMaker, evidence_record

    placeholder = "a man is standing on a skateboard in the snow"
    record = evidence_record(["captions"], "captions.txt", placeholder_min=50, placeholders=[placeholder])
    assert record["captions"] == {"file": "captions.txt", "placeholder_min": 50, "placeholders": [placeholder]}
    tweets = [Tweet("a", ["x"], None, "a"), Tweet("b", ["y"], None, "b")]
    maker = EvidenceMaker(["captions"], record, captions={"a": placeholder, "b": "a dog"})
    evidence, report = maker(tweets, {})
    assert evidence[0].is_empty and evidence[1].caption == "a dog"
    assert report.placeholder_caption == 1 and report.with_caption == 1


@pytest.mark.parametrize("record, said", [
    ({"sources": "captions"}, "'sources' must be a list of strings"),
    ({"sources": ["pixels"]}, "'sources' an item 'pixels': must be one of captions, detections, features"),
    ({"sources": ["captions"], "captions": []}, "'captions' must be a mapping"),
    ({"sources": ["captions"], "captions": {"file": 3}}, "'captions.file' must be a string or null"),
    ({"sources": ["captions"], "captions": {"placeholders": "x"}}, "'captions.placeholders' must be a list of strings"),
    ({"sources": ["detections"], "detections": {"conf": "high"}}, "'detections.conf' must be a number"),
    ({"sources": ["features"], "features": {"dim": -1}}, "'features.dim' must be >= 1"),
    ({"captions": {}}, "not an evidence record (a JSON object with 'sources')"),
    ([], "not an evidence record"),
])
def test_an_evidence_record_of_the_wrong_shape_names_the_file_and_key(tmp_path, record, said):
    import json

    from graphmner.evidence.making import load_evidence_record

    (tmp_path / "evidence.json").write_text(json.dumps(record))
    with pytest.raises(ValueError) as caught:
        load_evidence_record(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'evidence.json'}: ") and said in str(caught.value)
    (tmp_path / "evidence.json").write_text("{not json")
    with pytest.raises(ValueError, match="evidence.json: not a JSON evidence record"):
        load_evidence_record(tmp_path)


def test_text_evidence_is_read_per_source_counted_and_never_filled_in(tmp_path):
    """A tweet without an entry, an empty text: no evidence from that source, counted; the file's own
    counts (entries, repeats, texts for no tweet) are in its report; sources keep the order selected."""
    import json

    from graphmner.data.datasets import load_dataset
    from graphmner.evidence.visual import dataset_evidence

    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(f"IMGID:{split}1\nParis\tB-LOC\n\nIMGID:{split}2\nx\tO\n")
    lines = [{"image_id": "train1", "text": "Named entities: 1. Paris (city)"}, {"image_id": "train2", "text": " "},
             {"image_id": "test1", "text": "Paris."}, {"image_id": "stray", "text": "Rome."}]
    (tmp_path / "knowledge_pgim.jsonl").write_text("\n".join(json.dumps(e) for e in lines + lines[:1]) + "\n")
    (tmp_path / "descriptions_owl.jsonl").write_text(json.dumps({"image_id": "train1", "text": "A city."}) + "\n")
    files: list = []
    evidence, reports = dataset_evidence(load_dataset("mine", tmp_path), ["descriptions", "knowledge"],
                                         source_reports=files)
    assert [f.kind for f in files] == ["descriptions", "knowledge"]
    assert files[1].as_dict() == {"entries": 4, "duplicates_skipped": 1, "empty": 1, "unreadable": 0,
                                  "without_tweet": 1, "placeholder_caption": 0}
    assert list(evidence["train"][0].texts) == ["descriptions", "knowledge"]
    assert evidence["train"][1].is_empty and evidence["valid"][0].is_empty  # a blank text, no entry
    assert reports["train"].as_dict()["with_knowledge"] == 1 and reports["train"].empty == 1
    assert reports["test"].with_text == {"descriptions": 0, "knowledge": 1}


def test_a_missing_text_evidence_file_names_what_makes_it(tmp_path):
    from graphmner.data.datasets import load_dataset
    from graphmner.evidence.visual import dataset_evidence

    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("IMGID:a\nx\tO\n")
    with pytest.raises(FileNotFoundError, match="evidence 'knowledge' needs knowledge_pgim.jsonl in .*"
                                                "data_prep/bundle_text_evidence.py"):
        dataset_evidence(load_dataset("mine", tmp_path), ["knowledge"])


def test_evidence_words_add_texts_as_written_only_when_asked():
    evidence = VisualEvidence("i", caption="a stadium", texts={"knowledge": "Named entities: 1. Citi Field"})
    evidence.objects.extend(caption_concepts("a stadium"))
    assert evidence_words(evidence)[0] == ["a", "stadium"]
    assert evidence_words(evidence, with_texts=True)[0] == ["a", "stadium", "Named", "entities:", "1.", "Citi",
                                                             "Field"]


def test_new_tweets_without_given_knowledge_get_none_counted():
    from graphmner.evidence.making import EvidenceMaker

    tweets = [Tweet("1", ["Paris"], None, image_id="a"), Tweet("2", ["Rome"], None, image_id="b")]
    maker = EvidenceMaker(["captions", "knowledge"], captions={"a": "a city"},
                          texts={"knowledge": {"b": "Named entities: 1. Rome (city)"}})
    evidence, report = maker(tweets, {})
    assert evidence[0].texts == {} and evidence[1].texts == {"knowledge": "Named entities: 1. Rome (city)"}
    assert report.with_text == {"knowledge": 1} and report.empty == 0
    evidence, report = EvidenceMaker(["knowledge"])(tweets, {})
    assert report.with_text == {"knowledge": 0} and report.empty == 2


def test_a_model_of_detected_regions_never_reads_a_new_images_backbone_grid_as_regions():
    # the backbone would give the 7 x 7 grid, and the model would take its first cells for regions
    from graphmner.evidence.making import EvidenceMaker

    record = {"sources": ["features"], "features": {"cache": "regions.pt", "backbone": "resnet152",
                                                    "weights": "default", "dim": 2048, "regions": 4,
                                                    "grid": "detected regions"}}
    maker = EvidenceMaker(["features"], record)
    with pytest.raises(ValueError, match=r"detected regions \(graphmner extract-features --regions\); pass "
                                         r"--features CACHE"):
        maker([Tweet("a", ["x"], None, "a")], {"a": RESOURCES / "images" / "27.jpg"})
