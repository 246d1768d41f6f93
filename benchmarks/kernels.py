"""Kernel benchmark: every kernel family, forward and forward+backward, our GPU backends against PyTorch eager.

For each available GPU kernel backend (``kernels.triton``, ``kernels.cupy``; one that fails to import is
skipped with its reason) and each case of the shape suite, the harness times our kernel functions called
directly (no framework, no autograd) and the PyTorch eager equivalent (cuDNN / cuBLAS / ATen) **in the same
run**, and reports medians, the speed ratio torch/ours (> 1: we are faster), the achieved GB/s or TFLOP/s
and the fraction of the roofline.

Roofline. The ceilings are measured at the start of the run on the GPU at hand: bandwidth from a large
device-to-device copy (bytes = read + written), matrix FLOP/s from an 8192^3 matmul per dtype (bf16, fp16,
fp32 with TF32 off -- the FP32 FMA ceiling -- and with TF32 on). A case's floor is ``max(flops /
peak_flops, bytes / bandwidth)``; the fraction is floor / measured time. ``bytes`` counts, for every kernel
call of the pass, each input read once and each output written once (the kernel contract of
``kernels/numpy``: e.g. the softmax-xent forward also writes dlogits, max-pool also writes argmax). FLOPs
count matrix products only (conv: 2*N*K*C*R*S*P*Q per GEMM, three GEMMs for fwd+bwd; linear: 2*M*N*K per
GEMM); the memory-bound families count 0 FLOPs.

Precision. Each row records the precision mode its matrix products really use (:func:`precision_mode`:
``ieee`` = float32 products on the FMA units, ``tf32``, ``tf32x3``, ``fp16`` / ``bf16`` = tensor-core
operands with float32 accumulation, ``fp64``), read from the kernel modules (Triton's ``ALLOW_TF32``
switches), and is held to the ceiling of that mode: an ``ieee`` float32 case to the TF32-off matmul rate,
not TF32's. PyTorch's rows record PyTorch's own mode (cuDNN convolutions use TF32 by default, cuBLAS float32
matmuls do not).

Timing. CUDA events around each call, warm-up first, median of >= 100 calls; each call takes the next of
several copies of the inputs (enough copies to exceed ~100 MB), so small shapes are not flattered by a
warm L2. The first call of each pass is timed on its own (host clock, synchronized) as the *cold start*:
JIT compilation (unless Triton's / CuPy's on-disk cache already holds the kernel; the JSON records the
cache folders' state at the start) plus autotuning. Each row also records the SM clock read right after
its timed calls. PyTorch keeps its defaults (cuDNN TF32 on for convs, cuBLAS TF32 off for float32
matmuls); the JSON records them.

Without a CUDA GPU the harness refuses (exit 2) unless ``allow_cpu``: then it runs a tiny smoke suite with
a wall-clock timer, torch CPU against the numpy kernels (and Triton under ``TRITON_INTERPRET=1`` if it
imports), to exercise the logic and the JSON schema. Those numbers are not a benchmark.

Run: ``kernelgrad bench`` or ``python -m benchmarks.kernels`` (``--help`` for options). Writes
``benchmarks/results/kernels-<gpu-name-slug>-<date>.json`` in a source checkout, and
``kernelgrad-results/kernels-<gpu-name-slug>-<date>.json`` in the current folder when ``benchmarks`` is
imported from an installed package.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks._io import write_json

FAMILIES = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout")
GPU_BACKENDS = ("triton", "cupy")
PASSES = ("fwd", "fwd+bwd")
# float16 is where the CuPy kernels use tensor cores (CuPy has no bfloat16); bfloat16 is Triton-only.
DEFAULT_DTYPES = ("float32", "float16", "bfloat16")
RESULTS = Path(__file__).resolve().parent / "results"  # in a source checkout; see results_dir()
CPU_DEVICE_LABEL = "cpu (smoke test, not a benchmark)"
# Rotate among input copies until they total this much: about twice an H100/H200's 50 MB L2.
ROTATE_BYTES = 100 * 2**20
MAX_COPIES = 64
DROPOUT_P = 0.1
_ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}
#: Families whose kernels multiply matrices (tl.dot, WMMA or FMA register tiles); the others are elementwise
#: or reductions and count no FLOPs.
MATMUL_FAMILIES = ("conv2d", "linear_relu")
#: Each precision mode and the measured matmul ceiling (a key of ``ceilings["tflops"]``) it is held to.
#: tf32x3 (three TF32 products per float32 product) is held to a third of the TF32 rate: see matmul_peak.
PRECISION_CEILINGS = {"ieee": "float32_ieee", "tf32": "float32_tf32", "tf32x3": "float32_tf32",
                      "fp16": "float16", "bf16": "bfloat16", "fp64": "float64"}


def results_dir() -> Path:
    """Default folder for results: ``benchmarks/results/`` in a source checkout, else ``./kernelgrad-results/``.

    An installed ``benchmarks`` package lives in site-packages, where results do not belong.
    """
    if (RESULTS.parent.parent / "pyproject.toml").is_file():
        return RESULTS
    return Path.cwd() / "kernelgrad-results"

Inputs = dict[str, Any]


# ------------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One benchmark case: a family at one shape and dtype, with both passes for ours and for PyTorch.

    ``flops`` and ``bytes`` map a pass ("fwd", "fwd+bwd") to its count. ``make_inputs(device, dtype,
    generator)`` returns a dict of torch tensors (and Python scalars). ``ours_*(kernels_module, inputs)``
    call a kernel backend's family functions on inputs already converted to that backend's arrays;
    ``torch_*(inputs)`` run the PyTorch eager equivalent on the torch tensors.
    """

    family: str
    name: str
    shapes: dict[str, tuple[int, ...]]
    dtype: str
    flops: dict[str, int]
    bytes: dict[str, int]
    make_inputs: Callable[[torch.device, torch.dtype, torch.Generator], Inputs]
    ours_fwd: Callable[[Any, Inputs], Any]
    ours_fwdbwd: Callable[[Any, Inputs], Any]
    torch_fwd: Callable[[Inputs], Any]
    torch_fwdbwd: Callable[[Inputs], Any]
    params: dict[str, Any] = field(default_factory=dict)

    def ours(self, pass_: str) -> Callable[[Any, Inputs], Any]:
        return self.ours_fwd if pass_ == "fwd" else self.ours_fwdbwd

    def torch(self, pass_: str) -> Callable[[Inputs], Any]:
        return self.torch_fwd if pass_ == "fwd" else self.torch_fwdbwd


