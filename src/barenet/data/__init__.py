"""Datasets: file formats, transforms and (later) the catalog of downloadable sets."""

from .formats import read_idx

__all__ = ["read_idx"]
