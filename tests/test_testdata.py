"""The tests find real data where barenet finds it, and say why when they do not."""

import gzip
import hashlib

import numpy as np
import pytest

import helpers
from barenet.data import catalog
from barenet.data.formats import idx_bytes

NAMES = catalog.IDX_NAMES


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A 4x4-pixel dataset 'tiny' in the catalog, no cache, no BARENET_DATA_DIR; returns its files."""
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (20, 4, 4), dtype=np.uint8), np.tile(np.arange(10, dtype=np.uint8), 2),
              rng.integers(0, 256, (10, 4, 4), dtype=np.uint8), np.arange(10, dtype=np.uint8)]
    files = {name: idx_bytes(array) for name, array in zip(NAMES, arrays)}
    info = catalog.DatasetInfo("tiny", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()},
                               tuple(str(i) for i in range(10)))
    monkeypatch.setitem(catalog.DATASETS, "tiny", info)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BARENET_DATA_DIR", raising=False)
    monkeypatch.delenv(helpers.TEST_DATA_VAR, raising=False)
    monkeypatch.setattr(helpers, "BESIDE_REPO", tmp_path / "nowhere")
    return files


def write(folder, files):
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(data))
    return folder


def locate(name="tiny"):
    return helpers.locate.__wrapped__(name)  # not the session cache


@pytest.mark.parametrize("point_at", ["parent", "folder itself"])
def test_test_data_variable_may_name_the_parent_or_the_folder(tiny, tmp_path, monkeypatch, point_at):
    folder = write(tmp_path / "data" / "tiny", tiny)
    monkeypatch.setenv(helpers.TEST_DATA_VAR, str(folder.parent if point_at == "parent" else folder))
    sources, _ = locate()
    assert {path.parent for path in sources.values()} == {folder}


def test_the_cache_barenet_train_fills_is_found(tiny, tmp_path):
    folder = write(tmp_path / "cache" / "barenet" / "tiny", tiny)
    sources, _ = locate()
    assert sorted(sources) == sorted(NAMES) and {p.parent for p in sources.values()} == {folder}


def test_barenet_data_dir_is_found(tiny, tmp_path, monkeypatch):
    folder = write(tmp_path / "mine", tiny)
    monkeypatch.setenv("BARENET_DATA_DIR", str(folder))
    assert {p.parent for p in locate()[0].values()} == {folder}


def test_absent_data_gives_the_places_searched(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(helpers.TEST_DATA_VAR, str(tmp_path / "empty"))
    sources, tried = locate()
    assert sources == {}
    assert f"data_dir {tmp_path / 'empty'}: no such folder" in tried and "cache" in tried


def test_a_damaged_file_is_not_used(tiny, tmp_path):
    folder = write(tmp_path / "cache" / "barenet" / "tiny", tiny)
    (folder / f"{NAMES[0]}.gz").write_bytes(gzip.compress(b"not the published bytes"))
    assert locate()[0] == {}


def test_real_data_tests_are_slow():
    assert pytest.mark.slow.mark in [mark.mark for mark in helpers.needs("fashion-mnist")]
