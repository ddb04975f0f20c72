"""The `barenet` command: subcommands, one module each, and the error contract.

Every error a user can cause is a `BarenetError`: it is printed as one line on
stderr and the command exits with status 2, never with a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .. import backend
from ..errors import BarenetError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message):
        self.exit(2, f"barenet: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from . import compare, data, doctor, ensemble, evaluate, grid, interop, predict, recipes, runs, serve, sweep, train

    parser = _Parser(prog="barenet", description="Neural networks from scratch in NumPy.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and the CPU backend, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in (train, evaluate, predict, ensemble, data, recipes, runs, doctor, grid, sweep, compare, interop,
                    serve):
        command.register(sub)
    return parser


class _Version(argparse.Action):
    """--version, worked out only when asked for (it looks at the CPU backend)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit(0)


def version_line() -> str:
    """"barenet 0.1.0 (Python 3.11.9, NumPy 2.1.0)", then the CPU backend on a second line: its kernels,
    GEMM provider and subnormal policy (a bad BARENET_KERNELS or BARENET_GEMM is said there, not raised)."""
    import platform

    import numpy

    from ..version import __version__

    try:
        engine = backend.get_backend("cpu").describe()
    except BarenetError as exc:
        engine = f"cpu: {exc}"
    return f"barenet {__version__} (Python {platform.python_version()}, NumPy {numpy.__version__})\n{engine}"


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
        backend.check_environment()  # a bad BARENET_KERNELS or BARENET_GEMM stops here, before any output
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
    except OSError as exc:  # a path the system refuses (a name too long, a loop of links) met before any check
        if exc.filename is None:
            raise
        from ..io.files import path_error

        print(f"barenet: error: {path_error(exc)}", file=sys.stderr)
        return 2
