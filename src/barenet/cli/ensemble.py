"""`barenet ensemble MODEL MODEL...`: a committee of models, their class probabilities averaged.

Ciresan et al. (2010, 2012) and most MNIST records average a few independently trained
networks: their mistakes differ, so the mean of their probabilities errs less than any one.
The committee is the models given, all of them. It is scored on the test set, or with
`--on validation` on the training images its members held out (`data.validation`): the split
on which to choose a committee's size or members before the one look at the test set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError

MAX_MODELS = 50


def register(sub) -> None:
    p = sub.add_parser("ensemble", help="average the probabilities of several models; test accuracy of each and all")
    p.add_argument("models", nargs="+", metavar="MODEL", help="model files (.safetensors) trained on one dataset")
    p.add_argument("--data-dir", help="folder with the dataset files (default: the usual places)")
    p.add_argument("--on", choices=("test", "validation"), default="test",
                   help="score on the test set (default) or on the last training images the members held out")
    p.add_argument("--validation", type=int, metavar="N",
                   help="with --on validation: the members held out the last N training images (for model files "
                        "that do not record it)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    models, dataset = load_members(args.models)
    images, labels, where = scored_split(models, dataset, args)
    members = [(path, member_proba(model, images)) for path, model in models]
    mean = np.mean([proba for _, proba in members], axis=0)
    rows: list[dict] = [{"model": str(path), "accuracy": accuracy(proba, labels), "log_loss": log_loss(proba, labels)}
                        for path, proba in members]
    committee = {"models": len(members), "dataset": dataset, "split": args.on, "images": len(labels),
                 "accuracy": accuracy(mean, labels), "log_loss": log_loss(mean, labels), "members": rows}
    if args.on == "test":
        committee["test_images"] = len(labels)  # the key this report has always had
    if args.json:
        print(json.dumps(committee, indent=2))
        return 0
    table = [*rows, {**committee, "model": f"committee of {len(rows)}"}]
    width = max(len(row["model"]) for row in table)
    print(f"{'model':<{width}}  accuracy  log loss")
    for row in table:
        print(f"{row['model']:<{width}}  {row['accuracy']:>8.2%}  {row['log_loss']:>8.4f}")
    print(f"({dataset} {where}, "
          f"{len(labels):,} images; the mean member scores {np.mean([r['accuracy'] for r in rows]):.2%})")
    return 0


def scored_split(models: list, dataset: str, args) -> tuple[np.ndarray, np.ndarray, str]:
    """(images (N, H, W) uint8, labels (N,), what they are): the test set, or the members' validation split."""
    from ..data.loader import load, load_test

    if args.on == "test":
        if args.validation is not None:
            raise ConfigError("--validation N goes with --on validation: drop it, or add --on validation")
        test = load_test(dataset, data_dir=args.data_dir).test
        return test.x, test.y, "test set"
    held = held_out(models, args.validation)
    split = load(dataset, data_dir=args.data_dir, validation=held).validation
    assert split is not None  # held_out() returns a positive count
    return split.x, split.y, f"validation split (the last {held:,} training images)"


def held_out(models: list, declared: int | None) -> int:
    """How many of the last training images every member held out; a one-line error when they differ."""
    counts = {path: model.extra.get("validation") for path, model in models}
    unknown = [str(path) for path, count in counts.items() if count is None]
    if unknown and declared is None:
        raise ConfigError(f"{unknown[0]} does not record its validation split (trained before barenet recorded "
                          f"it): give --validation N, the data.validation it was trained with")
    known = {int(count) for count in counts.values() if count is not None}
    if declared is not None:
        known.add(int(declared))
    if len(known) > 1:
        raise ConfigError(f"the members held out different validation splits ({', '.join(map(str, sorted(known)))} "
                          f"images): score them on the test set, or train them with one data.validation")
    held = known.pop()
    if held <= 0:
        raise ConfigError("the members trained on every training image (data.validation = 0): there is no "
                          "validation split to score them on; use --on test")
    return held


def load_members(paths: list[str]) -> tuple[list, str]:
    """[(path, model)] and their one dataset; a one-line error for a model that does not fit the others."""
    from ..models.loading import load
    from ..models.metadata import check_info

    if len(paths) > MAX_MODELS:
        raise ConfigError(f"{len(paths)} models: a committee here is at most {MAX_MODELS}")
    models = []
    for path in paths:
        model = load(path)
        check_info(model.extra, model.out_features, path)
        models.append((Path(path), model))
    kinds = {(m.extra.get("dataset", "mnist"), m.in_features, m.out_features) for _, m in models}
    if len(kinds) > 1:
        raise ConfigError(f"the models do not share one dataset and shape ({', '.join(map(str, sorted(kinds)))}): "
                          f"give models trained on the same data")
    return models, kinds.pop()[0]


def member_proba(model, images: np.ndarray) -> np.ndarray:
    """(N, classes) probabilities of one model for uint8 images (N, H, W), scaled as it was trained."""
    from ..models.scaling import InputScaler

    x = InputScaler.of(model)(images.reshape(len(images), -1))
    return np.asarray(model.predict_proba(x), dtype=np.float64)


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == labels).mean())


def log_loss(proba: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true class), probabilities floored at 1e-15 (a finer score than accuracy near 99.6%)."""
    return float(-np.log(np.maximum(proba[np.arange(len(labels)), labels], 1e-15)).mean())
