#!/usr/bin/env bash
# The GPU check (issues #18, #27) in one go, for the short time a GPU machine is at hand (about 9 minutes):
#   1. what is installed (and a quiet, time-limited pip install of what the tests need; it may fail offline),
#   2. the kernel protocol (CUDA sources compiled by nvcc), tests/test_kernels_cuda.py and
#      tests/test_device_cuda.py (synthetic data: no MNIST needed),
#   3. `barenet train --device cuda` on the default recipe and on mnist-fast (needs MNIST: put its four .gz
#      files in ./device-data and name that folder in the run's carry list; skipped without them), to set
#      beside the CPU's accuracy (docs/RESULTS.md) and mnist-fast's time to 98%,
#   4. benchmarks/gpu.py (barenet MLP(device="cuda"), the prototype loop, PyTorch eager; the GEMM check),
#   5. torch.compile on the small network, if time is left.
# Run from the repository root:  OUT=/some/folder bash benchmarks/device_check.sh
# Everything goes to $OUT (default ./device-check): env.txt, tests.txt, tests.xml, train-*.txt/json, gpu.txt,
# gpu.json, compile.txt, compile.json and summary.txt (the lines to paste). Each stage has its own time
# limit, and a stage that fails does not stop the next.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/device-check}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
started=$(date +%s)
elapsed() { echo $(( $(date +%s) - started )); }

# ----- 1. the machine and its packages -----------------------------------------------------------
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi failed"
    "$PY" --version
    "$PY" - <<'EOF'
import importlib
for name in ("numpy", "cupy", "torch", "numba", "pytest", "threadpoolctl", "hypothesis", "tqdm"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')}")
    except Exception as exc:  # noqa: BLE001
        print(f"{name} MISSING ({type(exc).__name__}: {exc})")
try:
    import torch
    print(f"torch.cuda.is_available() {torch.cuda.is_available()}")
except Exception:  # noqa: BLE001
    pass
EOF
} > "$OUT/env.txt" 2>&1
missing=$(grep -E '^(pytest|threadpoolctl|numba) MISSING' "$OUT/env.txt" | cut -d' ' -f1 | tr '\n' ' ')
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    timeout 90 "$PY" -m pip install --quiet --disable-pip-version-check --timeout 10 --retries 0 $missing \
        >> "$OUT/env.txt" 2>&1 && note "installed: $missing" || note "could not install: $missing (offline?)"
fi
if ! "$PY" -c "import numba" 2>/dev/null; then
    export BARENET_KERNELS=numpy  # the CPU side of the comparisons runs the NumPy reference kernels
    note "numba missing: BARENET_KERNELS=numpy for the CPU side"
fi
note "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
note "packages: $(grep -E '^(numpy|cupy|torch|numba|pytest) ' "$OUT/env.txt" | tr '\n' ';')"

# ----- 2. the tests ------------------------------------------------------------------------------
timeout 150 "$PY" -m pytest -q -p no:cacheprovider -rs --junitxml="$OUT/tests.xml" \
    tests/test_kernel_protocol.py tests/test_kernels_cuda.py tests/test_device_cuda.py > "$OUT/tests.txt" 2>&1
note "tests (exit $?): $(tail -n 1 "$OUT/tests.txt")  [$(elapsed) s]"
grep -E '^(FAILED|ERROR|SKIPPED)' "$OUT/tests.txt" | head -20 | tee -a "$SUMMARY"

# ----- 3. real training on the device ----------------------------------------------------------------
if ls device-data/train-images-idx3-ubyte.gz >/dev/null 2>&1; then
    export BARENET_DATA_DIR="$PWD/device-data"
    for recipe in mnist mnist-fast; do
        timeout 120 "$PY" -m barenet train --recipe "$recipe" --device cuda --json --out "$OUT/run-$recipe" \
            > "$OUT/train-$recipe.json" 2> "$OUT/train-$recipe.txt"
        note "train --recipe $recipe --device cuda: exit $?  [$(elapsed) s]"
        rm -f "$OUT/run-$recipe/checkpoint.safetensors"  # large, and not needed back
    done
    "$PY" - "$OUT" <<'EOF' | tee -a "$SUMMARY"
import csv, json, sys
from pathlib import Path
for recipe in ("mnist", "mnist-fast"):
    try:
        summary = json.loads((Path(sys.argv[1]) / f"train-{recipe}.json").read_text())
        rows = list(csv.DictReader(open(Path(sys.argv[1]) / f"run-{recipe}" / "metrics.csv")))
    except (OSError, ValueError) as exc:
        print(f"{recipe}: no result ({exc})")
        continue
    elapsed, reached = 0.0, None
    for row in rows:  # mnist-fast's time to 98% validation accuracy, from the per-epoch seconds
        elapsed += float(row["seconds"])
        if reached is None and float(row.get("val_accuracy") or 0) >= 0.98:
            reached = round(elapsed, 2)
    print(f"{recipe} on the GPU: test {summary['test_accuracy']:.4f}, {summary['epochs_run']} epochs in "
          f"{summary['train_seconds']:.1f} s; 98% validation after {reached} s")
EOF
else
    note "train stage skipped: no MNIST in ./device-data (carry it to run the real recipes)"
fi

# ----- 4. the benchmark ----------------------------------------------------------------------------
timeout 240 "$PY" benchmarks/gpu.py --repeats 3 --json "$OUT/gpu.json" > "$OUT/gpu.txt" 2>&1
note "benchmark (exit $?):  [$(elapsed) s]"
tee -a "$SUMMARY" < "$OUT/gpu.txt"

# ----- 5. torch.compile, with what time is left -----------------------------------------------------
left=$(( 540 - $(elapsed) ))
if [ "$left" -gt 60 ]; then
    timeout "$left" "$PY" benchmarks/gpu.py --networks small --batches 128,1024 --repeats 3 --torch-compile \
        --json "$OUT/compile.json" > "$OUT/compile.txt" 2>&1
    note "torch.compile run (exit $?):  [$(elapsed) s]"
    grep -E 'batch|failed' "$OUT/compile.txt" | tee -a "$SUMMARY"
else
    note "torch.compile run skipped: ${left}s left"
fi
note "done in $(elapsed) s"
