"""The import contract: every import in src/barenet (function-level ones too) points down the layers,
and no group of modules imports itself round in a cycle.

The layers, top to bottom (docs/ARCHITECTURE.md): a module may import modules of its own package and of
any layer below; never a sibling on its own layer, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = [
    {"facade"},          # barenet/__init__.py, __main__.py, datasets.py: the public names
    {"cli"},
    {"apps"},
    {"pytorch"},
    {"runs"},
    {"models"},
    {"training"},
    {"data"},
    {"nn", "optim"},
    {"kernels"},
    {"io"},
    {"base"},            # errors, backend, registry, version
]
FACADE = {"barenet", "barenet.__main__", "barenet.datasets"}
BASE = {"barenet.errors", "barenet.backend", "barenet.registry", "barenet.version"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_under(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / "barenet").rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every barenet module `name` imports, anywhere in the file, resolved to module names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import module` imports the module, not the package
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {target for target in found if target in known and target != name}


def layer_of(name: str) -> str:
    if name in FACADE:
        return "facade"
    if name in BASE:
        return "base"
    return name.split(".")[1]


def rank(layer: str) -> int:
    return next(i for i, group in enumerate(LAYERS) if layer in group)


def violations(root: Path) -> list[str]:
    """Imports that point up the layers or sideways to a sibling package."""
    modules = modules_under(root)
    found = []
    for name, path in modules.items():
        here = layer_of(name)
        for target in sorted(imports_of(name, path, set(modules))):
            there = layer_of(target)
            if here != there and rank(there) <= rank(here):
                found.append(f"{name} ({here}) imports {target} ({there})")
    return found


def cycles(root: Path) -> list[list[str]]:
    """Every cycle in the module import graph (function-level imports included)."""
    modules = modules_under(root)
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    found, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state[target] == 1:
                found.append([*path[path.index(target):], target])
            elif state[target] == 0:
                visit(target, [*path, target])
        state[node] = 2

    for start in graph:
        if state[start] == 0:
            visit(start, [start])
    return found


def test_every_package_has_a_layer():
    packages = {layer_of(name) for name in modules_under(SRC)}
    assert packages <= set().union(*LAYERS), packages - set().union(*LAYERS)


def test_imports_point_down_the_layers():
    assert violations(SRC) == []


def test_no_import_cycles():
    assert cycles(SRC) == []


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / "barenet" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("files, expected", [
    ({"nn/layers.py": "from ..training import trainer\n", "training/trainer.py": ""},
     ["barenet.nn.layers (nn) imports barenet.training.trainer (training)"]),
    ({"nn/layers.py": "def f():\n    from ..optim import optimizers\n", "optim/optimizers.py": ""},
     ["barenet.nn.layers (nn) imports barenet.optim.optimizers (optim)"]),
    ({"runs/run.py": "from .. import __version__\n", "__init__.py": "__version__ = '0'\n"},
     ["barenet.runs.run (runs) imports barenet (facade)"]),
    ({"cli/train.py": "from ..runs.run import run\n", "runs/run.py": ""}, []),
])
def test_the_layer_check_sees_upward_and_sideways_imports(tmp_path, files, expected):
    write_tree(tmp_path, {"__init__.py": "", **files})
    assert violations(tmp_path) == expected


def test_the_cycle_check_sees_function_level_cycles(tmp_path):
    write_tree(tmp_path, {"__init__.py": "", "models/__init__.py": "",
                          "models/sequential.py": "from . import modelfile\n",
                          "models/modelfile.py": "def load():\n    from .sequential import Sequential\n"})
    assert cycles(tmp_path) == [["barenet.models.modelfile", "barenet.models.sequential", "barenet.models.modelfile"]]


def reachable(start: str, root: Path) -> set[str]:
    """Every barenet module `start` imports, directly or through others (function-level imports included)."""
    modules = modules_under(root)
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


@pytest.mark.parametrize("reader", ["barenet.cli.predict", "barenet.cli.evaluate", "barenet.cli.ensemble",
                                    "barenet.cli.serve", "barenet.apps.serve.app", "barenet.cli.interop"])
def test_commands_that_read_a_model_do_not_import_the_training_run(reader):
    """Scaling pixels the way a model was trained lives with the model files (models/scaling.py), not in the
    module that trains a run."""
    training_run = {"barenet.runs.run", "barenet.runs.prepared", "barenet.runs.resume", "barenet.runs.summary"}
    assert training_run & reachable(reader, SRC) == set()
