"""Accuracy of a model on synthetic photos of MNIST test digits, per condition, before and after.

    python benchmarks/photos.py MODEL [--count N] [--seed S] [--save DIR]

The photos (`barenet.data.photos.make_photos`: lighting gradients, grey and textured
paper, shadows, thin pens, markers, low-resolution zooms, off-centre and rotated digits,
JPEG noise) are read the way `barenet predict` reads files, then preprocessed twice:
`simple` (barenet 0.1: the border's median is the paper) and `photo` (the paper's light
estimated and divided out, Otsu's threshold). The model's plain MNIST test accuracy is
printed beside them, for reference. MNIST is found the way `barenet train` finds it
(--data-dir overrides). --save DIR writes every photo, named by index, condition and label.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

METHODS = ("simple", "photo")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a model file (.safetensors) taking 28x28 MNIST digits")
    parser.add_argument("--count", type=int, default=1000, help="photos to make (default 1000, 100 a condition)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the photos (default 0)")
    parser.add_argument("--data-dir", help="folder holding MNIST's test files")
    parser.add_argument("--save", metavar="DIR", help="also write the photos into DIR (must be new or empty)")
    args = parser.parse_args(argv)

    from barenet.data import loader, photos
    from barenet.models.loading import load

    model = load(args.model)
    test = loader.load_test("mnist", data_dir=args.data_dir).test
    made = photos.make_photos(test.x, test.y, args.count, seed=args.seed)
    if args.save:
        save(made, Path(args.save))
    mnist = float((predict(model, test.x) == test.y).mean())
    tables = {}
    for method in METHODS:
        started = time.perf_counter()
        digits, read = photos.read_photos(made, method)
        predicted = np.where(read, predict(model, digits), -1)  # a refused photo counts as a mistake
        tables[method] = photos.accuracy_by_condition(made, predicted)
        print(f"{method}: {time.perf_counter() - started:.1f} s for {len(made)} photos", file=sys.stderr)
    print(f"{args.model}: MNIST test {mnist:.2%}; {len(made)} photos, seed {args.seed}\n")
    print(markdown(tables, made))
    return 0


def predict(model, digits: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N,) predicted classes, with the model's own input scaling."""
    from barenet.models.scaling import InputScaler

    scaler = InputScaler.from_dict(model.extra.get("input", {}))
    return model.predict_proba(scaler(digits)).argmax(axis=1)


def markdown(tables: dict[str, dict[str, float]], made) -> str:
    """A Markdown table: a row per condition (and "all"), a column per method."""
    counts: dict[str, int] = {}
    for photo in made:
        counts[photo.condition] = counts.get(photo.condition, 0) + 1
    counts["all"] = len(made)
    lines = ["| condition | photos | " + " | ".join(f"{method} (before)" if method == "simple" else
                                                     f"{method} (after)" for method in METHODS) + " |",
             "|---|---|" + "---|" * len(METHODS)]
    for condition in tables[METHODS[0]]:
        cells = " | ".join(f"{tables[method][condition]:.1%}" for method in METHODS)
        lines.append(f"| {'**all**' if condition == 'all' else condition} | {counts[condition]} | {cells} |")
    return "\n".join(lines)


def save(made, folder: Path) -> None:
    from barenet.io.files import atomic_write_bytes, check_output_dir

    check_output_dir(folder, force=False, option="--save")
    for k, photo in enumerate(made):
        atomic_write_bytes(folder / f"{k:04d}-{photo.condition}-{photo.label}{photo.suffix}", photo.data)


if __name__ == "__main__":
    sys.exit(main())
