"""export --to onnx: onnxruntime gives barenet's probabilities, for every layer kind and input scaling."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import barenet as bn
from barenet.errors import BarenetError, ConfigError
from barenet.nn import layers
from clihelpers import assert_user_error, barenet

onnx = pytest.importorskip("onnx", reason='ONNX export needs the onnx extra: pip install "barenet[onnx]"')
ort = pytest.importorskip("onnxruntime", reason='the ONNX check needs onnxruntime: pip install "barenet[onnx]"')

from barenet.models.onnx_export import build_onnx, export_onnx  # noqa: E402


def run_onnx(path_or_model, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of the ONNX graph (a file path or a ModelProto) on uint8 pixels (N, features), fed as 0-255 floats."""
    source = path_or_model.SerializeToString() if hasattr(path_or_model, "SerializeToString") else str(path_or_model)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    dtype = np.float64 if session.get_inputs()[0].type == "tensor(double)" else np.float32
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, {"pixels": pixels.astype(dtype)})))


def assert_same_predictions(model, pixels: np.ndarray, graph=None) -> None:
    """ONNX probabilities within 1e-5 of barenet's predict_proba on the same uint8 pixels, and the same classes."""
    got = run_onnx(graph if graph is not None else build_onnx(model), pixels)["probabilities"]
    want = model.predict_proba(pixels)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))


def pixels(rng, n=64, features=784) -> np.ndarray:
    return rng.integers(0, 256, size=(n, features), dtype=np.uint8)


def op_types(graph) -> list[str]:
    return [node.op_type for node in graph.graph.node]


@pytest.mark.parametrize("activation, op", [("relu", "Relu"), ("leaky_relu", "LeakyRelu"), ("sigmoid", "Sigmoid"),
                                            ("tanh", "Tanh")])
def test_each_activation_round_trips(rng, activation, op):
    model = bn.MLP([784, 32, 16, 10], activation=activation, seed=1)
    graph = build_onnx(model)
    assert op_types(graph).count(op) == 2 and op_types(graph).count("Gemm") == 3
    assert_same_predictions(model, pixels(rng), graph)


def test_leaky_relu_keeps_its_slope_and_softmax_layer_and_flatten_export(rng):
    model = bn.Sequential([layers.Dense(784, 20), layers.LeakyReLU(0.3), layers.Dense(20, 10), layers.Softmax()],
                          output="linear", seed=2)
    graph = build_onnx(model)
    alpha = next(node for node in graph.graph.node if node.op_type == "LeakyRelu").attribute[0]
    assert alpha.name == "alpha" and alpha.f == pytest.approx(0.3)
    assert op_types(graph).count("Softmax") == 1  # the layer; the linear output adds none
    assert_same_predictions(model, pixels(rng), graph)


def test_a_model_trained_with_dropout_exports_without_dropout(rng):
    x = pixels(rng, 512)
    y = (x[:, :392].mean(axis=1) > x[:, 392:].mean(axis=1)).astype(np.int64)
    model = bn.MLP([784, 32, 2], dropout=0.5, seed=0)
    model.compile(loss="softmax_cross_entropy", optimizer=bn.optimizers.SGD(lr=0.05))
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    graph = build_onnx(model)
    assert "Dropout" not in op_types(graph) and any(isinstance(layer, layers.Dropout) for layer in model.layers)
    assert_same_predictions(model, x, graph)


@pytest.mark.parametrize("output, last_op", [("softmax", "Softmax"), ("sigmoid", "Sigmoid"), ("linear", "Identity")])
def test_output_activations(rng, output, last_op):
    model = bn.MLP([784, 16, 10], output=output, seed=3)
    graph = build_onnx(model)
    assert graph.graph.node[-1].op_type == last_op and graph.graph.node[-1].output == ["probabilities"]
    assert_same_predictions(model, pixels(rng), graph)


@pytest.mark.parametrize("spec, ops", [({"scale": "unit"}, ["Mul"]), ({"scale": "none"}, []),
                                       ({"scale": "standardize", "mean": 0.13, "std": 0.31}, ["Mul", "Sub", "Div"])])
