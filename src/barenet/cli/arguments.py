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


def positive(kind: type, what: str):
    """An argparse type for a finite `kind` (int or float) above 0; `what` says so in the error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


positive_int = positive(int, "a whole number of at least 1")  # a count: --top
positive_seconds = positive(float, "a number of seconds above 0")  # a time limit: --timeout
