"""export --to torch / import-torch: files, round trips, errors; loading in torch when it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import barenet as bn
from barenet.nn import layers
from barenet.pytorch import files as interop
from clihelpers import assert_user_error, barenet, cli_env


def small_model(dtype="float32"):
    model = bn.Sequential([layers.Dense(6, 5), layers.LeakyReLU(0.1), layers.Dropout(0.2),
                           layers.Dense(5, 4), layers.Tanh(), layers.Dense(4, 3)], seed=3, dtype=dtype)
    return model.compile()


def test_state_dict_uses_sequential_positions_and_transposed_weights(tmp_path):
    model = small_model()
    interop.export_torch(model, tmp_path / "t.safetensors")
    tensors = load_file(tmp_path / "t.safetensors")
    assert sorted(tensors) == ["0.bias", "0.weight", "3.bias", "3.weight", "5.bias", "5.weight"]
    assert tensors["0.weight"].shape == (5, 6)
    np.testing.assert_array_equal(tensors["3.weight"], model.layers[3].params["W"].T)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_export_import_round_trip_keeps_predictions(tmp_path, rng, dtype):
    model = small_model(dtype)
    interop.export_torch(model, tmp_path / "t.safetensors")
    back = interop.import_torch(tmp_path / "t.safetensors", tmp_path / "b.safetensors")
    loaded = bn.load(tmp_path / "b.safetensors")
    x = rng.normal(size=(7, 6))
    for other in (back, loaded):
        assert [type(a) for a in other.layers] == [type(a) for a in model.layers]
        assert other.layers[1].alpha == 0.1 and other.layers[2].rate == 0.2
        np.testing.assert_array_equal(other.predict_logits(x), model.predict_logits(x))
        assert other.dtype == model.dtype


def foreign_file(path, rng, gap=2):
    """A state dict as torch's nn.Sequential(Linear, act, Linear) would save it (no barenet metadata)."""
    tensors = {"0.weight": rng.normal(size=(4, 3)).astype(np.float32), "0.bias": rng.normal(size=4).astype(np.float32),
               f"{gap}.weight": rng.normal(size=(2, 4)).astype(np.float32),
               f"{gap}.bias": rng.normal(size=2).astype(np.float32)}
    save_file(tensors, str(path))
    return tensors


def test_import_foreign_file_with_activation_or_arch(tmp_path, rng):
    tensors = foreign_file(tmp_path / "f.safetensors", rng)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    h = np.maximum(x @ tensors["0.weight"].T + tensors["0.bias"], 0)
    expected = h @ tensors["2.weight"].T + tensors["2.bias"]
    a = interop.import_torch(tmp_path / "f.safetensors", tmp_path / "a.safetensors", activation="relu")
    b = interop.import_torch(tmp_path / "f.safetensors", tmp_path / "b.safetensors", arch="linear, relu, linear")
    for model in (a, b):
        np.testing.assert_allclose(model.predict_logits(x), expected, rtol=1e-5, atol=1e-6)


def test_import_errors(tmp_path, rng):
    foreign_file(tmp_path / "f.safetensors", rng, gap=3)
    with pytest.raises(bn.errors.ConfigError, match="--arch"):
        interop.import_torch(tmp_path / "f.safetensors", tmp_path / "o.safetensors")
    with pytest.raises(bn.errors.ConfigError, match="positions"):
        interop.import_torch(tmp_path / "f.safetensors", tmp_path / "o.safetensors", activation="relu")
    with pytest.raises(bn.errors.ConfigError, match="unknown module"):
        interop.import_torch(tmp_path / "f.safetensors", tmp_path / "o.safetensors", arch="linear,gelu,x,linear")
    model = interop.import_torch(tmp_path / "f.safetensors", tmp_path / "o.safetensors",
                                 arch="linear,relu,dropout:0.25,linear")
    assert model.layers[2].rate == 0.25
    save_file({"fc1.weight": np.zeros((2, 2), np.float32)}, str(tmp_path / "named.safetensors"))
    with pytest.raises(bn.errors.ModelFileError, match="nn.Sequential"):
        interop.import_torch(tmp_path / "named.safetensors", tmp_path / "p.safetensors", activation="relu")
    assert not (tmp_path / "p.safetensors").exists()


