"""`load(path)`: a model file back to a `Sequential` with the same layers, weights and predictions.

Model files hold host arrays whatever device wrote them; `load(path, device="cuda")` places the
rebuilt model on a device.
"""

from __future__ import annotations

from ..backend import Backend, get_backend
from ..errors import BarenetError, ModelFileError
from ..nn import layers
from . import metadata, modelfile
from .sequential import Sequential


def load(path, compile: bool = True, device: str | Backend = "cpu") -> Sequential:
    """Rebuild the model saved at `path` on `device` ("cpu", "cuda", "cuda:N"); with `compile`, also its
    loss, optimizer and any optimizer state."""
    backend = get_backend(device)  # a device that is not there is the caller's error, before the file is read
    document, tensors = modelfile.read(path)
    metadata.check_model_file(document, tensors, path)  # the whole file, before anything is allocated
    model = _architecture(document, path, backend)
    with model.backend.activated():
        _fill_weights(model, tensors, path)
        if compile:
            _compile(model, document, tensors, path)
    model.extra = document.get("extra", {})
    return model


def _compile(model: Sequential, document: dict, tensors: dict, path) -> None:
    """The saved loss and optimizer (if the file has them), and the optimizer's state when it is a checkpoint."""
    setup = metadata.training_setup(document, path)
    if setup is None:
        return
    loss, optimizer = setup
    try:
        model.compile(loss=loss, optimizer=optimizer)
    except (KeyError, TypeError, ValueError, OverflowError, BarenetError) as exc:
        raise ModelFileError(f"{path} has an invalid training setup ({exc})") from None
    state = modelfile.optimizer_state(document, tensors)
    if state is None:
        return
    params = model.optimizer_slots[0]
    for key, value in state["arrays"].items():
        index, _, name = key.partition(".")
        if not (index.isdigit() and int(index) < len(params) and name) or value.shape != params[int(index)].shape:
            raise ModelFileError(f"{path}: optimizer tensor {key!r} of shape {list(value.shape)} does not fit the "
                                 f"model's {sum(p.size for p in params)} parameters: the checkpoint is damaged")
        metadata.check_finite(value, OPTIMIZER + key, path)
    try:
        model.require_compiled()[1].load_state_dict(state, params)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, BarenetError) as exc:
        raise ModelFileError(f"{path} has an invalid optimizer state ({type(exc).__name__}: {exc}): "
                             f"the checkpoint is damaged") from None


OPTIMIZER = modelfile.OPTIMIZER_PREFIX


def _architecture(document: dict, path, backend: Backend) -> Sequential:
    try:
        arch = document["architecture"]
        layer_list = [layers.from_config(config) for config in arch["layers"]]
        return Sequential(layer_list, output=arch.get("output"), seed=arch.get("seed", 0),
                          dtype=arch.get("dtype", "float32"), device=backend)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} has an invalid architecture ({exc}): re-save the model") from None
    except BarenetError as exc:
        raise ModelFileError(f"{path} has an invalid architecture: {exc}") from None


def _fill_weights(model: Sequential, tensors: dict, path) -> None:
    """Copy each `layers.<i>.<param>` tensor into the model, refusing missing or mismatched ones."""
    for i, layer in enumerate(model.layers):
        for key, param in layer.params.items():
            name = f"layers.{i}.{key}"
            if name not in tensors:
                raise ModelFileError(f"{path} lacks tensor {name!r}: the file is incomplete, re-save it")
            value = tensors[name]
            if value.shape != param.shape or value.dtype != param.dtype:
                raise ModelFileError(f"{path}: tensor {name!r} is {value.dtype}{list(value.shape)} but the "
                                     f"architecture needs {param.dtype}{list(param.shape)}")
            param[...] = model.backend.asarray(value)
