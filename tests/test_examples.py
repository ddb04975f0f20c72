"""The notebooks in examples/ are committed without outputs (CI runs them: pytest --nbmake examples)."""

import json

import pytest

from helpers import REPO

NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))


def test_the_three_notebooks_are_there():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