def _randn(shape, device, dtype, gen) -> torch.Tensor:
    # Drawn in float32 then cast: never zeros, and the same recipe for every dtype.
    return torch.randn(shape, device=device, generator=gen, dtype=torch.float32).to(dtype)


def conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output length of a convolution / pooling window along one axis."""
    return (size + 2 * pad - kernel) // stride + 1


def conv2d_counts(N, C, H, W, K, R, S, stride, pad, itemsize) -> tuple[dict[str, int], dict[str, int]]:
    """(flops, bytes) per pass of conv2d with bias: forward, and forward + backward input/weight/bias.

    FLOPs: 2*N*K*C*R*S*P*Q per GEMM (1 forward, 3 forward+backward). Bytes: each call's inputs read once
    and outputs written once (forward: x, w, b -> y; backward_input: dy, w -> dx; backward_weight:
    dy, x -> dw; backward_bias: dy -> db).
    """
    P, Q = conv_out(H, R, stride, pad), conv_out(W, S, stride, pad)
    gemm = 2 * N * K * C * R * S * P * Q
    x, w, b, y = N * C * H * W, K * C * R * S, K, N * K * P * Q
    fwd = x + w + b + y
    bwd = (y + w + x) + (y + x + w) + (y + b)
    return {"fwd": gemm, "fwd+bwd": 3 * gemm}, {"fwd": fwd * itemsize, "fwd+bwd": (fwd + bwd) * itemsize}


def maxpool2d_counts(N, C, H, W, R, S, stride, pad, itemsize) -> tuple[dict[str, int], dict[str, int]]:
    """(flops, bytes) per pass of max-pool: forward x -> y, argmax; backward dy, argmax -> dx. 0 FLOPs."""
    from kernels.numpy.maxpool2d import argmax_dtype

    P, Q = conv_out(H, R, stride, pad), conv_out(W, S, stride, pad)
    x, y = N * C * H * W * itemsize, N * C * P * Q * itemsize
    am = N * C * P * Q * argmax_dtype(R * S).itemsize
    return {"fwd": 0, "fwd+bwd": 0}, {"fwd": x + y + am, "fwd+bwd": (x + y + am) + (y + am + x)}


def linear_counts(M, K, N, itemsize) -> tuple[dict[str, int], dict[str, int]]:
    """(flops, bytes) per pass of linear+bias+ReLU: 2*M*N*K forward, 3x that with backward.

    Bytes: forward x, w, b -> y; backward dy, x, w, y -> dx, dw, db.
    """
    gemm = 2 * M * N * K
    fwd = M * K + N * K + N + M * N
    bwd = (M * N + M * K + N * K + M * N) + (M * K + N * K + N)
    return {"fwd": gemm, "fwd+bwd": 3 * gemm}, {"fwd": fwd * itemsize, "fwd+bwd": (fwd + bwd) * itemsize}


def softmax_xent_counts(M, V, itemsize) -> tuple[dict[str, int], dict[str, int]]:
    """(flops, bytes) per pass of softmax cross-entropy: forward logits, target -> loss, dlogits (fused);
    backward dlogits -> dlogits * grad_loss. 0 matrix FLOPs."""
    fwd = 2 * M * V * itemsize + M * 8 + itemsize  # int64 targets, scalar loss
    return {"fwd": 0, "fwd+bwd": 0}, {"fwd": fwd, "fwd+bwd": fwd + 2 * M * V * itemsize}


def dropout_counts(n, itemsize) -> tuple[dict[str, int], dict[str, int]]:
    """(flops, bytes) per pass of dropout: x -> y, then dy -> dx (the mask is regenerated, never stored)."""
    return {"fwd": 0, "fwd+bwd": 0}, {"fwd": 2 * n * itemsize, "fwd+bwd": 4 * n * itemsize}


def _grad(out: torch.Tensor, inputs: Sequence[torch.Tensor], dy: torch.Tensor):
    # autograd.grad, not .backward(): nothing accumulates into .grad between timed calls.
    return torch.autograd.grad(out, inputs, dy)


def conv2d_case(name, N, C, H, K, R, stride, pad, dtype) -> Case:
    """conv2d (square images and kernels) with bias, ``x[N, C, H, H]``, ``w[K, C, R, R]``."""
    P = conv_out(H, R, stride, pad)
    flops, nbytes = conv2d_counts(N, C, H, H, K, R, R, stride, pad, _ITEMSIZE[dtype])

    def make(device, tdtype, gen):
        scale = 1.0 / math.sqrt(C * R * R)  # keeps y ~ N(0, 1) so bf16 stays in range
        return {"x": _randn((N, C, H, H), device, tdtype, gen), "w": _randn((K, C, R, R), device, tdtype, gen) * scale,
                "b": _randn((K,), device, tdtype, gen), "dy": _randn((N, K, P, P), device, tdtype, gen)}

    def ours_fwd(kn, a):
        return kn.conv2d.conv2d_forward(a["x"], a["w"], a["b"], stride, pad)

    def ours_fwdbwd(kn, a):
        y = kn.conv2d.conv2d_forward(a["x"], a["w"], a["b"], stride, pad)
        dx = kn.conv2d.conv2d_backward_input(a["dy"], a["w"], tuple(a["x"].shape), stride, pad)
        dw = kn.conv2d.conv2d_backward_weight(a["dy"], a["x"], tuple(a["w"].shape), stride, pad)
        return y, dx, dw, kn.conv2d.conv2d_backward_bias(a["dy"])

    def torch_fwd(a):
        with torch.no_grad():
            return F.conv2d(a["x"], a["w"], a["b"], stride=stride, padding=pad)

    def torch_fwdbwd(a):
        x, w, b = (a[k].detach().requires_grad_() for k in ("x", "w", "b"))
        return _grad(F.conv2d(x, w, b, stride=stride, padding=pad), (x, w, b), a["dy"])

    shapes = {"x": (N, C, H, H), "w": (K, C, R, R), "y": (N, K, P, P)}
    return Case("conv2d", name, shapes, dtype, flops, nbytes, make, ours_fwd, ours_fwdbwd, torch_fwd, torch_fwdbwd,
                {"stride": stride, "padding": pad})


def maxpool2d_case(N, C, H, R, stride, pad, dtype) -> Case:
    """max-pool ``x[N, C, H, H]`` with an R x R window."""
    P = conv_out(H, R, stride, pad)
    flops, nbytes = maxpool2d_counts(N, C, H, H, R, R, stride, pad, _ITEMSIZE[dtype])
    name = f"[{N},{C},{H},{H}] k{R} s{stride}" + (f" p{pad}" if pad else "")

    def make(device, tdtype, gen):
        return {"x": _randn((N, C, H, H), device, tdtype, gen), "dy": _randn((N, C, P, P), device, tdtype, gen)}

    def ours_fwd(kn, a):
        return kn.maxpool2d.maxpool2d_forward(a["x"], R, stride, pad)

    def ours_fwdbwd(kn, a):
        y, argmax = kn.maxpool2d.maxpool2d_forward(a["x"], R, stride, pad)
        return kn.maxpool2d.maxpool2d_backward(a["dy"], argmax, tuple(a["x"].shape), R, stride, pad)

    def torch_fwd(a):
        with torch.no_grad():
            return F.max_pool2d(a["x"], R, stride, pad)

    def torch_fwdbwd(a):
        x = a["x"].detach().requires_grad_()
        return _grad(F.max_pool2d(x, R, stride, pad), (x,), a["dy"])

    shapes = {"x": (N, C, H, H), "y": (N, C, P, P)}
    return Case("maxpool2d", name, shapes, dtype, flops, nbytes, make, ours_fwd, ours_fwdbwd, torch_fwd, torch_fwdbwd,
                {"kernel": R, "stride": stride, "padding": pad})


def linear_relu_case(M, K, N, dtype) -> Case:
    """relu(x[M, K] @ w[N, K].T + b[N]); torch: ``addmm`` + ``relu`` (fwd), autograd (fwd+bwd)."""
    flops, nbytes = linear_counts(M, K, N, _ITEMSIZE[dtype])

    def make(device, tdtype, gen):
        return {"x": _randn((M, K), device, tdtype, gen), "w": _randn((N, K), device, tdtype, gen) / math.sqrt(K),
                "b": _randn((N,), device, tdtype, gen), "dy": _randn((M, N), device, tdtype, gen)}

    def ours_fwd(kn, a):
        return kn.linear_relu.linear_forward(a["x"], a["w"], a["b"], True)

    def ours_fwdbwd(kn, a):
        y = kn.linear_relu.linear_forward(a["x"], a["w"], a["b"], True)
        return kn.linear_relu.linear_backward(a["dy"], a["x"], a["w"], y, True)

    def torch_fwd(a):
        with torch.no_grad():
            return torch.relu_(torch.addmm(a["b"], a["x"], a["w"].t()))

    def torch_fwdbwd(a):
        x, w, b = (a[k].detach().requires_grad_() for k in ("x", "w", "b"))
        return _grad(torch.relu(torch.addmm(b, x, w.t())), (x, w, b), a["dy"])

    shapes = {"x": (M, K), "w": (N, K), "y": (M, N)}
    return Case("linear_relu", f"{M}x{K}x{N}", shapes, dtype, flops, nbytes, make, ours_fwd, ours_fwdbwd,
                torch_fwd, torch_fwdbwd)


def softmax_xent_case(M, V, dtype) -> Case:
    """Mean cross-entropy of ``logits[M, V]`` against int64 ``target[M]``; backward with a random grad_loss."""
    flops, nbytes = softmax_xent_counts(M, V, _ITEMSIZE[dtype])

    def make(device, tdtype, gen):
        target = torch.randint(0, V, (M,), device=device, generator=gen, dtype=torch.int64)
        grad_loss = 0.5 + torch.rand((), device=device, generator=gen, dtype=torch.float32)
        return {"logits": _randn((M, V), device, tdtype, gen), "target": target,
                "grad_loss": float(grad_loss), "dloss": grad_loss.to(tdtype)}

    def ours_fwd(kn, a):
        return kn.softmax_xent.softmax_cross_entropy_forward(a["logits"], a["target"])

    def ours_fwdbwd(kn, a):
        _, dlogits = kn.softmax_xent.softmax_cross_entropy_forward(a["logits"], a["target"])
        return kn.softmax_xent.softmax_cross_entropy_backward(dlogits, a["grad_loss"])

    def torch_fwd(a):
        with torch.no_grad():
            return F.cross_entropy(a["logits"], a["target"])

    def torch_fwdbwd(a):
        logits = a["logits"].detach().requires_grad_()
        return _grad(F.cross_entropy(logits, a["target"]), (logits,), a["dloss"])

    return Case("softmax_xent", f"[{M},{V}]", {"logits": (M, V)}, dtype, flops, nbytes, make, ours_fwd, ours_fwdbwd,
                torch_fwd, torch_fwdbwd)


def dropout_case(n, dtype, label: str | None = None) -> Case:
    """Inverted dropout (p = 0.1) of ``n`` elements; ours regenerates the mask from (seed, offset)."""
    flops, nbytes = dropout_counts(n, _ITEMSIZE[dtype])

    def make(device, tdtype, gen):
        return {"x": _randn((n,), device, tdtype, gen), "dy": _randn((n,), device, tdtype, gen),
                "seed": int(torch.randint(0, 2**31 - 1, (), generator=torch.Generator().manual_seed(n))), "offset": 0}

    def ours_fwd(kn, a):
        return kn.dropout.dropout_forward(a["x"], DROPOUT_P, a["seed"], a["offset"])

    def ours_fwdbwd(kn, a):
        y = kn.dropout.dropout_forward(a["x"], DROPOUT_P, a["seed"], a["offset"])
        return y, kn.dropout.dropout_backward(a["dy"], DROPOUT_P, a["seed"], a["offset"])

    def torch_fwd(a):
        with torch.no_grad():
            return F.dropout(a["x"], DROPOUT_P, training=True)

    def torch_fwdbwd(a):
        x = a["x"].detach().requires_grad_()
        return _grad(F.dropout(x, DROPOUT_P, training=True), (x,), a["dy"])

    return Case("dropout", label or f"{n}", {"x": (n,)}, dtype, flops, nbytes, make, ours_fwd, ours_fwdbwd,
                torch_fwd, torch_fwdbwd, {"p": DROPOUT_P})


def build_cases(suite: str = "full", dtypes: Sequence[str] = DEFAULT_DTYPES,
                families: Sequence[str] | None = None) -> list[Case]:
    """The shape suite: ``"full"`` (the benchmark), ``"quick"`` (one shape per family) or ``"smoke"`` (tiny,
    for the CPU). Cases come in the order family, shape, dtype; ``families`` filters."""
    conv = [  # (name, N, C, H, K, R, stride, pad)
        ("3->64 7x7 s2 p3 @224", 32, 3, 224, 64, 7, 2, 3),
        ("64->64 3x3 p1 @56", 32, 64, 56, 64, 3, 1, 1),
        ("128->128 3x3 p1 @28", 32, 128, 28, 128, 3, 1, 1),
        ("256->256 3x3 p1 @14", 32, 256, 14, 256, 3, 1, 1),
        ("64->256 1x1 @56", 32, 64, 56, 256, 1, 1, 0),
        ("digits 1->32 3x3 p1 @8", 256, 1, 8, 32, 3, 1, 1),
        ("digits 32->64 3x3 p1 @4", 256, 32, 4, 64, 3, 1, 1),
    ]
    pool = [(32, 64, 112, 3, 2, 1), (256, 32, 28, 2, 2, 0)]  # (N, C, H, R, stride, pad)
    linear = [(4096, 4096, 4096), (256, 784, 512), (8192, 1024, 8192)]  # (M, K, N)
    xent = [(8192, 32000), (4096, 128256), (256, 10)]  # (M, V)
    drop = [(2**24, "2^24"), (2**28, "2^28")]
    if suite == "quick":
        conv, pool, linear, xent, drop = conv[1:2], pool[:1], linear[:1], xent[:1], drop[:1]
    elif suite == "smoke":
        conv = [("3->4 3x3 p1 @8", 2, 3, 8, 4, 3, 1, 1), ("2->4 3x3 s2 p1 @7", 2, 2, 7, 4, 3, 2, 1)]
        pool, linear, xent, drop = [(2, 3, 8, 2, 2, 0)], [(8, 16, 12)], [(8, 10)], [(1024, "2^10")]
    elif suite != "full":
        raise ValueError(f"suite must be 'full', 'quick' or 'smoke', got {suite!r}")
    builders: dict[str, list[Callable[[str], Case]]] = {
        "conv2d": [lambda d, c=c: conv2d_case(*c, d) for c in conv],
        "maxpool2d": [lambda d, c=c: maxpool2d_case(*c, d) for c in pool],
        "linear_relu": [lambda d, c=c: linear_relu_case(*c, d) for c in linear],
        "softmax_xent": [lambda d, c=c: softmax_xent_case(*c, d) for c in xent],
        "dropout": [lambda d, c=c: dropout_case(c[0], d, c[1]) for c in drop],
    }
    wanted = FAMILIES if families is None else families
    unknown = [f for f in wanted if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    return [build(d) for family in FAMILIES if family in wanted for build in builders[family] for d in dtypes]


# ---------------------------------------------------------------------------------------- backends


@dataclass
class Backend:
    """A kernel backend under test: its package and how to turn torch inputs into its arrays."""

    name: str
    module: Any
    to_native: Callable[[Any], Any]

    def convert(self, inputs: Inputs) -> Inputs:
        return {k: self.to_native(v) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def load_backends(names: Sequence[str], device: str) -> tuple[list[Backend], dict[str, str]]:
    """Import the requested backends; returns (usable backends, {name: reason} for the skipped ones).

    On ``device == "cpu"`` the numpy reference is always included (the smoke test's "ours"); Triton works
    there only under ``TRITON_INTERPRET=1``; CuPy never does.
    """
    backends: list[Backend] = []
    skipped: dict[str, str] = {}
    if device == "cpu":
        backends.append(Backend("numpy", importlib.import_module("kernels.numpy"), lambda t: t.numpy()))
    for name in names:
        if name == "numpy":
            continue
        if device == "cpu" and name == "cupy":
            skipped[name] = "CuPy needs a CUDA GPU"
            continue
        try:
            module = importlib.import_module(f"kernels.{name}")
        except Exception as exc:  # ImportError, or a CUDA/toolchain error raised at import
            skipped[name] = f"{type(exc).__name__}: {exc}"
            continue
        if name == "cupy":
            import cupy  # imported fine above, so present

            backends.append(Backend(name, module, cupy.asarray))  # zero-copy through __cuda_array_interface__
        else:
            backends.append(Backend(name, module, lambda t: t))
    return backends, skipped


# ------------------------------------------------------------------------------------------- timing


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_ms(fn: Callable[[Inputs], Any], input_sets: Sequence[Inputs], *, device: str, reps: int,
            warmup: int) -> dict[str, float]:
    """Median (and 20th/80th percentile) milliseconds of ``fn(inputs)``, rotating among ``input_sets``.

    On CUDA each call is bracketed by its own pair of events (device time, launch included) and the
    events are read after one final synchronize; on the CPU a wall clock is used. ``warmup`` untimed calls
    (at least one per input set) come first so compilation, autotuning and allocator growth stay out of
    the median. The first of them is timed on its own, host clock around the call and a synchronize:
    ``first_call_ms``, the cold start (JIT compile and autotune of whatever this process has not run yet).
    """
    _synchronize(device)
    start = time.perf_counter()
    fn(input_sets[0])
    _synchronize(device)
    first_call_ms = (time.perf_counter() - start) * 1e3
    for i in range(1, max(warmup, len(input_sets))):
        fn(input_sets[i % len(input_sets)])
    times: list[float] = []
    if device == "cuda":
        torch.cuda.synchronize()
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
        for i, (start, end) in enumerate(events):
            start.record()
            fn(input_sets[i % len(input_sets)])
            end.record()
        torch.cuda.synchronize()
        times = [start.elapsed_time(end) for start, end in events]
    else:
        for i in range(reps):
            t0 = time.perf_counter()
            fn(input_sets[i % len(input_sets)])
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"median": statistics.median(times), "p20": times[int(0.2 * (len(times) - 1))],
            "p80": times[int(0.8 * (len(times) - 1))], "reps": len(times), "first_call_ms": first_call_ms}


def _tensor_bytes(inputs: Inputs) -> int:
    return sum(v.numel() * v.element_size() for v in inputs.values() if isinstance(v, torch.Tensor))


def copies_for(set_bytes: int, budget: int = ROTATE_BYTES, limit: int = MAX_COPIES) -> int:
    """How many input copies to rotate so that together they exceed ``budget`` bytes (at most ``limit``)."""
    return max(1, min(limit, math.ceil(budget / max(set_bytes, 1))))


@dataclass
class _TF32:
    """Context manager: cuBLAS float32 matmuls with TF32 on or off, restored afterwards."""

    enabled: bool

    def __enter__(self):
        self._saved = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = self.enabled

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32 = self._saved


def _matmul(t: Inputs) -> torch.Tensor:
    return t["a"] @ t["b"]


def measure_ceilings(device: str, *, copy_bytes: int = 2**30, matmul_n: int = 8192, reps: int = 20,
                     dtypes: Sequence[str] = ("bfloat16", "float16", "float32")) -> dict[str, Any]:
    """Measured ceilings on ``device``: copy bandwidth (GB/s, bytes = read + written) and matmul TFLOP/s.

    Keys: ``bandwidth_gbs``, ``tflops`` = {"bfloat16", "float16", "float32_ieee", "float32_tf32", and
    "float64" when ``dtypes`` has it} (only the float32 pair on the CPU), plus the sizes used.
    ``float32_ieee`` (TF32 off) is the FP32 FMA ceiling. Inputs are random, never zeros, which can run
    faster.
    """
    gen = torch.Generator(device=device).manual_seed(0)
    n = copy_bytes // 4
    src = torch.rand(n, device=device, generator=gen)
    dst = torch.empty_like(src)
    # Tensors go in through the inputs dict, so deleting them afterwards frees the memory.
    copy = time_ms(lambda t: t["dst"].copy_(t["src"]), [{"src": src, "dst": dst}], device=device, reps=reps, warmup=3)
    del src, dst
    bandwidth = 2 * n * 4 / (copy["median"] * 1e-3) / 1e9
    tflops: dict[str, float] = {}
    flops = 2 * matmul_n**3
    for dtype in dtypes:
        if device == "cpu" and dtype != "float32":
            continue  # CPU half-precision matmuls are not what anything here runs on
        tdtype = getattr(torch, dtype)
        ab = [{"a": _randn((matmul_n, matmul_n), device, tdtype, gen),
               "b": _randn((matmul_n, matmul_n), device, tdtype, gen)}]
        modes = [("float32_ieee", False), ("float32_tf32", True)] if dtype == "float32" else [(dtype, None)]
        for key, tf32 in modes:
            if tf32 is None:
                t = time_ms(_matmul, ab, device=device, reps=reps, warmup=3)
            else:
                with _TF32(tf32):
                    t = time_ms(_matmul, ab, device=device, reps=reps, warmup=3)
            tflops[key] = flops / (t["median"] * 1e-3) / 1e12
        del ab
    if device == "cpu":
        tflops.setdefault("float32_tf32", tflops["float32_ieee"])  # no TF32 on a CPU: the same ceiling
    return {"bandwidth_gbs": bandwidth, "tflops": tflops, "copy_bytes": 2 * n * 4, "matmul_n": matmul_n}


def precision_mode(family: str, dtype: str, module: Any = None) -> str:
    """The arithmetic a kernel of ``family`` really does on ``dtype`` inputs (recorded with every timing).

    ``fp64`` for float64. Matrix families (:data:`MATMUL_FAMILIES`): ``fp16`` / ``bf16`` (tensor-core
    operands, float32 accumulation) for the 16-bit dtypes; for float32 ``ieee`` (products on the FMA
    units), or ``tf32`` when the family ``module``'s ``ALLOW_TF32`` switch is on (the Triton kernels pass
    ``input_precision`` to every ``tl.dot`` from it; the CUDA C kernels have no TF32 path and no switch).
    Elementwise families compute in IEEE float32 whatever the storage dtype: ``ieee``.
    """
    if dtype == "float64":
        return "fp64"
    if family not in MATMUL_FAMILIES:
        return "ieee"
    if dtype == "float16":
        return "fp16"
    if dtype == "bfloat16":
        return "bf16"
    return "tf32" if getattr(module, "ALLOW_TF32", False) else "ieee"


def torch_precision_mode(family: str, dtype: str) -> str:
    """PyTorch's precision mode for a family's reference call: float32 convolutions use TF32 when
    ``torch.backends.cudnn.allow_tf32`` (PyTorch's default), float32 matmuls when
    ``torch.backends.cuda.matmul.allow_tf32`` (off by default); on the CPU there is no TF32."""
    if dtype != "float32" or family not in MATMUL_FAMILIES or not torch.cuda.is_available():
        return precision_mode(family, dtype)
    tf32 = torch.backends.cudnn.allow_tf32 if family == "conv2d" else torch.backends.cuda.matmul.allow_tf32
    return "tf32" if tf32 else "ieee"


def matmul_peak(precision: str, ceilings: dict[str, Any]) -> float | None:
    """The measured matmul TFLOP/s a case of ``precision`` is held to (None if that ceiling was not measured).

    ``ieee`` float32 is held to the float32 matmul rate with TF32 off (the FP32 FMA ceiling), never to
    TF32's; ``tf32x3`` does three TF32 products per float32 product, so it gets a third of the TF32 rate.
    """
    peak = ceilings["tflops"].get(PRECISION_CEILINGS[precision])
    if peak is not None and precision == "tf32x3":
        peak /= 3
    return peak


def roofline(flops: int, nbytes: int, ms: float, precision: str, ceilings: dict[str, Any]) -> dict[str, Any]:
    """Achieved rate and fraction of the roofline for one timing of a case run in ``precision`` mode.

    The floor is ``max(flops / peak, bytes / bandwidth)`` with peak = :func:`matmul_peak`; ``bound`` names
    the larger term, ``achieved`` is TFLOP/s when compute-bound and GB/s when memory-bound, and
    ``fraction`` = floor / ms.
    """
    peak = matmul_peak(precision, ceilings)
    t_flops = flops / (peak * 1e12) * 1e3 if flops and peak else 0.0
    t_bytes = nbytes / (ceilings["bandwidth_gbs"] * 1e9) * 1e3
    compute = t_flops > t_bytes
    achieved = flops / (ms * 1e-3) / 1e12 if compute else nbytes / (ms * 1e-3) / 1e9
    return {"bound": "compute" if compute else "memory", "achieved": achieved,
            "achieved_unit": "TFLOP/s" if compute else "GB/s", "floor_ms": max(t_flops, t_bytes),
            "fraction": max(t_flops, t_bytes) / ms, "ceiling": PRECISION_CEILINGS[precision] if flops else None}


# ------------------------------------------------------------------------------------------ running


def _family_module(backend: Backend, family: str) -> Any:
    """The backend's module for ``family``, or None when it cannot be loaded (the timing then records why)."""
    try:
        return getattr(backend.module, family)
    except Exception:
        return None


def run_case(case: Case, backends: Sequence[Backend], ceilings: dict[str, Any], *, device: str, reps: int,
             warmup: int, seed: int = 0, max_copies: int = MAX_COPIES) -> list[dict[str, Any]]:
    """Time one case, both passes, PyTorch and every backend; returns one row per (pass, backend).

    Inputs rotate among up to ``max_copies`` copies (see :func:`copies_for`). Each row records the
    precision mode of ours and of PyTorch (each held to its own ceiling), the cold start of both (the
    first call of the pass in this process: for ``fwd+bwd`` the forward kernel is already compiled by
    then), and the SM clock read right after each timed loop.

    A backend that lacks the family or fails on the case gets a row with ``error`` and no time, so one
    unfinished kernel does not stop the run.
    """
    tdtype = getattr(torch, case.dtype)
    gen = torch.Generator(device=device).manual_seed(seed)
    first = case.make_inputs(torch.device(device), tdtype, gen)
    sets = [first] + [case.make_inputs(torch.device(device), tdtype, gen)
                      for _ in range(copies_for(_tensor_bytes(first), limit=max_copies) - 1)]
    torch_precision = torch_precision_mode(case.family, case.dtype)
    rows = []
    for pass_ in PASSES:
        torch_t = time_ms(case.torch(pass_), sets, device=device, reps=reps, warmup=warmup)
        torch_clock = sm_clock_mhz(device)
        for backend in backends:
            precision = precision_mode(case.family, case.dtype, _family_module(backend, case.family))
            row: dict[str, Any] = {
                "family": case.family, "case": case.name, "shapes": {k: list(v) for k, v in case.shapes.items()},
                "params": case.params, "dtype": case.dtype, "pass": pass_, "backend": backend.name,
                "precision": precision, "torch_precision": torch_precision,
                "flops": case.flops[pass_], "bytes": case.bytes[pass_], "input_copies": len(sets),
                "torch_ms": torch_t["median"], "torch_ms_p20_p80": [torch_t["p20"], torch_t["p80"]],
                "torch_cold_ms": torch_t["first_call_ms"], "torch_sm_clock_mhz": torch_clock,
                "ours_ms": None, "ours_cold_ms": None, "sm_clock_mhz": None, "ratio": None, "error": None,
                "torch_roofline": roofline(case.flops[pass_], case.bytes[pass_], torch_t["median"], torch_precision,
                                           ceilings),
            }
            try:
                native = [backend.convert(s) for s in sets]
                fn = case.ours(pass_)
                ours_t = time_ms(lambda a, fn=fn, m=backend.module: fn(m, a), native, device=device, reps=reps,
                                 warmup=warmup)
            except Exception as exc:  # a missing family module, an unsupported dtype, a kernel bug
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
            else:
                row.update(ours_ms=ours_t["median"], ours_ms_p20_p80=[ours_t["p20"], ours_t["p80"]],
                           ours_cold_ms=ours_t["first_call_ms"], sm_clock_mhz=sm_clock_mhz(device),
                           ratio=torch_t["median"] / ours_t["median"],
                           roofline=roofline(case.flops[pass_], case.bytes[pass_], ours_t["median"], precision,
                                             ceilings))
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------------- environment


def nvidia_smi(field: str) -> str | None:
    """One ``nvidia-smi --query-gpu`` field of GPU 0 (e.g. ``"clocks.sm"``), or None when unavailable."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
        return out.strip().splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def sm_clock_mhz(device: str) -> int | None:
    """The GPU's current SM clock in MHz (NVML through ``torch.cuda.clock_rate``, else nvidia-smi); None on
    the CPU or when neither answers. Read right after timed work, it is the clock that work ran at."""
    if device != "cuda":
        return None
    try:
        return int(torch.cuda.clock_rate())
    except Exception:  # no pynvml, or NVML refuses: fall back to nvidia-smi
        value = nvidia_smi("clocks.sm")
        try:
            return int(value.split()[0]) if value else None
        except ValueError:
            return None


#: nvidia-smi fields of :func:`gpu_clocks` (queried one by one: an unknown field fails the whole query).
CLOCK_FIELDS = ("clocks.sm", "clocks.max.sm", "clocks.mem", "clocks.max.mem", "pstate", "power.draw",
                "power.limit", "temperature.gpu", "clocks_event_reasons.active")


def gpu_clocks() -> dict[str, str | None]:
    """A snapshot of the clocks, power and temperature nvidia-smi reports (strings as it prints them)."""
    return {field: nvidia_smi(field) for field in CLOCK_FIELDS}


def jit_cache_state() -> dict[str, Any]:
    """Triton's and CuPy's on-disk kernel caches: folder and entry count. A cold start that found its kernels
    there is autotune plus a cache load, not a compile."""
    folders = {"triton": os.environ.get("TRITON_CACHE_DIR") or str(Path.home() / ".triton" / "cache"),
               "cupy": os.environ.get("CUPY_CACHE_DIR") or str(Path.home() / ".cupy" / "kernel_cache")}
    state = {}
    for name, folder in folders.items():
        path = Path(folder)
        state[name] = {"dir": folder, "entries": sum(1 for _ in path.iterdir()) if path.is_dir() else 0}
    return state


def environment(device: str) -> dict[str, Any]:
    """Device and versions: GPU (name, compute capability, SMs, L2, memory), driver (nvidia-smi), CUDA,
    cuDNN, torch, triton, cupy, numpy, array-api-compat, Python, host; on CUDA also a clock snapshot."""
    env: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "host": platform.node(), "platform": platform.platform()}
    for name in ("triton", "cupy", "numpy", "array_api_compat"):
        try:
            env[name] = importlib.import_module(name).__version__
        except Exception:
            env[name] = None
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                   compute_capability=f"{props.major}.{props.minor}", sm_count=props.multi_processor_count,
                   l2_cache_mib=round(getattr(props, "L2_cache_size", 0) / 2**20, 1) or None,
                   gpu_memory_gib=round(props.total_memory / 2**30, 1), cudnn=torch.backends.cudnn.version(),
                   torch_defaults={"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                                   "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32},
                   driver=nvidia_smi("driver_version"), clocks=gpu_clocks())
    return env


def slug(text: str) -> str:
    """File-name-safe lower-case slug: ``"NVIDIA H100 80GB HBM3"`` -> ``"nvidia-h100-80gb-hbm3"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def _fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else (f"{ms:.4f}" if ms < 0.1 else f"{ms:.3f}")


def _fmt_cold(ms: float | None) -> str:
    return "-" if ms is None else (f"{ms:.1f}" if ms < 1000 else f"{ms / 1e3:.1f} s")


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results table, one line per row; ``ratio`` = torch / ours (> 1: ours is faster), ``prec`` our
    precision mode, ``cold ms`` the first call (compile + autotune), ``SM MHz`` the clock after timing."""
    header = ["family", "case", "dtype", "pass", "backend", "prec", "ours ms", "cold ms", "torch ms", "torch/ours",
              "SM MHz", "achieved", "roofline"]
    lines = [header]
    for r in rows:
        head = [r["family"], r["case"], r["dtype"], r["pass"], r["backend"], r.get("precision") or "-"]
        if r["ours_ms"] is None:
            tail = ["-", "-", _fmt_ms(r["torch_ms"]), "-", "-", "error: " + (r["error"] or "?")[:60], ""]
        else:
            roof = r["roofline"]
            clock = r.get("sm_clock_mhz")
            tail = [_fmt_ms(r["ours_ms"]), _fmt_cold(r.get("ours_cold_ms")), _fmt_ms(r["torch_ms"]),
                    f"{r['ratio']:.2f}x", "-" if clock is None else str(clock),
                    f"{roof['achieved']:.3g} {roof['achieved_unit']}", f"{100 * roof['fraction']:.0f}%"]
        lines.append([*head, *tail])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line[:-1], widths)) + "  " + line[-1] for line in lines)


def compare_backends(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (family, case, dtype, pass): PyTorch's and every backend's median side by side, and
    ``cupy_vs_triton`` = triton ms / cupy ms (>= 0.8 is the CuPy backend's target; > 1: CuPy is faster)."""
    table: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["family"], r["case"], r["dtype"], r["pass"])
        entry = table.setdefault(key, {"family": key[0], "case": key[1], "dtype": key[2], "pass": key[3],
                                       "torch_ms": r["torch_ms"], "ms": {}})
        entry["ms"][r["backend"]] = r["ours_ms"]
    for entry in table.values():
        tri, cu = entry["ms"].get("triton"), entry["ms"].get("cupy")
        entry["cupy_vs_triton"] = tri / cu if tri and cu else None
    return list(table.values())


