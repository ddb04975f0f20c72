"""A hostile-input suite: a corpus of damaged, malicious and absurd inputs, built here at test time, each run
through the real `barenet` command. Every case must exit 2 with one line on stderr (no traceback), within a
time limit and a memory limit (RLIMIT_AS in the child), and leave nothing half-written.

Set BARENET_HOSTILE_REPORT=path.json to write each case's seconds and peak memory (for the closing note).
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import subprocess
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from clihelpers import cli_env, command

TIME_LIMIT = 60.0           # seconds per case (most take about one)
MEMORY_LIMIT = 3 << 30      # bytes of address space per case: a 5 GB allocation fails, it is not attempted


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(args, cwd=None, env=None, preexec=_limits) -> Outcome:
    """Run barenet with the memory limit; the exit status, output, wall time and peak RSS of that one child."""
    out_path, err_path = Path(cwd) / f".out{threading.get_ident()}", Path(cwd) / f".err{threading.get_ident()}"
    env = dict(env or cli_env(), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        process = subprocess.Popen([*command(), *map(str, args)], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   cwd=cwd, env=env, preexec_fn=preexec)
        timer = threading.Timer(TIME_LIMIT, process.kill)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
    outcome = Outcome(process.returncode, out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
                      seconds, usage.ru_maxrss / 1024)
    out_path.unlink()
    err_path.unlink()
    return outcome


# ----- building the corpus -----------------------------------------------------------------------------------------
def write_model(folder: Path, name: str, change=None, tensors_change=None, checkpoint: bool = False) -> Path:
    """A small real model file ([784, 16, 10], MNIST-style metadata), with its JSON or tensors then changed."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    import barenet as bn

    path = folder / name
    model = bn.MLP([784, 16, 10], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    if checkpoint:
        rng = np.random.default_rng(0)
        model.fit(rng.integers(0, 256, (32, 784), dtype=np.uint8), rng.integers(0, 10, 32), epochs=1, batch_size=16)
    extra = {"dataset": "mnist", "classes": [str(i) for i in range(10)], "input": {"scale": "unit"},
             "image_shape": [28, 28]}
    model.save(path, include_optimizer=checkpoint, extra=extra)
    with safe_open(str(path), framework="numpy") as handle:
        text = handle.metadata()["barenet"]
    tensors = load_file(path)
    if change is not None:
        document = json.loads(text)
        result = change(document)  # changes the document in place, or returns the new metadata text
        text = result if isinstance(result, str) else json.dumps(document)
    if tensors_change is not None:
        tensors_change(tensors)
    save_file(tensors, path, metadata={"barenet": text})
    return path


def bit_flipped_model(folder: Path, name: str) -> Path:
    """A model file as barenet writes it (with its digest), then one bit flipped in its first weight."""
    import barenet as bn

    path = folder / name
    bn.MLP([784, 16, 10], seed=0).compile().save(path, extra={"classes": [str(i) for i in range(10)]})
    data = bytearray(path.read_bytes())
    data[8 + struct.unpack("<Q", data[:8])[0]] ^= 0x10  # the lowest byte of a float32: a different number, no NaN
    path.write_bytes(bytes(data))
    return path


def png_header(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """A PNG that claims width x height in its header, with one tiny IDAT: enough to reach the size check."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + bytes(16)


def gzip_bomb(path: Path, megabytes: int) -> Path:
    """An IDX file claiming (N, 28, 28) whose gzip holds `megabytes` MB of zeros, written in chunks."""
    count = megabytes * (1 << 20) // 784
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (count, 28, 28))
    stream = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as handle:
        handle.write(stream.compress(header))
        zeros = bytes(1 << 20)
        for _ in range(megabytes):
            handle.write(stream.compress(zeros))
        handle.write(stream.flush())
    return path


def npy_claiming(shape: tuple, path: Path) -> Path:
    """A .npy whose header claims `shape` of uint8 but which holds one image."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": "|u1", "fortran_order": False, "shape": shape})
    path.write_bytes(stream.getvalue() + bytes(784))
    return path


