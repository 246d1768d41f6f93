"""Ladder benchmark: every rung of a kernel family's optimisation ladders, Triton and CUDA C, against PyTorch.

``kernelgrad bench --ladder conv2d`` (or ``python -m benchmarks.ladder --family conv2d``) takes the rungs of
``kernels/triton/ladder/conv2d/`` and ``kernels/cupy/ladder/conv2d/`` in the order of each package's
``RUNGS`` (bottom to top; the top rung is the production kernel) and, for every rung x shape x batch x dtype
x pass (forward, backward_input, backward_weight), reports what follows. ``--ladder maxpool2d`` does the same for
the max-pool ladders (:data:`MAXPOOL2D_SUITE`: passes forward and backward, FLOPs 0 -- a memory-bound roofline,
bytes / copy bandwidth -- and PyTorch's ``max_pool2d(return_indices=True)`` and its backward as the reference in
place of cuDNN; CuPy in float32 and float16, its max-pool kernels take no bfloat16). ``--ladder linear_relu`` times
forward and backward (2*M*N*K / 4*M*N*K FLOPs) against ``torch.addmm`` + ReLU on cuBLAS (:data:`LINEAR_RELU_SUITE`).
What is family-specific lives in a :class:`Suite` (:data:`SUITES`).

- **counts** -- FLOPs (2*N*K*C*R*S*P*Q, the same for all three passes) and compulsory bytes (each input
  of the pass read once, its output written once: :func:`conv2d_pass_counts`, the per-pass split of
  :func:`benchmarks.kernels.conv2d_counts`) and the arithmetic intensity FLOP/byte;
- **the rung's prediction** -- the paragraph of its module docstring that starts with "Prediction";
- **static facts** from the committed ahead-of-time compile reports (``benchmarks/results/aot-triton.json``,
  ``aot-cuda.json``) for sm_90 and sm_80: registers (min/max over the pass's kernels and autotune configs),
  spill bytes (max), shared memory, tensor-core instructions. A Triton rung's kernels are the ``@triton.jit`` /
  ``@triton.autotune`` functions defined in the module that defines the rung's launcher for the pass
  (found by following the rung module's imports); a report row matches when its kernel name is one of
  those and its module (rows without a ``module`` field come from ``kernels.triton.<family>``) is that
  module, so a lower rung whose kernels share the production kernels' names is not credited with their
  facts. A CuPy rung matches the report's modules by the ``.cu`` source its ``SourceModule`` names. A rung
  absent from a report says "not in the AOT report".

All of that is read from source text (``ast``): the dry run imports no kernel package, which on a machine
without a GPU would need Triton's interpreter or the CUDA emulator, and compiles nothing.

On a GPU (``torch.cuda.is_available()``) it also measures: the ceilings (copy bandwidth, matmul TFLOP/s per
precision: :func:`benchmarks.kernels.measure_ceilings`), each rung's median time per pass
(:func:`benchmarks.kernels.time_ms`: CUDA events, warm-up, inputs rotated among copies that exceed the L2;
the first call -- compile and autotune -- is recorded apart as ``cold_ms``), TFLOP/s, the percentage of the
roofline floor (:func:`benchmarks.kernels.roofline`) and the ratio PyTorch ms / ours ms (> 1: the rung is
faster) against PyTorch eager in the same dtype and precision mode (float32 is ``ieee``: cuDNN's TF32 is
switched off to match), once with ``torch.backends.cudnn.benchmark`` off and once on -- the rows' ``torch`` and
``ratio_vs_torch`` fields (PyTorch runs cuDNN for conv2d, cuBLAS for linear_relu, its own kernels for the
memory-bound families: the result's ``torch`` entry says which). It prints a table,
writes ``<results>/ladder-<family>-<gpu>-<date>.json`` atomically and a plot beside it (``.png``: one line
per shape, rungs on the x axis, time on a log axis, PyTorch and the roofline floor as reference points).
**The GPU path has not run yet: no GPU was available when it was written.**

Without a GPU it times nothing: it prints and writes (device ``"cpu (dry run: predictions and static facts
only, not a benchmark)"``) the counts, predictions and static facts, says that times wait for a GPU, and
exits 0.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import functools
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks._io import write_text
from benchmarks.kernels import (
    RESULTS,
    conv2d_case,
    conv2d_counts,
    conv_out,
    copies_for,
    environment,
    gpu_clocks,
    jit_cache_state,
    load_backends,
    measure_ceilings,
    precision_mode,
    results_dir,
    roofline,
    slug,
    sm_clock_mhz,
    time_ms,
)

LADDER_BACKENDS = ("triton", "cupy")
PASSES = ("forward", "backward_input", "backward_weight")
#: CuPy has no bfloat16 dtype; its rungs take bfloat16 as ``kernels.cupy._runtime.BFloat16Array``, which
#: :func:`native_inputs` builds, but the CuPy bfloat16 rows are not switched on here yet.
DTYPES = {"triton": ("float32", "float16", "bfloat16"), "cupy": ("float32", "float16", "bfloat16")}
BATCHES = (32, 256)
QUICK_BATCHES = (32,)
ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2}
DRY_RUN_LABEL = "cpu (dry run: predictions and static facts only, not a benchmark)"
NOT_IN_AOT = "not in the AOT report"
AOT_REPORTS = {"triton": RESULTS / "aot-triton.json", "cupy": RESULTS / "aot-cuda.json"}
#: The .cu storage type of each dtype, as aot-cuda.json names it.
CUDA_STORAGE = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16"}
#: Decorators that make a Triton kernel (``@triton.jit``, ``@triton.autotune(...)``, ``@triton.heuristics(...)``).
TRITON_DECORATORS = {"jit", "autotune", "heuristics"}
# Each timed call repeats until about this much device time, between MIN_REPS and the reps cap.
TARGET_MS, QUICK_TARGET_MS = 300.0, 100.0
MIN_REPS = 5


# --------------------------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class ConvShape:
    """One conv2d layer of the suite: square ``x[N, C, H, H]``, ``w[K, C, R, R]``, stride and padding."""

    name: str
    C: int
    H: int
    K: int
    R: int
    stride: int
    pad: int

    @property
    def P(self) -> int:
        return conv_out(self.H, self.R, self.stride, self.pad)

    def tensors(self, N: int) -> dict[str, list[int]]:
        return {"x": [N, self.C, self.H, self.H], "w": [self.K, self.C, self.R, self.R],
                "y": [N, self.K, self.P, self.P]}


CONV2D_SHAPES = (
    ConvShape("64->64 3x3 p1 @56", 64, 56, 64, 3, 1, 1),
    ConvShape("128->128 3x3 p1 @28", 128, 28, 128, 3, 1, 1),
    ConvShape("256->256 3x3 p1 @14", 256, 14, 256, 3, 1, 1),
    ConvShape("512->512 3x3 p1 @7", 512, 7, 512, 3, 1, 1),
    ConvShape("64->128 3x3 s2 p1 @56", 64, 56, 128, 3, 2, 1),
    ConvShape("256->64 1x1 @56", 256, 56, 64, 1, 1, 0),
    ConvShape("3->64 7x7 s2 p3 @224", 3, 224, 64, 7, 2, 3),
    ConvShape("digits 1->32 3x3 p1 @8", 1, 8, 32, 3, 1, 1),
    ConvShape("digits 32->64 3x3 p1 @4", 32, 4, 64, 3, 1, 1),
)


def conv2d_pass_counts(N, C, H, W, K, R, S, stride, pad, itemsize) -> dict[str, tuple[int, int]]:
    """``{pass: (flops, bytes)}`` for forward, backward_input and backward_weight of conv2d with bias.

    The per-pass split of :func:`benchmarks.kernels.conv2d_counts`: each pass is one GEMM of 2*N*K*C*R*S*P*Q
    FLOPs; bytes count the pass's inputs read once and its output written once (forward: x, w, b -> y;
    backward_input: dy, w -> dx; backward_weight: dy, x -> dw). Forward equals ``conv2d_counts``'s ``"fwd"``;
    the three passes plus backward_bias (dy -> db) add up to its ``"fwd+bwd"``.
    """
    flops, nbytes = conv2d_counts(N, C, H, W, K, R, S, stride, pad, itemsize)
    P, Q = conv_out(H, R, stride, pad), conv_out(W, S, stride, pad)
    x, w, y = N * C * H * W, K * C * R * S, N * K * P * Q
    gemm = flops["fwd"]
    return {"forward": (gemm, nbytes["fwd"]), "backward_input": (gemm, (y + w + x) * itemsize),
            "backward_weight": (gemm, (y + x + w) * itemsize)}


#: forward / backward: the contract's max-pool; relu_forward / relu_backward: a ReLU and the pool after it (the fused
#: relu_maxpool2d_* on the rungs that have them -- the top rungs -- and PyTorch's relu then max_pool2d as reference).
MAXPOOL2D_PASSES = ("forward", "backward", "relu_forward", "relu_backward")
#: The CuPy max-pool kernels take float16 / float32 / float64 (no BFloat16Array path), the Triton ones bfloat16 too.
MAXPOOL2D_DTYPES = {"triton": ("float32", "float16", "bfloat16"), "cupy": ("float32", "float16")}


@dataclass(frozen=True)
class PoolShape:
    """One max-pool layer of the suite: square ``x[N, C, H, H]``, an R x R window, stride and padding."""

    name: str
    C: int
    H: int
    R: int
    stride: int
    pad: int

    @property
    def P(self) -> int:
        return conv_out(self.H, self.R, self.stride, self.pad)

    def tensors(self, N: int) -> dict[str, list[int]]:
        return {"x": [N, self.C, self.H, self.H], "y": [N, self.C, self.P, self.P]}


MAXPOOL2D_SHAPES = (
    PoolShape("stem 3x3 s2 p1 @112", 64, 112, 3, 2, 1),  # ResNet's stem pool
    PoolShape("2x2 s2 @224", 64, 224, 2, 2, 0),  # VGG's pools
    PoolShape("2x2 s2 @56", 256, 56, 2, 2, 0),
    PoolShape("2x2 s2 @14", 512, 14, 2, 2, 0),
    PoolShape("3x3 s1 p1 @28", 256, 28, 3, 1, 1),  # overlapping windows (Inception's branch pool)
    PoolShape("digits 2x2 s2 @8", 32, 8, 2, 2, 0),
)


def maxpool2d_pass_counts(N, C, H, W, R, S, stride, pad, itemsize) -> dict[str, tuple[int, int]]:
    """``{pass: (flops, bytes)}`` for max-pool's forward (x -> y, argmax) and backward (dy, argmax -> dx): 0 FLOPs,
    compulsory bytes (each input read once, each output written once; argmax in ``argmax_dtype(R*S)``, 1 byte for
    the suite's windows) -- the per-pass split of :func:`benchmarks.kernels.maxpool2d_counts`."""
    P, Q = conv_out(H, R, stride, pad), conv_out(W, S, stride, pad)
    x, y = N * C * H * W * itemsize, N * C * P * Q * itemsize
    am = N * C * P * Q * (1 if R * S <= 127 else 2 if R * S <= 32767 else 4)  # kernels/numpy/maxpool2d.argmax_dtype
    # the fused ReLU pair moves exactly the plain pool's bytes (the ReLU's own pass is what it removes)
    return {"forward": (0, x + y + am), "backward": (0, y + am + x), "relu_forward": (0, x + y + am),
            "relu_backward": (0, y + am + x)}


SOFTMAX_XENT_PASSES = ("loss", "loss_and_grad", "loss_and_grad_in_place")
#: CuPy's softmax-cross-entropy kernels take float16 / float32 / float64 (CuPy has no bfloat16), Triton's bfloat16 too.
SOFTMAX_XENT_DTYPES = {"triton": ("float32", "float16", "bfloat16"), "cupy": ("float32", "float16")}
#: The contract function each pass times, where it is not ``<family>_<pass>`` (every softmax pass is the forward:
#: ``need_grad=False`` for the loss alone, True for the loss and dlogits; the in-place pass writes dlogits over the
#: logits (``out=logits``) and runs the in-place backward for a gradient of 1, which writes nothing: the
#: framework's ``cross_entropy(consume_input=True)`` training step, forward and backward).
LAUNCHERS = {"softmax_xent": {"loss": "softmax_cross_entropy_forward",
                              "loss_and_grad": "softmax_cross_entropy_forward",
                              "loss_and_grad_in_place": "softmax_cross_entropy_forward"}}


def launcher_name(family: str, pass_: str) -> str:
    """The contract function that runs ``pass_`` of ``family`` (``conv2d_forward``,
    ``softmax_cross_entropy_forward``)."""
    return LAUNCHERS.get(family, {}).get(pass_, f"{family}_{pass_}")


@dataclass(frozen=True)
class XentShape:
    """One softmax-cross-entropy case: ``T`` rows (tokens) per sample over a vocabulary of ``V``; a batch of N samples
    is ``logits[N*T, V]``, ``target[N*T]``."""

    name: str
    T: int
    V: int

    def tensors(self, N: int) -> dict[str, list[int]]:
        return {"logits": [N * self.T, self.V], "target": [N * self.T]}


SOFTMAX_XENT_SHAPES = (
    XentShape("Llama-2 vocab 32000 x 256 tokens", 256, 32000),  # batch 32: the ladder's running example [8192, 32000]
    XentShape("GPT-2 vocab 50257 x 128 tokens", 128, 50257),
    XentShape("Llama-3 vocab 128256 x 32 tokens", 32, 128256),
    XentShape("Llama-3 vocab 128256 x 128 tokens", 128, 128256),  # batch 32: the issue's [4096, 128256]
    XentShape("Llama-3 vocab 128256 x 1 token (decoding)", 1, 128256),  # few rows: the split-row rung's case
    XentShape("byte-level vocab 256 x 256 tokens", 256, 256),
    XentShape("ImageNet 1000 classes", 1, 1000),
    XentShape("digits 10 classes", 1, 10),
)


def softmax_xent_pass_counts(M: int, V: int, itemsize: int) -> dict[str, tuple[int, int]]:
    """``{pass: (flops, bytes)}`` for the loss alone (``need_grad=False``), the loss with dlogits, and the loss with
    dlogits written over the logits (then the in-place backward for a gradient of 1, which moves nothing).

    Bytes: the logits read once (M*V), int64 targets (8*M) and the loss (one element), plus dlogits written once
    (M*V) with the gradient -- the compulsory traffic, the same in place. FLOPs are small and approximate (an exp
    counted as one): 4 per logit for the loss (max, subtract, exp, add), 3 more with the gradient (subtract, exp,
    multiply); the intensity stays under 2 FLOP/byte, so the roofline floor is bytes / copy bandwidth."""
    logits, rest = M * V * itemsize, 8 * M + itemsize
    grad = (7 * M * V, 2 * logits + rest)
    return {"loss": (4 * M * V, logits + rest), "loss_and_grad": grad, "loss_and_grad_in_place": grad}


#: forward / backward: the contract's dropout; add_forward: dropout fused with the residual add after it
#: (dropout_add_forward on the rungs that have it -- the top rungs -- and PyTorch's dropout then + as the reference).
DROPOUT_PASSES = ("forward", "backward", "add_forward")
#: CuPy's dropout kernels take float16 / float32 / float64 (CuPy has no bfloat16), Triton's bfloat16 too.
DROPOUT_DTYPES = {"triton": ("float32", "float16", "bfloat16"), "cupy": ("float32", "float16")}
#: Where a rung's static facts for dropout's backward come from: ``dropout_backward`` is ``dropout_forward``'s
#: kernel run on dy (the AOT report captures the forward launcher only).
LAUNCHERS["dropout"] = {"backward": "dropout_forward", "add_forward": "dropout_add_forward"}
LAUNCHERS["maxpool2d"] = {"relu_forward": "relu_maxpool2d_forward", "relu_backward": "relu_maxpool2d_backward"}
#: The drop probability every dropout case uses; the seed and an aligned offset (the fast path's, as the
#: framework's offsets always are) are fixed: neither changes the work.
DROPOUT_SEED, DROPOUT_OFFSET = 1234, 0


@dataclass(frozen=True)
class DropShape:
    """One dropout case: a sample of ``F`` elements (a batch of N is ``x[N, F]``) and the drop probability."""

    name: str
    F: int
    p: float

    def tensors(self, N: int) -> dict[str, list[int]]:
        return {"x": [N, self.F]}


DROPOUT_SHAPES = (
    DropShape("transformer 128 tokens x 1024 hidden p=0.1", 128 * 1024, 0.1),  # batch 256: 2^25 elements
    DropShape("attention probs 12 heads x 128 x 128 p=0.1", 12 * 128 * 128, 0.1),
    DropShape("CNN features 64 x 56 x 56 p=0.5", 64 * 56 * 56, 0.5),
    DropShape("odd width 1001 p=0.2", 1001, 0.2),  # numel % 4 != 0 at odd batches: the last group is partial
    DropShape("digits fc 128 p=0.5", 128, 0.5),  # launch-bound: what DigitsCNN runs
)


def dropout_pass_counts(numel: int, itemsize: int) -> dict[str, tuple[int, int]]:
    """``{pass: (flops, bytes)}``: 0 FLOPs (Philox is integer work: ~4 rounds-worth of multiplies per element at four
    outputs per call, not counted), x (dy) read once and y (dx) written once; no mask tensor in either pass. The
    fused residual add reads x and the residual and writes the sum."""
    return {"forward": (0, 2 * numel * itemsize), "backward": (0, 2 * numel * itemsize),
            "add_forward": (0, 3 * numel * itemsize)}


LINEAR_RELU_PASSES = ("forward", "backward")
#: CuPy's linear kernels take float16 / float32 / float64 (CuPy has no bfloat16), Triton's bfloat16 too.
LINEAR_RELU_DTYPES = {"triton": ("float32", "float16", "bfloat16"), "cupy": ("float32", "float16")}
LAUNCHERS["linear_relu"] = {"forward": "linear_forward", "backward": "linear_backward"}


@dataclass(frozen=True)
class LinearShape:
    """One fully connected layer of the suite: ``T`` rows per sample (tokens; 1 for an image classifier's layer), K
    input and N output features, ReLU or not; a batch of B samples is x[B*T, K], w[N, K], b[N] -> y[B*T, N]."""

    name: str
    T: int
    K: int
    N: int
    relu: bool = True

    def tensors(self, B: int) -> dict[str, list[int]]:
        return {"x": [B * self.T, self.K], "w": [self.N, self.K], "b": [self.N], "y": [B * self.T, self.N]}


LINEAR_RELU_SHAPES = (
    # batch 32: x[4096, 4096] @ w[4096, 4096].T, the target (>= 0.95x cuBLAS addmm + relu, >= 75% of the
    # measured bf16 GEMM ceiling)
    LinearShape("4096 -> 4096 x 128 tokens", 128, 4096, 4096),
    LinearShape("head 8192 -> 1024", 1, 8192, 1024),  # skinny: the forward splits K (8 ways at batch 32)
    LinearShape("narrow input 64 -> 4096 x 128 tokens", 128, 64, 4096),  # skinny: dx splits N, dw splits M
    LinearShape("256 -> 256 x 512 tokens", 512, 256, 256),  # dw (4 tiles) over 16384 rows: 16 splits
    LinearShape("digits fc 256 -> 128 + ReLU", 1, 256, 128),  # DigitsCNN's hidden layer
    LinearShape("digits classifier 128 -> 10", 1, 128, 10, relu=False),  # and its classifier
)


def linear_relu_pass_counts(M: int, K: int, N: int, relu: bool, itemsize: int) -> dict[str, tuple[int, int]]:
    """``{pass: (flops, bytes)}``: forward 2*M*N*K FLOPs, x, w, b read once and y written once; backward 4*M*N*K
    FLOPs (dx and dw), dy, x, w (and y for the ReLU mask) read once, dx, dw, db written once -- the compulsory
    traffic."""
    forward = (M * K + N * K + N + M * N) * itemsize
    backward = (M * N * (2 if relu else 1) + M * K + N * K + M * K + N * K + N) * itemsize
    return {"forward": (2 * M * N * K, forward), "backward": (4 * M * N * K, backward)}


# ------------------------------------------------------------------------------ reading the source


def kernels_root() -> Path:
    """The ``kernels`` package folder, found without importing it."""
    spec = importlib.util.find_spec("kernels")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kernels package is not importable (run from the repository root or install kernelgrad)")
    return Path(next(iter(spec.submodule_search_locations)))


def module_file(module: str) -> Path | None:
    """The source file of ``kernels.<...>`` (a module or a package's ``__init__.py``), or None."""
    parts = module.split(".")
    if parts[0] != "kernels":
        return None
    base = kernels_root().joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@functools.cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def ladder_families() -> list[str]:
    """Families with a ladder package under any backend (``kernels/<backend>/ladder/<family>/__init__.py``)."""
    root = kernels_root()
    return sorted({p.parent.name for b in LADDER_BACKENDS for p in root.glob(f"{b}/ladder/*/__init__.py")})


def read_rungs(backend: str, family: str) -> tuple[str, ...] | None:
    """The ``RUNGS`` tuple of ``kernels/<backend>/ladder/<family>/__init__.py``, read as text; None without one."""
    path = kernels_root() / backend / "ladder" / family / "__init__.py"
    if not path.is_file():
        return None
    rungs: tuple[str, ...] | None = None
    for node in _parse(path).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "RUNGS" for t in node.targets):
            rungs = tuple(ast.literal_eval(node.value))
    return rungs


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module name of a ``from ... import`` inside ``module``."""
    if node.level == 0:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def defining_module(module: str, name: str, depth: int = 0) -> str | None:
    """The module that defines ``name`` as seen from ``module``, following ``from X import name`` re-exports
    (what ``inspect.getmodule(getattr(module, name))`` answers, without importing). None if not found."""
    path = module_file(module)
    if path is None or depth > 8:
        return None
    found: str | None = None
    for node in _parse(path).body:  # the last binding wins, as at import
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            found = module
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            found = module
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = _absolute(module, path.name == "__init__.py", node)
                    found = defining_module(source, alias.name, depth + 1)
    return found


def imported_modules(module: str) -> list[str]:
    """The kernel modules ``module`` imports from or imports as modules (``from ...conv2d import _grid``,
    ``from ... import conv2d as _production``), without importing."""
    path = module_file(module)
    found = []
    for node in _parse(path).body if path else []:
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, path.name == "__init__.py", node)
            found += [source] if module_file(source) is not None else []
            found += [f"{source}.{a.name}" for a in node.names if module_file(f"{source}.{a.name}") is not None]
    return list(dict.fromkeys(found))


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def triton_kernels(module: str) -> list[str]:
    """Names of the Triton kernels (``@triton.jit`` / ``autotune`` / ``heuristics`` functions) ``module`` defines."""
    path = module_file(module)
    if path is None:
        return []
    return [node.name for node in _parse(path).body if isinstance(node, ast.FunctionDef)
            and any(_decorator_name(d) in TRITON_DECORATORS for d in node.decorator_list)]


def cuda_sources(module: str) -> list[str]:
    """The ``.cu`` files (relative to ``kernels/cupy``) that ``module``'s ``SourceModule(...)`` calls name."""
    path = module_file(module)
    if path is None:
        return []
    found = []
    for node in ast.walk(_parse(path)):
        if (isinstance(node, ast.Call) and _decorator_name(node.func) == "SourceModule" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append(node.args[0].value)
    return list(dict.fromkeys(found))


def module_constant(module: str, name: str, default: Any = None) -> Any:
    """A module-level literal (e.g. ``ALLOW_TF32 = False``) read from the source, else ``default``."""
    path = module_file(module)
    value = default
    for node in _parse(path).body if path else []:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(getattr(t, "id", None) == name for t in targets) and node.value is not None:
            with contextlib.suppress(ValueError):
                value = ast.literal_eval(node.value)
    return value


def prediction_paragraph(doc: str | None) -> str | None:
    """The docstring paragraph that starts with "Prediction", on one line; None when there is none."""
    for paragraph in re.split(r"\n\s*\n", doc or ""):
        if paragraph.strip().startswith("Prediction"):
            return " ".join(paragraph.split())
    return None


# ----------------------------------------------------------------------------------- static facts


def load_report(path: Path) -> dict[str, Any] | None:
    """A committed AOT report, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _arch_summary(registers, spills, shared, tensor_cores, errors, n) -> dict[str, Any]:
    regs = [r for r in registers if r is not None]
    spill = [s for s in spills if s is not None]
    smem = [s for s in shared if s is not None]
    return {"registers_min": min(regs, default=None), "registers_max": max(regs, default=None),
            "spill_bytes_max": max(spill, default=None), "shared_bytes_min": min(smem, default=None),
            "shared_bytes_max": max(smem, default=None), "tensor_core": sorted(set(tensor_cores)),
            "compiled": n, "errors": errors}


def triton_static(report: dict | None, module: str | None, kernels: Sequence[str], family: str, pass_: str,
                  dtype: str) -> dict[str, Any]:
    """Static facts of a Triton rung's kernels for one pass and dtype, per architecture, from aot-triton.json.

    Rows match on the module defining the kernel, kernel name, the launcher's function (``<family>_<pass>``) and
    dtype; one row per autotune config the autotuner can pick (and per launch: backward_input at strides 1 and
    2). A row's launcher reads ``[<rung>: ]<family>_<pass>[ <variant>]``; a report without ``module`` fields
    (older) places a row in ``kernels.triton.ladder.<family>.<rung>`` when the launcher names a rung, else in
    ``kernels.triton.<family>``.
    """
    facts: dict[str, Any] = {"report": "aot-triton.json", "module": module, "kernels": sorted(kernels)}
    if report is None:
        return {**facts, "status": "no AOT report (benchmarks/results/aot-triton.json missing)"}
    launcher = launcher_name(family, pass_)

    def where(row: dict) -> tuple[str, str]:
        rung, _, call = row.get("launcher", launcher).rpartition(": ")
        labelled = f"kernels.triton.ladder.{family}.{rung}" if rung else None
        if labelled == module:  # launched through this rung's own launcher (its kernels may live elsewhere)
            return module, call.split(" ")[0]
        return row.get("module") or labelled or f"kernels.triton.{row.get('family')}", call.split(" ")[0]

    rows = [r for r in report.get("rows", [])
            if where(r) == (module, launcher) and r.get("kernel") in kernels and r.get("dtype") == dtype]
    if not rows:
        return {**facts, "status": NOT_IN_AOT}
    archs = {}
    for arch in sorted({r["arch"] for r in rows}, reverse=True):
        rs = [r for r in rows if r["arch"] == arch]
        archs[arch] = _arch_summary([r.get("registers") for r in rs], [r.get("spill_bytes") for r in rs],
                                    [r.get("shared_bytes") for r in rs],
                                    [r["tensor_core"] for r in rs if r.get("tensor_core")],
                                    sum(1 for r in rs if r.get("error")), len(rs))
    return {**facts, "status": "ok", "kernels": sorted({r["kernel"] for r in rows}), "archs": archs}


def _cuda_kernel_name(mangled: str) -> str:
    """The unqualified name inside an Itanium-mangled kernel symbol (``_Z21conv2d_forward_kernelI...``)."""
    m = re.match(r"_Z(\d+)", mangled)
    return mangled[m.end():m.end() + int(m.group(1))] if m else mangled


def _cuda_pass_kernel(family: str, pass_: str, kernel: str) -> bool:
    """Whether the CUDA kernel named ``kernel`` serves ``pass_`` of ``family``."""
    if family == "softmax_xent":
        return "scale" not in kernel
    if family == "dropout":  # forward and backward launch the same kernels (flat / rows, per element / four per call)
        return ("dropout_add" in kernel) == (pass_ == "add_forward")
    if family == "maxpool2d":  # relu_forward: relu_maxpool2d_forward_kernel; both backwards: maxpool2d_backward_kernel
        base = pass_.removeprefix("relu_")
        return base in kernel and (base != "forward" or kernel.startswith("relu_") == pass_.startswith("relu_"))
    return pass_ in kernel


def cuda_static(report: dict | None, sources: Sequence[str], pass_: str, dtype: str,
                tf32: bool = False, family: str = "conv2d") -> dict[str, Any]:
    """Static facts of a CuPy rung for one pass and dtype, per architecture, from aot-cuda.json: the kernels of
    the rung's ``.cu`` modules whose name contains the pass (``forward``, ``backward_input``, ...) and whose
    storage type is the dtype's -- the TF32 kernels (``*_tf32_kernel``) only when ``tf32`` (the rung's
    ALLOW_TF32), the others only when not. softmax_xent's passes are both the forward: every kernel of the sources
    but the backward's ``*_scale_kernel``."""
    facts: dict[str, Any] = {"report": "aot-cuda.json", "sources": list(sources)}
    if report is None:
        return {**facts, "status": "no AOT report (benchmarks/results/aot-cuda.json missing)"}
    wanted = {os.path.normpath(s) for s in sources}
    modules = [m for m in report.get("modules", []) if os.path.normpath(m.get("source", "")) in wanted]
    if not modules:
        return {**facts, "status": NOT_IN_AOT}
    archs: dict[str, Any] = {}
    names: set[str] = set()
    for arch in sorted({m["arch"] for m in modules}, reverse=True):
        ks = [k for m in modules if m["arch"] == arch for k in m.get("kernels", [])
              if _cuda_pass_kernel(family, pass_, _cuda_kernel_name(k["mangled"]))
              and k.get("storage_type") == CUDA_STORAGE[dtype]
              and ("_tf32_" in _cuda_kernel_name(k["mangled"])) == (tf32 and dtype == "float32")]
        errors = sum(1 for m in modules if m["arch"] == arch and m.get("error"))
        if not ks and not errors:
            continue
        names |= {_cuda_kernel_name(k["mangled"]) for k in ks}
        archs[f"sm_{arch}"] = _arch_summary([k.get("registers") for k in ks], [k.get("spill_stores") for k in ks],
                                            [k.get("shared_bytes") for k in ks],
                                            [t for k in ks for t in k.get("tensor_core") or []], errors, len(ks))
    if not archs:
        return {**facts, "status": NOT_IN_AOT}
    return {**facts, "status": "ok", "kernels": sorted(names), "archs": archs}


