"""`barenet ensemble MODEL MODEL...`: a committee of models, their class probabilities averaged.

Ciresan et al. (2010, 2012) and most MNIST records average a few independently trained
networks: their mistakes differ, so the mean of their probabilities errs less than any one.
The committee is the models given, all of them; it is evaluated once, on the test set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MAX_MODELS = 50


def register(sub) -> None:
    p = sub.add_parser("ensemble", help="average the probabilities of several models; test accuracy of each and all")
    p.add_argument("models", nargs="+", metavar="MODEL", help="model files (.safetensors) trained on one dataset")
    p.add_argument("--data-dir", help="folder with the dataset files (default: the usual places)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.loader import load_test

    models, dataset = load_members(args.models)
    ds = load_test(dataset, data_dir=args.data_dir)
    members = [(path, member_proba(model, ds.test.x)) for path, model in models]
    mean = np.mean([proba for _, proba in members], axis=0)
    rows: list[dict] = [{"model": str(path), "accuracy": accuracy(proba, ds.test.y)} for path, proba in members]
    committee = {"models": len(members), "dataset": dataset, "test_images": len(ds.test),
                 "accuracy": accuracy(mean, ds.test.y), "members": rows}
    if args.json:
        print(json.dumps(committee, indent=2))
        return 0
    width = max(len(row["model"]) for row in rows)
    for row in rows:
        print(f"{row['model']:<{width}}  {row['accuracy']:.2%}")
    print(f"{'committee of ' + str(len(rows)):<{width}}  {committee['accuracy']:.2%}   ({dataset} test set, "
          f"{len(ds.test):,} images; the mean member scores {np.mean([r['accuracy'] for r in rows]):.2%})")
    return 0


def load_members(paths: list[str]) -> tuple[list, str]:
    """[(path, model)] and their one dataset; a one-line error for a model that does not fit the others."""
    from ..errors import ConfigError
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
    from ..runs.run import InputScaler

    x = InputScaler.from_dict(model.extra.get("input", {}))(images.reshape(len(images), -1))
    return np.asarray(model.predict_proba(x), dtype=np.float64)


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == labels).mean())
