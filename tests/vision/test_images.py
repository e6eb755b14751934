"""Hostile images: every kind of file a scraped tweet-image folder holds, through the one opener."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from graphmner.vision import images as images_module
from graphmner.vision.detector import detect_images, read_detections
from graphmner.vision.images import UnreadableImageError, open_image


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw: bytes) -> bytes:
    """A PNG written by hand, so a header can promise far more pixels than the data holds."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def noise(size=(48, 32), mode="RGB", seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One file per hostile case, named after it."""
    d = tmp_path_factory.mktemp("hostile")
    (d / "zero_bytes.jpg").write_bytes(b"")
    noise().save(d / "photo.jpg", quality=90)
    full = (d / "photo.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (d / "text.jpg").write_text("<html>404 Not Found</html>")
    noise().save(d / "png_inside.jpg", format="PNG")
    noise(mode="L").save(d / "grayscale.jpg")
    noise(mode="CMYK").save(d / "cmyk.jpg")
    Image.fromarray(np.full((32, 48), 32768, dtype=np.uint16)).save(d / "gray16.png")  # mid-gray, 16 bits
    rgba = np.zeros((32, 48, 4), dtype=np.uint8)
    rgba[:, :24] = (255, 0, 0, 255)  # left half opaque red, right half fully transparent (black beneath)
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")
    frames = [Image.new("RGB", (48, 32), colour) for colour in ((0, 0, 255), (0, 255, 0), (255, 0, 0))]
    frames[0].save(d / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    (d / "bomb.png").write_bytes(png_bytes(20000, 20000, 8, 0, b"\x00" * 20001))  # header: 400 M pixels
    Image.new("RGB", (100000, 1)).save(d / "strip.png")  # 100,000 pixels: under the limit, 20 GB once resized
    Image.new("RGB", (2, 3000)).save(d / "tall.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    sideways = Image.new("RGB", (40, 20), (255, 255, 255))
    sideways.paste((0, 0, 0), (0, 0, 10, 20))  # a black stripe on the left of the stored image
    sideways.save(d / "exif_rotated.jpg", exif=exif, quality=95)
    return d


@pytest.mark.parametrize("name, reason", [
    ("missing.jpg", "no such file"),
    ("zero_bytes.jpg", "empty file (0 bytes)"),
    ("truncated.jpg", "image file is truncated"),
    ("text.jpg", "not an image (Pillow: cannot identify image file)"),
    ("bomb.png", "20000x20000 = 400,000,000 pixels, more than the limit of 89,478,485"),
    ("strip.png", "100000x1: more than 50 times longer one way than the other"),
    ("tall.png", "2x3000: more than 50 times longer"),
])
def test_unreadable_images_raise_with_the_reason(folder, name, reason):
    with pytest.raises(UnreadableImageError) as info:
        open_image(folder / name)
    assert reason in info.value.reason and str(info.value).startswith(str(folder / name))


def test_the_pixel_limit_is_ours_not_pillows(folder, monkeypatch):
    # 10000x10000 is between Pillow's limit and twice it, where Pillow only warns: refused all the same
    (folder / "big.png").write_bytes(png_bytes(10000, 10000, 8, 0, b"\x00"))
    with pytest.raises(UnreadableImageError, match="decompression-bomb guard"):
        open_image(folder / "big.png")
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's own setting is restored
    monkeypatch.setattr(images_module, "MAX_PIXELS", 10)  # and the limit is the module's setting
    with pytest.raises(UnreadableImageError, match="more than the limit of 10 "):
        open_image(folder / "photo.jpg")


@pytest.mark.parametrize("name", ["photo.jpg", "png_inside.jpg", "grayscale.jpg", "cmyk.jpg", "gray16.png",
                                  "rgba.png", "animated.gif", "exif_rotated.jpg"])
def test_readable_images_come_out_as_8bit_rgb(folder, name):
    image = open_image(folder / name)
    assert image.mode == "RGB" and np.asarray(image).dtype == np.uint8


def test_each_mode_is_converted_faithfully(folder):
    assert (np.asarray(open_image(folder / "png_inside.jpg")) == np.asarray(noise())).all()
    gray = np.asarray(open_image(folder / "grayscale.jpg"))
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert (np.asarray(open_image(folder / "gray16.png")) == 128).all()  # scaled, not clipped to white
    rgba = np.asarray(open_image(folder / "rgba.png"))
    assert (rgba[:, :24] == (255, 0, 0)).all() and (rgba[:, 24:] == 255).all()  # transparent -> white
    assert tuple(np.asarray(open_image(folder / "animated.gif"))[0, 0]) == (0, 0, 255)  # the first frame
    cmyk = np.asarray(open_image(folder / "cmyk.jpg")).astype(int)
    assert np.abs(cmyk - np.asarray(noise())).mean() < 12  # JPEG-lossy, but the same picture


def test_exif_orientation_is_applied(folder):
    upright = open_image(folder / "exif_rotated.jpg")
    assert upright.size == (20, 40)  # stored 40x20, shown rotated
    pixels = np.asarray(upright).astype(int)
    assert pixels[:8].mean() < 60 and pixels[-8:].mean() > 200  # the stripe moved from the left to the top


def test_detect_counts_every_unreadable_file_with_its_reason(folder, tmp_path):
    out = tmp_path / "det.jsonl"
    report = detect_images(folder, "yolov8n.yaml", out, conf=0.0, max_det=2, batch=4, device="cpu", imgsz=96)
    unreadable = {"zero_bytes", "truncated", "text", "bomb", "big", "strip", "tall"}
    unreadable &= {p.stem for p in folder.iterdir()}
    assert set(report.unreadable) == unreadable
    assert report.images - len(report.unreadable) == 8 and report.detected == 8
    detections, errors = read_detections(out)
    assert set(errors) == unreadable and len(detections) == 8
    assert "image file is truncated" in errors["truncated"] and "decompression-bomb" in errors["bomb"]
    assert "50 times longer" in errors["strip"]


def test_a_panorama_is_an_image(tmp_path):
    Image.new("RGB", (4000, 400)).save(tmp_path / "panorama.jpg")  # 10:1
    assert open_image(tmp_path / "panorama.jpg").size == (4000, 400)
