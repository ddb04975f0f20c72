"""Run every shipped recipe to completion and write the recipe table at the top of docs/RESULTS.md (the sections
after it are kept).

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
import re
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
    summary["load"] = os.getloadavg()[0]
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


HEADER = ("| recipe | setup | notebook reported | barenet test accuracy | epochs | training s | wall s | bar "
          "| measured |")


def row_cells(r: dict) -> str:
    """A rerun recipe's table row, dated today, with the machine's load average while it ran."""
    bar = "-" if r["bar"] is None else ("met" if r["test_accuracy"] >= r["bar"] else f"MISSED ({r['bar']:.2%})")
    return (f"| `{r['name']}` | {r['setup']} | {r['reported']} | {r['test_accuracy']:.2%} | {r['epochs_run']} | "
            f"{r['train_seconds']:.1f} | {r['wall_seconds']:.1f} | {bar} | {datetime.now():%Y-%m-%d} "
            f"(load {r['load']:.1f}) |")


def kept_rows(text: str) -> dict[str, str]:
    """The rows of the recipe table already in RESULTS.md, by recipe (the rows of recipes not rerun stay); rows
    from before the `measured` column get the date the table then gave for all of them."""
    dated = re.search(r"^Measured (\d{4}-\d{2}-\d{2})", text, re.M)
    rows = {}
    for line in text.split("\n## ")[0].splitlines():
        found = re.match(r"\| `([^`]+)` \|", line)
        if found:
            cells = line.rstrip().rstrip("|").split(" | ")
            rows[found[1]] = line if len(cells) == 9 else f"{line.rstrip()} {dated[1] if dated else '?'} |"
    return rows


def write_results(rows: list[dict], command: str) -> None:
    import numpy as np

    from barenet.runs import config as cfg

    path = ROOT / "docs" / "RESULTS.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    table = {**kept_rows(old), **{r["name"]: row_cells(r) for r in rows}}
    dates = sorted(re.findall(r"\| (\d{4}-\d{2}-\d{2})[^|]*\|$", "\n".join(table.values()), re.M))
    lines = [
        "# Recipe results",
        "",
        f"Measured {dates[0]}..{dates[-1]} on {cpu_name()} ({platform.machine()}, NumPy {np.__version__}), seed 0, "
        f"with `{command}`;",
        "each row on the date in its last column, with the machine's load average while it trained (this machine is",
        "shared: at a high load the times are the busy machine's, not barenet's alone). Every run trains exactly as",
        "`barenet train --recipe NAME`. Rows dated before 2026-11-28 trained on all 60,000 training images; since",
        "then a run holds out the last 5,000 for validation (`data.validation`), so a rerun of those rows differs.",
        "",
        HEADER,
        "|---|---|---|---|---|---|---|---|---|",
        *(table[name] for name in cfg.recipe_names() if name in table),
        "",
        "`barenet train --recipe NAME` reproduces any row (same seed, same numbers on the same machine and BLAS "
        "thread count). The benchmark also leaves each run's metrics, plots and exact config in "
        "`runs/recipes/NAME/` on the machine that ran it; that folder is not part of the repository.",
    ]
    path.parent.mkdir(exist_ok=True)
    rest = old[old.index("\n## "):] if "\n## " in old else ""  # the sections after the recipe table stay
    path.write_text("\n".join(lines) + "\n" + rest, encoding="utf-8")


def main() -> None:
    from barenet.runs import config as cfg

    names = sys.argv[1:] or cfg.recipe_names()
    rows = [run_recipe(name) for name in names]
    results = ROOT / "runs" / "recipes" / "results.json"
    previous = json.loads(results.read_text()) if results.exists() else {}
    previous.update({r["name"]: r for r in rows})
    results.write_text(json.dumps(previous, indent=2, default=str))
    write_results(rows, "python benchmarks/recipes.py [RECIPE ...]")


if __name__ == "__main__":
    main()
