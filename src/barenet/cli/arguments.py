"""argparse types: a value that cannot be what its option needs is refused while parsing, in one line."""

from __future__ import annotations

import argparse
import math

from ..errors import ConfigError
from ..io.files import lookable


def existing_folder(text: str) -> str:
    """A folder that exists: --data-dir names where the dataset is, and one that is not there must not be
    passed over silently for the other places searched."""
    try:
        path = lookable(text, "")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).strip()) from None
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist: give the folder that holds the dataset files")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder: give the folder that holds the dataset files")
    return text


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a count: --top)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds above 0 (a time limit: --timeout)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text}")
    return value
