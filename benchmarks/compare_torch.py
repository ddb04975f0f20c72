"""Training and inference throughput: barenet against a hand-written PyTorch loop, side by side.

    python benchmarks/compare_torch.py                  # all networks and batch sizes
    python benchmarks/compare_torch.py --quick          # fewer repeats, fewer cells
    python benchmarks/compare_torch.py --env both       # also rerun without the OpenBLAS kernel override

Both sides: float32, 2 threads, MNIST already in memory as uint8, one NumPy
permutation per epoch and a gather + scale per batch (identical shuffling cost),
ReLU MLP, softmax cross-entropy, SGD with momentum 0.9. The two sides alternate
(A B A B ...) after a warm-up; every number is the median of the repeats.

Also printed: achieved training GFLOP/s (6 x weights x samples / time, the usual
count), the GFLOP/s of the GEMMs barenet actually executes (it skips the first
layer's input gradient) and the GFLOP/s those same GEMM shapes reach in isolation,
measured between the training runs; their ratio is the fraction of the hardware's
GEMM speed that training keeps. And which BLAS library and kernel ran.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

NETWORKS = {"small": [784, 128, 64, 10], "wide": [784, 800, 10], "big": [784, 1024, 1024, 10]}
BATCHES = [1, 32, 128, 256, 1024]
THREADS = 2
# Samples timed per measurement: per-sample SGD is slow on every side, so it gets a slice of the set.
SAMPLES = {1: 3000, 32: 60000, 128: 60000, 256: 60000, 1024: 60000}


def load_mnist():
    import barenet

    data = barenet.datasets.load("mnist")
    return data.train.x.reshape(60000, 784), data.train.y, data.test.x.reshape(10000, 784), data.test.y


def weights(sizes) -> int:
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def step_flops(sizes, batch) -> int:
    """FLOPs of the GEMMs one barenet training step runs: forward and weight gradient for every
    layer, input gradient for every layer but the first (nothing below it needs one)."""
    return sum(2 * batch * a * b * (3 if i else 2) for i, (a, b) in enumerate(zip(sizes, sizes[1:])))


# ----- barenet ----------------------------------------------------------------
def barenet_trainer(sizes, x, y, batch, samples):
    import barenet as bn

    model = bn.MLP(sizes, activation="relu", seed=0)
    model.compile(optimizer=bn.optimizers.SGD(lr=0.01, momentum=0.9))
    rng = np.random.default_rng(0)
    quiet = {"verbose": 0} if "verbose" in inspect.signature(model.fit).parameters else {}  # older barenet: silent

    def epoch() -> float:
        subset = rng.permutation(len(x))[:samples]
        xs, ys = x[subset], y[subset]  # same gather as the torch side, outside the timing
        start = time.perf_counter()
        model.fit(xs, ys, epochs=1, batch_size=batch, shuffle=True, **quiet)  # fit shuffles and gathers per batch
        return time.perf_counter() - start

    return epoch, model


# ----- PyTorch ----------------------------------------------------------------
def torch_trainer(sizes, x, y, batch, samples):
    import torch

    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    rng = np.random.default_rng(0)

    def epoch() -> float:
        subset = rng.permutation(len(x))[:samples]
        xs, ys = xt[torch.from_numpy(subset)], yt[torch.from_numpy(subset)]  # same gather as the barenet side
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(subset)))
        for begin in range(0, len(subset), batch):
            index = order[begin:begin + batch]
            xb = xs[index].to(torch.float32).mul_(1.0 / 255.0)
            loss = loss_fn(net(xb), ys[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    return epoch, net


# ----- isolated GEMMs ---------------------------------------------------------
def provider_matmul():
    """The matrix product barenet's CPU backend uses (NumPy's BLAS or MKL: BARENET_GEMM), so that the
    "GEMM ceiling" is its GEMM provider's own; NumPy's for a barenet from before the Backend."""
    try:
        from barenet import backend
        return backend.get_backend("cpu").gemm.matmul
    except (ImportError, AttributeError):
        return np.matmul


def gemm_gflops(sizes, batch, seconds=0.5) -> float:
    """GFLOP/s of the GEMMs one training step does (forward, weight grads, input grads except layer 0),
    through barenet's GEMM provider."""
    matmul = provider_matmul()
    rng = np.random.default_rng(0)
    acts = [rng.random((batch, n), dtype=np.float32) for n in sizes]
    ws = [rng.random((a, b), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
    outs = [np.empty((batch, b), np.float32) for b in sizes[1:]]
    gws = [np.empty_like(w) for w in ws]
    gxs = [np.empty((batch, a), np.float32) for a in sizes[:-1]]

    def step():
        for i, w in enumerate(ws):
            matmul(acts[i], w, out=outs[i])
            matmul(acts[i].T, acts[i + 1], out=gws[i])
            if i:
                matmul(acts[i + 1], w.T, out=gxs[i])

    flops = step_flops(sizes, batch)
    step()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        count += 1
    return flops * count / (time.perf_counter() - start) / 1e9


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def kernels_name() -> str:
    """The CPU backend as barenet describes it: kernels, GEMM provider, subnormal policy."""
    try:
        from barenet import backend
        return backend.get_backend("cpu").describe()
    except (ImportError, AttributeError):  # a barenet from before the Backend
        from barenet import kernels
        return getattr(kernels, "active", "none (before barenet.kernels)")


def blas_report() -> dict:
    from threadpoolctl import threadpool_info

    info = [{k: entry.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
            for entry in threadpool_info()]
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")}
    return {"pools": info, "env": env}


# ----- the run ----------------------------------------------------------------
SETTLE_SECONDS = 0.5


def settled(measure, *args, **kwargs):
    """Run `measure` after a pause. Both sides' idle worker threads busy-wait for a while after
    their last parallel call (OpenBLAS ~0.1 s, torch's OpenMP pool too) and take CPU time from
    whatever runs next: measured here, a NumPy GEMM right after a torch forward pass ran 50%
    slower than alone. The pause lets them go to sleep, so neither side pays for the other."""
    time.sleep(SETTLE_SECONDS)
    return measure(*args, **kwargs)


def measure(networks, batches, repeats) -> list[dict]:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(THREADS)
    threadpool_limits(THREADS)
    x, y, xt, yt = load_mnist()
    rows = []
    for name in networks:
        sizes = NETWORKS[name]
        for batch in batches:
            samples = SAMPLES[batch]
            ours, model = barenet_trainer(sizes, x, y, batch, samples)
            theirs, _ = torch_trainer(sizes, x, y, batch, samples)
            ours(), theirs()  # warm-up
            times = {"barenet": [], "torch": [], "gemm": []}
            for _ in range(repeats):  # A B C A B C: the GEMM ceiling is measured between the runs
                times["barenet"].append(settled(ours))
                times["torch"].append(settled(theirs))
                times["gemm"].append(settled(gemm_gflops, sizes, batch, seconds=0.3))
            b, t = statistics.median(times["barenet"]), statistics.median(times["torch"])
            steps = -(-samples // batch)
            row = {"network": str(sizes), "batch": batch, "samples": samples,
                   "barenet_samples_s": samples / b, "torch_samples_s": samples / t, "ratio": t / b,
                   "barenet_gflops": 6 * weights(sizes) * samples / b / 1e9,
                   "torch_gflops": 6 * weights(sizes) * samples / t / 1e9,
                   "executed_gflops": step_flops(sizes, batch) * steps / b / 1e9,
                   "gemm_gflops": statistics.median(times["gemm"]), "barenet_runs": times["barenet"],
                   "torch_runs": times["torch"]}
            row["fraction_of_gemm"] = row["executed_gflops"] / row["gemm_gflops"]
            rows.append(row)
            print(format_row(row), flush=True)
        rows.append(inference_row(sizes, model, xt, repeats))
        print(format_inference(rows[-1]), flush=True)
    return rows


def inference_row(sizes, model, xt, repeats) -> dict:
    import torch

    _, net = torch_trainer(sizes, xt, np.zeros(len(xt), dtype=np.int64), 128, len(xt))
    x_torch = torch.from_numpy(xt)

    def ours():
        start = time.perf_counter()
        model.predict(xt)
        return time.perf_counter() - start

    def theirs():
        start = time.perf_counter()
        with torch.no_grad():
            net(x_torch.to(torch.float32).mul_(1.0 / 255.0)).argmax(dim=1)
        return time.perf_counter() - start

    gemm_operands = inference_gemm_operands(sizes, len(xt))
    ours(), theirs()
    runs = {"barenet": [], "torch": [], "gemm": []}
    for _ in range(max(7, repeats)):  # alternating, like the training runs
        runs["barenet"].append(settled(ours))
        runs["torch"].append(settled(theirs))
        runs["gemm"].append(settled(inference_gemm_seconds, *gemm_operands))
    b, t, g = (statistics.median(runs[k]) for k in ("barenet", "torch", "gemm"))
    return {"network": str(sizes), "batch": "predict 10k", "barenet_ms": b * 1e3, "torch_ms": t * 1e3,
            "gemm_ms": g * 1e3, "ratio": t / b}


def inference_gemm_operands(sizes, n: int) -> tuple[list, list, list, int]:
    """Inputs, weights, output buffers and chunk count for the forward GEMMs of a prediction, chunked
    as barenet chunks it (EVAL_BATCH rows), so that timing them alone gives the floor under `predict`."""
    from barenet.models.sequential import EVAL_BATCH

    rng = np.random.default_rng(0)
    chunk = min(n, EVAL_BATCH)
    acts = [rng.random((chunk, a), dtype=np.float32) for a in sizes[:-1]]
    ws = [rng.random((a, b), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
    outs = [np.empty((chunk, b), dtype=np.float32) for b in sizes[1:]]
    return acts, ws, outs, -(-n // chunk)


def inference_gemm_seconds(acts, ws, outs, chunks) -> float:
    """Seconds the forward GEMMs of a 10k prediction take alone (float inputs ready, nothing else), through
    barenet's GEMM provider."""
    matmul = provider_matmul()
    start = time.perf_counter()
    for _ in range(chunks):
        for a, w, out in zip(acts, ws, outs):
            matmul(a, w, out=out)
    return time.perf_counter() - start


def format_row(r) -> str:
    return (f"{r['network']:<22} batch {r['batch']:>5}: barenet {r['barenet_samples_s']:>9,.0f}/s  "
            f"torch {r['torch_samples_s']:>9,.0f}/s  ratio {r['ratio']:.2f}x  "
            f"6xWxN {r['barenet_gflops']:6.1f} GFLOP/s (torch {r['torch_gflops']:.1f}); executed "
            f"{r['executed_gflops']:6.1f} = {r['fraction_of_gemm']:.0%} of the same GEMMs alone "
            f"({r['gemm_gflops']:.1f}); ratio if only GEMMs cost {r['ratio'] / r['fraction_of_gemm']:.2f}x")


def format_inference(r) -> str:
    return (f"{r['network']:<22} predict 10k: barenet {r['barenet_ms']:.1f} ms  torch {r['torch_ms']:.1f} ms  "
            f"ratio {r['ratio']:.2f}x  (its GEMMs alone: {r['gemm_ms']:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated: small, wide, big")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    parser.add_argument("--env", choices=["current", "both"], default="current",
                        help="'both' reruns in a child process without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    networks, batches = args.networks.split(","), [int(b) for b in args.batches.split(",")]

    import torch

    print(f"barenet vs torch {torch.__version__}, {THREADS} threads, float32; NumPy {np.__version__}; "
          f"CPU {cpu_name()}; barenet kernels: {kernels_name()}")
    print(f"BLAS: {json.dumps(blas_report())}")
    print(f"torch: {torch.__config__.parallel_info().splitlines()[0]}; MKL: {torch.backends.mkl.is_available()}")
    rows = measure(networks, batches, repeats)
    if args.json:
        Path(args.json).write_text(json.dumps({"blas": blas_report(), "cpu": cpu_name(), "kernels": kernels_name(),
                                               "torch": torch.__version__, "rows": rows}, indent=2))
    if args.env == "both":
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        print("\n--- again without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE ---", flush=True)
        child = [sys.executable, __file__, "--networks", args.networks, "--batches", args.batches,
                 "--repeats", str(repeats)]
        subprocess.run(child, env=env, check=True)


if __name__ == "__main__":
    main()
