"""Errors a user can cause, each with a one-line message that names the fix.

Every class derives from `BarenetError`, so a caller (the CLI) can catch them
all, print `str(error)` and exit with status 2. They also derive from the
matching built-in (`ValueError`, `OSError`...) so ordinary code keeps working.
"""

from __future__ import annotations


class BarenetError(Exception):
    """Base class: a problem with the user's input, configuration or files."""


class ConfigError(BarenetError, ValueError):
    """Unknown names, bad option values, layer sizes that do not chain."""


class ShapeError(BarenetError, ValueError):
    """Arrays whose shapes do not fit the model (the message gives both shapes)."""


class LabelError(BarenetError, ValueError):
    """Labels outside [0, classes) or of the wrong kind."""


class InputError(BarenetError, ValueError):
    """Empty data, NaN or infinite values in the input."""


class DataError(BarenetError, OSError):
    """Dataset files that are missing, corrupt or fail their checksum."""


class WriteError(BarenetError, OSError):
    """A file barenet could not write: disk full, permission denied, a read-only folder (path and reason)."""


class ModelFileError(BarenetError, OSError):
    """A model file that is missing, corrupt or not a barenet model."""


class TrainingDiverged(BarenetError, ArithmeticError):
    """The loss became NaN or infinite; the last good weights were restored.

    `history` holds the metrics of the epochs that completed.
    """

    def __init__(self, message: str, history=None):
        super().__init__(message)
        self.history = history


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal (SIGINT, SIGTERM, SIGHUP): `signal_number` says which, the message what is kept.

    A KeyboardInterrupt, so code that cleans up on Ctrl-C cleans up on the others too.
    """

    def __init__(self, message: str = "", signal_number: int = 2):
        super().__init__(message)
        self.signal_number = signal_number


class BarenetWarning(UserWarning):
    """A setup that will train badly or is probably a mistake (e.g. unscaled pixels)."""


def warn(message: str) -> None:
    """Emit a BarenetWarning attributed to the first caller outside barenet (the user's line)."""
    import inspect
    import os
    import warnings

    package = os.path.dirname(os.path.abspath(__file__))
    level, frame = 1, inspect.currentframe()
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, BarenetWarning, stacklevel=level)
