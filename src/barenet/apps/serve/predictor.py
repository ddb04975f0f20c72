"""`Predictor`: one model file, loaded once, answering predictions for the server (no web framework here).

Images go through exactly what `barenet predict` does to an image file (`data.images.decode_grayscale`,
which `load_grayscale` calls, then `to_mnist`), and every input through the model's own `InputScaler`,
so a digit drawn in the browser and the same digit saved as a PNG and given to `barenet predict`
get the same probabilities.
"""

from __future__ import annotations

import io
import json
import threading
import warnings
from pathlib import Path

import numpy as np

from ...data import images
from ...errors import ConfigError, DataError
from ...models.loading import load
from ...models.metadata import check_info, display_classes
from ...models.scaling import InputScaler
from ...version import __version__
from .limits import LimitError

IMAGE_SIDE = 28


class Predictor:
    """A model file and its metadata; `predict_image` and `predict_pixels` return result dicts."""

    def __init__(self, model_path):
        self.path = Path(model_path)
        self.model = load(self.path, compile=False)
        check_info(self.model.extra, self.model.out_features, self.path)
        if self.model.in_features != IMAGE_SIDE * IMAGE_SIDE:
            raise ConfigError(f"{self.path} takes {self.model.in_features} inputs; barenet serve needs a model of "
                              f"28x28 images ({IMAGE_SIDE * IMAGE_SIDE} inputs)")
        self.classes = display_classes(self.model.extra, self.model.out_features)
        self.scaler = InputScaler.of(self.model)
        self.info = model_info(self.model, self.path, self.classes)
        self._lock = threading.Lock()  # layers reuse their buffers between calls: one prediction at a time

    def predict_image(self, data: bytes, max_pixels: int) -> dict:
        """An encoded image (PNG, JPEG, ...) -> {"class", "label", "probabilities", "preprocessed" (28x28)}."""
        digit = image_from_bytes(data, max_pixels)
        return self._results(digit[None])[0]

    def predict_pixels(self, rows: np.ndarray) -> list[dict]:
        """uint8 (N, 784) MNIST-style pixels (white digit on black) -> one result dict per row."""
        return self._results(rows.reshape(-1, IMAGE_SIDE, IMAGE_SIDE))

    def _results(self, digits: np.ndarray) -> list[dict]:
        """uint8 (N, 28, 28) -> result dicts, probabilities from the model's predict_proba."""
        x = self.scaler(digits)
        with self._lock:
            proba = self.model.predict_proba(x)
        best = proba.argmax(axis=1)
        return [{"class": int(k), "label": self.classes[k], "probabilities": [float(p) for p in row],
                 "preprocessed": digit.tolist()} for k, row, digit in zip(best, proba, digits)]


def image_from_bytes(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded image bytes -> uint8 (28, 28): the size checked from the header, then `barenet predict`'s path."""
    _check_pixels(data, max_pixels)
    return images.to_mnist(images.decode_grayscale(io.BytesIO(data), "the image"), "the image")


def _check_pixels(data: bytes, max_pixels: int) -> None:
    """LimitError when the header declares more than `max_pixels` pixels; nothing is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LimitError(f"the image is larger than {max_pixels:,} pixels: resize it") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"the body is not an image barenet can read ({type(exc).__name__}): send a PNG or "
                        f"JPEG") from None
    if width * height > max_pixels:
        raise LimitError(f"the image is {width}x{height} pixels; this server takes at most {max_pixels:,}: resize it")


def model_info(model, path: Path, classes: list[str]) -> dict:
    """What the page and GET /api/model show: name, layers, sizes, accuracy, training data."""
    extra = {**_run_summary(path), **(model.extra or {})}
    sizes = [model.in_features] + [layer.out_features for layer in model.layers if hasattr(layer, "out_features")]
    accuracy = extra.get("test_accuracy")
    return {"name": str(extra.get("name") or path.stem), "file": path.name,
            "dataset": str(extra["dataset"]) if extra.get("dataset") else None,
            "layers": [repr(layer) for layer in model.layers], "sizes": sizes,
            "output": model.output or "linear", "parameters": model.count_params(),
            "test_accuracy": float(accuracy) if isinstance(accuracy, (int, float)) else None,
            "classes": classes, "input_scale": InputScaler.of(model).mode,
            "barenet_version": __version__}


def _run_summary(path: Path) -> dict:
    """Name and test accuracy from the run folder's summary.json beside the model (older model files lack them)."""
    summary = path.parent / "summary.json"
    try:
        found = json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else {}
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {key: found[key] for key in ("name", "test_accuracy", "dataset") if key in found}
