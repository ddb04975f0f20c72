"""GPU training speed: barenet's CUDA kernels in a device-resident loop against PyTorch eager.

    python benchmarks/gpu.py                 # needs CuPy, PyTorch with CUDA, an NVIDIA GPU
    python benchmarks/gpu.py --quick

A first step of issue #18, before `MLP(device="cuda")` exists: the barenet side is
a prototype loop here, built from `barenet.kernels.gpu` (the same element-wise maths
as the CPU kernels) and cuBLAS GEMMs through CuPy, with the whole data set on the
device, shuffling and gathering there, metrics kept there until the epoch ends.
It runs two ways: eager (one launch per kernel) and replayed as a CUDA graph captured
once (a device-side step counter picks each step's rows). On CuPy 14.2 the capture
fails ("calling cuBLAS API during stream capture is currently unsupported"): CuPy
refuses cuBLAS inside a capture, so graphs need GEMMs from elsewhere (cuBLASLt, a
RawKernel GEMM); the script then reports the eager loop alone. Both sides: float32,
ReLU MLP, softmax cross-entropy, SGD with momentum 0.9, lr 0.01, full batches only
(60,000 // batch steps), on synthetic uint8 images (speed does not depend on the
pixels; correctness is tests/test_kernels_cuda.py's job). Median of 3 epochs after a
warm-up epoch, alternating sides.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import numpy as np

NETWORKS = {"small": [784, 128, 64, 10], "wide": [784, 800, 10], "big": [784, 1024, 1024, 10]}
BATCHES = [128, 1024]
SAMPLES = 60000


class CupyMLP:
    """A ReLU MLP on CuPy with barenet's CUDA kernels; every buffer allocated up front."""

    def __init__(self, cp, sizes, batch, x, y, seed=0):
        from barenet.kernels.gpu import CudaKernels

        self.cp, self.k, self.sizes, self.batch = cp, CudaKernels().k, sizes, batch
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


def torch_epoch(torch, sizes, batch, x, y):
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
    net = torch.nn.Sequential(*layers).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch() -> float:
        order = torch.randperm(len(x), device="cuda")
        total = torch.zeros((), device="cuda")
        for begin in range(0, len(x) - batch + 1, batch):
            index = order[begin:begin + batch]
            loss = loss_fn(net(x[index].float().mul_(1 / 255)), y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        torch.cuda.synchronize()
        return float(total) / (len(x) // batch)

    return epoch


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


def main() -> None:
    import cupy as cp
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"GPU {name}; CuPy {cp.__version__}; torch {torch.__version__}; float32; {SAMPLES} synthetic images")
    rng = np.random.default_rng(0)
    x_host, y_host = rng.integers(0, 256, (SAMPLES, 784), dtype=np.uint8), rng.integers(0, 10, SAMPLES)
    x_cp, y_cp = cp.asarray(x_host), cp.asarray(y_host)
    x_t, y_t = torch.from_numpy(x_host).cuda(), torch.from_numpy(y_host).cuda()
    for network in args.networks.split(","):
        sizes = NETWORKS[network]
        for batch in map(int, args.batches.split(",")):
            ours = CupyMLP(cp, sizes, batch, x_cp, y_cp)
            theirs = torch_epoch(torch, sizes, batch, x_t, y_t)
            runs: dict[str, list] = {"eager": [], "graph": [], "torch": []}
            ours.epoch(False), theirs()  # warm-up: kernel compiles, cuBLAS setup
            graph = graph_works(ours)
            for _ in range(args.repeats):
                runs["eager"].append(timed(partial(ours.epoch, False)))
                runs["graph"].append(timed(partial(ours.epoch, True)) if graph else (float("nan"), float("nan")))
                runs["torch"].append(timed(theirs))
            median = {key: statistics.median(t for t, _ in value) for key, value in runs.items()}
            losses = {key: value[-1][1] for key, value in runs.items()}
            print(f"{str(sizes):<22} batch {batch:>5}: torch eager {median['torch']:.4f} s/epoch; barenet-cuda "
                  f"eager {median['eager']:.4f} s ({median['torch'] / median['eager']:.2f}x), graph "
                  f"{median['graph']:.4f} s ({median['torch'] / median['graph']:.2f}x); last epoch's mean loss "
                  f"torch {losses['torch']:.3f}, eager {losses['eager']:.3f}, graph {losses['graph']:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
