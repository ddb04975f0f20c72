"""`load(name)`: a verified dataset as train / validation / test splits of uint8 images."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, DataError
from . import catalog, fetch
from .formats import check_pair, parse_idx
from .transforms import balanced_subset

HOW_TO_FIX = ("download the four IDX files elsewhere and point barenet at their folder "
              "with --data-dir DIR or BARENET_DATA_DIR=DIR")


@dataclass
class Split:
    """Images x (N, 28, 28) uint8 and labels y (N,) int64."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Dataset:
    """A loaded dataset: its splits, class names and the path each file was read from."""

    name: str
    classes: list[str]
    train: Split
    validation: Split | None
    test: Split
    sources: dict[str, str] = field(default_factory=dict)


def locate(name: str, data_dir=None, download: bool = True, mirrors=None,
           names: tuple[str, ...] | None = None) -> fetch.Found:
    """The verified bytes of every file of dataset `name` (or of `names`), searching locally first, then the
    mirrors. Raises DataError listing every place tried when a file cannot be found.
    """
    info = catalog.get(name)
    wanted = names or info.files
    found = fetch.search_local(info, data_dir, wanted)
    if len(found.data) < len(wanted):
        if download:
            fetch.download(info, found, mirrors, wanted)
        else:
            found.tried.append("mirrors: not tried (download=False)")
    missing = [n for n in wanted if n not in found.data]
    if missing:
        raise DataError(f"cannot find {info.name} file(s) {', '.join(missing)}; tried: {' | '.join(found.tried)}; "
                        f"{how_to_fix(info)}")
    return found


def how_to_fix(info: catalog.DatasetInfo) -> str:
    """The ways to get the files: Debian's package where there is one, or a folder of your own."""
    if info.system_package:
        return f"install Debian's package (apt-get install {info.system_package}), or {HOW_TO_FIX}"
    return HOW_TO_FIX


def load_test(name: str, data_dir=None, download: bool = True) -> Dataset:
    """Only the test split of `name` (only its two test files are needed): a Dataset with `train` empty."""
    info = catalog.get(name)
    test_files = tuple(n for n in info.files if n.startswith("t10k"))
    found = locate(info.name, data_dir, download, names=test_files)
    images, labels = (parse_idx(found.data.pop(n), found.sources[n]) for n in test_files)
    test = Split(*check_pair(images, labels, f"{info.name} test files"))
    empty = Split(test.x[:0], test.y[:0])
    return Dataset(info.name, list(info.classes), empty, None, test, dict(found.sources))


def load(name: str, data_dir=None, download: bool = True, validation: int = 0, subset: int | None = None,
         seed: int = 0) -> Dataset:
    """Load `name` ("mnist" or "fashion-mnist") as verified uint8 images and int64 labels.

    validation: the last `validation` training images (file order) become `.validation`.
    subset: a reproducible class-balanced sample (numpy default_rng(seed)) of the remaining training images.
    """
    info = catalog.get(name)
    found = locate(info.name, data_dir, download)
    arrays = {n: parse_idx(found.data.pop(n), found.sources[n]) for n in info.files}
    train = Split(*check_pair(arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"],
                              f"{info.name} training files"))
    test = Split(*check_pair(arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"],
                             f"{info.name} test files"))
    train, held = _carve(train, validation)
    if subset is not None:
        train = _subset(train, subset, len(info.classes), seed, len(held) if held is not None else 0)
    return Dataset(info.name, list(info.classes), train, held, test, dict(found.sources))


def _carve(train: Split, validation: int) -> tuple[Split, Split | None]:
    count = int(validation or 0)
    if not 0 <= count < len(train):
        raise ConfigError(f"validation={validation} must be between 0 and {len(train) - 1} training images")
    if count == 0:
        return train, None
    cut = len(train) - count
    return Split(train.x[:cut], train.y[:cut]), Split(train.x[cut:], train.y[cut:])


def _subset(train: Split, size: int, classes: int, seed: int, held: int = 0) -> Split:
    """A class-balanced sample of `size` rows of `train` (what is left after `held` rows went to validation)."""
    if int(size) < 1:
        raise ConfigError(f"subset={size} must be at least 1")
    if int(size) > len(train):
        left = f"left after holding out validation={held}" if held else "there are"
        fix = "lower subset or validation" if held else "lower subset"
        raise ConfigError(f"subset={size} asks for more than the {len(train):,} training image"
                          f"{'s' * (len(train) != 1)} {left}: {fix}")
    rows = balanced_subset(train.y, int(size), classes, seed)
    return Split(train.x[rows], train.y[rows])
