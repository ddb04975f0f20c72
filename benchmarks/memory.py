"""Peak resident memory of a full `barenet train` on MNIST, measured from a child process.

    python benchmarks/memory.py                     # the default recipe
    python benchmarks/memory.py --recipe mnist-fast

Runs the real command in a subprocess and reads its peak RSS with
resource.getrusage(RUSAGE_CHILDREN) (ru_maxrss is in KiB on Linux).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb(command: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {result.stderr.strip()}")
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, elapsed, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="mnist")
    parser.add_argument("extra", nargs="*", help="more `barenet train` options")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "barenet", "train", "--recipe", args.recipe, "--quiet",
                   "--out", str(Path(tmp) / "run"), *args.extra]
        peak, elapsed, _ = peak_rss_mb(command)
    print(f"barenet train --recipe {args.recipe} {' '.join(args.extra)}: peak RSS {peak:.0f} MB, {elapsed:.1f} s")


if __name__ == "__main__":
    main()