# ------------------------------------------------------------------------------------------ rungs


@dataclass
class Rung:
    """One rung as read from its source: where its launchers are defined, its kernels and its prediction."""

    backend: str
    name: str
    module: str
    path: Path | None
    prediction: str | None
    defined_in: dict[str, str | None]  # pass -> module defining <family>_<pass>
    kernels: dict[str, list[str]]  # pass -> Triton kernel names / .cu sources of that module
    allow_tf32: dict[str, bool]  # pass -> the defining module's ALLOW_TF32 switch (Triton)

    def describe(self) -> dict[str, Any]:
        return {"rung": self.name, "module": self.module,
                "path": None if self.path is None else str(self.path.relative_to(kernels_root().parent)),
                "prediction": self.prediction, "defined_in": self.defined_in, "kernels": self.kernels}


def read_rung(backend: str, family: str, name: str, passes: Sequence[str] = PASSES) -> Rung:
    """A rung's facts from its source text, without importing it (``passes``: the family's, conv2d's by default)."""
    module = f"kernels.{backend}.ladder.{family}.{name}"
    path = module_file(module)
    doc = ast.get_docstring(_parse(path)) if path else None
    defined_in, kernels, allow_tf32 = {}, {}, {}
    for pass_ in passes:
        where = defining_module(module, launcher_name(family, pass_)) if path else None
        defined_in[pass_] = where
        if where is None:
            kernels[pass_], allow_tf32[pass_] = [], False
        elif backend == "triton":
            kernels[pass_], allow_tf32[pass_] = triton_kernels(where), bool(module_constant(where, "ALLOW_TF32", False))
            if where == module:
                # the rung's own launcher may run kernels of the modules it imports (rung 3: production's general
                # GEMMs without the rungs above; rung 5: those for float32): the AOT launches labelled with its
                # name count for it
                imported = [k for source in imported_modules(module) for k in triton_kernels(source)]
                kernels[pass_] = list(dict.fromkeys(kernels[pass_] + imported))
        else:
            kernels[pass_], allow_tf32[pass_] = cuda_sources(where), bool(module_constant(where, "ALLOW_TF32", False))
            if where == module and not kernels[pass_]:
                # a launcher of the rung's own that launches production's kernels (softmax_xent rung 2: production's
                # .cu at one launch shape): the sources of the production modules it imports
                production = [m for m in imported_modules(module) if not m.startswith("kernels.cupy.ladder.")]
                kernels[pass_] = list(dict.fromkeys(src for m in production for src in cuda_sources(m)))
    return Rung(backend, name, module, path, prediction_paragraph(doc) if path else None, defined_in, kernels,
                allow_tf32)


