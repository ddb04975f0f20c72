"""The Backend is the one decision: kernels, GEMM provider and float policy, each checked here.

- Everything that computes uses the model's backend: a fake device whose kernel set records its
  calls sees every kernel of a training step (layers, loss, optimizer, batch gathering).
- Subnormal numbers: the CPU backend flushes them to zero on the training thread and restores the
  caller's modes; after 3,000 per-sample steps on MNIST-like data the optimizer state holds none
  (counted by bit pattern), while the same run without the policy holds some.
- GEMM providers: NumPy's BLAS and MKL agree to float32 rounding (where MKL is installed); "auto" is
  measured once and cached; BARENET_GEMM errors are one line with exit 2; `--version` and a run's
  summary name the provider.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import barenet as bn
import fakedevice
from barenet import backend
from barenet.backend.cpu import floats, gemm, mkl
from barenet.backend.device import Backend
from barenet.errors import ConfigError
from clihelpers import assert_user_error, barenet, cli_env

MKL = mkl.library_path()
needs_mkl = pytest.mark.skipif(MKL is None, reason='MKL is not installed (pip install "barenet[mkl]")')


def subnormals(array: np.ndarray) -> int:
    """How many entries of a float32/float64 array are subnormal, read from their bits (exponent all zero,
    mantissa not): a comparison would read them as 0 under denormals-are-zero."""
    bits, mantissa = (np.uint32, 23) if array.dtype == np.float32 else (np.uint64, 52)
    raw = np.ascontiguousarray(array).view(bits)
    exponent = (raw >> bits(mantissa)) & bits((1 << (array.itemsize * 8 - 1 - mantissa)) - 1)
    return int(np.count_nonzero((exponent == 0) & ((raw & bits((1 << mantissa) - 1)) != 0)))


def mnist_like(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 28x28 images (rows, 784) whose border is always 0 and whose outer ring of ink is rarely
    inked (so some weights see a gradient once in a long while, then decay), and class ids."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, rows)
    images = np.zeros((rows, 28, 28), np.uint8)
    images[:, 8:20, 8:20] = rng.integers(0, 256, (rows, 12, 12))
    images[np.arange(rows), 10 + y, 14] = 255  # one class-coded stroke
    rare = rng.random((rows, 28, 28)) < 0.002  # the rarely inked ring
    rare[:, :3, :] = rare[:, -3:, :] = rare[:, :, :3] = rare[:, :, -3:] = False
    images[rare] = 200
    return images.reshape(rows, 784), y


# ----- one backend for everything ---------------------------------------------------------
def test_every_kernel_of_a_step_is_the_backends():
    recording = fakedevice.Recording(backend.get_backend("cpu").kernels)
    device = fakedevice.make("fake", kernels=recording)
    model = bn.MLP([784, 16, 10], dropout=0.2, seed=0, device=device)
    model.compile(optimizer=bn.optimizers.Adam(lr=1e-3))
    x, y = mnist_like(64)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, diagnose=False)  # the doctor's probes run extra kernels
    steps = 2
    assert recording.calls["gather_scaled"] == steps
    assert recording.calls["bias_act"] >= 2 * steps and recording.calls["act_backward"] >= 2 * steps
    assert recording.calls["dropout_forward"] == steps and recording.calls["dropout_backward"] == steps
    assert recording.calls["softmax_xent"] >= steps and recording.calls["adam"] == steps


def test_a_model_on_the_reference_kernels_passes_them_to_its_loss_and_optimizer():
    reference = backend.get_backend("cpu", kernels="numpy")
    model = bn.MLP([8, 4], seed=0, device=reference).compile(optimizer="sgd")
    assert model.backend.kernels.name == "numpy"
    assert model.loss.backend is reference and model.optimizer.backend is reference
    assert backend.get_backend("cpu", kernels="numpy") is reference  # one backend per choice


def test_fused_blocks_and_copies_of_a_model_compute_on_the_models_backend():
    import copy

    from barenet.nn import fusion

    reference = backend.get_backend("cpu", kernels="numpy")
    model = bn.MLP([8, 6, 4], activation="tanh", dropout=0.1, seed=0, device=reference).compile(optimizer="sgd")
    blocks = fusion.fuse(model.layers)
    blocks.append(blocks[0].scaled_input(1 / 255))
    assert all(layer.backend is reference for layer in blocks), [type(layer).__name__ for layer in blocks]
    twin = copy.deepcopy(model)  # a Backend holds modules: copies share it instead of failing
    assert twin.backend is reference and all(layer.backend is reference for layer in twin.layers)
    x = np.random.default_rng(0).random((5, 8), dtype=np.float32)
    np.testing.assert_array_equal(twin.predict_logits(x), model.predict_logits(x))


# ----- subnormal numbers -----------------------------------------------------------------------
def test_the_policy_flushes_subnormals_on_its_thread_and_restores_the_callers_modes():
    policy = floats.policy()
    if isinstance(policy, floats.Unchanged):
        pytest.skip("this platform's C library cannot set flush-to-zero (not glibc on x86-64 or AArch64)")
    tiny = np.float32(np.finfo(np.float32).tiny)
    before = policy.register()
    seen_elsewhere, go = [], threading.Event()
    worker = threading.Thread(target=lambda: go.wait() and seen_elsewhere.append(float(tiny * np.float32(0.5))))
    worker.start()  # a thread that exists before the block (threads started inside inherit its modes)
    with policy():
        assert float(tiny * np.float32(0.5)) == 0.0                      # a subnormal result becomes 0
        assert float(np.array([1], np.uint32).view(np.float32)[0] * np.float32(4)) == 0.0  # input read as 0
        go.set()
        worker.join()
    assert seen_elsewhere[0] != 0.0           # another thread keeps its own modes
    assert policy.register() == before and float(tiny * np.float32(0.5)) != 0.0
    with pytest.raises(RuntimeError), policy():
        raise RuntimeError("restored after an exception too")
    assert policy.register() == before


def per_sample_run(policy, kernels: str) -> tuple[int, int]:
    """3,000 per-sample SGD steps (momentum 0.9) of [784,32,10] on MNIST-like data: (subnormals seen in the
    optimizer's velocity at any of the last 2,000 steps, the most at one step)."""
    cpu = backend.get_backend("cpu", kernels=kernels)
    device = Backend("cpu", np, kernels=cpu.kernels, gemm=cpu.gemm, floats=policy, on_host=True)
    model = bn.MLP([784, 32, 10], seed=0, device=device).compile(optimizer=bn.optimizers.SGD(lr=0.005, momentum=0.9))
    x, y = mnist_like(3000)
    counts = []

    def count(step):
        if step.number > 1000:
            counts.append(subnormals(model.optimizer.state[0]["velocity"]))
    model.fit(x, y, epochs=1, batch_size=1, verbose=0, callbacks=[bn.callbacks.LambdaCallback(on_step_end=count)])
    assert model.optimizer.iterations == 3000
    return sum(counts), max(counts)


@pytest.mark.parametrize("kernels", ["fused", "numpy"])
def test_no_subnormal_reaches_the_optimizer_state_in_3000_per_sample_steps(kernels):
    policy = backend.get_backend("cpu").floats
    if isinstance(policy, floats.Unchanged):
        pytest.skip("this platform's C library cannot set flush-to-zero (not glibc on x86-64 or AArch64)")
    without, _ = per_sample_run(floats.Unchanged(), kernels)
    assert without > 0, "the control run made no subnormals: the data no longer shows the problem"
    assert per_sample_run(policy, kernels) == (0, 0)


def test_flushing_changes_nothing_above_the_normal_range():
    """With and without the policy, a short per-sample run ends with the same weights to float32
    rounding: only values that would have been subnormal (below 1.2e-38) differ."""
    x, y = mnist_like(300)
    weights = []
    for policy in (floats.Unchanged(), backend.get_backend("cpu").floats):
        cpu = backend.get_backend("cpu")
        device = Backend("cpu", np, kernels=cpu.kernels, gemm=cpu.gemm, floats=policy, on_host=True)
        model = bn.MLP([784, 16, 10], seed=3, device=device).compile(optimizer=bn.optimizers.SGD(lr=0.01, momentum=0.9))
        model.fit(x, y, epochs=1, batch_size=1, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-30)


# ----- GEMM providers --------------------------------------------------------------------------
def operands(dtype, m=37, k=53, n=29, seed=0):
    """(a, b) pairs in every layout the layers use: plain, a transposed (x.T @ g), b transposed (g @ W.T)."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    return [(a, b), (at.T, b), (a, bt.T), (at.T, bt.T), (a[:1], b), (a[:, :1], b[:1]), (a[::2], b)]


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mkl_and_numpy_agree_to_rounding_in_every_layout(dtype):
    provider = mkl.MklGemm(MKL)
    tolerance = {"rtol": 2e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for a, b in operands(dtype):
        want = np.matmul(a, b)
        np.testing.assert_allclose(provider.matmul(a, b), want, **tolerance)
        out = np.full_like(want, np.nan)
        assert provider.matmul(a, b, out=out) is out
        np.testing.assert_allclose(out, want, **tolerance)


@needs_mkl
def test_training_on_mkl_equals_training_on_numpy_to_float32_rounding():
    x, y = mnist_like(256)
    weights = []
    for choice in ("numpy", "mkl"):
        model = bn.MLP([784, 32, 16, 10], seed=0, device=backend.get_backend("cpu", gemm=choice))
        assert model.backend.gemm.name == choice
        model.compile(optimizer=bn.optimizers.SGD(lr=0.05, momentum=0.9)).fit(x, y, epochs=2, batch_size=32, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@needs_mkl
def test_mkl_threads_follow_the_limit():
    from threadpoolctl import threadpool_info

    provider = mkl.MklGemm(MKL)
    with provider.threads(1):
        pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert any(pool["internal_api"] == "mkl" for pool in pools)
        assert all(pool["num_threads"] == 1 for pool in pools)


def test_auto_reads_the_cached_choice_and_measures_only_once(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    measured = []
    monkeypatch.setattr(gemm, "_measure_in_subprocess",
                        lambda name: measured.append(name) or {"numpy": 1.0, "mkl": 0.5}[name])
    library = tmp_path / "libmkl_rt.so.3"
    library.write_bytes(b"not really MKL")
    assert gemm.measured_choice(library) == "mkl"            # twice as fast: chosen
    assert gemm.measured_choice(library) == "mkl" and measured == ["numpy", "mkl"]  # the second time: cached
    cached = json.loads((tmp_path / "barenet" / "gemm.json").read_text())
    assert [entry["choice"] for entry in cached.values()] == ["mkl"]
    monkeypatch.setattr(gemm, "_measure_in_subprocess", lambda name: {"numpy": 1.0, "mkl": 0.97}[name])
    library.write_bytes(b"another MKL build")                 # another library: measured again
    assert gemm.measured_choice(library) == "numpy"          # within the margin: NumPy's BLAS stays


def test_mkl_asked_for_but_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setattr(mkl, "library_path", lambda: None)
    gemm.provider.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r'pip install "barenet\[mkl\]"') as caught:
            gemm.provider("mkl")
        assert "\n" not in str(caught.value)
        assert gemm.provider("auto").name == "numpy"  # auto without MKL: NumPy's BLAS, nothing measured
    finally:
        gemm.provider.cache_clear()


def test_an_unknown_gemm_provider_is_one_line_and_exit_2_before_any_work(tmp_path):
    result = barenet("train", "--epochs", "1", "--out", tmp_path / "run", env=cli_env(BARENET_GEMM="blis"))
    assert_user_error(result, "BARENET_GEMM='blis'", "auto, numpy or mkl")
    assert not (tmp_path / "run").exists()


def test_mkl_missing_from_the_cli_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from barenet import cli

    monkeypatch.setenv("BARENET_GEMM", "mkl")
    monkeypatch.setattr(mkl, "library_path", lambda: None)
    gemm.provider.cache_clear()
    try:
        assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    finally:
        gemm.provider.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "barenet[mkl]"' in err[0] and not (tmp_path / "run").exists()


@pytest.mark.parametrize("choice", ["numpy", *(["mkl"] if MKL else [])])
def test_version_names_the_kernels_gemm_provider_and_float_policy(choice):
    result = barenet("--version", env=cli_env(BARENET_GEMM=choice))
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first.startswith("barenet ") and second.startswith("cpu: fused kernels, GEMM " + choice)
    assert "subnormals" in second
