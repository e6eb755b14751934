"""data_prep/check_dataset.py: the bad input it exists to find is a one-line error, not a traceback."""
import importlib.util
from pathlib import Path

import pytest

from tests.conftest import TINY_DATA

SCRIPT = Path(__file__).resolve().parents[2] / "data_prep" / "check_dataset.py"


@pytest.fixture(scope="module")
def check_dataset():
    spec = importlib.util.spec_from_file_location("check_dataset", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_good_folder_is_described(check_dataset, capsys):
    assert check_dataset.main(["--data-dir", str(TINY_DATA)]) == 0
    out = capsys.readouterr().out
    assert "train: 12 tweets" in out and "caption" in out


@pytest.mark.parametrize("files, said", [
    ({"train.txt": "IMGID:1\nParis\tX-LOC\n"}, "train.txt:2: tag 'X-LOC' is not IOB2"),
    ({"train.txt": "IMGID:1\nParis B-LOC\n"}, "train.txt:2: expected 'token<TAB>tag'"),
    ({}, "train.txt"),  # no split files at all
    ({"train.txt": b"IMGID:1\n\xff\tO\n"}, "train.txt:2: not valid UTF-8"),
])
def test_bad_input_is_one_line(check_dataset, tmp_path, capsys, files, said):
    for name, text in files.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    assert check_dataset.main(["--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("check_dataset.py: error: ") and said in err and err.count("\n") == 1


def test_unknown_names_and_folders_are_one_line(check_dataset, tmp_path, capsys):
    assert check_dataset.main(["--dataset", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert check_dataset.main(["--data-dir", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_placeholder_captions_are_reported(check_dataset, capsys):
    assert check_dataset.main(["--dataset", "twitter2017"]) == 0
    assert "placeholder caption on 358 images" in capsys.readouterr().out