def csv_of(path: Path, rows: list[list], header: bool = True) -> Path:
    lines = ([",".join(f"pixel{i}" for i in range(784))] if header else []) + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def model_cases(d: Path) -> dict[str, list]:
    """Hostile model files, each passed to predict (a few to evaluate)."""
    image = d / "seven.npy"
    np.save(image, np.zeros((1, 28, 28), dtype=np.uint8))

    def meta(name, change):
        return ["predict", write_model(d, name, change), image]

    def set_key(*keys, value):
        def change(doc):
            target = doc
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = value
        return change

    def nan_weight(tensors):
        tensors["layers.0.W"][0, 0] = np.nan

    def wrong_velocity(tensors):
        key = next(k for k in tensors if k.startswith("optimizer."))
        tensors[key] = np.zeros(7, dtype=np.float32)

    fifo = d / "fifo.safetensors"
    os.mkfifo(fifo)
    torch_cases = torch_state_dicts(d)
    pickle_model = d / "pickle.safetensors"
    pickle_model.write_bytes(b"\x80\x04\x95" + bytes(40))
    return {
        "extra-is-5": meta("e5.safetensors", set_key("extra", value=5)),
        "metadata-is-a-list": meta("list.safetensors", lambda doc: "[1, 2]"),
        "metadata-is-a-string": meta("str.safetensors", lambda doc: '"model"'),
        "metadata-is-null": meta("null.safetensors", lambda doc: "null"),
        "input-without-mean": meta("nomean.safetensors", set_key("extra", "input", value={"scale": "standardize"})),
        "std-0": meta("std0.safetensors", set_key("extra", "input", value={"scale": "standardize", "mean": 0.1,
                                                                           "std": 0})),
        "classes-is-5": meta("c5.safetensors", set_key("extra", "classes", value=5)),
        "one-class-for-ten-outputs": meta("ca.safetensors", set_key("extra", "classes", value=["a"])),
        "seed-minus-1": meta("seed.safetensors", set_key("architecture", "seed", value=-1)),
        "optimizer-state-a-string": meta("ost.safetensors", set_key("optimizer_state", value="x")),
        "deep-json": meta("deep.safetensors", lambda doc: "[" * 100_000 + "]" * 100_000),
        "dense-20000x20000": meta("big.safetensors", lambda doc: doc["architecture"]["layers"][0].update(
            in_features=20000, out_features=20000)),
        "layer-type-import": meta("imp.safetensors", lambda doc: doc["architecture"]["layers"].append(
            {"type": "__import__", "name": "os"})),
        "layers-a-string": meta("ls.safetensors", set_key("architecture", "layers", value="Dense")),
        "use-bias-no": meta("ub.safetensors", lambda doc: doc["architecture"]["layers"][0].update(use_bias="no")),
        "format-version-string": meta("fv.safetensors", set_key("format_version", value="1")),
        "no-layers": meta("nol.safetensors", set_key("architecture", "layers", value=[])),
        "optimizer-typo": meta("opt.safetensors", set_key("compile", "optimizer", value={"name": "sgd", "lrr": 1})),
        "nan-weight": ["predict", write_model(d, "nan.safetensors", tensors_change=nan_weight), image],
        "velocity-wrong-size": ["predict", write_model(d, "vel.safetensors", tensors_change=wrong_velocity,
                                                       checkpoint=True), image],
        "not-safetensors": ["predict", _write(d / "junk.safetensors", b"definitely not a model"), image],
        "model-is-a-folder": ["predict", _mkdir(d / "folder.safetensors"), image],
        "model-is-a-fifo": ["predict", fifo, image],
        "model-is-dev-zero": ["predict", "/dev/zero", image],
        "pickle-as-model": ["predict", pickle_model, image],
        "bit-flip-in-tensor-data": ["predict", bit_flipped_model(d, "flipped.safetensors"), image],
        **{f"import-torch-{name}": ["import-torch", path, d / f"{name}.out.safetensors"]
           for name, path in torch_cases.items()},
        "evaluate-std-0": ["evaluate", d / "std0.safetensors"],
        "evaluate-nan-weight": ["evaluate", d / "nan.safetensors"],
    }