def static_facts(rung: Rung, report: dict | None, family: str, pass_: str, dtype: str) -> dict[str, Any]:
    """The rung's AOT facts for one pass and dtype (see :func:`triton_static`, :func:`cuda_static`)."""
    if rung.path is None:
        return {"status": f"rung module {rung.module} not found"}
    if rung.backend == "triton":
        return triton_static(report, rung.defined_in[pass_], rung.kernels[pass_], family, pass_, dtype)
    return cuda_static(report, rung.kernels[pass_], pass_, dtype, tf32=rung.allow_tf32[pass_], family=family)


def row_static(facts: dict[str, Any]) -> dict[str, Any]:
    """A row's copy of the static facts: status and per-architecture summary (the rung's entry in the JSON
    names its modules, kernels and .cu sources once)."""
    return {k: v for k, v in facts.items() if k in ("status", "archs")}


def row_precision(rung: Rung, pass_: str, dtype: str, family: str = "conv2d") -> str:
    """The precision mode the rung's pass runs ``dtype`` in (:func:`benchmarks.kernels.precision_mode`), with
    the ``ALLOW_TF32`` switch as the defining module's source sets it (the benchmark never flips it)."""
    return precision_mode(family, dtype, argparse.Namespace(ALLOW_TF32=rung.allow_tf32[pass_]))


