"""Run every shipped recipe to completion and write docs/RESULTS.md.

    python benchmarks/recipes.py                       # all recipes (tens of minutes on 2 cores)
    python benchmarks/recipes.py mnist mnist-fast      # just these

Each recipe trains exactly as `barenet train --recipe NAME` would (seed 0), into
runs/recipes/NAME; the table compares the notebook setup it reproduces, what that
notebook reported, and what barenet measured here, with the wall time.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# recipe -> (the setup it reproduces, what the notebook reported, the bar barenet must clear)
REFERENCE = {
    "mlp-relu-sigmoid-persample": ("[784,128,64,10] ReLU, sigmoid out, a-y error, per-sample SGD lr 0.001, 10 ep",
                                   "96.47% (90.06% after epoch 1)", 0.9647),
    "mlp-relu-softmax-persample": ("fix of the above: softmax CE, per-sample lr 0.01, cosine, 5 ep", "-", 0.9647),
    "mlp-45-fullbatch-subset": ("[784,45,10] ReLU/softmax, small random init, full batch on 5k of the 50k split",
                                "~87% test (~88% train)", 0.87),
    "mlp-45-minibatch-subset": ("fix: He init, mini-batch SGD + momentum, same 5k images", "-", 0.87),
    "mlp-sigmoid-mse-unscaled": ("[784,128,64,10] sigmoid, softmax + MSE, raw 0-255 inputs, no bias, "
                                 "per-sample lr 0.001", "9.80% (stuck)", None),
    "mlp-sigmoid-crossentropy": ("fix: same sigmoid net, inputs in [0,1], softmax cross-entropy", "-", 0.97),
    "mlp-100-summed-uniform": ("[784,100,10] ReLU/softmax, batch 100, lr 1e-4 summed grads, rand*0.01 init, "
                               "100 ep", "96.58%", 0.9658),
    "mlp-100-he": ("fix: same [784,100,10], He init, averaged grads, Nesterov, cosine, 20 ep", "-", 0.9658),
    "mlp-10x100-summed-uniform": ("10 x 100 ReLU, batch 100, lr 1e-4 summed, all-positive init", "17.71%", None),
    "mlp-10x100-he": ("fix: same 10 x 100 ReLU net, He init, averaged grads, momentum", "-", 0.97),
    "mlp-256x2-dropout-keep045": ("[784,256,256,10] Glorot, batch 128, lr 0.1 lowered on plateau, keep 0.45, "
                                  "stop at loss < -log(0.99)", "diverged (loss to the 20.0 clip)", None),
    "mlp-256x2-dropout": ("fix: same net, dropout 0.2, Nesterov SGD, cosine", "-", 0.98),
    "mnist": ("the default recipe (`barenet train`)", "-", 0.98),
    "mnist-fast": ("least wall time to >= 98.0%", "target <= 10 s", 0.98),
    "mnist-best": ("best MLP without augmentation, <= 15 min", "target >= 98.8%", 0.988),
    "fashion-mlp": ("Fashion-MNIST MLP", "target >= 89.5% (sklearn MLP 87.7%)", 0.895),
}


def run_recipe(name: str) -> dict:
    from barenet.runs import config as cfg
    from barenet.runs.run import run

    config = cfg.resolve(recipe=name)
    started = time.perf_counter()
    summary = run(config, out=ROOT / "runs" / "recipes" / name, force=True, quiet=True)
    summary["wall_seconds"] = time.perf_counter() - started
    setup, reported, bar = REFERENCE.get(name, (config["description"], "-", None))
    summary.update(setup=setup, reported=reported, bar=bar)
    print(f"{name}: {summary['test_accuracy']:.2%} in {summary['epochs_run']} epochs, "
          f"{summary['train_seconds']:.1f} s training, {summary['wall_seconds']:.1f} s wall", flush=True)
    return summary


def cpu_name() -> str:
    """The CPU as a reader can look it up: lscpu's model name and the CPU count ("AMD EPYC, 2 CPUs")."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            name = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        name = ""
    return f"{name or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def write_results(rows: list[dict], command: str) -> None:
    import numpy as np

    lines = [
        "# Recipe results",
        "",
        f"Measured {datetime.now():%Y-%m-%d} on {cpu_name()} ({platform.machine()}, NumPy {np.__version__}), "
        f"seed 0, with `{command}` (rows may come from separate invocations",
        "that each named some recipes; every run trains exactly as `barenet train --recipe NAME`).",
        "",
        "| recipe | setup | notebook reported | barenet test accuracy | epochs | training s | wall s | bar |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        bar = "-" if r["bar"] is None else ("met" if r["test_accuracy"] >= r["bar"] else f"MISSED ({r['bar']:.2%})")
        lines.append(f"| `{r['name']}` | {r['setup']} | {r['reported']} | {r['test_accuracy']:.2%} | "
                     f"{r['epochs_run']} | {r['train_seconds']:.1f} | {r['wall_seconds']:.1f} | {bar} |")
    lines += ["", "`barenet train --recipe NAME` reproduces any row (same seed, same numbers on the same machine). "
              "The benchmark also leaves each run's metrics, plots and exact config in `runs/recipes/NAME/` on the "
              "machine that ran it; that folder is not part of the repository."]
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "RESULTS.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    from barenet.runs import config as cfg

    names = sys.argv[1:] or cfg.recipe_names()
    rows = [run_recipe(name) for name in names]
    results = ROOT / "runs" / "recipes" / "results.json"
    previous = json.loads(results.read_text()) if results.exists() else {}
    previous.update({r["name"]: r for r in rows})
    results.write_text(json.dumps(previous, indent=2, default=str))
    ordered = [previous[n] for n in cfg.recipe_names() if n in previous]
    write_results(ordered, "python benchmarks/recipes.py [RECIPE ...]")


if __name__ == "__main__":
    main()
