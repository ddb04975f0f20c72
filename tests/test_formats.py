import gzip
import io
import os
import pickle

import numpy as np
import pytest

from barenet.data import read_idx
from barenet.data.formats import (
    check_pair,
    nielsen_to_uint8,
    parse_idx,
    read_csv,
    read_keras_npz,
    read_nielsen_pkl,
    safe_unpickle,
    write_idx,
)
from barenet.data.formats import idx_bytes as bn_idx_bytes
from barenet.errors import DataError


def idx_bytes(array: np.ndarray, code=0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_round_trip_raw_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "raw").write_bytes(idx_bytes(images))
    (tmp_path / "z.gz").write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(tmp_path / "raw"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "z.gz"), images)


def test_int32_big_endian():
    values = np.array([1, -2, 70000], dtype=np.int32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(values, 0x0C)), values)


@pytest.mark.parametrize("data, match", [
    (b"\x01\x00\x08\x01", "bad magic"),
    (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]), "type code"),
    (bytes([0, 0, 8, 2, 0, 0, 0, 1]), "truncated IDX header"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "truncated or corrupt"),
])
def test_bad_files(data, match):
    with pytest.raises(DataError, match=match):
        parse_idx(data)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 10), np.uint8)))[:-12])
    with pytest.raises(DataError, match="damaged gzip"):
        read_idx(path)


def test_real_mnist_headers(mnist):
    x, y, xt, yt = mnist
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and yt.shape == (10000,) and xt.shape == (10000, 28, 28)
    assert y.max() == 9 and y.min() == 0


# ---------------------------------------------------------------- more IDX, npz, pickle, CSV