# ------------------------------------------------------------------------------------------ timing

TIMING_KEYS = ("ms", "ms_p20_p80", "reps", "cold_ms", "tflops", "roofline", "pct_of_floor", "torch",
               "ratio_vs_torch", "sm_clock_mhz")


@contextlib.contextmanager
def cudnn_mode(benchmark: bool, allow_tf32: bool):
    """cuDNN's benchmark mode and TF32 switch for a block, restored afterwards."""
    saved = torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32 = benchmark, allow_tf32
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32 = saved


def measure(fn: Callable[[dict], Any], sets: Sequence[dict], *, target_ms: float, max_reps: int) -> dict[str, Any]:
    """Median device time of ``fn`` over the rotated input ``sets``: a 3-call probe after a cold first call
    (compile, autotune: ``cold_ms``), then enough repetitions for about ``target_ms`` of device time --
    unless the probe alone took that long (the slow bottom rungs on the large shapes): then the probe is the
    measurement."""
    probe = time_ms(fn, sets, device="cuda", reps=3, warmup=1)
    t = probe
    if 3 * probe["median"] < target_ms:
        reps = max(MIN_REPS, min(max_reps, int(target_ms / max(probe["median"], 1e-3))))
        t = time_ms(fn, sets, device="cuda", reps=reps, warmup=1)
    return {"ms": t["median"], "ms_p20_p80": [t["p20"], t["p80"]], "reps": t["reps"], "cold_ms": probe["first_call_ms"]}


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


def _torch_call(pass_: str, shape: ConvShape, N: int) -> Callable[[dict], Any]:
    x_shape, w_shape = tuple(shape.tensors(N)["x"]), tuple(shape.tensors(N)["w"])
    if pass_ == "forward":
        return lambda a: torch.nn.functional.conv2d(a["x"], a["w"], a["b"], stride=shape.stride, padding=shape.pad)
    if pass_ == "backward_input":
        return lambda a: torch.nn.grad.conv2d_input(x_shape, a["w"], a["dy"], shape.stride, shape.pad)
    return lambda a: torch.nn.grad.conv2d_weight(a["x"], w_shape, a["dy"], shape.stride, shape.pad)


def _rung_call(module: Any, pass_: str, shape: ConvShape, N: int) -> Callable[[dict], Any]:
    x_shape, w_shape = tuple(shape.tensors(N)["x"]), tuple(shape.tensors(N)["w"])
    if pass_ == "forward":
        return lambda a: module.conv2d_forward(a["x"], a["w"], a["b"], shape.stride, shape.pad)
    if pass_ == "backward_input":
        return lambda a: module.conv2d_backward_input(a["dy"], a["w"], x_shape, shape.stride, shape.pad)
    return lambda a: module.conv2d_backward_weight(a["dy"], a["x"], w_shape, shape.stride, shape.pad)


def load_rungs(backends: Sequence[str], family: str) -> tuple[dict[str, Callable], dict[tuple[str, str], Any],
                                                               dict[str, str]]:
    """Import the backends and their rung modules (GPU only): (array converters by backend, rung modules by
    (backend, rung), {what: why} for what could not load -- one broken rung does not stop the others)."""
    loaded, skipped = load_backends(backends, "cuda")
    modules: dict[tuple[str, str], Any] = {}
    for b in loaded:
        try:
            ladder = importlib.import_module(f"kernels.{b.name}.ladder.{family}")
        except Exception as exc:
            skipped[b.name] = _error(exc)
            continue
        for name in ladder.RUNGS:
            try:
                modules[b.name, name] = ladder.load(name)
            except Exception as exc:
                skipped[f"{b.name}/{name}"] = _error(exc)
    return {b.name: b.to_native for b in loaded}, modules, skipped