def test_cli_export_refuses_existing_output_and_forces(tmp_path):
    small_model().save(tmp_path / "m.safetensors")
    out = tmp_path / "t.safetensors"
    first = barenet("export", tmp_path / "m.safetensors", "--to", "torch", out)
    assert first.returncode == 0, first.stderr
    assert "nn.Linear(6, 5),  # 0" in first.stdout and "load_state_dict" in first.stdout
    before = out.read_bytes()
    assert_user_error(barenet("export", tmp_path / "m.safetensors", "--to", "torch", out), "exists", "--force")
    assert out.read_bytes() == before
    assert barenet("export", tmp_path / "m.safetensors", "--to", "torch", out, "--force").returncode == 0
    assert_user_error(barenet("export", tmp_path / "missing.safetensors", "--to", "torch", tmp_path / "x"),
                      "no model file")


def test_cli_import_torch(tmp_path, rng):
    foreign_file(tmp_path / "f.safetensors", rng)
    result = barenet("import-torch", tmp_path / "f.safetensors", tmp_path / "m.safetensors", "--activation", "tanh")
    assert result.returncode == 0, result.stderr
    assert isinstance(bn.load(tmp_path / "m.safetensors").layers[1], layers.Tanh)
    assert_user_error(barenet("import-torch", tmp_path / "f.safetensors", tmp_path / "m.safetensors",
                              "--activation", "tanh"), "exists")
    assert_user_error(barenet("import-torch", tmp_path / "f.safetensors", tmp_path / "n.safetensors"), "--arch")


def test_exported_file_loads_in_torch_and_predicts_the_same(tmp_path, rng):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file as torch_load

    model = small_model("float64")
    snippet = interop.export_torch(model, tmp_path / "t.safetensors")
    namespace: dict = {}
    exec(snippet.split("# x:")[0], namespace)  # the printed code builds the module and loads the weights
    net = namespace["model"]
    x = rng.normal(size=(9, 6))
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), model.predict_logits(x), rtol=0,
                               atol=1e-12)
    assert set(torch_load(str(tmp_path / "t.safetensors"))) == set(net.state_dict())


def test_torch_saved_sequential_imports(tmp_path, rng):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as torch_save

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Sigmoid(), torch.nn.Linear(7, 3)).double()
    torch_save(net.state_dict(), str(tmp_path / "net.safetensors"))
    model = interop.import_torch(tmp_path / "net.safetensors", tmp_path / "m.safetensors", activation="sigmoid")
    x = rng.normal(size=(4, 5))
    np.testing.assert_allclose(model.predict_logits(x), net(torch.from_numpy(x)).detach().numpy(), atol=1e-12)


def test_compare_without_torch_says_how_to_install(tmp_path):
    hide = tmp_path / "hide" / "torch"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text("raise ImportError('no torch here')\n")
    result = barenet("compare", "--steps", "2", env=cli_env(PYTHONPATH=str(tmp_path / "hide")))
    assert_user_error(result, 'pip install "barenet[torch]"')


def test_a_failed_export_leaves_no_file(tmp_path):
    """An in-memory model with a malformed `extra` is refused before the state dict is written."""
    from barenet.errors import ModelFileError

    model = bn.MLP([4, 3, 2], seed=0)
    model.extra = {"input": {"scale": "standardize"}}  # no mean, no std
    with pytest.raises(ModelFileError, match="lacks its mean and std"):
        interop.export_torch(model, tmp_path / "out.safetensors")
    assert list(tmp_path.iterdir()) == []
