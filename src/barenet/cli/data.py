"""`barenet data download|verify|where|show`: fetch, check, locate and look at datasets."""

from __future__ import annotations

import math
from pathlib import Path

from ..data.augment import KINDS as AUGMENTATIONS
from .arguments import existing_folder

SEARCH = ("Datasets are searched in --data-dir, $BARENET_DATA_DIR, the user cache, system folders "
          "(Debian's dataset-fashion-mnist), then downloaded from mirrors and verified by SHA-256.")
ACTIONS = {
    "download": "fetch the dataset into the user cache (verified) and print where each file is",
    "verify": "re-check every file of the dataset against its published SHA-256 (no download)",
    "where": "list the places searched and which file was found where (no download)",
    "show": "render sample images with their labels to a PNG",
}
MAX_SHOW = 400  # images in one 'show' grid


def register(sub) -> None:
    parser = sub.add_parser("data", help="download, verify, locate or preview a dataset", description=SEARCH)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    for action, text in ACTIONS.items():
        p = actions.add_parser(action, help=text, description=f"{text[0].upper()}{text[1:]}. {SEARCH}")
        _dataset_options(p)
        if action == "show":
            p.add_argument("--out", default=None, help="PNG file (default: DATASET-samples.png, or "
                                                       "DATASET-samples-2.png and so on when that exists)")
            p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
            p.add_argument("--split", choices=("train", "test"), default="train", help="which split (default: train)")
            p.add_argument("--count", type=int, default=40, help="images in the grid (default: 40)")
            p.add_argument("--seed", type=int, default=0, help="which images are picked (default: 0)")
            p.add_argument("--augment", metavar="TRANSFORMS",
                           help="show what training sees: each row an image, then 9 random distortions of it "
                                f"({', '.join(AUGMENTATIONS)}, comma-separated)")
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="an augmentation setting, e.g. --set augment.alpha=38 (repeatable)")
    parser.set_defaults(func=run, action=None)


def _dataset_options(parser) -> None:
    from ..data.catalog import DATASETS

    parser.add_argument("--dataset", default="mnist", help=f"one of {', '.join(DATASETS)} (default: mnist)")
    parser.add_argument("--data-dir", default=None, type=existing_folder,
                        help="folder with the IDX files (searched first)")


def run(args) -> int:
    import warnings

    from ..errors import BarenetWarning, ConfigError

    if args.action is None:
        raise ConfigError(f"say what to do: barenet data {{{','.join(ACTIONS)}}} (barenet data ACTION --help)")
    with warnings.catch_warnings():  # every rejected file is reported, not just the first
        warnings.simplefilter("always", BarenetWarning)
        return {"download": download, "verify": verify, "where": where, "show": show}[args.action](args)


def download(args) -> int:
    from ..data.loader import locate

    found = locate(args.dataset, args.data_dir, download=True)
    for name, path in found.sources.items():
        print(f"{name}  {path}")
    return 0


def verify(args) -> int:
    from ..data import catalog
    from ..data.catalog import sha256
    from ..data.loader import locate

    info = catalog.get(args.dataset)
    found = locate(info.name, args.data_dir, download=False)
    for name in info.files:
        print(f"ok  {name}  sha256 {sha256(found.data[name])}  {found.sources[name]}")
    return 0


def where(args) -> int:
    from ..data import catalog, fetch

    info = catalog.get(args.dataset)
    found = fetch.search_local(info, args.data_dir)
    print(f"{info.name}: places searched, in order")
    for line in found.tried:
        print(f"  {line}")
    for name in info.files:
        print(f"{name}  {found.sources.get(name, 'missing (barenet data download fetches it)')}")
    return 0


def show(args) -> int:
    import numpy as np

    from ..data.loader import load
    from ..errors import ConfigError
    from ..io.files import check_output_file, check_writable_file, fresh_file

    if not 1 <= args.count <= MAX_SHOW:
        raise ConfigError(f"--count must be between 1 and {MAX_SHOW}, got {args.count}")
    if args.out:  # before the data is loaded: a file the user keeps is refused at once
        check_writable_file(args.out, "--out")  # first: a folder is named as one, not as a file that exists
        check_output_file(args.out, args.force)
    augment = _augmentation(args)
    ds = load(args.dataset, args.data_dir)
    split = ds.train if args.split == "train" else ds.test
    count = min(math.ceil(args.count / AUGMENTED_PER_ROW), len(split)) if augment else min(args.count, len(split))
    rows = np.sort(np.random.default_rng(args.seed).choice(len(split), size=count, replace=False))
    out = Path(args.out) if args.out else fresh_file(f"{ds.name}-{'augmented' if augment else 'samples'}.png")
    images, labels = split.x[rows], [ds.classes[int(label)] for label in split.y[rows]]
    if augment is None:
        save_grid(images, labels, out, f"{ds.name} {args.split}: {len(rows)} samples")
    else:
        images, labels = augmented_rows(augment, images, labels)
        save_grid(images, labels, out, f"{ds.name} {args.split}: each row an image, then random "
                                       f"{'+'.join(augment.transforms)} distortions of it", cols=AUGMENTED_PER_ROW + 1)
    print(f"wrote {out}")
    return 0


AUGMENTED_PER_ROW = 9


def _augmentation(args):
    """The Augment that --augment and --set augment.* describe (None without --augment)."""
    from ..errors import ConfigError
    from ..runs import config as cfg
    from .train import parse_set, parse_value

    if not args.augment:
        if args.set:
            raise ConfigError("--set takes augmentation settings: give --augment TRANSFORMS too")
        return None
    overrides = {"augment.transforms": parse_value("augment", args.augment, "names"), "train.seed": args.seed}
    for item in args.set:
        key, value = parse_set(item)
        if not key.startswith("augment."):
            raise ConfigError(f"--set here takes augmentation settings (augment.rotation, augment.alpha, ...), "
                              f"not {key!r}")
        overrides[key] = value
    return cfg.build_augment(cfg.resolve(overrides=overrides))


def augmented_rows(augment, images, labels: list[str]):
    """Each image (N, H, W) followed by AUGMENTED_PER_ROW distortions of it: (N * (1 + per row), H, W) uint8."""
    import numpy as np

    count, height, width = images.shape
    flat = images.reshape(count, height * width)
    index = np.repeat(np.arange(count), AUGMENTED_PER_ROW)
    distorted = np.rint(augment(flat, index) * 255).astype(np.uint8).reshape(count, AUGMENTED_PER_ROW, height, width)
    grid = np.concatenate([images[:, None], distorted], axis=1).reshape(-1, height, width)
    titles = [title for label in labels for title in [f"{label} (original)", *[label] * AUGMENTED_PER_ROW]]
    return grid, titles


def save_grid(images, labels: list[str], out: Path, title: str, cols: int = 10) -> None:
    """Render images (N, H, W) uint8 with their labels in a grid and save it as PNG (atomically)."""
    from ..runs.reports import pyplot, save_figure

    plt = pyplot()
    cols = min(cols, len(images))
    rows = math.ceil(len(images) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.4 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, labels):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(label, fontsize=8)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, out)  # a write error is one line already (io.files.atomic_write)
