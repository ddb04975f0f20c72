"""GPU training speed: barenet on CuPy (`MLP(device="cuda")` and a prototype loop) against PyTorch.

    python benchmarks/gpu.py                       # needs CuPy and an NVIDIA GPU; PyTorch with CUDA to compare
    python benchmarks/gpu.py --networks small --batches 128 --repeats 3 --torch-compile --json out.json

Four ways to train the same network for an epoch, per network and batch size:
  - `barenet`: the real thing, `MLP(..., device="cuda").fit` (through a Trainer): data set
    uploaded once, batches gathered on the device, metrics read once per epoch; the epoch's
    time is the Trainer's own ("seconds" in the history: the loop, ended by reading the metrics);
  - `prototype`: a hand-written device-resident loop from the same CUDA kernels
    (`barenet.backend.cuda.kernels`) and cuBLAS through CuPy, every buffer allocated up front: what
    the real model could reach without its Python layers. It also tries to replay its step
    as a CUDA graph; on CuPy 14 the capture fails ("calling cuBLAS API during stream capture
    is currently unsupported"), which is reported and the graph column left empty;
  - PyTorch eager, and `torch.compile` (`--torch-compile`, when it works there).
All: float32, ReLU MLP, softmax cross-entropy, SGD with momentum 0.9, lr 0.01, full batches
only (the rows are cut to a multiple of the batch), synthetic uint8 images (speed does not
depend on the pixels; correctness is tests/test_device_cuda.py's job). Median of `--repeats`
epochs after a warm-up epoch, alternating sides.

Then the GEMM check for [784,1024,1024,10] at batch 1024: the training step's eight matrix
products alone through cuBLAS (the same shapes and transposes, back to back), against the
whole step of `barenet` above: the fraction of cuBLAS's throughput a whole step keeps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial

import numpy as np

NETWORKS = {"small": [784, 128, 64, 10], "wide": [784, 800, 10], "big": [784, 1024, 1024, 10]}
BATCHES = [128, 1024]
SAMPLES = 60000
GEMM_NETWORK, GEMM_BATCH = [784, 1024, 1024, 10], 1024


class CupyMLP:
    """A ReLU MLP on CuPy with barenet's CUDA kernels; every buffer allocated up front."""

    def __init__(self, cp, sizes, batch, x, y, seed=0):
        from barenet.backend.cuda.kernels import CudaKernels

        self.cp, self.k, self.sizes, self.batch = cp, CudaKernels(cp).k, sizes, batch
        rng = np.random.default_rng(seed)
        shapes = [(a, b) for a, b in zip(sizes, sizes[1:])]
        total = sum(a * b + b for a, b in shapes)
        self.flat = cp.zeros(total, cp.float32)
        self.grad, self.velocity = cp.zeros_like(self.flat), cp.zeros_like(self.flat)
        self.W, self.b, self.gW, self.gb, offset = [], [], [], [], 0
        for a, b in shapes:
            self.flat[offset:offset + a * b] = cp.asarray(rng.standard_normal(a * b) * np.sqrt(2 / a), cp.float32)
            for target, source in ((self.W, self.flat), (self.gW, self.grad)):
                target.append(source[offset:offset + a * b].reshape(a, b))
            offset += a * b
            self.b.append(self.flat[offset:offset + b])
            self.gb.append(self.grad[offset:offset + b])
            offset += b
        self.x, self.y = x, y
        self.acts = [cp.empty((batch, n), cp.float32) for n in sizes]
        self.grads_in = [cp.empty((batch, n), cp.float32) for n in sizes[1:-1]]
        self.grad_pre = [cp.empty((batch, n), cp.float32) for n in sizes[1:]]
        self.index, self.targets = cp.empty(batch, cp.int64), cp.empty(batch, cp.int64)
        self.rows = cp.empty(batch, cp.float64)
        self.loss_total = cp.zeros(1, cp.float64)
        self.counter = cp.zeros(1, cp.int64)
        self.order = cp.arange(len(x), dtype=cp.int64)
        self._select = cp.ElementwiseKernel("raw I order, raw int64 counter, int64 batch", "I index",
                                            "index = order[counter[0] * batch + i];", "bench_select")
        self._advance = cp.ElementwiseKernel("", "raw int64 counter", "counter[0] += 1;", "bench_advance")
        self._accumulate = cp.ElementwiseKernel("raw float64 rows, int64 n", "raw float64 total",
                                                "double s = 0; for (int r = 0; r < n; r++) s += rows[r];"
                                                " total[0] += s;", "bench_accumulate")
        # Column sums without CuPy's reduction (whose temporary storage would be allocated inside the capture).
        self._column_sums = cp.ElementwiseKernel(
            "raw T g, int64 rows", "T out",
            "T s = 0; for (ptrdiff_t r = 0; r < rows; r++) s += g[r * _ind.size() + i]; out = s;",
            "bench_column_sums")
        self.graph = None

    def step(self):
        cp, k, f32 = self.cp, self.k, np.float32
        self._select(self.order, self.counter, self.batch, self.index)
        k["gather_scaled"](self.x, self.index, self.x.shape[1], f32(1 / 255), self.acts[0])
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            cp.matmul(self.acts[i], W, out=self.acts[i + 1])
            k["bias_act"](b, 1, 0 if i == last else 1, f32(0), W.shape[1], self.acts[i + 1])
        cp.take(self.y, self.index, out=self.targets)
        k["softmax_xent"](self.acts[-1], self.targets, self.sizes[-1], f32(1 / self.batch), self.grad_pre[-1],
                          self.rows)
        self._accumulate(self.rows, self.batch, self.loss_total, size=1)
        for i in range(last, -1, -1):
            if i < last:
                k["act_backward"](self.grads_in[i], self.acts[i + 1], 1, f32(0), self.grad_pre[i])
            cp.matmul(self.acts[i].T, self.grad_pre[i], out=self.gW[i])
            self._column_sums(self.grad_pre[i], self.batch, self.gb[i])
            if i:
                cp.matmul(self.grad_pre[i], self.W[i].T, out=self.grads_in[i - 1])
        k["sgd"](self.grad, f32(0.01), f32(0.9), f32(1.0), f32(0.0), False, False, self.flat, self.velocity)
        self._advance(self.counter, size=1)

    def epoch(self, graph: bool) -> float:
        cp = self.cp
        self.order[...] = cp.random.permutation(len(self.x))
        self.counter.fill(0)
        self.loss_total.fill(0)
        steps = len(self.x) // self.batch
        if graph and self.graph is None:
            self.capture()
        stream = self.stream if graph else cp.cuda.get_current_stream()
        with stream:
            for _ in range(steps):
                if graph:
                    self.graph.launch(stream)
                else:
                    self.step()
        stream.synchronize()
        return float(self.loss_total[0]) / (steps * self.batch)

    def capture(self):
        self.stream = self.cp.cuda.Stream(non_blocking=True)
        with self.stream:
            self.step()  # allocations and kernel compiles happen outside the capture
            self.stream.synchronize()
            self.stream.begin_capture()
            try:
                self.step()
            finally:
                graph = self.stream.end_capture()  # a failed capture must still end, or the stream stays captured
            self.graph = graph


