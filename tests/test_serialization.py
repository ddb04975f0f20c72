"""Model files: bit-identical round trips, and refusal of anything that is not a clean model."""

import json
import os
import struct

import numpy as np
import pytest

import barenet as bn
from barenet.errors import ModelFileError


def fitted_model(**kwargs):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 12)).astype(np.float32), rng.integers(0, 4, 64)
    model = bn.MLP([12, 16, 8, 4], dropout=0.2, **kwargs).compile(optimizer=bn.optimizers.Adam(lr=0.01))
    model.fit(x, y, epochs=2, batch_size=16)
    return model, x, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_predictions_are_bit_identical(tmp_path, dtype):
    model, x, _ = fitted_model(dtype=dtype, activation=["tanh", "relu"])
    path = tmp_path / "model.safetensors"
    model.save(path)
    again = bn.load(path)
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    assert again.get_config() == model.get_config()
    assert again.loss.get_config() == model.loss.get_config()
    assert again.optimizer.get_config() == model.optimizer.get_config()


def test_file_is_plain_safetensors_with_json_metadata(tmp_path):
    from safetensors.numpy import load_file

    model, _, _ = fitted_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    tensors = load_file(path)
    assert set(tensors) == {"layers.0.W", "layers.0.b", "layers.3.W", "layers.3.b", "layers.6.W", "layers.6.b"}
    header_len = struct.unpack("<Q", path.read_bytes()[:8])[0]
    header = json.loads(path.read_bytes()[8:8 + header_len])
    document = json.loads(header["__metadata__"]["barenet"])
    assert document["architecture"]["layers"][0]["type"] == "Dense"


def test_optimizer_state_is_kept_when_asked(tmp_path):
    model, x, y = fitted_model()
    path = tmp_path / "ckpt.safetensors"
    model.save(path, include_optimizer=True)
    again = bn.load(path)
    assert again.optimizer.iterations == model.optimizer.iterations
    for a, b in zip(again.optimizer.state, model.optimizer.state):
        np.testing.assert_array_equal(a["m"], b["m"])


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    model, _, _ = fitted_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    model.save(path)
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no model file"):
        bn.load(tmp_path / "nope.safetensors")


def test_garbage_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors")
    with pytest.raises(ModelFileError, match="not a readable safetensors"):
        bn.load(path)


def test_truncated_file(tmp_path):
    model, _, _ = fitted_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError):
        bn.load(path)


def test_safetensors_without_barenet_metadata(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, path)
    with pytest.raises(ModelFileError, match="without barenet metadata"):
        bn.load(path)


def rewrite_metadata(path, change):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(path), framework="numpy") as handle:
        document = json.loads(handle.metadata()["barenet"])
    change(document)
    save_file(load_file(path), path, metadata={"barenet": json.dumps(document)})


def test_layer_types_outside_the_allow_list_are_refused(tmp_path):
    model, _, _ = fitted_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    rewrite_metadata(path, lambda d: d["architecture"]["layers"].append({"type": "__import__", "name": "os"}))
    with pytest.raises(ModelFileError, match="unknown layer type"):
        bn.load(path)


def test_shape_mismatch_between_metadata_and_tensors(tmp_path):
    model, _, _ = fitted_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    rewrite_metadata(path, lambda d: d["architecture"]["layers"][0].update(out_features=17))
    with pytest.raises(ModelFileError):
        bn.load(path)


def data_start(path) -> int:
    """Where a safetensors file's tensor bytes begin: after the 8-byte length and the JSON header."""
    return 8 + struct.unpack("<Q", path.read_bytes()[:8])[0]


def test_bit_flips_in_tensor_data_are_refused_in_one_line(tmp_path):
    """20 single-bit flips, each in the lowest byte of some float32 (never a NaN, so only a digest sees it)."""
    model, x, _ = fitted_model()
    path = tmp_path / "m.safetensors"
    model.save(path, include_optimizer=True)
    clean, start = path.read_bytes(), data_start(path)
    rng = np.random.default_rng(25)
    for word, bit in zip(rng.choice((len(clean) - start) // 4, 20, replace=False), rng.integers(0, 8, 20)):
        flipped = bytearray(clean)
        flipped[start + 4 * int(word)] ^= 1 << int(bit)
        path.write_bytes(bytes(flipped))
        with pytest.raises(ModelFileError, match="damaged: its tensors do not match the SHA-256 digest") as caught:
            bn.load(path)
        assert "\n" not in str(caught.value)
    path.write_bytes(clean)
    np.testing.assert_array_equal(bn.load(path).predict_proba(x), model.predict_proba(x))


def test_files_without_a_digest_still_load(tmp_path):
    """Older barenet files, and files another tool rewrote, have no digest: read as before."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from barenet.io.safetensors import DIGEST_KEY

    model, x, _ = fitted_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
    assert DIGEST_KEY in metadata
    del metadata[DIGEST_KEY]
    save_file(load_file(path), path, metadata=metadata)
    np.testing.assert_array_equal(bn.load(path).predict_proba(x), model.predict_proba(x))