def torch_state_dicts(d: Path) -> dict[str, Path]:
    """PyTorch state dicts as `barenet export` writes them, with their barenet metadata or weights damaged."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    import barenet as bn
    from barenet.pytorch.files import META_KEY, export_torch

    source = d / "exported.safetensors"
    export_torch(bn.MLP([784, 16, 10], seed=0), source)
    with safe_open(str(source), framework="numpy") as handle:
        text = handle.metadata()[META_KEY]

    def variant(name: str, metadata: str, nan: bool = False) -> Path:
        tensors = load_file(source)
        if nan:
            tensors["0.weight"][0, 0] = np.inf
        save_file(tensors, d / f"{name}.safetensors", metadata={META_KEY: metadata})
        return d / f"{name}.safetensors"

    document = json.loads(text)
    document["layers"].insert(1, {"type": "__import__", "name": "os"})
    return {"metadata-a-list": variant("t-list", "[1]"), "deep-json": variant("t-deep", "[" * 100_000 + "]" * 100_000),
            "layer-type-import": variant("t-import", json.dumps(document)),
            "dropout-rate-5": variant("t-rate", text.replace('"type": "ReLU"', '"type": "Dropout", "rate": 5')),
            "inf-weight": variant("t-inf", text, nan=True)}


def data_cases(d: Path) -> dict[str, list]:
    """Hostile data and images, each passed to predict with a good model."""
    model = write_model(d, "good.safetensors")
    fifo = d / "input.png"
    os.mkfifo(fifo)
    np.savez(d / "arrays.npz", x=np.zeros((2, 28, 28), dtype=np.uint8))
    os.replace(d / "arrays.npz", d / "renamed.npy")
    np.save(d / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(d / "nan.npy", np.full((1, 784), np.nan, dtype=np.float32))
    np.save(d / "wrong-width.npy", np.zeros((1, 100), dtype=np.uint8))
    np.save(d / "minus5.npy", np.full((1, 784), -5, dtype=np.int32))
    from barenet.data import write_idx

    write_idx(d / "minus5-idx3-ubyte", np.full((1, 28, 28), -5, dtype=np.int32))
    idx_wrap = bytes([0, 0, 8, 4]) + b"".join((65536).to_bytes(4, "big") for _ in range(4))
    row = [0] * 784
    cases = {
        "fifo-input": fifo,
        "png-20000x20000": _write(d / "huge.png", png_header(20000, 20000)),
        "png-12000x12000": _write(d / "big.png", png_header(12000, 12000)),
        "png-8000x8000": _write(d / "large.png", png_header(8000, 8000)),
        "bmp-50000x50000": _write(d / "huge.bmp", bmp_header(50000, 50000)),
        "gzip-idx-bomb": gzip_bomb(d / "bomb-idx3-ubyte.gz", 600),
        "idx-dims-wrap-to-0": _write(d / "wrap.idx", idx_wrap),
        "npy-claims-10^12-images": npy_claiming((10**12, 28, 28), d / "claims.npy"),
        "npz-renamed-npy": d / "renamed.npy",
        "npy-of-objects": d / "objects.npy",
        "npy-nan": d / "nan.npy",
        "npy-wrong-width": d / "wrong-width.npy",
        "npy-int32-minus-5": d / "minus5.npy",
        "idx-int32-minus-5": d / "minus5-idx3-ubyte",
        "csv-header-only": csv_of(d / "header.csv", []),
        "csv-non-utf8": _write(d / "latin.csv", b"label,pixel\xe9\n1,2\n"),
        "csv-minus-5": csv_of(d / "m5.csv", [[-5, *row[1:]]]),
        "csv-300": csv_of(d / "300.csv", [[300, *row[1:]]]),
        "csv-1e400": csv_of(d / "1e400.csv", [["1e400", *row[1:]]]),
        "csv-inf": csv_of(d / "inf.csv", [["inf", *row[1:]]]),
        "csv-ragged": _write(d / "ragged.csv", b"1,2,3\n1,2\n"),
        "text-named-png": _write(d / "notes.png", b"this is text, not a PNG"),
        "pickle-named-npy": _write(d / "pickle.npy", b"\x80\x04\x95\x10" + bytes(30)),
        "empty-file": _write(d / "empty.csv", b""),
        "folder-as-input": _mkdir(d / "folder.npy"),
        "missing-file": d / "missing.png",
        "truncated-png": _write(d / "trunc.png", png_header(28, 28)[:40]),
        "dev-zero": Path("/dev/zero"),
        "symlink-to-a-fifo": _symlink(d / "link.npy", fifo),
        "csv-with-nul-bytes": _write(d / "nul.csv", b"1,2,3,4\n\x00\x00,1,2,3\n"),
        "all-black-png": _flat_png(d / "black.png", 0),
        "all-white-png": _flat_png(d / "white.png", 255),
        "python-script": _write(d / "script.py", b"import os\nprint(1, 2, 3)\n"),
        "text-notes": _write(d / "notes.txt", b"shopping list\nmilk\n"),
        "empty-png": _write(d / "empty.png", b""),
    }
    return {name: ["predict", model, path] for name, path in cases.items()}


def config_cases(d: Path) -> dict[str, list]:
    """Hostile configurations and command lines (refused before any data is read or any folder written)."""
    out = d / "never"
    nested = d / "nested.toml"
    nested.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    fifo = d / "fifo.toml"
    os.mkfifo(fifo)
    model = write_model(d, "good.safetensors")
    image = d / "x.npy"
    np.save(image, np.zeros((1, 28, 28), dtype=np.uint8))
    afile = _write(d / "afile.txt", b"x")
    sets = {
        "data-dir-5": "data.data_dir=5", "dropout-x": "model.dropout=x", "early-stopping-x": 'train.early_stopping="x"',
        "activation-table": "model.activation={a=1}", "layers-10^9": "model.layers=[784,1000000000,10]",
        "name-escapes-runs": 'name="../../../x"', "name-control-char": 'name="a\\u001bb"',
        "epochs-10^12": "train.epochs=1000000000000", "hints-string": 'hints="abc"',
        "use-bias-no": 'model.use_bias="no"',
        "optimizer-lrr": "optimizer.lrr=0.1", "nesterov-yes": "optimizer.nesterov=yes", "seed-in-set": "train.seed=-1",
        "batch-half": 'train.batch_size="half"', "scale-bad": 'data.scale="log"', "unknown-section": "trainer.epochs=1",
        "lr-nan": "optimizer.lr=nan", "lr-table": "optimizer.lr={a=1}", "schedule-typo": 'schedule.name="cosin"',
    }
    cases = {name: ["train", "--set", value, "--out", out] for name, value in sets.items()}
    return cases | {
        "seed-minus-1": ["train", "--seed", "-1", "--out", out],
        "subset-0": ["train", "--subset", "0", "--out", out],
        "epochs-0": ["train", "--epochs", "0", "--out", out],
        "config-non-utf8": ["train", "--config", _write(d / "latin.toml", b'name = "caf\xe9"\n'), "--out", out],
        "config-deeply-nested": ["train", "--config", nested, "--out", out],
        "config-fifo": ["train", "--config", fifo, "--out", out],
        "config-dev-zero": ["train", "--config", "/dev/zero", "--out", out],
        "config-folder": ["train", "--config", _mkdir(d / "conf.toml"), "--out", out],
        "config-2mb": ["train", "--config", _write(d / "big.toml", b"#" * (2 << 20)), "--out", out],
        "config-empty-layers": ["train", "--config", _write(d / "l.toml", b"[model]\nlayers = []\n"), "--out", out],
        "out-under-a-file": ["train", "--out", afile / "sub"],
        "plot-root": ["evaluate", model, "--plot", "/"],
        "output-root": ["predict", model, image, "--output", "/"],
        "output-folder": ["predict", model, image, "--output", d],
        "show-count-10^6": ["data", "show", "--count", "1000000", "--out", d / "show.png"],
        "top-0": ["predict", model, image, "--top", "0"],
        "top-minus-5": ["predict", model, image, "--top", "-5"],
        "sweep-timeout-minus-5": ["sweep", "--param", "optimizer.lr=0.1,0.2", "--timeout", "-5", "--out", d / "sw"],
        "evaluate-data-dir-dev-null": ["evaluate", model, "--data-dir", "/dev/null", "--plot", d / "never.png"],
        "resume-not-a-run": ["train", "--resume", d],
    }


def resume_cases(d: Path) -> dict[str, list]:
    """Damaged run folders given to --resume: refused before any data is read."""
    from barenet.runs import config as cfg
    from barenet.runs.folder import fingerprint
    from barenet.training.trainer import Trainer

    config = cfg.resolve(overrides={"model.layers": [784, 16, 10], "train.epochs": 3, "data.subset": 500})
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (64, 784), dtype=np.uint8), rng.integers(0, 10, 64)

    def folder(name, progress_change=None, config_text=None, tensors_change=None, optimizer=True):
        run = _mkdir(d / name)
        model = cfg.build_model(config)
        trainer = Trainer(model, batch_size=16)
        trainer.fit(x, y, epochs=1)
        progress = {**trainer.progress(), "config_sha256": fingerprint(config)}
        if progress_change:
            progress_change(progress)
        model.save(run / "checkpoint.safetensors", include_optimizer=optimizer, extra=progress)
        if tensors_change:
            from safetensors import safe_open
            from safetensors.numpy import load_file, save_file

            with safe_open(str(run / "checkpoint.safetensors"), framework="numpy") as handle:
                meta = handle.metadata()
            meta.pop("barenet_tensors_sha256", None)  # hand-made: it must meet the check under test, not the digest
            tensors = load_file(run / "checkpoint.safetensors")
            tensors_change(tensors)
            save_file(tensors, run / "checkpoint.safetensors", metadata=meta)
        (run / "config.toml").write_text(cfg.to_toml(config) if config_text is None else config_text)
        return ["train", "--resume", run]

    def velocity(tensors):
        key = next(k for k in tensors if k.startswith("optimizer."))
        tensors[key] = np.zeros(5, dtype=np.float32)

    other = cfg.to_toml(cfg.resolve(overrides={"model.layers": [784, 32, 10], "train.epochs": 3}))
    edited = cfg.to_toml(config).replace("lr = 0.1", "lr = 0.2")
    directory = _mkdir(d / "dir-checkpoint")
    _mkdir(directory / "checkpoint.safetensors")
    (directory / "config.toml").write_text(cfg.to_toml(config))
    return {
        "missing-rng": folder("rng", lambda p: p.pop("rng")),
        "missing-history": folder("hist", lambda p: p.pop("history")),
        "epoch-string": folder("estr", lambda p: p.update(epoch="2")),
        "epoch-minus-1": folder("eneg", lambda p: p.update(epoch=-1)),
        "epoch-ahead-of-history": folder("eahead", lambda p: p.update(epoch=2)),
        "rng-garbage": folder("rngg", lambda p: p.update(rng={"bit_generator": "PCG64", "state": 5})),
        "history-not-numbers": folder("hnn", lambda p: p.update(history={"loss": ["a"]})),
        "early-stopping-state-garbage": folder("es", lambda p: p.update(callbacks={"EarlyStopping": {"best": "x"}})),
        "callback-state-a-number": folder("cb", lambda p: p.update(callbacks={"EarlyStopping": 5})),
        "velocity-wrong-size": folder("vel", tensors_change=velocity),
        "no-optimizer-state": folder("noopt", optimizer=False),
        "checkpoint-is-a-folder": ["train", "--resume", directory],
        "empty-config": folder("empty", config_text=""),
        "config-of-another-architecture": folder("arch", config_text=other),
        "config-edited": folder("edited", config_text=edited),
        "config-invalid": folder("invalid", config_text="[model\n"),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _flat_png(path: Path, level: int) -> Path:
    from PIL import Image

    Image.fromarray(np.full((28, 28), level, dtype=np.uint8)).save(path)
    return path


def _symlink(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


BUILDERS = {"model files": model_cases, "data and images": data_cases, "config and command line": config_cases,
            "run folders on --resume": resume_cases}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[tuple[str, str], Outcome]:
    """Every case of the corpus, run in parallel (each child alone under its limits)."""
    cases = {}
    for category, builder in BUILDERS.items():
        folder = tmp_path_factory.mktemp(category.split()[0])
        for name, args in builder(folder).items():
            cases[(category, name)] = (args, folder)
    with ThreadPoolExecutor(max_workers=max(2, min(8, (os.cpu_count() or 2)))) as pool:
        futures = {key: pool.submit(run_limited, args, cwd=folder) for key, (args, folder) in cases.items()}
        results = {key: future.result() for key, future in futures.items()}
    report = os.environ.get("BARENET_HOSTILE_REPORT")
    if report:
        Path(report).write_text(json.dumps({f"{c}/{n}": {**vars(o), "args": list(map(str, cases[(c, n)][0]))}
                                            for (c, n), o in results.items()}, indent=1))
    return results


@pytest.mark.parametrize("category", list(BUILDERS))
def test_every_hostile_input_is_one_line_and_exit_2(outcomes, category):
    """Each case: exit 2, one printable stderr line starting 'barenet: error:', no traceback, in time."""
    failures = []
    for (kind, name), outcome in outcomes.items():
        lines = outcome.stderr.strip().splitlines()
        clean = (outcome.returncode == 2 and len(lines) == 1 and lines[0].startswith("barenet: error: ")
                 and lines[0].isprintable() and outcome.seconds < TIME_LIMIT)
        if kind == category and not clean:
            failures.append(f"{name}: exit {outcome.returncode}, {outcome.seconds:.1f}s: {outcome.stderr[-600:]!r}")
    assert not failures, "\n".join(failures)


def test_nothing_was_written_by_a_refused_train(outcomes, tmp_path_factory):
    refused = [o for (c, _), o in outcomes.items() if c == "config and command line"]
    assert refused
    for folder in Path(tmp_path_factory.getbasetemp()).glob("config*"):
        assert not (folder / "never").exists()


def test_a_checkpoint_without_optimizer_state_is_refused_not_resumed_on_a_fresh_optimizer(outcomes):
    outcome = outcomes[("run folders on --resume", "no-optimizer-state")]
    assert outcome.returncode == 2 and "no optimizer state" in outcome.stderr, outcome.stderr


def test_class_names_with_escapes_are_printed_escaped(tmp_path):
    path = write_model(tmp_path, "ansi.safetensors", lambda doc: doc["extra"].update(
        classes=["\x1b[31mred\x1b[0m", "line\nbreak", *map(str, range(8))]))
    image = tmp_path / "x.npy"
    np.save(image, np.full((1, 28, 28), 0, dtype=np.uint8))
    outcome = run_limited(["predict", path, image], cwd=tmp_path)
    assert outcome.returncode == 0, outcome.stderr
    assert "\x1b" not in outcome.stdout and len(outcome.stdout.strip().splitlines()) == 2


def test_an_image_named_idx_is_read_as_an_image(tmp_path):
    from PIL import Image

    canvas = np.zeros((28, 28), dtype=np.uint8)
    canvas[6:22, 12:16] = 255
    Image.fromarray(canvas).save(tmp_path / "my-idx-digit.png")
    model = write_model(tmp_path, "good.safetensors")
    outcome = run_limited(["predict", model, tmp_path / "my-idx-digit.png"], cwd=tmp_path)
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout.startswith(str(tmp_path / "my-idx-digit.png"))


def test_a_16_bit_png_is_seen_like_its_8_bit_twin(tmp_path):
    from PIL import Image

    from barenet.data.images import load_grayscale, to_mnist

    canvas = np.zeros((56, 56), dtype=np.uint16)
    canvas[10:46, 24:32] = 65535
    canvas[10:16, 12:32] = 65535
    Image.fromarray(canvas).save(tmp_path / "seven16.png")
    Image.fromarray((canvas // 257).astype(np.uint8)).save(tmp_path / "seven8.png")
    assert Image.open(tmp_path / "seven16.png").mode.startswith("I")
    wide, narrow = (to_mnist(load_grayscale(tmp_path / f"seven{b}.png")) for b in (16, 8))
    np.testing.assert_allclose(wide.astype(int), narrow.astype(int), atol=1)
    assert 0 < (wide > 0).mean() < 0.5  # a stroke, not a solid square


def test_a_csv_with_a_blank_first_line_is_read(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n" + ",".join(["0"] * 784) + "\n")
    outcome = run_limited(["predict", write_model(tmp_path, "good.safetensors"), path], cwd=tmp_path)
    assert outcome.returncode == 0, outcome.stderr
    assert len(outcome.stdout.strip().splitlines()) == 2  # the CSV header and one prediction


def test_a_run_folder_held_by_another_process_is_refused_naming_it(tmp_path):
    from barenet.runs import config as cfg
    from barenet.runs.folder import RunLock

    run = _mkdir(tmp_path / "held")
    (run / "config.toml").write_text(cfg.to_toml(cfg.resolve()))
    with RunLock(run):
        outcome = run_limited(["train", "--resume", run], cwd=tmp_path)
        forced = run_limited(["train", "--out", run, "--force"], cwd=tmp_path)
        unforced = run_limited(["train", "--out", run], cwd=tmp_path)  # not told to add --force: it is in use
    for result in (outcome, forced, unforced):
        assert result.returncode == 2 and f"pid {os.getpid()}" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "--force" not in result.stderr


def test_a_run_that_loses_the_race_for_its_folder_is_told_it_is_in_use(tmp_path):
    """Both runs passed the early check; the loser meets the winner's folder when it creates its own."""
    from barenet.errors import ConfigError
    from barenet.runs import config as cfg
    from barenet.runs.folder import RunLock
    from barenet.runs.run import new_run_dir

    run = _mkdir(tmp_path / "raced")
    (run / "config.toml").write_text("written by the winner")
    with RunLock(run), pytest.raises(ConfigError, match=f"in use by another barenet process \\(pid {os.getpid()}\\)"):
        new_run_dir(cfg.resolve(), run, force=False)


