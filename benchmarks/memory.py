"""Peak resident memory of a full `barenet train` on MNIST, and of the same run in PyTorch, from child processes.

    python benchmarks/memory.py                     # the default recipe, then PyTorch's twin of it
    python benchmarks/memory.py --recipe mnist-fast --no-torch
    BARENET_KERNELS=numpy python benchmarks/memory.py --no-torch

Runs the real command in a subprocess and reads its peak RSS with
resource.getrusage(RUSAGE_CHILDREN) (ru_maxrss is in KiB on Linux; a fresh child per side,
since the value is the maximum over all children so far, the sides run in separate
`python benchmarks/memory.py --side ...` processes).

PyTorch's twin (`--side torch`): the default recipe's network, optimizer, schedule, epochs and
batch size (read from the recipe), MNIST as uint8 in memory, batches gathered and scaled per
step, the validation split evaluated after every epoch and the test set once, as `barenet train`
does; no files and no plots (barenet's run writes both, so barenet carries matplotlib too).
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak RSS of `command` in MB, seconds)."""
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {result.stderr.strip()}")
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, elapsed


def torch_run(recipe: str) -> None:
    """The recipe trained by a hand-written PyTorch loop (float32, 2 threads), as `barenet train` trains it."""
    import numpy as np
    import torch

    import barenet as bn
    from barenet.runs import config as cfg

    config = cfg.resolve(recipe=recipe)
    torch.set_num_threads(2)
    torch.manual_seed(config["train"]["seed"])
    data = bn.datasets.load(config["data"]["dataset"], validation=config["data"]["validation"])
    sizes, layers = config["model"]["layers"], []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
    model = torch.nn.Sequential(*layers)
    options = config["optimizer"]
    optimizer = torch.optim.SGD(model.parameters(), lr=options["lr"], momentum=options["momentum"],
                                nesterov=options["nesterov"])
    epochs, batch = config["train"]["epochs"], config["train"]["batch_size"]
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: 0.5 * (1 + math.cos(math.pi * e / epochs)))
    x, y = data.train.x.reshape(len(data.train.x), -1), torch.from_numpy(data.train.y)
    rng = np.random.default_rng(0)

    def evaluate(images, labels) -> float:
        with torch.no_grad():
            logits = model(torch.from_numpy(images.reshape(len(images), -1)).float() / 255)
            return float((logits.argmax(1) == torch.from_numpy(labels)).float().mean())

    for _ in range(epochs):
        order = rng.permutation(len(x))
        for begin in range(0, len(x), batch):
            rows = order[begin:begin + batch]
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[rows]).float() / 255), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
        evaluate(data.validation.x, data.validation.y)
    print(f"test accuracy {evaluate(data.test.x, data.test.y):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="mnist")
    parser.add_argument("--no-torch", action="store_true", help="measure barenet only")
    parser.add_argument("--side", choices=["barenet", "torch"], help=argparse.SUPPRESS)  # one side, in a child
    parser.add_argument("extra", nargs="*", help="more `barenet train` options")
    args = parser.parse_args()
    if args.side == "torch":
        return torch_run(args.recipe)
    if args.side == "barenet":
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "barenet", "train", "--recipe", args.recipe, "--quiet",
                       "--out", str(Path(tmp) / "run"), *args.extra]
            peak, elapsed = peak_rss_mb(command)
        print(f"barenet train --recipe {args.recipe} {' '.join(args.extra)}: peak RSS {peak:.0f} MB, {elapsed:.1f} s")
        return None
    sides = ["barenet"] + ([] if args.no_torch else ["torch"])
    for side in sides:
        if side == "torch":
            peak, elapsed = peak_rss_mb([sys.executable, __file__, "--side", "torch", "--recipe", args.recipe])
            print(f"PyTorch's twin of --recipe {args.recipe}: peak RSS {peak:.0f} MB, {elapsed:.1f} s")
        else:
            subprocess.run([sys.executable, __file__, "--side", "barenet", "--recipe", args.recipe, *args.extra],
                           check=True)
    return None


if __name__ == "__main__":
    main()
