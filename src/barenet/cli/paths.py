"""argparse types for paths the user names, so a path that cannot be what it must be is refused while parsing."""

from __future__ import annotations

import argparse

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