def test_stale_part_files_are_removed_on_resume(tmp_path):
    from barenet.runs.folder import RunLock, remove_stale_parts

    run = _mkdir(tmp_path / "run")
    (run / ".checkpoint.safetensors.123.abcd1234.part").write_bytes(bytes(100))
    (run / "keep.txt").write_text("x")
    with RunLock(run):
        assert remove_stale_parts(run) == 1
    assert sorted(p.name for p in run.iterdir()) == [".lock", "keep.txt"]


def test_stale_part_removal_spares_files_that_are_not_barenets(tmp_path):
    """Only `.NAME.PID.HEX.part` (what atomic_write names its temp files) is barenet's to delete."""
    from barenet.runs.folder import RunLock, remove_stale_parts

    run = _mkdir(tmp_path / "run")
    ours = run / ".model.safetensors.4242.0badc0de.part"
    ours.write_bytes(b"half")
    users = [".user_download.part", ".movie.mkv.part", ".x.12.part", ".x.12.abcdefgh.part", ".a.1.ABCDEF12.part"]
    for name in users:
        (run / name).write_bytes(b"mine")
    with RunLock(run):
        assert remove_stale_parts(run) == 1
    assert not ours.exists()
    assert sorted(p.name for p in run.iterdir() if p.name != ".lock") == sorted(users)


