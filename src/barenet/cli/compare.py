"""`barenet compare`: train a configuration in barenet and in PyTorch side by side, step for step."""

from __future__ import annotations

import time

from .train import add_config_source

ROWS = 10  # table rows (step ranges)


def register(sub) -> None:
    p = sub.add_parser("compare", help="train the same network in barenet and PyTorch and compare every step",
                       description="Builds the identical PyTorch network, copies barenet's initial weights, "
                                   "feeds the same batches (and dropout masks) and compares loss and weights.")
    add_config_source(p)
    p.add_argument("--steps", type=int, default=200, help="optimizer steps to run (default 200)")
    p.add_argument("--framework", choices=["torch"], default="torch", help="the framework to compare with")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                   help="float64 (default) is the exact check, 1e-10; float32 runs drift apart in ReLU nets "
                        "once rounding flips a unit's sign, so expect its 1e-4 check to fail after ~50 steps")
    p.add_argument("--data-dir", help="folder with the dataset files (default: $BARENET_DATA_DIR)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ConfigError
    from ..pytorch import parity
    from ..runs import config as cfg
    from ..runs.prepared import prepare

    parity.import_torch()  # fail first, in one line, when the extra is missing
    if args.steps < 1:
        raise ConfigError(f"--steps must be a positive integer, got {args.steps}")
    overrides = {"data.data_dir": args.data_dir} if args.data_dir else {}
    overrides["model.dtype"] = args.dtype
    config = cfg.resolve(args.recipe, args.config, overrides)
    started = time.perf_counter()
    prepared = prepare(config)
    model, ds, scaler = prepared.model, prepared.ds, prepared.scaler
    dtype = model.dtype.name
    print(f"barenet vs torch {parity.import_torch().__version__}: {config['name']} on {ds.name}, "
          f"{args.steps} steps, batch {config['train']['batch_size']}, {dtype}")
    if any(layer.get_config()["type"] == "Dropout" for layer in model.layers):
        print("dropout: barenet's masks are fed to the PyTorch side")
    result = parity.compare(model, scaler(ds.train.x), ds.train.y, scaler(ds.test.x), ds.test.y,
                            steps=args.steps, batch_size=cfg.batch_size(config),
                            shuffle=config["train"]["shuffle"])
    print_table(result.records)
    print_totals(result, time.perf_counter() - started)
    over = parity.first_step_over(result, dtype)
    limit = "losses within 1e-10 relative, parameters within 1e-10" if dtype == "float64" \
        else "losses within 1e-4 relative"
    if over is None:
        print(f"PASS: {limit}")
        return 0
    print(f"FAIL: {limit} (first exceeded at step {over})")
    if dtype == "float32":
        print("note: in float32 the two frameworks round differently (~1e-7); once that puts a ReLU input on the "
              "other side of 0 the runs part ways. --dtype float64 is the exact check.")
    return 1


def print_totals(result, seconds: float) -> None:
    """Final differences per parameter, both test accuracies, the largest differences, the times."""
    print("max |Δ| per parameter at the end: "
          + ", ".join(f"{name} {diff:.2g}" for name, diff in result.final_param_diffs.items()))
    print(f"test accuracy: barenet {result.accuracy_barenet:.2%}, torch {result.accuracy_torch:.2%}")
    print(f"max |Δloss| {result.max_loss_diff:.3g} (relative {result.max_relative_loss_diff:.3g}), "
          f"max |Δparam| {result.max_param_diff:.3g}; training time barenet {result.seconds_barenet:.2f}s, "
          f"torch {result.seconds_torch:.2f}s; total {seconds:.1f}s")


def print_table(records: list) -> None:
    """One row per step range: last loss in each framework, max |Δloss| and max |Δparam| in the range."""
    print(f"{'steps':>11} {'loss barenet':>13} {'loss torch':>13} {'max |Δloss|':>12} {'max |Δparam|':>13}")
    size = max(1, -(-len(records) // ROWS))
    for begin in range(0, len(records), size):
        chunk = records[begin:begin + size]
        last = chunk[-1]
        print(f"{chunk[0].step:>5}-{last.step:<5} {last.loss_barenet:>13.6f} {last.loss_torch:>13.6f} "
              f"{max(r.loss_diff for r in chunk):>12.3g} {max(r.param_diff for r in chunk):>13.3g}")