@pytest.mark.filterwarnings("ignore:x has values up to 255")  # scale "none": raw 0-255 input, as trained
def test_the_input_scaling_is_inside_the_graph(rng, spec, ops):
    from barenet.models.scaling import InputScaler

    model = bn.MLP([784, 16, 10], seed=4)
    model.extra = {"input": spec}
    graph = build_onnx(model)
    assert op_types(graph)[: len(ops)] == ops and op_types(graph)[len(ops)] == "Gemm"
    x = pixels(rng)
    want = model.predict_proba(InputScaler.from_dict(spec)(x))  # what `barenet predict` feeds the model
    np.testing.assert_allclose(run_onnx(graph, x)["probabilities"], want, rtol=1e-5, atol=1e-5)


def test_float64_models_and_dense_without_bias(rng):
    model = bn.Sequential([layers.Dense(784, 12, use_bias=False), layers.Tanh(), layers.Dense(12, 10)], dtype="float64")
    graph = build_onnx(model)
    assert op_types(graph)[:3] == ["Mul", "MatMul", "Tanh"]
    x = pixels(rng)
    got = run_onnx(graph, x)["probabilities"]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=0, atol=1e-12)


def test_the_file_passes_the_checker_and_carries_metadata(tmp_path):
    model = bn.MLP([784, 8, 10], seed=5)
    model.extra = {"classes": list("abcdefghij"), "dataset": "mnist", "input": {"scale": "unit"}}
    path = export_onnx(model, tmp_path / "m.onnx")
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    props = {prop.key: prop.value for prop in loaded.metadata_props}
    assert json.loads(props["classes"]) == list("abcdefghij") and props["dataset"] == "mnist"
    assert [layer["type"] for layer in json.loads(props["barenet_layers"])] == ["Dense", "ReLU", "Dense"]
    assert loaded.opset_import[0].version == 17 and loaded.producer_name == "barenet"
    assert [o.name for o in loaded.graph.output] == ["logits", "probabilities"]


def test_export_never_overwrites_without_force(tmp_path):
    model = bn.MLP([784, 8, 10], seed=5)
    (tmp_path / "m.onnx").write_text("keep")
    with pytest.raises(BarenetError, match="--force"):
        export_onnx(model, tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").read_text() == "keep"
    export_onnx(model, tmp_path / "m.onnx", force=True)
    assert onnx.load(str(tmp_path / "m.onnx")).graph.input[0].name == "pixels"


def test_a_missing_onnx_package_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ConfigError, match=r'pip install "barenet\[onnx\]"'):
        build_onnx(bn.MLP([784, 8, 10]))


def test_cli_export_onnx(tmp_path, rng):
    model = bn.MLP([784, 16, 10], seed=6)
    model.save(tmp_path / "m.safetensors")
    result = barenet("export", tmp_path / "m.safetensors", "--to", "onnx")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.onnx").is_file() and "'probabilities'" in result.stdout
    x = pixels(rng)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x)["probabilities"], model.predict_proba(x), atol=1e-5)
    assert_user_error(barenet("export", tmp_path / "m.safetensors", "--to", "onnx"), "exists", "--force")
    other = barenet("export", tmp_path / "m.safetensors", "--to", "onnx", "--output", tmp_path / "o.onnx")
    assert other.returncode == 0 and (tmp_path / "o.onnx").is_file()
    assert_user_error(barenet("export", tmp_path / "m.safetensors", "--to", "onnx", tmp_path / "a.onnx", "--output",
                              tmp_path / "b.onnx"), "once")
    assert_user_error(barenet("export", tmp_path / "m.safetensors", "--to", "torch"), "needs the file to write")


def test_mnist_test_set_through_onnxruntime_matches_barenet(mnist, mnist_model_file, tmp_path):
    """The issue's check: the 10,000 MNIST test images, probabilities within 1e-5 and identical classes."""
    x_test = mnist[2].reshape(len(mnist[2]), -1)
    model = bn.load(mnist_model_file)
    path = export_onnx(model, tmp_path / "mnist.onnx")
    got = run_onnx(path, x_test)["probabilities"]
    want = model.predict_proba(x_test)
    assert got.shape == (10000, 10)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