def test_write_errors_are_one_line_naming_the_path(tmp_path):
    """A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes writes fail as a full disk does."""
    def small_files():
        _limits()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    model = write_model(tmp_path, "good.safetensors")
    batch = tmp_path / "batch.npy"
    np.save(batch, np.zeros((100, 28, 28), dtype=np.uint8))
    outcome = run_limited(["predict", model, batch, "--output", tmp_path / "out.csv"], cwd=tmp_path,
                          preexec=small_files)
    assert outcome.returncode == 2 and len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr
    assert "cannot write" in outcome.stderr and "out.csv" in outcome.stderr
    assert not list(tmp_path.glob(".out.csv*"))  # no half-written temp file left


def test_disk_full_from_safetensors_is_mapped_to_one_line(tmp_path, monkeypatch):
    import safetensors.numpy

    from barenet.errors import WriteError
    from barenet.io.safetensors import write_safetensors

    def full(*args, **kwargs):
        raise safetensors.SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                                          "message: \"No space left on device\" }) os error 28")

    monkeypatch.setattr(safetensors.numpy, "save_file", full)
    with pytest.raises(WriteError, match="No space left on device"):
        write_safetensors(tmp_path / "m.safetensors", {"a": np.zeros(3)}, {})
    assert list(tmp_path.iterdir()) == []


