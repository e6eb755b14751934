"""Detection with a randomly initialised YOLO (yolov8n.yaml, offline) on real tweet images."""
import json
import shutil

import pytest

from graphmner.data.conll import ConllFormatError
from graphmner.formats import FormatError
from graphmner.vision.detector import Detection, detect_images, detection_meta, read_detections
from graphmner.vision.sources import SourceReport
from tests.conftest import RESOURCES


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    images = tmp_path_factory.mktemp("images")
    for path in (RESOURCES / "images").iterdir():
        shutil.copy(path, images / path.name)  # 33.jpg and 113.jpg are PNG data behind a .jpg name
    (images / "broken.jpg").write_bytes(b"this is not an image")
    (images / "empty.jpg").write_bytes(b"")
    (images / "notes.txt").write_text("not an image suffix: ignored")
    out = tmp_path_factory.mktemp("det") / "detections.jsonl"
    report = detect_images(images, "yolov8n.yaml", out, conf=0.0, max_det=3, batch=2, device="cpu", imgsz=160)
    return report, out


def test_detect_counts_and_caches(cache):
    report, out = cache
    assert report.images == 7 and set(report.unreadable) == {"broken", "empty"}
    # Pillow's reason, not ultralytics' HEIF-plugin fallback ("No module named 'pi_heif'")
    assert "cannot identify image file" in report.unreadable["broken"]
    assert report.unreadable["empty"] == "empty file (0 bytes)"
    assert report.detected == 5 and report.objects > 0  # conf=0: random weights still give boxes
    meta, *lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert meta == {"meta": {"weights": "yolov8n.yaml", "conf": 0.0, "max_det": 3, "imgsz": 160}}
    assert detection_meta(out) == meta["meta"]
    assert {e["image_id"] for e in lines} == {"27", "33", "56", "113", "O_1926", "broken", "empty"}
    detections, errors = read_detections(out)
    assert set(errors) == {"broken", "empty"} and set(detections) == {"27", "33", "56", "113", "O_1926"}
    assert report.objects == sum(len(v) for v in detections.values())
    for objects in detections.values():
        assert len(objects) <= 3
        for obj in objects:
            assert isinstance(obj, Detection) and all(0.0 <= v <= 1.0 for v in obj.box_xyxyn)


def test_repeated_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "d.jsonl"
    line = '{"image_id": "1", "objects": [{"label": "dog", "box_xyxyn": [0, 0, 1, 1], "score": 0.5}]}'
    path.write_text(f'{line}\n{{"image_id": "2", "error": "empty file (0 bytes)"}}\n{line}\n')
    report = SourceReport("detections", str(path))
    detections, errors = read_detections(path, report)
    assert list(detections) == ["1"] and errors == {"2": "empty file (0 bytes)"}
    assert (report.entries, report.unreadable, report.duplicates) == (1, 1, 1)


def test_bad_cache_lines_name_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"image_id": "1", "objects": []}\n{"image_id": "1", "error": "truncated"}\n')
    with pytest.raises(FormatError, match=r"d.jsonl:2: .*image 1 appears twice, differently \(first on line 1\)"):
        read_detections(path)
    for bad in ('{"image_id": "1", "objects": [}', '["a list"]', '{"objects": []}'):
        path.write_text(bad + "\n")
        with pytest.raises(FormatError, match=r"d.jsonl:1: not a detection cache line"):
            read_detections(path)
    path.write_text('{"image_id": "1", "objects": [{"label": "dog"}]}\n')
    with pytest.raises(FormatError, match=r"d.jsonl:1: not a detection cache line") as caught:
        read_detections(path)
    assert not isinstance(caught.value, ConllFormatError)  # a JSON Lines file is not called a CoNLL file
    with pytest.raises(FileNotFoundError, match="graphmner detect"):
        read_detections(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("obj, said", [
    ('{"label": "dog", "box_xyxyn": [0, 0, 1, 1], "score": NaN}', "score nan of 'dog' is not a number in [0, 1]"),
    ('{"label": "dog", "box_xyxyn": [0, 0, 1, 1], "score": Infinity}', "score inf of 'dog'"),
    ('{"label": "dog", "box_xyxyn": [0, 0, 1, 1], "score": 1.5}', "score 1.5 of 'dog'"),
    ('{"label": "dog", "box_xyxyn": [0, 0, 1, 1], "score": "0.9"}', "score '0.9' of 'dog'"),
    ('{"label": "dog", "box_xyxyn": [0, 0, 1.2, 1], "score": 0.5}', "box [0, 0, 1.2, 1] of 'dog'"),
    ('{"label": "dog", "box_xyxyn": [0.5, 0, 0.1, 1], "score": 0.5}', "with x1 <= x2"),
    ('{"label": "dog", "box_xyxyn": [0, 0, NaN, 1], "score": 0.5}', "box [0, 0, nan, 1]"),
    ('{"label": "dog", "box_xyxyn": [0, 0, 1], "score": 0.5}', "box [0, 0, 1] of 'dog'"),
    ('{"label": "", "box_xyxyn": [0, 0, 1, 1], "score": 0.5}', "label '' is not a non-empty string"),
    ('{"label": 7, "box_xyxyn": [0, 0, 1, 1], "score": 0.5}', "label 7 is not"),
])
def test_cache_values_out_of_range_name_the_line(tmp_path, obj, said):
    """Values a detector cannot give (NaN, infinities, scores or boxes outside [0, 1]) would change the
    noise gate's inputs and so the predictions: they are errors, not evidence."""
    path = tmp_path / "d.jsonl"
    path.write_text('{"image_id": "0", "objects": []}\n{"image_id": "1", "objects": [' + obj + "]}\n")
    with pytest.raises(FormatError, match=r"d.jsonl:2: not a detection cache line") as caught:
        read_detections(path)
    assert said in str(caught.value)


@pytest.mark.parametrize("image_id, said", [('"../x"', "holds '/'"), ('"a b"', "holds ' '"), ("7", "not a string")])
def test_detection_cache_ids_are_file_stems(tmp_path, image_id, said):
    path = tmp_path / "d.jsonl"
    path.write_text('{"image_id": "0", "objects": []}\n{"image_id": ' + image_id + ', "objects": []}\n')
    with pytest.raises(FormatError, match=r"d.jsonl:2: not a detection cache line") as caught:
        read_detections(path)
    assert said in str(caught.value)
