"""The `barenet` command: subcommands, one module each, and the error contract.

Every error a user can cause is a `BarenetError`: it is printed as one line on
stderr and the command exits with status 2, never with a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .. import kernels
from ..errors import BarenetError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message):
        self.exit(2, f"barenet: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from . import compare, data, doctor, ensemble, evaluate, grid, interop, predict, recipes, runs, serve, sweep, train

    parser = _Parser(prog="barenet", description="Neural networks from scratch in NumPy.")
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in (train, evaluate, predict, ensemble, data, recipes, runs, doctor, grid, sweep, compare, interop,
                    serve):
        command.register(sub)
    return parser


def version_line() -> str:
    """"barenet 0.1.0 (Python 3.11.9, NumPy 2.1.0)"."""
    import platform

    import numpy

    from ..version import __version__

    return f"barenet {__version__} (Python {platform.python_version()}, NumPy {numpy.__version__})"


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings from the command line are one readable line, not a source excerpt."""
    print(f"barenet: warning: {message}", file=file or sys.stderr)


def _stop_on(signal_number, frame) -> None:
    """SIGTERM and SIGHUP stop barenet the way Ctrl-C does: cleanly, saying what was kept."""
    from ..errors import Interrupted

    raise Interrupted("", signal_number)


def _install_signal_handlers() -> None:
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_DFL:
            signal.signal(number, _stop_on)


def main(argv=None) -> int:
    import warnings

    warnings.showwarning = _one_line_warning
    _install_signal_handlers()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        kernels.requested()  # a bad BARENET_KERNELS stops here, before any output or run folder
        return int(args.func(args) or 0)
    except BarenetError as exc:
        print(f"barenet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        import signal

        number = getattr(exc, "signal_number", signal.SIGINT)
        message = str(exc) or f"stopped by {signal.Signals(number).name}"
        print(f"barenet: {message}", file=sys.stderr)
        return 128 + number
    except MemoryError:
        print("barenet: error: out of memory: use a smaller model, batch or input", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