# ----- one model-file check for every command that reads a model ----------------------------------------------------
def _set_extra(key, value):
    return lambda doc: doc["extra"].update({key: value})


BAD_MODEL_FILES = {  # model files predict and evaluate refused but export took (issue 25)
    "std-0": _set_extra("input", {"scale": "standardize", "mean": 0.1, "std": 0}),
    "classes-an-int": _set_extra("classes", 5),
    "classes-empty": _set_extra("classes", []),
    "classes-short": _set_extra("classes", ["a", "b"]),
    "unknown-loss": lambda doc: doc["compile"].update(loss="hinge_of_doom"),
    "unknown-input-scale": _set_extra("input", {"scale": "log"}),
    "input-a-number": _set_extra("input", 5),
    "input-without-mean": _set_extra("input", {"scale": "standardize"}),
    "input-mean-a-string": _set_extra("input", {"scale": "standardize", "mean": "x", "std": 0.3}),
}
MODEL_READERS = {
    "predict": lambda model, d: ["predict", model, d / "x.npy"],
    "evaluate": lambda model, d: ["evaluate", model, "--plot", d / "confusion.png"],
    "ensemble": lambda model, d: ["ensemble", model, model],
    "serve": lambda model, d: ["serve", model, "--port", "-1"],  # a bad port is only looked at after the model
    "export-onnx": lambda model, d: ["export", model, "--to", "onnx", d / "out.onnx"],
    "export-torch": lambda model, d: ["export", model, "--to", "torch", d / "out.safetensors"],
}


