"""What the training doctor costs: training time of the default recipe with and without it.

    python benchmarks/doctor_overhead.py              # 5 pairs of epochs, medians
    python benchmarks/doctor_overhead.py --pairs 9 --json out.json

Issue #26's bar: the doctor's telemetry stays on by default, so its cost on the default recipe (`mnist`:
[784,256,128,10] ReLU, batch 128, Nesterov SGD) must stay under 3% of training time. Measured three ways,
in one process, on the same data:

  1. end to end: one training epoch (55,000 images, no validation) without the doctor, then one with it,
     alternating, `pairs` times; the overhead is the median of the paired ratios (each pair ran back to
     back, so a machine that slows down for a while slows both);
  2. inside the doctor: the seconds its hooks took (probes: the extra forward, the statistics, the one host
     read; the rules after each epoch), summed over the epochs that had it, over those epochs' training time;
  3. in the Trainer: the copies it makes at a sampled step for the doctor (the gradients, and the weights
     before the update), timed on their own, times the probes per epoch.

Prints the CPU, the BLAS library and the numbers. Nothing here is asserted: timings on shared machines
are noisy, so the test suite never checks them (docs/PERFORMANCE.md reports them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_torch import blas_report, cpu_name  # noqa: E402


def timed_doctor():
    """A Doctor whose hooks add the seconds they take to `.seconds`."""
    from barenet.training.doctor import Doctor

    class TimedDoctor(Doctor):
        seconds = 0.0

        def on_step_end(self, step):
            started = time.perf_counter()
            super().on_step_end(step)
            self.seconds += time.perf_counter() - started

        def on_epoch_end(self, epoch, logs):
            started = time.perf_counter()
            super().on_epoch_end(epoch, logs)
            self.seconds += time.perf_counter() - started

    return TimedDoctor()


def epoch_seconds(config: dict, x, y, doctor) -> float:
    """Wall seconds of one training epoch of the recipe's model (fresh from its seed), with `doctor` or none."""
    from barenet.runs import config as cfg
    from barenet.training.trainer import Trainer

    model = cfg.build_model(config)
    trainer = Trainer(model, batch_size=cfg.batch_size(config), callbacks=[doctor] if doctor else [])
    started = time.perf_counter()
    trainer.fit(x, y, epochs=1)
    return time.perf_counter() - started


def copy_seconds(config: dict, repeats: int = 200) -> float:
    """Seconds the Trainer spends copying the gradients and the weights at one sampled step."""
    from barenet.runs import config as cfg

    model = cfg.build_model(config)
    params, grads = model.parameters()
    started = time.perf_counter()
    for _ in range(repeats):
        [p.copy() for p in params]
        [g.copy() for g in grads]
    return (time.perf_counter() - started) / repeats


def measure(pairs: int, recipe: str) -> dict:
    import barenet as bn
    from barenet.runs import config as cfg
    from barenet.training import telemetry

    config = cfg.resolve(recipe=recipe)
    data = bn.datasets.load(config["data"]["dataset"], validation=config["data"]["validation"])
    x, y = data.train.x, data.train.y
    epoch_seconds(config, x[:5000], y[:5000], timed_doctor())  # warm: numba compiled, caches filled
    plain, doctored, ratios, hooks = [], [], [], []
    for _ in range(pairs):
        plain.append(epoch_seconds(config, x, y, None))
        doctor = timed_doctor()
        doctored.append(epoch_seconds(config, x, y, doctor))
        ratios.append(doctored[-1] / plain[-1] - 1.0)
        hooks.append(doctor.seconds / doctored[-1])
    probes = len([b for b, full in telemetry.sample_plan(-(-len(x) // 128), 128).items() if full])
    copies = copy_seconds(config) * probes
    return {"cpu": cpu_name(), "blas": blas_report(), "recipe": recipe, "images": len(x), "pairs": pairs,
            "epoch_seconds_without": statistics.median(plain), "epoch_seconds_with": statistics.median(doctored),
            "overhead_paired_median": statistics.median(ratios), "overhead_pairs": ratios,
            "doctor_hooks_share_median": statistics.median(hooks), "probes_per_epoch": probes,
            "trainer_copies_seconds_per_epoch": copies,
            "trainer_copies_share": copies / statistics.median(plain)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="epochs without and with the doctor, alternating")
    parser.add_argument("--recipe", default="mnist")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    result = measure(args.pairs, args.recipe)
    pools = ", ".join(f"{p['internal_api']} {p['version']} {p['architecture']} ({p['num_threads']} threads)"
                      for p in result["blas"]["pools"])
    print(f"CPU: {result['cpu']}; BLAS: {pools}")
    print(f"{result['recipe']}: one epoch of {result['images']:,} images, {result['pairs']} pairs")
    print(f"  without the doctor  {result['epoch_seconds_without']:.2f} s (median)")
    print(f"  with the doctor     {result['epoch_seconds_with']:.2f} s (median)")
    print(f"  overhead, median of paired ratios: {result['overhead_paired_median']:+.2%} "
          f"(pairs: {', '.join(f'{r:+.1%}' for r in result['overhead_pairs'])})")
    print(f"  inside the doctor's hooks: {result['doctor_hooks_share_median']:.2%} of the epoch "
          f"({result['probes_per_epoch']} probes)")
    print(f"  the Trainer's copies at sampled steps: {result['trainer_copies_share']:.3%} of the epoch")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
