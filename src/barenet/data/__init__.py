"""Datasets: catalog, fetch + verify + cache, file formats, transforms.

Network code (urllib, pip, tqdm) is imported only when a download happens.
"""

from . import catalog, transforms
from .formats import idx_bytes, read_csv, read_idx, read_keras_npz, read_nielsen_pkl, safe_unpickle, write_idx
from .loader import Dataset, Split, load

__all__ = ["Dataset", "Split", "load", "catalog", "transforms", "idx_bytes", "read_csv", "read_idx",
           "read_keras_npz", "read_nielsen_pkl", "safe_unpickle", "write_idx"]
