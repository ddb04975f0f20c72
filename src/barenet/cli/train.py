"""`barenet train`: train the default MNIST network and report test accuracy."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError


def register(sub) -> None:
    parser = sub.add_parser("train", help="train an MLP on MNIST")
    parser.add_argument("--data-dir", default=os.environ.get("BARENET_DATA_DIR"),
                        help="folder with the MNIST IDX files (default: $BARENET_DATA_DIR)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def run(args) -> int:
    from .. import MLP, optimizers
    from ..data import read_idx

    if not args.data_dir:
        raise DataError("no MNIST files: pass --data-dir FOLDER or set BARENET_DATA_DIR")
    folder = Path(args.data_dir)
    if (folder / "mnist").is_dir():
        folder = folder / "mnist"
    x, y = (read_idx(folder / f"train-{kind}-idx{d}-ubyte.gz") for kind, d in (("images", 3), ("labels", 1)))
    xt, yt = (read_idx(folder / f"t10k-{kind}-idx{d}-ubyte.gz") for kind, d in (("images", 3), ("labels", 1)))
    model = MLP([784, 128, 64, 10], activation="relu", seed=args.seed)
    model.compile(optimizer=optimizers.SGD(lr=0.1, momentum=0.9))
    history = model.fit(x, y, epochs=args.epochs, batch_size=128, validation_data=(xt, yt))
    for row in history.rows():
        print(f"epoch {row['epoch']:>3}  {row['seconds']:6.2f}s  loss {row['loss']:.4f}  "
              f"acc {row['accuracy']:.4f}  test loss {row['val_loss']:.4f}  test acc {row['val_accuracy']:.4f}")
    return 0
