"""How far healthy runs stay from the training doctor's thresholds: the calibration table of docs/RESULTS.md.

    python benchmarks/doctor_calibration.py mnist mlp-sigmoid-crossentropy       # full recipes, seed 0
    python benchmarks/doctor_calibration.py mnist-best --epochs 10 --seeds 0 1 2
    python benchmarks/doctor_calibration.py --from-json runs.json               # print a table saved before

Each recipe trains exactly as its config says (every epoch unless --epochs stops it early: the schedule still
spans the recipe's epochs), with its validation split, the doctor on. For every run it prints the extreme of each
statistic a rule watches, over every probe of the run, next to the rule's threshold, and the diagnoses it made
(a problem here is a false alarm: the recipes named in tests/test_doctor_recipes.py HEALTHY must get none).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

# statistic -> (how it is summed up over the run, the rule's threshold, the side of it a healthy run must stay on)
COLUMNS = {
    "dead": ("max", "DEAD", "<"), "saturated": ("max", "SATURATED", "<"),
    "correlation": ("max", "CORRELATED", "<"), "spread": ("min", "IDENTICAL", ">"),
    "grad_first_over_last": ("min", "VANISHING", ">"), "grad_over_weight": ("max", "EXPLODING_GRADIENT", "<"),
    "gradient_error": ("max", "WRONG_GRADIENT", "<"), "input_max": ("max", "UNSCALED_MAX", "<"),
}


class StopAfter:
    """A callback that ends training after `epochs` epochs (the schedule keeps the recipe's length)."""

    def __new__(cls, epochs: int):
        from barenet.training.callbacks import Callback

        class Stop(Callback):
            def on_epoch_end(self, epoch, logs):
                if epoch + 1 >= epochs:
                    self.model.stop_training = True

        return Stop()


def train(recipe: str, seed: int, epochs: int | None) -> dict:
    """One run of `recipe`; its telemetry, epochs and diagnoses."""
    import numpy as np

    from barenet.runs import config as cfg
    from barenet.runs.prepared import prepare
    from barenet.training.doctor import Doctor
    from barenet.training.trainer import Trainer

    config = cfg.resolve(recipe=recipe, overrides={"train.seed": seed})
    prepared, doctor = prepare(config), Doctor()
    callbacks = [doctor] + ([StopAfter(epochs)] if epochs else [])
    trainer = Trainer(prepared.model, batch_size=cfg.batch_size(config), shuffle=config["train"]["shuffle"],
                      callbacks=callbacks, augment=prepared.augment)
    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        trainer.fit(*prepared.train_data(), epochs=config["train"]["epochs"], validation_data=prepared.eval_data())
    return {"recipe": recipe, "seed": seed, "epochs": trainer.history.rows(), "health": doctor.health,
            "diagnoses": [d.to_dict() for d in doctor.diagnoses], "seconds": time.perf_counter() - started,
            "loss_reduction_sum": config["loss"]["reduction"] == "sum", "batch": cfg.batch_size(config) or 1}


def extremes(run: dict) -> dict:
    """The extreme over the run's probes of each statistic of COLUMNS (hidden layers for the activations)."""
    rows, found = run["health"], {}
    layers = sorted({row["layer"] for row in rows})
    last, hidden = layers[-1], set(layers[1:-1])
    steps = sorted({row["step"] for row in rows})
    by_step = {step: {row["layer"]: row for row in rows if row["step"] == step} for step in steps}
    for stat in ("dead", "saturated", "correlation", "spread"):
        values = [row[stat] for row in rows if row["layer"] in hidden and _finite(row[stat])]
        found[stat] = _pick(COLUMNS[stat][0], values)
    scale = run["batch"] if run["loss_reduction_sum"] else 1
    ratios, sizes = [], []
    for probe in by_step.values():
        if _finite(probe[1]["grad_rms"]) and probe[last]["grad_rms"] > 0 and len(layers) > 3:
            ratios.append(probe[1]["grad_rms"] / probe[last]["grad_rms"])
        per_layer = [probe[i]["grad_rms"] / probe[i]["weight_rms"] / scale for i in layers[1:]
                     if probe[i]["weight_rms"] > 0 and _finite(probe[i]["grad_rms"])]
        if per_layer:
            sizes.append(statistics.median(per_layer))
    found["grad_first_over_last"], found["grad_over_weight"] = _pick("min", ratios), _pick("max", sizes)
    found["gradient_error"] = _pick("max", [row["gradient_error"] for row in rows if _finite(row["gradient_error"])])
    found["input_max"] = _pick("max", [row["max"] for row in rows if row["layer"] == 0])
    return found


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def _pick(how: str, values: list) -> float | None:
    return (max if how == "max" else min)(values) if values else None


def table(runs: list[dict]) -> str:
    from barenet.training import rules

    head = [f"{stat} ({how} over probes; rule: {side} {getattr(rules, name):g})"
            for stat, (how, name, side) in COLUMNS.items()]
    lines = ["| run | epochs | " + " | ".join(head) + " | problems | notes |", "|---|---|" + "---|" * (len(head) + 2)]
    for run in runs:
        found = extremes(run)
        cells = ["-" if found[stat] is None else f"{found[stat]:.3g}" for stat in COLUMNS]
        problems = [d["code"] for d in run["diagnoses"] if d["severity"] == "problem"]
        notes = [d["code"] for d in run["diagnoses"] if d["severity"] == "note"]
        lines.append(f"| {run['recipe']} seed {run['seed']} | {len(run['epochs'])} | " + " | ".join(cells)
                     + f" | {', '.join(problems) or 'none'} | {', '.join(notes) or '-'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, help="stop after this many epochs (default: all of the recipe's)")
    parser.add_argument("--json", help="also write the runs (telemetry included) to this file")
    parser.add_argument("--from-json", nargs="+", help="print the table of runs saved with --json")
    args = parser.parse_args()
    runs = [run for path in args.from_json or [] for run in json.loads(Path(path).read_text())]
    for recipe in args.recipes:
        for seed in args.seeds:
            runs.append(train(recipe, seed, args.epochs))
            print(f"{recipe} seed {seed}: {len(runs[-1]['epochs'])} epochs in {runs[-1]['seconds']:.0f} s, "
                  f"{[d['code'] for d in runs[-1]['diagnoses']]}", file=sys.stderr, flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(runs, default=float))
    print(table(runs))


if __name__ == "__main__":
    main()
