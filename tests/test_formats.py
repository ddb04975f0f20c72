import gzip

import numpy as np
import pytest

from barenet.data import read_idx
from barenet.data.formats import parse_idx
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