def _rotated(one: Callable[[], dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
    """Input sets drawn by ``one()`` (a fresh draw per call), as many as :func:`benchmarks.kernels.copies_for` asks
    for the first set's bytes: enough copies to rotate past the L2."""
    first = one()
    copies = copies_for(sum(v.numel() * v.element_size() for v in first.values()))
    return [first] + [one() for _ in range(copies - 1)]


def input_sets(shape: ConvShape, N: int, dtype: str) -> list[dict[str, torch.Tensor]]:
    """x, w, b, dy on the GPU (:func:`benchmarks.kernels.conv2d_case`'s recipe), in enough copies to rotate
    past the L2 (:func:`benchmarks.kernels.copies_for`)."""
    case = conv2d_case(shape.name, N, shape.C, shape.H, shape.K, shape.R, shape.stride, shape.pad, dtype)
    gen = torch.Generator(device="cuda").manual_seed(0)
    return _rotated(lambda: case.make_inputs(torch.device("cuda"), getattr(torch, dtype), gen))


def _pool_torch_call(pass_: str, shape: PoolShape, N: int) -> Callable[[dict], Any]:
    """PyTorch's max-pool with indices (its own CUDA kernels; cuDNN is not involved) and its backward, which takes
    x and the int64 flat indices. The relu passes are PyTorch's unfused pair as autograd runs it: relu then the
    pool (forward); the pool's backward into the ReLU's output, then threshold_backward against it (backward)."""
    k, st, pd = shape.R, shape.stride, shape.pad
    if pass_ == "forward":
        return lambda a: torch.nn.functional.max_pool2d(a["x"], k, st, pd, return_indices=True)
    if pass_ == "relu_forward":
        return lambda a: torch.nn.functional.max_pool2d(torch.relu(a["x"]), k, st, pd, return_indices=True)
    x, indices = ("relu_x", "relu_indices") if pass_ == "relu_backward" else ("x", "indices")

    def backward(a: dict) -> Any:
        dx = torch.ops.aten.max_pool2d_with_indices_backward(a["dy"], a[x], [k, k], [st, st], [pd, pd], [1, 1], False,
                                                             a[indices])
        return torch.ops.aten.threshold_backward(dx, a[x], 0) if pass_ == "relu_backward" else dx

    return backward


def _pool_rung_call(module: Any, pass_: str, shape: PoolShape, N: int) -> Callable[[dict], Any]:
    x_shape = tuple(shape.tensors(N)["x"])
    if pass_ == "forward":
        return lambda a: module.maxpool2d_forward(a["x"], shape.R, shape.stride, shape.pad)
    if pass_ == "relu_forward":
        return lambda a: module.relu_maxpool2d_forward(a["x"], shape.R, shape.stride, shape.pad)
    if pass_ == "relu_backward":
        return lambda a: module.relu_maxpool2d_backward(a["dy"], a["relu_argmax"], x_shape, shape.R, shape.stride,
                                                        shape.pad)
    return lambda a: module.maxpool2d_backward(a["dy"], a["argmax"], x_shape, shape.R, shape.stride, shape.pad)


def pool_input_sets(shape: PoolShape, N: int, dtype: str) -> list[dict[str, torch.Tensor]]:
    """x and dy on the GPU, with the winners of x: PyTorch's int64 ``indices`` (its backward's input) and the same
    winners as the contract's compact ``argmax`` (r*S + s in int8: every rung's forward returns exactly this, the
    shared tests check it), so every rung's backward is timed on one argmax; copies rotated past the L2. For the relu
    passes also relu(x), PyTorch's indices of its pool and the fused pair's argmax (-1 where the pooled value is 0)."""
    gen = torch.Generator(device="cuda").manual_seed(0)
    R, st, pd, P = shape.R, shape.stride, shape.pad, shape.P
    origin = torch.arange(P, device="cuda") * st - pd

    def compact(indices: torch.Tensor) -> torch.Tensor:
        r = indices // shape.H - origin[:, None]
        s = indices % shape.H - origin[None, :]
        return (r * R + s).to(torch.int8)  # R*R <= 127 here

    def one() -> dict[str, torch.Tensor]:
        x = torch.randn(shape.tensors(N)["x"], device="cuda", generator=gen).to(getattr(torch, dtype))
        dy = torch.randn(shape.tensors(N)["y"], device="cuda", generator=gen).to(getattr(torch, dtype))
        _, indices = torch.nn.functional.max_pool2d(x, R, st, pd, return_indices=True)
        relu_x = torch.relu(x)
        relu_y, relu_indices = torch.nn.functional.max_pool2d(relu_x, R, st, pd, return_indices=True)
        relu_argmax = torch.where(relu_y == 0, -1, compact(relu_indices)).to(torch.int8)
        return {"x": x, "dy": dy, "indices": indices, "argmax": compact(indices), "relu_x": relu_x,
                "relu_indices": relu_indices, "relu_argmax": relu_argmax}

    return _rotated(one)


def _xent_torch_call(pass_: str, shape: XentShape, N: int) -> Callable[[dict], Any]:
    """PyTorch's cross_entropy in the same dtype: the forward alone, or forward + backward (autograd.grad, the
    gradient w.r.t. the logits) -- what a training step runs."""
    if pass_ == "loss":
        return lambda a: torch.nn.functional.cross_entropy(a["logits"], a["target"])

    def forward_backward(a: dict) -> Any:
        with torch.enable_grad():  # time_rows runs the reference under no_grad
            x = a["logits"].detach().requires_grad_()
            return torch.autograd.grad(torch.nn.functional.cross_entropy(x, a["target"]), x)

    return forward_backward


def _xent_rung_call(module: Any, pass_: str, shape: XentShape, N: int) -> Callable[[dict], Any]:
    if pass_ == "loss_and_grad_in_place":
        def in_place(a: dict) -> Any:  # the logits are overwritten each call: the same work on other values
            _, dlogits = module.softmax_cross_entropy_forward(a["logits"], a["target"], out=a["logits"])
            return module.softmax_cross_entropy_backward(dlogits, 1.0, out=dlogits)

        return in_place
    need_grad = pass_ == "loss_and_grad"
    return lambda a: module.softmax_cross_entropy_forward(a["logits"], a["target"], need_grad=need_grad)


def xent_input_sets(shape: XentShape, N: int, dtype: str) -> list[dict[str, torch.Tensor]]:
    """logits (3 x standard normal) and int64 targets on the GPU, copies rotated past the L2."""
    gen = torch.Generator(device="cuda").manual_seed(0)
    M = N * shape.T

    def one() -> dict[str, torch.Tensor]:
        logits = (3 * torch.randn((M, shape.V), device="cuda", generator=gen)).to(getattr(torch, dtype))
        return {"logits": logits, "target": torch.randint(0, shape.V, (M,), device="cuda", generator=gen)}

    return _rotated(one)


def _drop_torch_call(pass_: str, shape: DropShape, N: int) -> Callable[[dict], Any]:
    """PyTorch's dropout as training runs it: aten.native_dropout (y and the bool mask it stores) and its backward
    (aten.native_dropout_backward: dy * mask * scale); add_forward: the residual + native_dropout's y, unfused."""
    if pass_ == "forward":
        return lambda a: torch.ops.aten.native_dropout(a["x"], shape.p, True)
    if pass_ == "add_forward":
        return lambda a: a["residual"] + torch.ops.aten.native_dropout(a["x"], shape.p, True)[0]
    return lambda a: torch.ops.aten.native_dropout_backward(a["dy"], a["mask"], 1.0 / (1.0 - shape.p))


def _drop_rung_call(module: Any, pass_: str, shape: DropShape, N: int) -> Callable[[dict], Any]:
    if pass_ == "forward":
        return lambda a: module.dropout_forward(a["x"], shape.p, DROPOUT_SEED, DROPOUT_OFFSET)
    if pass_ == "add_forward":
        return lambda a: module.dropout_add_forward(a["x"], a["residual"], shape.p, DROPOUT_SEED, DROPOUT_OFFSET)
    return lambda a: module.dropout_backward(a["dy"], shape.p, DROPOUT_SEED, DROPOUT_OFFSET)


def drop_input_sets(shape: DropShape, N: int, dtype: str) -> list[dict[str, torch.Tensor]]:
    """x, dy, a residual and PyTorch's own mask for x (its backward's input) on the GPU, copies rotated past the L2."""
    gen = torch.Generator(device="cuda").manual_seed(0)

    def one() -> dict[str, torch.Tensor]:
        x = torch.randn(shape.tensors(N)["x"], device="cuda", generator=gen).to(getattr(torch, dtype))
        dy = torch.randn(shape.tensors(N)["x"], device="cuda", generator=gen).to(getattr(torch, dtype))
        residual = torch.randn(shape.tensors(N)["x"], device="cuda", generator=gen).to(getattr(torch, dtype))
        return {"x": x, "dy": dy, "residual": residual, "mask": torch.ops.aten.native_dropout(x, shape.p, True)[1]}

    return _rotated(one)


def _linear_torch_call(pass_: str, shape: LinearShape, N: int) -> Callable[[dict], Any]:
    """PyTorch's eager layer on cuBLAS: ``torch.addmm(b, x, w.T)`` then an in-place ReLU; backward as autograd runs
    it: threshold_backward (the mask, when relu), then g @ w, g.T @ x and g.sum(0)."""
    if pass_ == "forward":
        if shape.relu:
            return lambda a: torch.addmm(a["b"], a["x"], a["w"].t()).relu_()
        return lambda a: torch.addmm(a["b"], a["x"], a["w"].t())

    def backward(a: dict) -> Any:
        g = torch.ops.aten.threshold_backward(a["dy"], a["y"], 0) if shape.relu else a["dy"]
        return torch.mm(g, a["w"]), torch.mm(g.t(), a["x"]), g.sum(0)

    return backward


def _linear_rung_call(module: Any, pass_: str, shape: LinearShape, N: int) -> Callable[[dict], Any]:
    if pass_ == "forward":
        return lambda a: module.linear_forward(a["x"], a["w"], a["b"], shape.relu)
    return lambda a: module.linear_backward(a["dy"], a["x"], a["w"], a["y"], shape.relu)


def linear_input_sets(shape: LinearShape, N: int, dtype: str) -> list[dict[str, torch.Tensor]]:
    """x, w (scaled by 1/sqrt(K), so y stays O(1) in half precision), b, dy and the forward's y (PyTorch's, so
    every rung's backward gets the same ReLU mask) on the GPU, copies rotated past the L2."""
    gen = torch.Generator(device="cuda").manual_seed(0)
    dt = getattr(torch, dtype)
    sizes = shape.tensors(N)

    def one() -> dict[str, torch.Tensor]:
        x = torch.randn(sizes["x"], device="cuda", generator=gen).to(dt)
        w = (torch.randn(sizes["w"], device="cuda", generator=gen) * shape.K ** -0.5).to(dt)
        b = torch.randn(sizes["b"], device="cuda", generator=gen).to(dt)
        dy = torch.randn(sizes["y"], device="cuda", generator=gen).to(dt)
        y = torch.addmm(b, x, w.t())
        return {"x": x, "w": w, "b": b, "dy": dy, "y": y.relu_() if shape.relu else y}

    return _rotated(one)


@dataclass(frozen=True)
class Suite:
    """What the ladder benchmark needs to know about one family: its passes, dtypes per backend, shapes, counts,
    the PyTorch reference and the calls that time it and a rung."""

    family: str
    shapes: tuple
    passes: tuple[str, ...]
    dtypes: dict[str, tuple[str, ...]]
    counts: Callable[[Any, int, int], dict[str, tuple[int, int]]]  # (shape, N, itemsize) -> {pass: (flops, bytes)}
    row_fields: Callable[[Any], dict[str, Any]]  # a row's geometry fields besides "tensors"
    shape_fields: Callable[[Any], dict[str, Any]]  # the JSON's description of a shape
    torch_call: Callable[[str, Any, int], Callable[[dict], Any]]
    rung_call: Callable[[Any, str, Any, int], Callable[[dict], Any]]
    input_sets: Callable[[Any, int, str], list[dict[str, torch.Tensor]]]
    reference_label: str  # the table's name for the reference ("cuDNN", "torch")
    reference: dict[str, str]
    counts_doc: str
    precision_doc: dict[str, str]


CONV2D_SUITE = Suite(
    family="conv2d", shapes=CONV2D_SHAPES, passes=PASSES, dtypes=DTYPES,
    counts=lambda sh, N, size: conv2d_pass_counts(N, sh.C, sh.H, sh.H, sh.K, sh.R, sh.R, sh.stride, sh.pad, size),
    row_fields=lambda sh: {"stride": sh.stride, "padding": sh.pad},
    shape_fields=lambda s: {"name": s.name, "C": s.C, "H": s.H, "W": s.H, "K": s.K, "R": s.R, "S": s.R,
                            "stride": s.stride, "padding": s.pad},
    torch_call=lambda pass_, shape, N: _torch_call(pass_, shape, N), rung_call=lambda *a: _rung_call(*a),
    input_sets=lambda *a: input_sets(*a), reference_label="cuDNN",
    reference={"reference": "PyTorch eager: F.conv2d, torch.nn.grad.conv2d_input / conv2d_weight",
               "benchmark": "timed with torch.backends.cudnn.benchmark off and on",
               "allow_tf32": "on only for rows whose precision is tf32 (float32 ieee rows: off)"},
    counts_doc="flops = 2*N*K*C*R*S*P*Q per pass; bytes = the pass's inputs read once + its output written once",
    precision_doc={"float32": "ieee: float32 products on the FMA units, TF32 off (unless a row says tf32)",
                   "float16": "fp16: tensor-core operands, float32 accumulation",
                   "bfloat16": "bf16: tensor-core operands, float32 accumulation (CuPy: BFloat16Array bits)"},
)
MAXPOOL2D_SUITE = Suite(
    family="maxpool2d", shapes=MAXPOOL2D_SHAPES, passes=MAXPOOL2D_PASSES, dtypes=MAXPOOL2D_DTYPES,
    counts=lambda sh, N, size: maxpool2d_pass_counts(N, sh.C, sh.H, sh.H, sh.R, sh.R, sh.stride, sh.pad, size),
    row_fields=lambda sh: {"kernel": sh.R, "stride": sh.stride, "padding": sh.pad},
    shape_fields=lambda s: {"name": s.name, "C": s.C, "H": s.H, "W": s.H, "R": s.R, "S": s.R, "stride": s.stride,
                            "padding": s.pad},
    torch_call=lambda pass_, shape, N: _pool_torch_call(pass_, shape, N),
    rung_call=lambda *a: _pool_rung_call(*a), input_sets=lambda *a: pool_input_sets(*a), reference_label="PyTorch",
    reference={"reference": "PyTorch eager: F.max_pool2d(return_indices=True) and "
                            "aten.max_pool2d_with_indices_backward (PyTorch's own CUDA kernels, int64 indices); "
                            "the relu passes: torch.relu then the pool, and the pool's backward then "
                            "aten.threshold_backward (the unfused pair the fused relu_maxpool2d_* replace)",
               "benchmark": "the torch fields hold this reference (timed twice, cudnn.benchmark off and on: "
                            "max-pool does not use cuDNN, so the two should agree)"},
    counts_doc="flops = 0 (comparisons only: a memory-bound roofline, bytes / copy bandwidth); bytes = forward "
               "|x| + |y| + |argmax| (int8), backward |dy| + |argmax| + |dx|, each read or written once; the relu "
               "passes count the same bytes (the fused pair's compulsory traffic; PyTorch's ReLU pass is extra)",
    precision_doc={"float32": "ieee: comparisons in float32", "float16": "ieee: compared in float32 (exact)",
                   "bfloat16": "ieee: compared in float32 (exact; Triton only)"},
)
SOFTMAX_XENT_SUITE = Suite(
    family="softmax_xent", shapes=SOFTMAX_XENT_SHAPES, passes=SOFTMAX_XENT_PASSES, dtypes=SOFTMAX_XENT_DTYPES,
    counts=lambda sh, N, size: softmax_xent_pass_counts(N * sh.T, sh.V, size),
    row_fields=lambda sh: {"V": sh.V, "tokens_per_sample": sh.T},
    shape_fields=lambda s: {"name": s.name, "T": s.T, "V": s.V},
    torch_call=lambda pass_, shape, N: _xent_torch_call(pass_, shape, N),
    rung_call=lambda *a: _xent_rung_call(*a), input_sets=lambda *a: xent_input_sets(*a), reference_label="PyTorch",
    reference={"reference": "PyTorch eager in the same dtype: F.cross_entropy (loss) and F.cross_entropy + "
                            "torch.autograd.grad w.r.t. the logits (loss_and_grad and loss_and_grad_in_place)",
               "benchmark": "the torch fields hold this reference (timed twice, cudnn.benchmark off and on: "
                            "cross_entropy does not use cuDNN, so the two should agree)"},
    counts_doc="flops ~ 4*M*V (loss) / 7*M*V (loss_and_grad, loss_and_grad_in_place), approximate and small: a "
               "memory-bound roofline, bytes / copy bandwidth; bytes = logits read once + int64 targets + the loss "
               "(+ dlogits written once, over the logits in place)",
    precision_doc={"float32": "ieee: float32 arithmetic (no float64)", "float16": "ieee: computed in float32",
                   "bfloat16": "ieee: computed in float32 (Triton only)"},
)
DROPOUT_SUITE = Suite(
    family="dropout", shapes=DROPOUT_SHAPES, passes=DROPOUT_PASSES, dtypes=DROPOUT_DTYPES,
    counts=lambda sh, N, size: dropout_pass_counts(N * sh.F, size),
    row_fields=lambda sh: {"p": sh.p, "features": sh.F},
    shape_fields=lambda s: {"name": s.name, "F": s.F, "p": s.p},
    torch_call=lambda pass_, shape, N: _drop_torch_call(pass_, shape, N),
    rung_call=lambda *a: _drop_rung_call(*a), input_sets=lambda *a: drop_input_sets(*a), reference_label="PyTorch",
    reference={"reference": "PyTorch eager: aten.native_dropout (y and its bool mask) and "
                            "aten.native_dropout_backward(dy, mask, scale), what F.dropout runs in training; "
                            "add_forward: residual + native_dropout's y (the unfused pair dropout_add_forward "
                            "replaces)",
               "benchmark": "the torch fields hold this reference (timed twice, cudnn.benchmark off and on: "
                            "dropout does not use cuDNN, so the two should agree)"},
    counts_doc="flops = 0 (Philox is integer work: a memory-bound roofline, bytes / copy bandwidth); bytes = x (dy) "
               "read once + y (dx) written once (add_forward: x and the residual read, the sum written); no mask "
               "tensor (PyTorch's reference also writes / reads a bool mask)",
    precision_doc={"float32": "ieee: y = x * float32(1/(1-p))", "float16": "ieee: scaled in float32, rounded once",
                   "bfloat16": "ieee: scaled in float32, rounded once (Triton only)"},
)
LINEAR_RELU_SUITE = Suite(
    family="linear_relu", shapes=LINEAR_RELU_SHAPES, passes=LINEAR_RELU_PASSES, dtypes=LINEAR_RELU_DTYPES,
    counts=lambda sh, N, size: linear_relu_pass_counts(N * sh.T, sh.K, sh.N, sh.relu, size),
    row_fields=lambda sh: {"K": sh.K, "N": sh.N, "tokens_per_sample": sh.T, "relu": sh.relu},
    shape_fields=lambda s: {"name": s.name, "T": s.T, "K": s.K, "N": s.N, "relu": s.relu},
    torch_call=lambda pass_, shape, N: _linear_torch_call(pass_, shape, N),
    rung_call=lambda *a: _linear_rung_call(*a), input_sets=lambda *a: linear_input_sets(*a),
    reference_label="cuBLAS",
    reference={"reference": "PyTorch eager in the same dtype: torch.addmm(b, x, w.T) + in-place ReLU (forward); "
                            "aten.threshold_backward, then torch.mm for dx and dw and a sum for db (backward)",
               "benchmark": "the torch fields hold this reference (timed twice, cudnn.benchmark off and on: "
                            "addmm runs on cuBLAS, not cuDNN, so the two should agree); float32 is ieee (PyTorch's "
                            "default: torch.backends.cuda.matmul.allow_tf32 off)",
               "targets": "issue 16, the top rung on 4096 -> 4096 x 128 tokens at batch 32 in bfloat16: >= 0.95x "
                          "cuBLAS (ratio_vs_torch) and >= 75% of the measured bf16 GEMM ceiling (pct_of_floor)"},
    counts_doc="flops = 2*M*N*K forward, 4*M*N*K backward (M = batch * tokens); bytes = forward x, w, b read once + y "
               "written once; backward dy (+ y for the ReLU mask), x, w read once + dx, dw, db written once",
    precision_doc={"float32": "ieee: float32 products on the FMA units, TF32 off",
                   "float16": "fp16: tensor-core operands, float32 accumulation",
                   "bfloat16": "bf16: tensor-core operands, float32 accumulation (Triton only)"},
)
#: Ladder families this benchmark has a shape suite for.
SUITES = {"conv2d": CONV2D_SUITE, "maxpool2d": MAXPOOL2D_SUITE, "softmax_xent": SOFTMAX_XENT_SUITE,
          "dropout": DROPOUT_SUITE, "linear_relu": LINEAR_RELU_SUITE}


def native_inputs(backend: str, to_native: Callable[[torch.Tensor], Any], tensors: dict[str, torch.Tensor]
                  ) -> dict[str, Any]:
    """One input set in a backend's arrays: ``to_native`` per tensor, except bfloat16 for CuPy, which has no such
    dtype -- a ``BFloat16Array`` over the tensor's storage (its bits viewed as uint16 through DLPack, no copy)."""
    if backend == "cupy" and any(t.dtype == torch.bfloat16 for t in tensors.values()):
        from kernels.cupy._runtime import BFloat16Array

        return {k: BFloat16Array.from_torch(t) if t.dtype == torch.bfloat16 else to_native(t)
                for k, t in tensors.items()}
    return {k: to_native(t) for k, t in tensors.items()}


def time_rows(rows: list[dict[str, Any]], family: str, shapes: Sequence[Any], backends: Sequence[str],
              ceilings: dict[str, Any], *, target_ms: float, max_reps: int) -> dict[str, str]:
    """Time every row in place (GPU only): the rung, and the suite's PyTorch reference with cuDNN's benchmark mode
    off and on in the row's precision (measured once per pass and precision, shared by the rows). Returns what could
    not load."""
    suite = SUITES[family]
    converters, modules, skipped = load_rungs(backends, family)
    by_name = {s.name: s for s in shapes}
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["shape"], row["batch"], row["dtype"]), []).append(row)
    for i, ((name, N, dtype), group) in enumerate(groups.items()):
        print(f"[{i + 1}/{len(groups)}] {name} N={N} {dtype}", flush=True)  # where a killed run stopped
        shape = by_name[name]
        sets = suite.input_sets(shape, N, dtype)
        native = {b: [native_inputs(b, to, s) for s in sets] for b, to in converters.items()}
        reference: dict[tuple[str, str, bool], dict[str, Any]] = {}
        for row in group:
            module = modules.get((row["backend"], row["rung"]))
            if module is None:
                continue
            pass_, precision = row["pass"], row["precision"]
            for bench in (False, True):
                if (pass_, precision, bench) not in reference:
                    with cudnn_mode(bench, precision == "tf32"), torch.no_grad():
                        try:
                            reference[pass_, precision, bench] = measure(suite.torch_call(pass_, shape, N), sets,
                                                                         target_ms=target_ms, max_reps=max_reps)
                        except Exception as exc:
                            reference[pass_, precision, bench] = {"ms": None, "error": _error(exc)}
            row["torch"] = {"benchmark_off": reference[pass_, precision, False],
                            "benchmark_on": reference[pass_, precision, True]}
            try:
                t = measure(suite.rung_call(module, pass_, shape, N), native[row["backend"]], target_ms=target_ms,
                            max_reps=max_reps)
            except Exception as exc:  # an unsupported shape or dtype, a kernel bug
                row.update(ms=None, error=_error(exc))
                continue
            roof = roofline(row["flops"], row["bytes"], t["ms"], precision, ceilings)
            row.update(t, error=None, sm_clock_mhz=sm_clock_mhz("cuda"), roofline=roof,
                       tflops=row["flops"] / (t["ms"] * 1e-3) / 1e12, pct_of_floor=100 * roof["fraction"],
                       ratio_vs_torch={k: v["ms"] / t["ms"] if v.get("ms") else None for k, v in row["torch"].items()})
        del sets, native
        torch.cuda.empty_cache()
    for row in rows:  # a rung or backend that never loaded
        if "error" not in row:
            row.update(ms=None, error=skipped.get(f"{row['backend']}/{row['rung']}") or skipped.get(row["backend"])
                       or "not timed")
    return skipped


