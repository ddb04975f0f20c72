"""Every kernel set implements `kernels.KernelSet`: the same names, the same parameters, the same constants.

Checked on the CPU for all three sets: the NumPy reference, the fused numba loops and the CUDA set
(its class and its generated CUDA C++, without CuPy or a GPU), so a kernel added to one set and not
to another, a renamed parameter, or an activation code typed into C fails here, not on a lent GPU.
"""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess

import pytest

from barenet import kernels
from barenet.backend.cuda import kernels as cuda_kernels
from barenet.kernels import activations

PROTOCOL = {name: member for name, member in vars(kernels.KernelSet).items()
            if inspect.isfunction(member) and not name.startswith("_")}


def parameters(function) -> list[str]:
    """The parameter names of a kernel (a numba dispatcher's Python function; a method without `self`)."""
    names = list(inspect.signature(getattr(function, "py_func", function)).parameters)
    return names[1:] if names and names[0] == "self" else names


SETS = {"numpy": lambda: kernels.reference(), "fused": lambda: kernels.fused(),
        "cuda": lambda: cuda_kernels.CudaKernels}


def test_the_protocol_names_every_kernel_of_the_concept_modules():
    assert sorted(PROTOCOL) == sorted(kernels.names())


@pytest.mark.parametrize("set_name", SETS)
def test_each_set_has_every_kernel_with_the_protocols_parameters(set_name):
    kernel_set = SETS[set_name]()
    for name, declared in PROTOCOL.items():
        assert hasattr(kernel_set, name), f"the {set_name} set has no kernel {name!r}"
        assert parameters(getattr(kernel_set, name)) == parameters(declared), (set_name, name)
    assert kernel_set.name == set_name


def test_every_cuda_source_belongs_to_a_kernel_of_the_protocol():
    sources = cuda_kernels.sources()
    launched = {"sgd_plain"}  # the momentum-free SGD is a second CUDA kernel behind `sgd`
    assert set(sources) == set(PROTOCOL) | launched
    for name, (inputs, outputs, body) in sources.items():
        assert inputs and outputs and body.strip(), name


def test_the_cuda_switches_are_generated_from_the_activation_codes():
    """No activation code is typed into C: the switch cases come from `activations.CODES`."""
    inputs, outputs, forward = cuda_kernels.sources()["bias_act"]
    derivative = cuda_kernels.sources()["act_backward"][2]
    codes = set(activations.CODES.values())
    assert {int(c) for c in re.findall(r"case (\d+):", forward)} == codes - {activations.IDENTITY}
    assert {int(c) for c in re.findall(r"case (\d+):", derivative)} == codes
    assert set(activations.CUDA_ACTIVATION) == codes - {activations.IDENTITY}
    assert set(activations.CUDA_DERIVATIVE) == codes
    assert cuda_kernels.CudaKernels.codes is activations.CODES


def test_the_cuda_switch_follows_a_changed_code(monkeypatch):
    """Renumbering an activation renumbers its CUDA case: the C is written from the table, not by hand."""
    table = {**activations.CUDA_ACTIVATION}
    relu_body = table.pop(activations.RELU)
    switch = activations.cuda_switch({**table, 42: relu_body})
    assert "case 42: " + relu_body in switch and f"case {activations.RELU}:" not in switch


# ----- the CUDA C++ compiles (nvcc, where installed; no GPU needed) -----------------------------
C_TYPES = {"int32": "int", "int64": "long long", "uint64": "unsigned long long", "float32": "float",
           "float64": "double", "bool": "bool",
           "X": "unsigned char", "I": "long long"}  # CuPy's type names, and the placeholders of integer arrays
HARNESS = """
#include <cstddef>
template <typename V> struct Raw {  /* CuPy's CArray, as far as these kernels use it: flat indexing */
    V *data;
    __device__ V &operator[](ptrdiff_t index) const { return data[index]; }
};
"""


def cuda_declarations(parameters: str, types: dict, output: bool) -> tuple[list[str], list[str]]:
    """Kernel parameters and per-element bindings for CuPy's notation ("raw T b, int32 act, T y"), as
    CuPy's ElementwiseKernel expands it: raw arrays indexed by hand, the others bound to element i."""
    arguments, bindings = [], []
    for declaration in filter(None, (p.strip() for p in parameters.split(","))):
        words = declaration.split()
        kind, name = words[-2], words[-1]
        c_type = types.get(kind, kind)
        if words[0] == "raw":
            arguments.append(f"Raw<{c_type}> {name}")
        elif output:
            arguments.append(f"{c_type} *_raw_{name}")
            bindings.append(f"{c_type} &{name} = _raw_{name}[i];")
        else:
            arguments.append(f"const {c_type} *_raw_{name}")
            bindings.append(f"const {c_type} {name} = _raw_{name}[i];")
    return arguments, bindings


def cuda_translation_unit(real: str) -> str:
    """Every CUDA kernel of barenet as a __global__ function, with the placeholders T and U the type `real`."""
    types = {**C_TYPES, "T": real, "U": real}
    functions = [HARNESS]
    for name, (inputs, outputs, body) in cuda_kernels.sources().items():
        in_args, in_bind = cuda_declarations(inputs, types, output=False)
        out_args, out_bind = cuda_declarations(outputs, types, output=True)
        functions.append(f"__global__ void barenet_{name}({', '.join([*in_args, *out_args, 'ptrdiff_t n'])}) {{\n"
                         f"  const ptrdiff_t i = blockIdx.x * (ptrdiff_t)blockDim.x + threadIdx.x;\n"
                         f"  if (i >= n) return;\n  {' '.join(in_bind + out_bind)}\n  typedef {real} T;\n{body}\n}}\n")
    return "\n".join(functions)


@pytest.mark.parametrize("real", ["float", "double"])
def test_the_cuda_sources_compile(real, tmp_path):
    """Each kernel body, expanded roughly as CuPy expands it, compiles with nvcc for float and double."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed: the CUDA sources are compiled only where CUDA's compiler is")
    source = tmp_path / "barenet_kernels.cu"
    source.write_text(cuda_translation_unit(real))
    done = subprocess.run([nvcc, "-c", "-o", str(tmp_path / "kernels.o"), str(source)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
