"""`export_onnx`: a model as an ONNX graph that onnxruntime (or any ONNX runtime) runs without barenet.

The graph, built with the `onnx` package's helpers (pip install "barenet[onnx]"):

    pixels (N, features) float, gray levels 0-255, as in the image files
      -> the model's input scaling (extra.input.scale: unit x/255, standardize (x/255 - mean)/std, none)
      -> per layer: Dense as Gemm (MatMul without a bias), Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Flatten
         (Dropout is the identity at inference and is left out)
      -> logits (N, outputs), and probabilities (N, outputs): the model's output activation

So `probabilities` equals barenet's `predict_proba` on the same uint8 pixels. The architecture,
class names and input scaling also ride along as the model's metadata_props.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..backend import to_numpy
from ..errors import ConfigError
from ..io.files import atomic_write, check_output_file
from ..nn import layers as L
from .sequential import Sequential

OPSET = 17
IR_VERSION = 8  # the oldest IR that carries opset 17, so older runtimes load the file too
INSTALL_HINT = 'ONNX export needs the onnx package: pip install "barenet[onnx]"'
SIMPLE_OPS = {L.ReLU: "Relu", L.Sigmoid: "Sigmoid", L.Tanh: "Tanh"}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return onnx


def export_onnx(model: Sequential, out, force: bool = False) -> Path:
    """Write `model` as an ONNX file at `out` (checked by onnx.checker first); return the path."""
    onnx = _onnx()
    out = check_output_file(out, force)
    graph_model = build_onnx(model)
    onnx.checker.check_model(graph_model)
    data = graph_model.SerializeToString()
    atomic_write(out, lambda temp: Path(temp).write_bytes(data))
    return out


def build_onnx(model: Sequential):
    """The `onnx.ModelProto` of `model`: input `pixels` (N, in_features), outputs `logits` and `probabilities`."""
    onnx = _onnx()
    helper = onnx.helper
    if model.in_features is None or model.out_features is None:
        raise ConfigError("ONNX export needs a model that starts with a Dense layer (its input size)")
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(model.dtype))
    graph = _GraphBuilder(onnx, np.dtype(model.dtype))
    hidden = graph.input_scaling("pixels", model.extra.get("input", {}))
    for i, layer in enumerate(model.layers):
        hidden = graph.layer(layer, hidden, i)
    graph.node("Identity", [hidden], "logits")
    graph.output_activation(model.output, "logits", "probabilities")
    inputs = [helper.make_tensor_value_info("pixels", elem, ["N", model.in_features])]
    outputs = [helper.make_tensor_value_info(name, elem, ["N", model.out_features])
               for name in ("logits", "probabilities")]
    proto = helper.make_graph(graph.nodes, "barenet", inputs, outputs, graph.initializers)
    result = helper.make_model(proto, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="barenet",
                               doc_string="pixels: gray levels 0-255 (N, features); probabilities: (N, classes)")
    result.ir_version = IR_VERSION
    helper.set_model_props(result, _metadata(model))
    return result


def _metadata(model: Sequential) -> dict[str, str]:
    """String metadata: architecture (barenet layer configs), classes, input scaling, dataset."""
    extra = model.extra or {}
    props = {"barenet_layers": json.dumps([layer.get_config() for layer in model.layers]),
             "barenet_output": str(model.output), "input": json.dumps(extra.get("input", {"scale": "unit"}))}
    for key in ("dataset", "name"):
        if isinstance(extra.get(key), str):
            props[key] = extra[key]
    if isinstance(extra.get("classes"), list):
        props["classes"] = json.dumps(extra["classes"])
    return props


class _GraphBuilder:
    """Collects nodes and initializers; each method returns the name of the tensor it produced."""

    def __init__(self, onnx, dtype: np.dtype):
        self.helper, self.numpy_helper, self.dtype = onnx.helper, onnx.numpy_helper, dtype
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, value) -> str:
        array = np.ascontiguousarray(np.asarray(to_numpy(value), dtype=self.dtype))
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def input_scaling(self, pixels: str, spec: dict) -> str:
        """Gray levels 0-255 -> what the model was trained on (barenet.models.scaling.InputScaler)."""
        mode = spec.get("scale", "unit")
        if mode == "none":
            return pixels
        scaled = self.node("Mul", [pixels, self.constant("pixel_scale", 1.0 / 255.0)], "scaled")
        if mode != "standardize":
            return scaled
        centred = self.node("Sub", [scaled, self.constant("input_mean", spec["mean"])], "centred")
        return self.node("Div", [centred, self.constant("input_std", spec["std"])], "standardized")

    def layer(self, layer: L.Layer, x: str, i: int) -> str:
        """One barenet layer as ONNX nodes (none for Dropout)."""
        if isinstance(layer, L.Dense):
            weights = self.constant(f"layers.{i}.W", layer.params["W"])
            if not layer.use_bias:
                return self.node("MatMul", [x, weights], f"dense_{i}")
            return self.node("Gemm", [x, weights, self.constant(f"layers.{i}.b", layer.params["b"])], f"dense_{i}")
        if isinstance(layer, L.Dropout):
            return x
        if isinstance(layer, L.LeakyReLU):
            return self.node("LeakyRelu", [x], f"leaky_relu_{i}", alpha=layer.alpha)
        if isinstance(layer, L.Softmax):
            return self.node("Softmax", [x], f"softmax_{i}", axis=-1)
        if isinstance(layer, L.Flatten):
            return self.node("Flatten", [x], f"flatten_{i}", axis=1)
        if type(layer) in SIMPLE_OPS:
            return self.node(SIMPLE_OPS[type(layer)], [x], f"{SIMPLE_OPS[type(layer)].lower()}_{i}")
        raise ConfigError(f"ONNX export does not know layer {type(layer).__name__}")

    def output_activation(self, output: str | None, logits: str, name: str) -> str:
        if output == "softmax":
            return self.node("Softmax", [logits], name, axis=-1)
        if output == "sigmoid":
            return self.node("Sigmoid", [logits], name)
        return self.node("Identity", [logits], name)
