"""What the training doctor costs: training time of the default recipe with and without it.

    python benchmarks/doctor_overhead.py              # 5 pairs of whole runs (the recipe's 10 epochs), medians
    python benchmarks/doctor_overhead.py --pairs 9 --epochs 3 --json out.json

Issue #26's bar: the doctor's telemetry stays on by default, so its cost on the default recipe (`mnist`:
[784,256,128,10] ReLU, batch 128, Nesterov SGD) must stay under 3% of training time. Measured three ways,
in one process, on the same data:

  1. end to end: the recipe's training (its epochs on 55,000 images, without the validation passes, which
     the doctor does not touch) without the doctor, then with it, alternating, `pairs` times; the overhead is
     the median of the paired ratios (each pair ran back to back, so a machine that slows down for a while
     slows both), in wall time and in this process's CPU time (which other jobs on a shared machine do not
     inflate the way they inflate wall time);
  2. inside the doctor: the seconds its hooks took (probes: the extra forward, the statistics, the one host
     read; the gradient check at the first probe; the rules after each epoch), over the run's training time;
  3. in the Trainer: the copies it makes at a sampled step for the doctor (the gradients, and the weights
     before the update), timed on their own, times the probes per epoch;
  4. by parts, which a busy machine disturbs least: a probe (the Trainer's copies, `Probe.measure` on a batch,
     the rules), the gradient check, and a training step, each timed in alternation over blocks of calls
     (the fastest block counts); the share is (probes x probe + check) / (steps x step) for the recipe's run.

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
        seconds = cpu = 0.0

        def on_step_end(self, step):
            started, cpu = time.perf_counter(), time.process_time()
            super().on_step_end(step)
            self.seconds += time.perf_counter() - started
            self.cpu += time.process_time() - cpu

        def on_epoch_end(self, epoch, logs):
            started, cpu = time.perf_counter(), time.process_time()
            super().on_epoch_end(epoch, logs)
            self.seconds += time.perf_counter() - started
            self.cpu += time.process_time() - cpu

    return TimedDoctor()


def run_seconds(config: dict, x, y, doctor, epochs: int) -> tuple[float, float]:
    """(wall, CPU) seconds of `epochs` epochs of the recipe's model (fresh from its seed), with `doctor` or none."""
    from barenet.runs import config as cfg
    from barenet.training.trainer import Trainer

    model = cfg.build_model(config)
    trainer = Trainer(model, batch_size=cfg.batch_size(config), callbacks=[doctor] if doctor else [])
    started, cpu = time.perf_counter(), time.process_time()
    trainer.fit(x, y, epochs=epochs)
    return time.perf_counter() - started, time.process_time() - cpu


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