def format_comparison(entries: Sequence[dict[str, Any]]) -> str:
    """The side-by-side table: torch ms, one column per backend, and triton/cupy."""
    names = sorted({b for e in entries for b in e["ms"]})
    lines = [["family", "case", "dtype", "pass", "torch ms", *(f"{b} ms" for b in names), "triton/cupy"]]
    for e in entries:
        ratio = e["cupy_vs_triton"]
        lines.append([e["family"], e["case"], e["dtype"], e["pass"], _fmt_ms(e["torch_ms"]),
                      *(_fmt_ms(e["ms"].get(b)) for b in names), "-" if ratio is None else f"{ratio:.2f}x"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def run_bench(families: Sequence[str] | None = None, backends: Sequence[str] = GPU_BACKENDS, quick: bool = False,
              out: str | Path | None = None, allow_cpu: bool = False, dtypes: Sequence[str] = DEFAULT_DTYPES,
              reps: int | None = None) -> int:
    """Run the benchmark, print the table, write the JSON. Returns the exit status.

    0 on success; 2 (with a message on stderr) when there is no CUDA GPU and ``allow_cpu`` is False, or
    when an argument is invalid. With ``allow_cpu`` and no GPU: the smoke suite on the CPU (float32, a few
    repeats, one thread), whose JSON says device ``"cpu (smoke test, not a benchmark)"``.
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not allow_cpu:
        print("kernelgrad bench: no CUDA GPU found (torch.cuda.is_available() is False). The kernel benchmark "
              "needs an NVIDIA GPU; run it on a GPU machine, or pass --allow-cpu for a smoke test of the "
              "harness on the CPU (not a benchmark).", file=sys.stderr)
        return 2
    unknown = [b for b in backends if b not in (*GPU_BACKENDS, "numpy")]
    if unknown:
        print(f"kernelgrad bench: unknown backend {unknown[0]!r}; choose from {', '.join(GPU_BACKENDS)}",
              file=sys.stderr)
        return 2
    try:
        if device == "cuda":
            cases = build_cases("quick" if quick else "full", dtypes, families)
        else:
            cases = build_cases("smoke", ("float32",), families)  # numpy has no bfloat16
    except ValueError as exc:
        print(f"kernelgrad bench: {exc}", file=sys.stderr)
        return 2

    saved_threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)  # a smoke test on a shared CPU: stay on one core
    try:
        loaded, skipped = load_backends(backends, device)
        for name, reason in skipped.items():
            print(f"skipping backend {name}: {reason}")
        if not loaded:
            print("kernelgrad bench: no kernel backend could be imported (see above); timing PyTorch only is "
                  "not this benchmark's purpose", file=sys.stderr)
            return 2
        env = environment(device)
        jit_caches = jit_cache_state()
        label = env["gpu"] if device == "cuda" else CPU_DEVICE_LABEL
        print(f"device: {label}")
        if device == "cuda":
            ceilings = measure_ceilings(device, dtypes=("bfloat16", "float16", "float32", "float64")
                                        if "float64" in dtypes else ("bfloat16", "float16", "float32"))
            reps, warmup, max_copies = reps or 100, 10, MAX_COPIES
        else:
            # Two copies exercise the rotation; more would only slow Triton's interpreter down.
            ceilings = measure_ceilings(device, copy_bytes=16 * 2**20, matmul_n=256, reps=5)
            reps, warmup, max_copies = reps or 5, 1, 2
        print(f"ceilings: copy {ceilings['bandwidth_gbs']:.0f} GB/s; matmul "
              + ", ".join(f"{k} {v:.1f} TFLOP/s" for k, v in ceilings["tflops"].items()))
        rows: list[dict[str, Any]] = []
        for case in cases:
            rows += run_case(case, loaded, ceilings, device=device, reps=reps, warmup=warmup, max_copies=max_copies)
            if device == "cuda":
                torch.cuda.empty_cache()  # the next case may need the memory (2^28 dropout, 128k-vocab CE)
    finally:
        torch.set_num_threads(saved_threads)

    table = format_table(rows)
    print(table)
    comparison = compare_backends(rows)
    if len(loaded) > 1:
        print()
        print(format_comparison(comparison))
    date = datetime.date.today().isoformat()
    if out is None:
        out = results_dir() / f"kernels-{slug(env['gpu']) if device == 'cuda' else 'cpu-smoke'}-{date}.json"
    result = {
        "benchmark": "kernels",
        "device": label,
        "date": date,
        "suite": ("quick" if quick else "full") if device == "cuda" else "smoke",
        "versions": env,
        "ceilings": ceilings,
        "timing": {"reps": reps, "warmup": warmup, "statistic": "median",
                   "timer": "cuda events" if device == "cuda" else "wall clock (perf_counter)",
                   "rotate_bytes": ROTATE_BYTES, "max_input_copies": max_copies,
                   "cold_start": "first call of each pass, host clock + synchronize: JIT compile (unless the "
                                 "kernel was in jit_caches) and autotune"},
        "jit_caches": jit_caches,
        "clocks_after": gpu_clocks() if device == "cuda" else None,
        "backends": [b.name for b in loaded],
        "skipped_backends": skipped,
        "rows": rows,
        "comparison": comparison,
    }
    write_json(Path(out), result)
    print(f"wrote {out}")
    return 0


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``kernelgrad bench`` (also ``python -m benchmarks.kernels``), added to ``parser``."""
    parser = parser or argparse.ArgumentParser(prog="python -m benchmarks.kernels",
                                               description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", action="append", choices=FAMILIES, default=None,
                        help="benchmark only this family (repeatable; default: all five)")
    parser.add_argument("--backends", default=",".join(GPU_BACKENDS),
                        help=f"comma-separated kernel backends (default {','.join(GPU_BACKENDS)}; "
                             "one that fails to import is skipped with the reason)")
    parser.add_argument("--quick", action="store_true", help="one shape per family instead of the full suite")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/kernels-<gpu>-<date>.json)")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="without a GPU, run a tiny smoke suite on the CPU (tests the harness; not a benchmark)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: parse ``argv`` and call :func:`run_bench`."""
    args = build_parser().parse_args(argv)
    return run_bench(families=args.family, backends=[b for b in args.backends.split(",") if b], quick=args.quick,
                     out=args.out, allow_cpu=args.allow_cpu)


if __name__ == "__main__":
    sys.exit(main())