def torch_epoch(torch, sizes, batch, x, y, compiled=False):
    """One epoch of the same network in PyTorch (eager, or through torch.compile), as a function."""
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
    net = torch.nn.Sequential(*layers).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    forward = torch.compile(net) if compiled else net

    def epoch() -> float:
        order = torch.randperm(len(x), device="cuda")
        total = torch.zeros((), device="cuda")
        for begin in range(0, len(x) - batch + 1, batch):
            index = order[begin:begin + batch]
            loss = loss_fn(forward(x[index].float().mul_(1 / 255)), y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        torch.cuda.synchronize()
        return float(total) / (len(x) // batch)

    return epoch


class BarenetEpochs:
    """`MLP(sizes, device="cuda")` trained one epoch per call; the time is the Trainer's own epoch time."""

    def __init__(self, sizes, batch, x, y):
        import barenet as bn

        self.model = bn.MLP(sizes, seed=0, device="cuda")
        self.model.compile(optimizer=bn.optimizers.SGD(lr=0.01, momentum=0.9))
        self.trainer = bn.Trainer(self.model, batch_size=batch)
        self.x, self.y = x, y

    def __call__(self) -> tuple[float, float]:
        """(seconds, mean loss) of one more epoch."""
        history = self.trainer.fit(self.x, self.y, epochs=self.trainer.epoch + 1)
        return history.history["seconds"][-1], history.history["loss"][-1]


def graph_works(model) -> bool:
    """Capture and run one graph epoch; False (saying why) if this CuPy or driver cannot."""
    try:
        model.epoch(True)
    except Exception as exc:  # noqa: BLE001 (a benchmark reports and goes on)
        print(f"  CUDA graph capture failed: {type(exc).__name__}: {exc}", flush=True)
        return False
    return True


def timed(run) -> tuple[float, float]:
    start = time.perf_counter()
    loss = run()
    return time.perf_counter() - start, loss


def torch_sides(torch, sizes, batch, x_t, y_t, compile_too: bool) -> dict:
    """name -> epoch function for PyTorch eager (and torch.compile when asked and it works)."""
    if torch is None:
        return {}
    sides = {"torch": torch_epoch(torch, sizes, batch, x_t, y_t)}
    if compile_too:
        compiled = torch_epoch(torch, sizes, batch, x_t, y_t, compiled=True)
        try:
            compiled()  # the compile happens here, in the warm-up
            sides["compiled"] = compiled
        except Exception as exc:  # noqa: BLE001
            print(f"  torch.compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}", flush=True)
    return sides


def measure(cp, torch, sizes, batch, data, args) -> dict:
    """Median seconds per epoch (and last mean loss) of every side, for one network and batch."""
    (x_host, y_host), (x_cp, y_cp), (x_t, y_t) = data
    rows = (len(x_host) // batch) * batch
    ours = BarenetEpochs(sizes, batch, x_host[:rows], y_host[:rows])
    proto = CupyMLP(cp, sizes, batch, x_cp, y_cp)
    sides = {"barenet": ours, "prototype": partial(timed, partial(proto.epoch, False))}
    ours(), proto.epoch(False)  # warm-up: kernel compiles, cuBLAS setup, the upload
    others = torch_sides(torch, sizes, batch, x_t, y_t, args.torch_compile)
    for run in others.values():
        run()
    sides.update({name: partial(timed, run) for name, run in others.items()})
    if graph_works(proto):
        sides["graph"] = partial(timed, partial(proto.epoch, True))
    runs: dict[str, list] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, side in sides.items():
            runs[name].append(side())
    return {name: {"seconds": statistics.median(t for t, _ in values), "loss": values[-1][1]}
            for name, values in runs.items()}


def report(sizes, batch, result: dict) -> str:
    """One line: every side's s/epoch, and its speed relative to PyTorch eager."""
    base = result.get("torch", {}).get("seconds")
    parts = []
    for name in ("barenet", "prototype", "graph", "torch", "compiled"):
        if name in result:
            seconds = result[name]["seconds"]
            ratio = f" ({base / seconds:.2f}x torch)" if base and name != "torch" else ""
            parts.append(f"{name} {seconds:.4f}{ratio}")
    losses = ", ".join(f"{name} {value['loss']:.3f}" for name, value in result.items())
    return f"{str(sizes):<22} batch {batch:>5}: " + "; ".join(parts) + f" s/epoch | last mean loss: {losses}"


def step_gemms(cp, sizes, batch):
    """The matrix products of one training step, as closures over preallocated arrays (cuBLAS via CuPy)."""
    f32 = cp.float32
    acts = [cp.random.random((batch, n), dtype=f32) for n in sizes]
    weights = [cp.random.random((a, b), dtype=f32) for a, b in zip(sizes, sizes[1:])]
    grads = [cp.empty_like(w) for w in weights]
    deltas = [cp.random.random((batch, n), dtype=f32) for n in sizes[1:]]
    ins = [cp.empty((batch, n), dtype=f32) for n in sizes[:-1]]
    calls = [partial(cp.matmul, acts[i], w, out=acts[i + 1]) for i, w in enumerate(weights)]
    calls += [partial(cp.matmul, acts[i].T, deltas[i], out=grads[i]) for i in range(len(weights))]
    calls += [partial(cp.matmul, deltas[i], weights[i].T, out=ins[i]) for i in range(1, len(weights))]
    flops = sum(2 * batch * a * b for a, b in zip(sizes, sizes[1:])) * 2
    flops += sum(2 * batch * a * b for a, b in list(zip(sizes, sizes[1:]))[1:])
    return calls, flops


def gemm_check(cp, step_seconds: float, repeats: int = 200) -> dict:
    """cuBLAS alone on one step's GEMMs for GEMM_NETWORK at GEMM_BATCH, against a whole barenet step."""
    calls, flops = step_gemms(cp, GEMM_NETWORK, GEMM_BATCH)
    for call in calls:
        call()
    cp.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        for call in calls:
            call()
    cp.cuda.Device().synchronize()
    gemm_seconds = (time.perf_counter() - start) / repeats
    return {"gemm_seconds_per_step": gemm_seconds, "step_seconds": step_seconds, "flops_per_step": flops,
            "gemm_tflops": flops / gemm_seconds / 1e12, "step_tflops": flops / step_seconds / 1e12,
            "fraction_of_cublas": gemm_seconds / step_seconds}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"comma-separated: {', '.join(NETWORKS)}")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per side (median)")
    parser.add_argument("--torch-compile", action="store_true", help="also time torch.compile (slow to compile)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def require_gpu():
    """(cupy, torch or None), or exit 2 with one line when CuPy or a GPU is missing."""
    try:
        import cupy as cp

        if cp.cuda.runtime.getDeviceCount() == 0:
            raise RuntimeError("no CUDA device")
    except Exception as exc:  # noqa: BLE001 (ImportError, or CuPy's runtime error without a driver)
        print(f"benchmarks/gpu.py needs CuPy and an NVIDIA GPU ({type(exc).__name__}: {exc}): "
              f'pip install "barenet[gpu]" on a machine with one', file=sys.stderr)
        raise SystemExit(2) from None
    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    return cp, torch


def main(argv=None) -> None:
    args = parse_args(argv)
    cp, torch = require_gpu()
    name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"GPU {name}; CuPy {cp.__version__}; torch {torch.__version__ if torch else 'absent (no comparison)'}; "
          f"float32; {SAMPLES} synthetic images", flush=True)
    rng = np.random.default_rng(0)
    x_host, y_host = rng.integers(0, 256, (SAMPLES, 784), dtype=np.uint8), rng.integers(0, 10, SAMPLES)
    device = (cp.asarray(x_host), cp.asarray(y_host))
    on_torch = (torch.from_numpy(x_host).cuda(), torch.from_numpy(y_host).cuda()) if torch else (None, None)
    results: dict = {"gpu": name, "cupy": cp.__version__, "torch": torch.__version__ if torch else None, "cells": []}
    for network in args.networks.split(","):
        for batch in map(int, args.batches.split(",")):
            result = measure(cp, torch, NETWORKS[network], batch, ((x_host, y_host), device, on_torch), args)
            results["cells"].append({"network": NETWORKS[network], "batch": batch, **result})
            print(report(NETWORKS[network], batch, result), flush=True)
            if NETWORKS[network] == GEMM_NETWORK and batch == GEMM_BATCH:
                steps = SAMPLES // GEMM_BATCH
                results["gemm"] = gemm = gemm_check(cp, result["barenet"]["seconds"] / steps)
                print(f"GEMM check {GEMM_NETWORK} batch {GEMM_BATCH}: cuBLAS alone {gemm['gemm_tflops']:.1f} "
                      f"TFLOP/s ({gemm['gemm_seconds_per_step'] * 1e3:.3f} ms/step), whole barenet step "
                      f"{gemm['step_tflops']:.1f} TFLOP/s ({gemm['step_seconds'] * 1e3:.3f} ms): "
                      f"{gemm['fraction_of_cublas']:.0%} of cuBLAS's throughput", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
