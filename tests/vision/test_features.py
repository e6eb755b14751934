"""Image features with randomly initialised backbones (offline) on real tweet images."""
import shutil

import pytest
import torch
from PIL import Image

from graphmner.vision.detector import Detection
from graphmner.vision.features import FeatureExtractor, crops, extract_features, read_features
from tests.conftest import RESOURCES


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for path in (RESOURCES / "images").iterdir():
        shutil.copy(path, folder / path.name)  # real tweet images, two of them PNG data behind .jpg
    (folder / "broken.jpg").write_bytes(b"this is not an image")
    return folder


@pytest.mark.parametrize("backbone, regions, dim", [("resnet152", 49, 2048), ("vit_b_16", 196, 768)])
def test_extract_counts_and_caches(images, tmp_path, backbone, regions, dim):
    torch.manual_seed(0)
    out = tmp_path / "features.pt"
    report = extract_features(images, backbone, out, weights="random", batch=4)
    assert report.images == 6 and report.extracted == 5 and set(report.unreadable) == {"broken"}
    assert "cannot identify image file" in report.unreadable["broken"]
    cache = read_features(out)
    assert cache.meta["backbone"] == backbone and cache.regions == regions and cache.dim == dim
    assert set(cache.index) == {"27", "33", "56", "113", "O_1926"} and cache.errors.keys() == {"broken"}
    pooled, grid = cache.get("27")
    assert pooled.shape == (dim,) and grid.shape == (regions, dim) and pooled.dtype == torch.float32
    assert torch.isfinite(grid).all() and cache.get("broken") is None


def test_small_images_are_resized_before_the_crop(tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "tiny.jpg")
    report = extract_features(tmp_path, "resnet152", tmp_path / "f.pt", weights="random")
    assert report.extracted == 1 and read_features(tmp_path / "f.pt").get("tiny")[1].shape == (49, 2048)


def test_weights_from_a_state_dict_file(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    source = FeatureExtractor("vit_b_16", "random")
    save_file(source.vit.state_dict(), str(tmp_path / "vit.safetensors"))
    loaded = FeatureExtractor("vit_b_16", str(tmp_path / "vit.safetensors")).eval()
    x = torch.randn(1, 3, 224, 224)
    assert torch.equal(loaded(x)[1], source.eval()(x)[1])
    with pytest.raises(FileNotFoundError, match="no such file"):
        FeatureExtractor("resnet152", str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="unknown backbone"):
        FeatureExtractor("resnet18", "random")


def _cache(tmp_path, **changes):
    values = {"ids": ["a", "b"], "global": torch.zeros(2, 4), "grid": torch.zeros(2, 3, 4), "errors": {},
              "meta": {"backbone": "resnet152", "dim": 4}, **changes}
    torch.save(values, tmp_path / "f.pt")
    return tmp_path / "f.pt"


@pytest.mark.parametrize("changes, said", [
    ({"ids": ["a", "../b"]}, "image id '../b' holds '/'"),
    ({"ids": ["a", "a"]}, "an image id appears twice"),
    ({"ids": "ab"}, "'ids' is not a list of image ids"),
    ({"global": torch.zeros(3, 4)}, "'global' is not a (2, D) tensor"),
    ({"grid": torch.zeros(2, 3, 5)}, "'grid' is not a (2, R, 4) tensor"),
    ({"grid": torch.full((2, 3, 4), float("nan"))}, "features hold NaN or infinite values"),
    ({"global": torch.tensor([[0.0, 0, 0, float("inf")], [0, 0, 0, 0]])}, "NaN or infinite"),
    ({"errors": []}, "'errors' or 'meta' is not a mapping"),
])
def test_a_cache_of_the_wrong_shape_or_values_is_refused(tmp_path, changes, said):
    with pytest.raises(ValueError, match="f.pt: not a feature cache") as caught:
        read_features(_cache(tmp_path, **changes))
    assert said in str(caught.value)
    assert read_features(_cache(tmp_path)).get("b") is not None  # the same cache, sound, reads


def test_regions_are_the_most_confident_boxes_cropped_then_the_whole_image(images, tmp_path):
    # UMGF's visual nodes: each detected region encoded whole by the backbone; missing ones are the whole image
    cache_file = tmp_path / "detections.jsonl"
    cache_file.write_text("\n".join([
        '{"meta": {"weights": "test"}}',
        '{"image_id": "27", "objects": [{"label": "person", "score": 0.4, "box_xyxyn": [0.0, 0.0, 0.5, 0.5]}, '
        '{"label": "sign", "score": 0.9, "box_xyxyn": [0.5, 0.5, 1.0, 1.0]}, {"label": "cup", "score": 0.8}]}',
        '{"image_id": "33", "objects": []}']) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    out = tmp_path / "regions.pt"
    report = extract_features(images, "resnet152", out, weights="random", batch=4, regions=cache_file, max_regions=4)
    assert report.extracted == 5
    cache = read_features(out)
    assert cache.regions == 4 and cache.meta["grid"] == "detected regions"
    whole, regions = cache.get("27")
    assert not torch.equal(regions[0], whole) and not torch.equal(regions[1], whole)  # two boxes (the cup has none)
    assert torch.equal(regions[2], whole) and torch.equal(regions[3], whole)
    whole, regions = cache.get("33")  # no objects, and "56" is not in the cache at all: the whole image, 4 times
    assert all(torch.equal(r, whole) for r in regions) and all(torch.equal(r, cache.get("56")[0])
                                                              for r in cache.get("56")[1])


def test_crops_come_most_confident_first():
    image = Image.new("RGB", (100, 50))
    found = crops(image, [Detection("a", (0.0, 0.0, 0.1, 0.2), 0.2), Detection("b", (0.0, 0.0, 0.5, 1.0), 0.9),
                          Detection("c", None, 1.0)], 3)
    assert [c.size for c in found] == [(50, 50), (10, 10), (100, 50)]
