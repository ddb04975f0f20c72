"""`barenet predict MODEL FILE...`: classify image files, or whole batches (IDX, .npy, .csv)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from ..errors import DataError, ShapeError

BATCH_SUFFIXES = (".npy", ".csv", ".gz", ".idx", ".ubyte")


def register(sub) -> None:
    p = sub.add_parser("predict", help="classify image files or batches with a saved model")
    p.add_argument("model", help="a model file (.safetensors) written by barenet")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="PNG/JPEG images (any size, dark-on-light or light-on-dark), or .npy/.csv/IDX batches")
    p.add_argument("--top", type=int, default=3, help="how many classes to show per image (default 3)")
    p.add_argument("--save-preprocessed", metavar="DIR", help="write the 28x28 image the network saw, per file")
    p.add_argument("--output", metavar="CSV", help="where batch predictions go (default: stdout)")
    p.set_defaults(func=run)


def is_batch(path: Path) -> bool:
    return path.suffix.lower() in BATCH_SUFFIXES or "idx" in path.name


def read_batch(path: Path) -> np.ndarray:
    """(N, 28, 28) or (N, features) samples from .npy, IDX or a pixel CSV (its label column dropped)."""
    from ..data.formats import read_csv, read_idx

    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"{path} is not a readable .npy array ({exc})") from None
    if path.suffix.lower() == ".csv":
        return read_csv(path)[0]
    return read_idx(path)


def run(args) -> int:
    from ..data import images
    from ..models.loading import load
    from ..runs.run import InputScaler

    model = load(args.model)
    info = model.extra
    classes = info.get("classes") or [str(i) for i in range(model.out_features or 0)]
    scaler = InputScaler.from_dict(info.get("input", {}))
    paths = [Path(f) for f in args.files]
    for path in paths:
        if not path.exists():
            raise DataError(f"no file at {path}: check the path")
    batch_rows = []
    for path in paths:
        if is_batch(path):
            batch_rows += predict_batch(model, scaler, path, classes)
            continue
        digit = images.to_mnist(images.load_grayscale(path), str(path))
        if args.save_preprocessed:
            images.save_png(digit, Path(args.save_preprocessed) / f"{path.stem}.28x28.png")
        proba = model.predict_proba(_fit(model, scaler(digit[None]), path))[0]
        top = np.argsort(-proba, kind="stable")[: max(1, args.top)]
        ranked = ", ".join(f"{classes[k]} {proba[k]:.1%}" for k in top)
        print(f"{path}: {classes[top[0]]}   ({ranked})")
    if batch_rows:
        write_rows(batch_rows, args.output)
    return 0


def _fit(model, x: np.ndarray, path: Path) -> np.ndarray:
    features = int(np.prod(x.shape[1:]))
    if model.in_features is not None and features != model.in_features:
        raise ShapeError(f"{path} gives {features} features per sample but the model takes {model.in_features}")
    return x


def predict_batch(model, scaler, path: Path, classes) -> list[dict]:
    samples = read_batch(path)
    if samples.ndim == 1:
        samples = samples[None]
    proba = model.predict_proba(_fit(model, scaler(samples) if samples.dtype == np.uint8 else samples, path))
    best = proba.argmax(axis=1)
    return [{"source": str(path), "index": i, "prediction": classes[k], "probability": f"{proba[i, k]:.6f}"}
            for i, k in enumerate(best)]


def write_rows(rows: list[dict], output) -> None:
    from ..io.files import write_text

    if output:
        buffer = io.StringIO()
        _write_csv(rows, buffer)
        write_text(output, buffer.getvalue())
        print(f"{len(rows)} predictions written to {output}", file=sys.stderr)
    else:
        _write_csv(rows, sys.stdout)


def _write_csv(rows, handle) -> None:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