def by_parts(config: dict, x, y, epochs: int, blocks: int = 7, calls: int = 20) -> dict:
    """Seconds of one probe, one gradient check and one training step of the recipe's model, fastest blocks."""
    from barenet.data.transforms import gather
    from barenet.runs import config as cfg
    from barenet.training.diagnoses import Evidence, Sample
    from barenet.training.rules import examine
    from barenet.training.telemetry import Probe

    model = cfg.build_model(config)
    batch = cfg.batch_size(config) or len(x)
    xb, yb = gather(x.reshape(len(x), -1), slice(0, batch), model.dtype), y[:batch]
    probe = Probe(model)
    evidence = Evidence(probe.layers, classes=10, steps_per_epoch=-(-len(x) // batch))

    def step():
        model.compute_gradients(xb, yb)
        model.optimizer.step(*model.optimizer_slots)

    def one_probe():
        params, grads = model.parameters()
        before, copied = [p.copy() for p in params], [g.copy() for g in grads]
        layers, _ = probe.measure(xb, copied, before, yb)
        evidence.samples[-1:] = [Sample(1, 1, 0, 1.0, 0.1, layers)]
        evidence.fired.clear()
        examine(evidence, "probe")

    timings = {"step": [], "probe": [], "check": []}
    for _ in range(blocks):
        for name, work, count in (("step", step, calls), ("probe", one_probe, calls),
                                  ("check", lambda: probe.gradient_errors(xb, yb), 1)):
            started = time.perf_counter()
            for _ in range(count):
                work()
            timings[name].append((time.perf_counter() - started) / count)
    best = {name: min(values) for name, values in timings.items()}
    steps = -(-len(x) // batch) * epochs
    probes = sum(telemetry_plan(len(x), batch).values()) * epochs
    share = (probes * best["probe"] + best["check"]) / (steps * best["step"])
    return {"step_seconds": best["step"], "probe_seconds": best["probe"], "check_seconds": best["check"],
            "steps": steps, "probes": probes, "share": share}


def telemetry_plan(rows: int, batch: int) -> dict:
    from barenet.training import telemetry

    return telemetry.sample_plan(-(-rows // batch), batch)


def measure(pairs: int, recipe: str, epochs: int | None) -> dict:
    import barenet as bn
    from barenet.runs import config as cfg
    from barenet.training import telemetry

    config = cfg.resolve(recipe=recipe)
    epochs = epochs or config["train"]["epochs"]
    data = bn.datasets.load(config["data"]["dataset"], validation=config["data"]["validation"])
    x, y = data.train.x, data.train.y
    run_seconds(config, x[:5000], y[:5000], timed_doctor(), 1)  # warm: numba compiled, caches filled
    plain, doctored, ratios, cpu_ratios, hooks, cpu_hooks = [], [], [], [], [], []
    for _ in range(pairs):
        wall, cpu = run_seconds(config, x, y, None, epochs)
        doctor = timed_doctor()
        wall_with, cpu_with = run_seconds(config, x, y, doctor, epochs)
        plain.append(wall)
        doctored.append(wall_with)
        ratios.append(wall_with / wall - 1.0)
        cpu_ratios.append(cpu_with / cpu - 1.0)
        hooks.append(doctor.seconds / wall_with)
        cpu_hooks.append(doctor.cpu / cpu_with)
    batch = cfg.batch_size(config) or len(x)
    probes = sum(telemetry.sample_plan(-(-len(x) // batch), batch).values())
    copies = copy_seconds(config) * probes * epochs
    parts = by_parts(config, x, y, epochs)
    return {"cpu": cpu_name(), "blas": blas_report(), "recipe": recipe, "images": len(x), "epochs": epochs,
            "pairs": pairs, "seconds_without": statistics.median(plain), "seconds_with": statistics.median(doctored),
            "overhead_paired_median": statistics.median(ratios), "overhead_pairs": ratios,
            "cpu_overhead_paired_median": statistics.median(cpu_ratios), "cpu_overhead_pairs": cpu_ratios,
            "doctor_hooks_share_median": statistics.median(hooks), "probes_per_epoch": probes,
            "doctor_hooks_cpu_share_median": statistics.median(cpu_hooks),
            "trainer_copies_seconds": copies, "trainer_copies_share": copies / statistics.median(plain),
            "by_parts": parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="runs without and with the doctor, alternating")
    parser.add_argument("--recipe", default="mnist")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: the recipe's)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    result = measure(args.pairs, args.recipe, args.epochs)
    pools = ", ".join(f"{p['internal_api']} {p['version']} {p['architecture']} ({p['num_threads']} threads)"
                      for p in result["blas"]["pools"])
    print(f"CPU: {result['cpu']}; BLAS: {pools}")
    print(f"{result['recipe']}: {result['epochs']} epochs of {result['images']:,} images, {result['pairs']} pairs")
    print(f"  without the doctor  {result['seconds_without']:.2f} s (median)")
    print(f"  with the doctor     {result['seconds_with']:.2f} s (median)")
    print(f"  overhead, median of paired ratios, wall time: {result['overhead_paired_median']:+.2%} "
          f"(pairs: {', '.join(f'{r:+.1%}' for r in result['overhead_pairs'])})")
    print(f"  overhead, median of paired ratios, CPU time: {result['cpu_overhead_paired_median']:+.2%} "
          f"(pairs: {', '.join(f'{r:+.1%}' for r in result['cpu_overhead_pairs'])})")
    print(f"  inside the doctor's hooks: {result['doctor_hooks_share_median']:.2%} of the run's wall time, "
          f"{result['doctor_hooks_cpu_share_median']:.2%} of its CPU time ({result['probes_per_epoch']} probes "
          f"per epoch)")
    print(f"  the Trainer's copies at sampled steps: {result['trainer_copies_share']:.3%} of the run")
    parts = result["by_parts"]
    print(f"  by parts: a step {parts['step_seconds'] * 1e3:.2f} ms, a probe {parts['probe_seconds'] * 1e3:.2f} ms "
          f"(copies, statistics, rules), the gradient check {parts['check_seconds'] * 1e3:.1f} ms once: "
          f"{parts['probes']} probes and a check over {parts['steps']} steps = {parts['share']:.2%} of the steps' time")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