def assert_one_line(exc_info):
    message = str(exc_info.value)
    assert message and "\n" not in message


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_idx_round_trip_and_no_temp_files(tmp_path, name):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(tmp_path / name, labels)
    np.testing.assert_array_equal(read_idx(tmp_path / name), labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_idx_bytes_matches_the_format_by_hand():
    assert bn_idx_bytes(np.array([[1, 2]], np.uint8)) == bytes([0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2])
    with pytest.raises(DataError, match="cannot write"):
        bn_idx_bytes(np.array([1 + 2j]))


def test_image_label_count_mismatch():
    with pytest.raises(DataError, match="3 images but 2 labels") as info:
        check_pair(np.zeros((3, 2, 2), np.uint8), np.zeros(2, np.uint8))
    assert_one_line(info)


def keras_arrays(rng):
    return {"x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), "y_train": np.arange(6, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), "y_test": np.array([7, 8], np.uint8)}


def test_keras_npz(tmp_path, rng):
    arrays = keras_arrays(rng)
    np.savez(tmp_path / "mnist.npz", **arrays)
    (x, y), (xt, yt) = read_keras_npz(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(yt, [7, 8])
    assert y.dtype == np.int64 and x.dtype == np.uint8


def test_keras_npz_missing_key(tmp_path, rng):
    arrays = keras_arrays(rng)
    del arrays["y_test"]
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match="lacks y_test") as info:
        read_keras_npz(tmp_path / "mnist.npz")
    assert_one_line(info)


def test_keras_npz_refuses_object_arrays_and_garbage(tmp_path, rng):
    arrays = keras_arrays(rng)
    arrays["y_train"] = np.array([{"a": 1}] * 6, dtype=object)
    np.savez(tmp_path / "obj.npz", **arrays)
    with pytest.raises(DataError, match="not a readable npz"):
        read_keras_npz(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a readable npz") as info:
        read_keras_npz(tmp_path / "junk.npz")
    assert_one_line(info)


def nielsen_tuple(rng, n=(5, 3, 2)):
    parts = []
    for count in n:
        pixels = rng.integers(0, 256, (count, 784)).astype(np.float32) / np.float32(256)
        parts.append((pixels, rng.integers(0, 10, count).astype(np.int64)))
    return tuple(parts)


@pytest.mark.parametrize("protocol", [2, 4])
def test_nielsen_pickle_round_trip(tmp_path, rng, protocol):
    data = nielsen_tuple(rng)
    (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(pickle.dumps(data, protocol=protocol)))
    parts = read_nielsen_pkl(tmp_path / "mnist.pkl.gz")
    for (x, y), (x0, y0) in zip(parts, data):
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(y, y0)
    images = nielsen_to_uint8(parts[0][0])
    assert images.shape == (5, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(5, -1), np.rint(data[0][0] * 256))


class _Payload:
    """Pickles to `os.system("touch MARKER")`: what a hostile mnist.pkl.gz would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_and_does_not_run(tmp_path, rng):
    marker = tmp_path / "pwned"
    evil = pickle.dumps(((np.zeros((2, 784), np.float32), _Payload(marker)), None, None), protocol=2)
    assert not marker.exists()
    (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(evil))
    with pytest.raises(DataError, match=r"system.*refused") as info:
        read_nielsen_pkl(tmp_path / "mnist.pkl.gz")
    assert_one_line(info)
    assert not marker.exists()
    pickle.loads(evil)  # the same bytes through the ordinary unpickler: the payload runs
    assert marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("numpy", "load"), ("subprocess", "Popen")])
def test_restricted_unpickler_refuses_other_globals(module, name):
    data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."
    with pytest.raises(DataError, match=f"{module}.{name}"):
        safe_unpickle(io.BytesIO(data))


def test_restricted_unpickler_allows_codecs_encode_only_for_latin1():
    ok = pickle.dumps(b"\xff\x00", protocol=2)  # Python 3 writes _codecs.encode("\xff\x00", "latin1")
    assert safe_unpickle(io.BytesIO(ok)) == b"\xff\x00"
    rot13 = ok.replace(b"latin1", b"rot_13")
    assert rot13 != ok
    with pytest.raises(DataError, match="unexpected encoding"):
        safe_unpickle(io.BytesIO(rot13))


def test_damaged_pickle(tmp_path):
    (tmp_path / "bad.pkl.gz").write_bytes(gzip.compress(b"\x80\x02(K\x01"))
    with pytest.raises(DataError, match="not a readable pickle") as info:
        read_nielsen_pkl(tmp_path / "bad.pkl.gz")
    assert_one_line(info)
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DataError, match="does not hold the"):
        read_nielsen_pkl(tmp_path / "plain.pkl")


def csv_text(rows, labels=True, header=True):
    cols = (["label"] if labels else []) + [f"pixel{i}" for i in range(784)]
    lines = [",".join(cols)] if header else []
    lines += [",".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def test_kaggle_csv_with_and_without_labels(tmp_path, rng):
    pixels = rng.integers(0, 256, (3, 784))
    labels = np.array([[4], [0], [9]])
    (tmp_path / "train.csv").write_text(csv_text(np.hstack([labels, pixels])))
    (tmp_path / "test.csv").write_text(csv_text(pixels, labels=False))
    x, y = read_csv(tmp_path / "train.csv")
    np.testing.assert_array_equal(y, [4, 0, 9])
    np.testing.assert_array_equal(x.reshape(3, -1), pixels)
    assert x.shape == (3, 28, 28) and x.dtype == np.uint8
    xt, yt = read_csv(tmp_path / "test.csv")
    assert yt is None
    np.testing.assert_array_equal(xt, x)
    no_header = csv_text(np.hstack([labels, pixels]), header=False)
    (tmp_path / "nohead.csv.gz").write_bytes(gzip.compress(no_header.encode()))
    x2, y2 = read_csv(tmp_path / "nohead.csv.gz")
    np.testing.assert_array_equal(y2, [4, 0, 9])


@pytest.mark.parametrize("body, match", [
    ("1," + ",".join(["0"] * 784) + "\n2," + ",".join(["0"] * 783) + "\n", "line 3 has 784 columns, expected 785"),
    ("1," + ",".join(["0"] * 783) + ",abc\n", "non-numeric"),
    ("1," + ",".join(["0"] * 783) + ",300\n", "outside 0..255"),
])
def test_bad_csv(tmp_path, body, match):
    header = "label," + ",".join(f"pixel{i}" for i in range(784)) + "\n"
    (tmp_path / "bad.csv").write_text(header + body)
    with pytest.raises(DataError, match=match) as info:
        read_csv(tmp_path / "bad.csv")
    assert_one_line(info)


def test_csv_wrong_column_count_everywhere(tmp_path):
    (tmp_path / "odd.csv").write_text("label,a,b,c\n1,2,3,4\n")
    with pytest.raises(DataError, match="not a square image"):
        read_csv(tmp_path / "odd.csv")
