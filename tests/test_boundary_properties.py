"""Property-based tests of every reader and of the model-file schema: any input is either read
correctly or refused with barenet's own one-line error; nothing else escapes, nothing is over-allocated."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import barenet as bn
from barenet.data.formats import idx_bytes, parse_csv, parse_idx
from barenet.data.samples import checked_pixels, read_npy
from barenet.errors import BarenetError, DataError, InputError, ModelFileError
from barenet.io.readers import gunzip, sniff

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=8)


def one_line(error: BaseException) -> None:
    assert isinstance(error, BarenetError) and "\n" not in str(error)


# ----- gzip ------------------------------------------------------------------------------------------------------
@FAST
@given(st.binary(max_size=2000), st.integers(1, 3000))
def test_gunzip_returns_the_data_or_refuses_past_its_limit(data, limit):
    packed = gzip.compress(data)
    if len(data) <= limit:
        assert gunzip(packed, "x", limit) == data
    else:
        with pytest.raises(DataError, match="decompresses to more than"):
            gunzip(packed, "x", limit)


@FAST
@given(st.binary(max_size=200))
def test_damaged_gzip_is_one_line(tail):
    try:
        gunzip(b"\x1f\x8b" + tail, "x", 10_000)
    except DataError as error:
        one_line(error)


def test_a_gzip_bomb_stops_at_the_limit_without_expanding():
    bomb = gzip.compress(bytes(50_000_000))  # 50 MB of zeros in ~50 KB
    with pytest.raises(DataError, match="gzip bomb"):
        gunzip(bomb, "bomb", 1_000_000)


# ----- IDX -------------------------------------------------------------------------------------------------------
@FAST
@given(hnp.arrays(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
                  hnp.array_shapes(min_dims=1, max_dims=4, max_side=5)))
def test_idx_round_trips(array):
    back = parse_idx(idx_bytes(array))
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@FAST
@given(st.integers(0, 255), st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8), st.binary(max_size=64))
def test_any_idx_header_is_read_only_when_the_bytes_match_it(code, dims, body):
    header = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    try:
        array = parse_idx(header + body)
    except DataError as error:
        one_line(error)
        return
    assert array.shape == tuple(dims) and array.nbytes == len(body)


# ----- .npy ------------------------------------------------------------------------------------------------------
@FAST
@given(hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
def test_npy_round_trips_or_refuses_non_numbers(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    try:
        back = read_npy(buffer.getvalue(), "x.npy")
    except DataError as error:
        one_line(error)
        assert array.dtype.kind not in "biuf"
        return
    np.testing.assert_array_equal(back, array)


@FAST
@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=4))
def test_an_npy_header_claiming_more_than_the_file_holds_is_refused_before_allocation(shape):
    header = {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    data = buffer.getvalue() + bytes(8)
    try:
        array = read_npy(data, "x.npy")
    except DataError as error:
        one_line(error)
        return
    assert array.nbytes == 8


# ----- CSV -------------------------------------------------------------------------------------------------------
@FAST
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 5), st.just(16))), st.booleans(), st.booleans())
def test_pixel_csv_round_trips_with_or_without_header_and_labels(images, header, labels):
    rows = [[int(i % 10), *row] if labels else list(row) for i, row in enumerate(images)]
    names = (["label"] if labels else []) + [f"pixel{i}" for i in range(16)]
    text = "\n".join([",".join(names)] * header + [",".join(map(str, r)) for r in rows]) + "\n"
    x, y = parse_csv(text.encode(), "x.csv", labels=labels if not header else None)
    np.testing.assert_array_equal(x.reshape(len(x), -1), images)
    assert (y is not None) == labels


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.just(16)), elements=st.floats(0, 1)))
def test_headerless_csv_of_fractions_keeps_every_row(pixels):
    assume(not np.all(pixels == np.round(pixels)))
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in pixels)
    x, y = parse_csv(text.encode(), "x.csv")
    assert y is None and len(x) == len(pixels)
    np.testing.assert_allclose(x.reshape(len(x), -1), pixels.astype(np.float32))


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_as_csv_are_read_or_refused_in_one_line(raw):
    try:
        parse_csv(raw, "x.csv")
    except BarenetError as error:
        one_line(error)


# ----- pixel values ----------------------------------------------------------------------------------------------
@FAST
@given(hnp.arrays(st.sampled_from([np.int32, np.int64, np.float32, np.float64, np.int8, np.uint16]),
                  hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)))
def test_pixels_are_uint8_in_range_or_unit_floats_or_refused(samples):
    try:
        checked = checked_pixels(samples, "x")
    except InputError as error:
        one_line(error)
        return
    if checked.dtype == np.uint8:
        np.testing.assert_array_equal(checked, samples)
    else:
        assert checked.dtype == np.float32 and checked.min() >= 0 and checked.max() <= 1


# ----- magic bytes -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, kind", [("PNG", "png"), ("JPEG", "jpeg"), ("BMP", "bmp"), ("GIF", "gif"),
                                       ("TIFF", "tiff"), ("WEBP", "webp")])
def test_images_are_recognised_by_their_bytes(fmt, kind):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format=fmt)
    assert sniff(buffer.getvalue()[:64]) == kind


# ----- model files -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = bn.MLP([12, 6, 3], dropout=0.1).compile(optimizer=bn.optimizers.Adam(lr=0.01))
    x, y = np.random.default_rng(0).random((24, 12), dtype=np.float32), np.arange(24) % 3
    model.fit(x, y, epochs=1, batch_size=8)
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    model.save(path, include_optimizer=True, extra={"classes": ["a", "b", "c"]})
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="numpy") as handle:
        document = json.loads(handle.metadata()["barenet"])
    return path, document, load_file(path)


def paths_of(document, prefix=()):
    """Every (path, value) inside a JSON document."""
    yield prefix, document
    items = document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) \
        else []
    for key, value in items:
        yield from paths_of(value, (*prefix, key))


@FAST
@given(st.data(), JSON)
def test_any_change_to_the_metadata_loads_or_is_one_line(saved, tmp_path_factory, data, value):
    from safetensors.numpy import save_file

    path, document, tensors = saved
    document = json.loads(json.dumps(document))
    places = [p for p, _ in paths_of(document) if p]
    place = data.draw(st.sampled_from(places))
    target = document
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = value
    changed = tmp_path_factory.mktemp("changed") / "m.safetensors"
    save_file(tensors, changed, metadata={"barenet": json.dumps(document)})
    try:
        bn.load(changed)
    except ModelFileError as error:
        one_line(error)


def test_nan_weights_are_refused_at_load(saved, tmp_path):
    from safetensors.numpy import save_file

    path, document, tensors = saved
    tensors = dict(tensors)
    tensors["layers.0.W"] = tensors["layers.0.W"].copy()
    tensors["layers.0.W"][0, 0] = np.nan
    save_file(tensors, tmp_path / "nan.safetensors", metadata={"barenet": json.dumps(document)})
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        bn.load(tmp_path / "nan.safetensors")


def test_a_huge_declared_layer_is_refused_before_it_is_allocated(saved, tmp_path):
    import resource

    from safetensors.numpy import save_file

    path, document, tensors = saved
    document = json.loads(json.dumps(document))
    document["architecture"]["layers"][0].update(in_features=20000, out_features=20000)
    save_file(tensors, tmp_path / "big.safetensors", metadata={"barenet": json.dumps(document)})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelFileError, match="architecture needs"):
        bn.load(tmp_path / "big.safetensors")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: far below 1.6 GB


def test_deeply_nested_metadata_is_one_line(saved, tmp_path):
    from safetensors.numpy import save_file

    _, _, tensors = saved
    save_file(tensors, tmp_path / "deep.safetensors", metadata={"barenet": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(ModelFileError, match="nested too deeply"):
        bn.load(tmp_path / "deep.safetensors")


# ----- Keras npz -------------------------------------------------------------------------------------------------
@FAST
@given(shape=st.lists(st.integers(0, 10**12), min_size=1, max_size=3), size=st.integers(0, 2000))
def test_an_npz_member_claiming_more_than_it_holds_is_refused_before_allocation(shape, size, tmp_path_factory):
    import zipfile

    from barenet.data.formats import read_keras_npz

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    path = tmp_path_factory.mktemp("npz") / "mnist.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            archive.writestr(f"{key}.npy", buffer.getvalue() + bytes(size))
    try:
        read_keras_npz(path)
    except DataError as error:
        one_line(error)
