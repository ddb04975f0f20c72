"""`barenet predict MODEL FILE...`: classify image files, or whole batches (IDX, .npy, .csv)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from ..errors import ShapeError
from ..io.schema import printable


def register(sub) -> None:
    p = sub.add_parser("predict", help="classify image files or batches with a saved model")
    p.add_argument("model", help="a model file (.safetensors) written by barenet")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="PNG/JPEG images (any size, dark-on-light or light-on-dark), or .npy/.csv/IDX batches")
    p.add_argument("--top", type=int, default=3, help="how many classes to show per image (default 3)")
    p.add_argument("--save-preprocessed", metavar="DIR",
                   help="write, per image, the 28x28 image the network saw (NAME.28x28.png) and every stage of "
                        "the preprocessing side by side (NAME.stages.png)")
    p.add_argument("--force", action="store_true", help="let --save-preprocessed overwrite files already there")
    p.add_argument("--output", metavar="CSV", help="where batch predictions go (default: stdout)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data import images
    from ..data.samples import kind_of
    from ..io.files import check_writable_file
    from ..models.loading import load
    from ..models.metadata import check_info, display_classes
    from ..models.scaling import InputScaler

    model = load(args.model)
    check_info(model.extra, model.out_features, args.model)
    classes = display_classes(model.extra, model.out_features)
    scaler = InputScaler.of(model)
    if args.output:
        check_writable_file(args.output, "--output")
    paths = [Path(f) for f in args.files]
    kinds = [kind_of(path) for path in paths]  # every input checked before any work
    saved = preprocessed_paths(args, [path for path, kind in zip(paths, kinds) if kind != "batch"])
    batch_rows = []
    for path, kind in zip(paths, kinds):
        if kind == "batch":
            batch_rows += predict_batch(model, scaler, path, classes)
            continue
        stages = images.photo_stages(images.load_grayscale(path), str(path))
        digit = stages.digit
        if path in saved:
            final, strip = saved[path]
            images.save_png(digit, final)
            images.save_png(images.stage_strip(stages), strip)
        proba = model.predict_proba(_fit(model, scaler(digit[None]), path))[0]
        top = np.argsort(-proba, kind="stable")[: max(1, args.top)]
        ranked = ", ".join(f"{classes[k]} {proba[k]:.1%}" for k in top)
        print(f"{printable(path)}: {classes[top[0]]}   ({ranked})")
    if batch_rows:
        write_rows(batch_rows, args.output)
    return 0


def preprocessed_paths(args, image_paths: list[Path]) -> dict[Path, tuple[Path, Path]]:
    """{image: (its 28x28 PNG, its stages PNG)} under --save-preprocessed, each checked before any work:
    two images with one name, or a file already there without --force, is an error."""
    if not args.save_preprocessed:
        return {}
    from ..errors import ConfigError
    from ..io.files import check_ancestors, check_output_file

    folder = Path(args.save_preprocessed)
    check_ancestors(folder / "x", "--save-preprocessed")
    targets: dict[Path, tuple[Path, Path]] = {}
    for path in image_paths:
        pair = (folder / f"{path.stem}.28x28.png", folder / f"{path.stem}.stages.png")
        clash = [other for other, taken in targets.items() if taken == pair and other != path]
        if clash:
            raise ConfigError(f"{printable(clash[0])} and {printable(path)} would both be saved as {pair[0].name}: "
                              f"rename one or predict them separately")
        for target in pair:
            check_output_file(target, args.force)
        targets[path] = pair
    return targets


def _fit(model, x: np.ndarray, path: Path) -> np.ndarray:
    features = int(np.prod(x.shape[1:]))
    if model.in_features is not None and features != model.in_features:
        raise ShapeError(f"{path} gives {features} features per sample but the model takes {model.in_features}")
    return x


def predict_batch(model, scaler, path: Path, classes) -> list[dict]:
    from ..data.samples import read_batch

    samples = read_batch(path)
    if samples.ndim == 1:
        samples = samples[None]
    proba = model.predict_proba(_fit(model, scaler(samples) if samples.dtype == np.uint8 else samples, path))
    best = proba.argmax(axis=1)
    return [{"source": printable(path), "index": i, "prediction": classes[k], "probability": f"{proba[i, k]:.6f}"}
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