@pytest.fixture(scope="module")
def bad_model_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-models")
    np.save(folder / "x.npy", np.zeros((1, 28, 28), dtype=np.uint8))
    return {name: write_model(folder, f"{name}.safetensors", change) for name, change in BAD_MODEL_FILES.items()}


@pytest.mark.parametrize("command", list(MODEL_READERS))
def test_every_command_reading_a_model_refuses_what_the_others_refuse(bad_model_files, command, tmp_path, capsys):
    """One check serves predict, evaluate, ensemble, serve and export: one line naming the file, exit 2, no file."""
    from barenet.cli import main

    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28), dtype=np.uint8))
    for name, model in bad_model_files.items():
        code = main([str(arg) for arg in MODEL_READERS[command](model, tmp_path)])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and model.name in lines[0], (name, code, lines)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"], (name, list(tmp_path.iterdir()))


def test_what_predict_says_about_flat_images_scripts_and_empty_files(outcomes):
    """Black and white alike; a script or notes told which formats predict reads; an empty file called empty."""
    said = {name: o.stderr.strip() for (c, name), o in outcomes.items() if c == "data and images"}
    assert said["all-black-png"].replace("black", "white") == said["all-white-png"]
    assert "no visible digit" in said["all-black-png"]
    for name in ("python-script", "text-notes", "empty-png"):
        assert "predict reads images (PNG, JPEG" in said[name] and ".npy, IDX, or a CSV" in said[name], said[name]
    assert "is empty (0 bytes)" in said["empty-png"] and "bytes are text" not in said["empty-png"]


def test_what_the_command_line_says_about_top_timeout_and_data_dir(outcomes):
    said = {name: o.stderr.strip() for (c, name), o in outcomes.items() if c == "config and command line"}
    assert "argument --top: must be a whole number of at least 1, got 0" in said["top-0"]
    assert "argument --top: must be a whole number of at least 1, got -5" in said["top-minus-5"]
    assert "argument --timeout: must be a number of seconds above 0, got -5" in said["sweep-timeout-minus-5"]
    assert "/dev/null is not a folder" in said["evaluate-data-dir-dev-null"]