# ---------------------------------------------------------------------------------------- output


def _cells(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def _num(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}g}"


def format_counts(rows: Sequence[dict[str, Any]]) -> str:
    """FLOPs, compulsory bytes and intensity per shape, batch and pass, for 4-byte and 2-byte dtypes."""
    lines = [["shape", "N", "pass", "GFLOP", "MB fp32", "MB 16-bit", "FLOP/B fp32", "FLOP/B 16-bit"]]
    seen: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        seen.setdefault((r["shape"], r["batch"], r["pass"]), {})[str(ITEMSIZE[r["dtype"]])] = r
    for (shape, N, pass_), by in seen.items():
        f32, f16 = by.get("4"), by.get("2")
        lines.append([shape, str(N), pass_, f"{(f32 or f16)['flops'] / 1e9:.3g}",
                      _num(f32 and f32["bytes"] / 1e6), _num(f16 and f16["bytes"] / 1e6),
                      _num(f32 and f32["intensity"]), _num(f16 and f16["intensity"])])
    return _cells(lines)


def _arch_cells(facts: dict[str, Any], arch: str) -> list[str]:
    a = facts.get("archs", {}).get(arch)
    if a is None:
        return ["-", "-", "-", "-"]
    lo, hi = a["registers_min"], a["registers_max"]
    regs = lo if lo == hi else f"{lo}-{hi}"
    smem = [None if s is None else s / 1024 for s in (a["shared_bytes_min"], a["shared_bytes_max"])]
    kb = _num(smem[0]) if smem[0] == smem[1] else f"{_num(smem[0])}-{_num(smem[1])}"
    tc = ",".join(t.split(".")[0] if t.startswith("wmma") else t for t in a["tensor_core"]) or "-"
    return [str(regs), _num(a["spill_bytes_max"]), kb, tc + (f" ({a['errors']} errors)" if a["errors"] else "")]


