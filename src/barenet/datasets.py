"""`barenet.datasets`: real MNIST and Fashion-MNIST, verified byte for byte.

    ds = barenet.datasets.load("mnist", validation=10000)
    ds.train.x   # uint8 (50000, 28, 28);  ds.train.y int64 (50000,)
"""

from .data.catalog import DATASETS
from .data.loader import Dataset, Split, load, locate

NAMES = tuple(DATASETS)

__all__ = ["Dataset", "Split", "load", "locate", "NAMES"]
