"""The analysis notebooks run top to bottom (small settings: tiny random encoder, a few tweets)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def _run(name: str, monkeypatch, tmp_path) -> list[dict]:
    monkeypatch.setenv("GRAPHMNER_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("GRAPHMNER_NOTEBOOK_RUNS", str(tmp_path))  # the small models' folders: pytest cleans up
    monkeypatch.setenv("TQDM_DISABLE", "1")
    book = nbformat.read(ROOT / "analysis" / f"{name}.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), "outputs committed"
    nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "analysis")}}).execute()
    return [out for cell in book.cells if cell.cell_type == "code" for out in cell.outputs]


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)


def _images(outputs: list[dict]) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


def test_graph_inspection(monkeypatch, tmp_path):
    outputs = _run("graph_inspection", monkeypatch, tmp_path)
    text = _text(outputs)
    assert "word nodes" in text and "gold:" in text and "predicted:" in text and "record:" in text
    assert "knowledge: [('Liam', 'first name')" in text  # the gazetteer nodes (KNOWLEDGE) are drawn
    assert "candidates: [('" in text and "s0: " in text  # and the text evidence's candidates and sentences
    assert _images(outputs) == 2  # the image with boxes, the graph


def test_error_analysis(monkeypatch, tmp_path):
    outputs = _run("error_analysis", monkeypatch, tmp_path)
    text = _text(outputs)
    assert "twitter2017/test: 60 tweets" in text and "confusion" in text and "bert_crf right" in text
    assert _images(outputs) == 1


def test_ablations(monkeypatch, tmp_path):
    outputs = _run("ablations", monkeypatch, tmp_path)
    text = _text(outputs)
    assert "| bert_crf |" in text and "| graphmner.fusion-attention |" in text
    assert _images(outputs) == 2