def format_rung(entry: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    """One rung: where its launchers live, its prediction, and its static facts per dtype and pass."""
    kernels = sorted({k for ks in entry["kernels"].values() for k in ks})
    where = sorted({m for m in entry["defined_in"].values() if m})
    out = [f"{entry['backend']} / {entry['rung']}  ({entry['path'] or 'module not found'}; launchers in "
           f"{', '.join(where) or '?'}; kernels: {', '.join(kernels) or '?'})"]
    out += textwrap.wrap(entry["prediction"] or "No paragraph starting with 'Prediction' in the rung's header.",
                         width=110, initial_indent="  ", subsequent_indent="  ")
    lines = [["  dtype", "pass", "prec", "sm_90 regs", "spill B", "smem KB", "tensor core", "sm_80 regs", "spill B",
              "smem KB", "tensor core"]]
    seen = set()
    for r in rows:
        if (r["backend"], r["rung"]) != (entry["backend"], entry["rung"]) or (r["dtype"], r["pass"]) in seen:
            continue
        seen.add((r["dtype"], r["pass"]))
        facts = r["static"]
        if facts.get("status") != "ok":
            lines.append([f"  {r['dtype']}", r["pass"], r["precision"], facts.get("status", "?"), *[""] * 7])
        else:
            lines.append([f"  {r['dtype']}", r["pass"], r["precision"], *_arch_cells(facts, "sm_90"),
                          *_arch_cells(facts, "sm_80")])
    return "\n".join(out) + "\n" + _cells(lines)


def format_times(rows: Sequence[dict[str, Any]], reference: str = "cuDNN") -> str:
    """The measured table: median ms, cold start, TFLOP/s, % of the roofline floor, the reference's ms (cuDNN for
    conv2d, PyTorch's own kernels for max-pool; benchmark mode off/on) and reference / ours."""
    lines = [["shape", "N", "dtype", "pass", "backend", "rung", "prec", "ms", "cold ms", "TFLOP/s", "% floor",
              f"{reference} ms off/on", f"{reference}/ours off/on"]]
    for r in rows:
        ref = r.get("torch") or {}
        off, on = (ref.get(k, {}).get("ms") for k in ("benchmark_off", "benchmark_on"))
        ratio = r.get("ratio_vs_torch") or {}
        head = [r["shape"], str(r["batch"]), r["dtype"], r["pass"], r["backend"], r["rung"], r["precision"]]
        if r.get("ms") is None:
            error = "error: " + (r.get("error") or "?")[:60]
            lines.append([*head, "-", "-", "-", "-", f"{_num(off)}/{_num(on)}", error])
        else:
            lines.append([*head, _num(r["ms"], 4), _num(r["cold_ms"]), _num(r["tflops"]), f"{r['pct_of_floor']:.0f}%",
                          f"{_num(off)}/{_num(on)}",
                          "/".join(_num(ratio.get(k)) for k in ("benchmark_off", "benchmark_on"))])
    return _cells(lines)


def plot(rows: Sequence[dict[str, Any]], rungs: dict[str, list[str]], path: Path, passes: Sequence[str] = PASSES,
         dtypes: dict[str, tuple[str, ...]] = DTYPES, reference: str = "cuDNN") -> Path | None:
    """Time per rung, one line per shape (solid: the larger batch, dashed: the smaller), one panel per
    (backend, dtype) column and pass row, log time axis; PyTorch (the faster of benchmark off/on) and the
    roofline floor as reference points right of the rungs. Saved atomically; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        print(f"no plot: {exc}")
        return None
    columns = [(b, d) for b in rungs for d in dtypes[b]]
    shapes = list(dict.fromkeys(r["shape"] for r in rows))
    batches = sorted({r["batch"] for r in rows})
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(len(passes), len(columns), figsize=(4.2 * len(columns), 3.4 * len(passes)),
                             squeeze=False)
    for i, pass_ in enumerate(passes):
        for j, (backend, dtype) in enumerate(columns):
            ax = axes[i][j]
            names = rungs[backend]
            for si, shape in enumerate(shapes):
                for N in batches:
                    by = {r["rung"]: r for r in rows if (r["backend"], r["dtype"], r["pass"], r["shape"], r["batch"])
                          == (backend, dtype, pass_, shape, N)}
                    if not by:
                        continue
                    style = dict(color=colors(si % 10), linestyle="-" if N == batches[-1] else "--")
                    ax.plot(range(len(names)), [by[n].get("ms") if n in by and by[n].get("ms") else math.nan
                                                for n in names], marker="o", markersize=3, **style)
                    # PyTorch and the floor are the same for every rung of the line: take them from any row
                    # that has them (a rung that failed or never loaded has neither).
                    ref = [v["ms"] for r in by.values() for v in (r.get("torch") or {}).values() if v.get("ms")]
                    if ref:
                        ax.plot([len(names)], [min(ref)], marker="s", markersize=4, **style)
                    floor = next((r["roofline"]["floor_ms"] for r in by.values() if r.get("roofline")), None)
                    if floor:
                        ax.plot([len(names) + 1], [floor], marker="_", markersize=8, **style)
            ax.set_yscale("log")
            ax.set_xticks(range(len(names) + 2), [*names, reference, "floor"], rotation=30, ha="right", fontsize=7)
            ax.set_title(f"{backend} {dtype} {pass_}", fontsize=9)
            if j == 0:
                ax.set_ylabel("ms (median)")
    handles = [plt.Line2D([], [], color=colors(si % 10), label=s) for si, s in enumerate(shapes)]
    handles += [plt.Line2D([], [], color="grey", linestyle="-" if N == batches[-1] else "--", label=f"batch {N}")
                for N in batches]
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def write_result(path: Path, result: dict[str, Any]) -> None:
    """The JSON, atomically: indented, except one line per row (hundreds of rows stay readable and diffable)."""
    head = json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2)
    rows = ",\n".join("    " + json.dumps(r) for r in result["rows"])
    write_text(path, head[:-2] + ',\n  "rows": [\n' + rows + "\n  ]\n}\n")


def _versions() -> dict[str, Any]:
    """Package versions without importing the packages (the dry run imports no kernel toolchain)."""
    env: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "platform": platform.platform()}
    for name, dists in {"triton": ("triton",), "cupy": ("cupy", "cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x"),
                        "numpy": ("numpy",)}.items():
        env[name] = None
        for dist in dists:
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                env[name] = importlib.metadata.version(dist)
                break
    return env


# ------------------------------------------------------------------------------------------- main


def run_ladder(family: str, backends: Sequence[str] = LADDER_BACKENDS, quick: bool = False,
               out: str | Path | None = None, dtypes: Sequence[str] | None = None, reps: int | None = None) -> int:
    """Run the ladder benchmark of ``family`` (a GPU run, or the CPU dry run); print, write JSON. Exit status.

    2 with a message on stderr for an unknown family, a family without a shape suite here, or an unknown
    backend or dtype; 0 otherwise (a rung that fails on a case gets ``error`` in its row).
    """
    families = ladder_families()
    if family not in families:
        print(f"kernelgrad bench: unknown ladder family {family!r}; ladders: {', '.join(families) or 'none'}",
              file=sys.stderr)
        return 2
    if family not in SUITES:
        print(f"kernelgrad bench: no benchmark suite for the {family} ladder yet (suites: {', '.join(SUITES)})",
              file=sys.stderr)
        return 2
    unknown = [b for b in backends if b not in LADDER_BACKENDS]
    if unknown:
        print(f"kernelgrad bench: unknown ladder backend {unknown[0]!r}; choose from {', '.join(LADDER_BACKENDS)}",
              file=sys.stderr)
        return 2
    known = list(dict.fromkeys(d for ds in SUITES[family].dtypes.values() for d in ds))
    bad = [d for d in dtypes or () if d not in known]
    if bad:
        print(f"kernelgrad bench: unknown dtype {bad[0]!r}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    suite = SUITES[family]
    gpu = torch.cuda.is_available()
    shapes, batches = suite.shapes, QUICK_BATCHES if quick else BATCHES
    reports = {b: load_report(p) for b, p in AOT_REPORTS.items()}

    ladders: dict[str, list[Rung]] = {}
    skipped: dict[str, str] = {}
    for backend in backends:
        names = read_rungs(backend, family)
        if names is None:
            skipped[backend] = f"no ladder package kernels/{backend}/ladder/{family}/"
        else:
            ladders[backend] = [read_rung(backend, family, name, suite.passes) for name in names]

    rows: list[dict[str, Any]] = []
    for shape in shapes:
        for N in batches:
            for dtype in DTYPES["triton"]:
                if dtypes and dtype not in dtypes:
                    continue
                counts = suite.counts(shape, N, ITEMSIZE[dtype])
                for pass_ in suite.passes:
                    flops, nbytes = counts[pass_]
                    for backend, rungs in ladders.items():
                        if dtype not in suite.dtypes[backend]:
                            continue
                        for rung in rungs:
                            if rung.path is not None and rung.defined_in.get(pass_) is None:
                                continue  # a fused pass only the rungs that export its entry point have
                            rows.append({
                                "shape": shape.name, "batch": N, "dtype": dtype, "pass": pass_, "backend": backend,
                                "rung": rung.name, "precision": row_precision(rung, pass_, dtype, family),
                                "tensors": shape.tensors(N), **suite.row_fields(shape),
                                "flops": flops, "bytes": nbytes, "intensity": flops / nbytes,
                                "static": row_static(static_facts(rung, reports[backend], family, pass_, dtype))})

    date = datetime.date.today().isoformat()
    result: dict[str, Any] = {"benchmark": f"ladder-{family}", "family": family, "date": date,
                              "suite": "quick (batch 32 only)" if quick else "full"}
    if gpu:
        env = environment("cuda")
        label = env["gpu"]
        print(f"device: {label}")
        ceilings = measure_ceilings("cuda", dtypes=("bfloat16", "float16", "float32"))
        print(f"ceilings: copy {ceilings['bandwidth_gbs']:.0f} GB/s; matmul "
              + ", ".join(f"{k} {v:.1f} TFLOP/s" for k, v in ceilings["tflops"].items()))
        jit_caches = jit_cache_state()
        target_ms = QUICK_TARGET_MS if quick else TARGET_MS
        max_reps = reps or (30 if quick else 100)
        skipped.update(time_rows(rows, family, shapes, list(ladders), ceilings, target_ms=target_ms,
                                 max_reps=max_reps))
        result.update(device=label, dry_run=False, versions=env, ceilings=ceilings, jit_caches=jit_caches,
                      clocks_after=gpu_clocks(),
                      timing={"timer": "cuda events", "statistic": "median", "target_ms_per_measurement": target_ms,
                              "reps": [3, max_reps], "warmup": "a cold first call (cold_ms), then a 3-call probe",
                              "inputs": "rotated among copies totalling > 100 MB (benchmarks.kernels.copies_for)"},
                      torch=suite.reference)
    else:
        label = DRY_RUN_LABEL
        result.update(device=label, dry_run=True, versions=_versions(),
                      note="No CUDA GPU here: nothing was timed. Median times, TFLOP/s, % of the roofline floor and "
                           f"the ratio to {suite.reference_label} wait for a GPU: run the same command on one.")
    result.update(
        shapes=[suite.shape_fields(s) for s in shapes],
        batches=list(batches), passes=list(suite.passes),
        dtypes={b: [d for d in suite.dtypes[b] if not dtypes or d in dtypes] for b in ladders},
        precision=suite.precision_doc,
        counts=suite.counts_doc,
        aot_reports={b: {"path": str(p.relative_to(RESULTS.parent.parent)) if p.is_relative_to(RESULTS.parent.parent)
                         else str(p), "present": reports[b] is not None,
                         "versions": (reports[b] or {}).get("versions")} for b, p in AOT_REPORTS.items()},
        rungs={b: [{"backend": b, **r.describe()} for r in rungs] for b, rungs in ladders.items()},
        skipped=skipped, rows=rows)

    if gpu:
        print(format_times(rows, suite.reference_label))
    else:
        print(f"device: {label}")
        print("No CUDA GPU here, so nothing is timed: this prints the FLOPs, compulsory bytes and arithmetic "
              "intensity of every case, each rung's prediction and its static facts from the committed AOT "
              f"reports. Times, TFLOP/s, % of the roofline floor and the ratio to {suite.reference_label} wait for a "
              "GPU.")
        print()
        print(format_counts(rows))
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    for entries in result["rungs"].values():
        for entry in entries:
            print()
            print(format_rung(entry, rows))
    if out is None:
        out = results_dir() / f"ladder-{family}-{slug(label) if gpu else 'cpu-dry-run'}-{date}.json"
    out = Path(out)
    write_result(out, result)
    print(f"\nwrote {out}")
    if gpu:
        picture = plot(rows, {b: [r.name for r in rungs] for b, rungs in ladders.items()}, out.with_suffix(".png"),
                       suite.passes, suite.dtypes, suite.reference_label)
        if picture:
            print(f"wrote {picture}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ladder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="conv2d", help="the ladder family (default conv2d)")
    parser.add_argument("--backends", default=",".join(LADDER_BACKENDS),
                        help=f"comma-separated ladder backends (default {','.join(LADDER_BACKENDS)})")
    parser.add_argument("--dtypes", default=None, help="comma-separated subset of float32,float16,bfloat16 (CuPy "
                        "max-pool: float32,float16)")
    parser.add_argument("--quick", action="store_true", help="batch 32 only, shorter timing")
    parser.add_argument("--reps", type=int, default=None, help="cap on timed calls per measurement (GPU)")
    parser.add_argument("--out", default=None,
                        help="JSON path (default benchmarks/results/ladder-<family>-<gpu>-<date>.json; the plot "
                             "goes beside it as .png)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_ladder(args.family, backends=[b for b in args.backends.split(",") if b], quick=args.quick,
                      out=args.out, dtypes=[d for d in args.dtypes.split(",") if d] if args.dtypes else None,
                      reps=args.reps)


if __name__ == "__main__":
    sys.exit(main())
