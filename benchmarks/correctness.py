"""Correctness of the GPU kernels against PyTorch in float64: every family, forward and every backward output.

One run checks one kernel backend in one dtype (``kernelgrad gpu-check`` starts one such worker per backend
and dtype, in parallel). For each case of the suite it draws fresh random inputs from a seed it records,
rounds them to the dtype, and calls the backend's kernel functions directly (the ``kernels/numpy``
contract) while every array they allocate is poisoned first (:func:`poisoned_allocations`: NaN for floats,
-1 for integers), so an element a kernel never writes cannot pass. The reference is PyTorch in float64
(on the GPU when there is one, else the CPU) on the same rounded inputs. Every element counts:
``‖out − ref‖ / ‖ref‖`` must stay within the tolerance of the dtype and precision mode
(:func:`tolerance`), and a NaN or inf anywhere fails. Exact outputs are compared exactly: max-pool's
values and argmax, and dropout's output bit for bit against the numpy kernel's formula with the mask
drawn by the numpy kernel's Philox for the same seed and offset.

Each finished check is appended to a JSON-lines file at once, so a worker killed at its timeout keeps what
it did. A row's ``status`` is ``pass``, ``fail`` (values off), ``error`` (the kernel raised: a compile
error, no autotune config that fits, a launch failure) or ``unsupported`` (a dtype the backend does not
store, e.g. bfloat16 in CuPy). The exit status is 1 when any row failed or errored.

Run: ``python -m benchmarks.correctness --backend triton --dtype float32 --out rows.jsonl`` (``--suite dry``:
tiny shapes for the CPU, with ``TRITON_INTERPRET=1`` / ``KERNELGRAD_CUDA_EMULATE=1``; ``--seed S`` repeats
a run's inputs). ``--backend`` also takes a dotted module path of a kernels package with numpy arrays (the
``kernels.numpy`` contract): that is how the tests prove a wrong kernel fails.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.kernels import FAMILIES, precision_mode

DTYPES = ("float32", "float16", "bfloat16", "float64")
IGNORE_INDEX = -100

#: Backend and dtype pairs that cannot be checked, with the reason (recorded as ``unsupported``, not a failure).
UNSUPPORTED = {
    ("cupy", "bfloat16"): "CuPy has no bfloat16 dtype",
    ("numpy", "bfloat16"): "numpy has no bfloat16 dtype",
}

#: Cases per suite and family: (name, parameters). ``gpu``: the shapes of ``kernelgrad bench --quick`` (so the
#: kernels compiled here, whose binaries depend on the shapes only through 16-divisibility, are the ones the
#: benchmark runs next; two are smaller, as noted) plus one odd shape per family that exercises the edges (sizes
#: that are not multiples of any block, stride and padding per axis, non-square windows, 64-bit dropout
#: offsets). ``dry``: the odd shapes only, tiny, for the CPU interpreter and emulator.
SUITES: dict[str, dict[str, list[tuple[str, dict[str, Any]]]]] = {
    "gpu": {
        "conv2d": [
            ("64->64 3x3 p1 @56", dict(N=32, C=64, H=56, W=56, K=64, R=3, S=3, stride=1, padding=1)),
            ("5->7 5x3 s(2,1) p(2,1) @13x11", dict(N=3, C=5, H=13, W=11, K=7, R=5, S=3, stride=(2, 1),
                                                   padding=(2, 1))),
        ],
        "maxpool2d": [
            ("[32,64,112,112] k3 s2 p1", dict(N=32, C=64, H=112, W=112, kernel=3, stride=2, padding=1)),
            ("[3,5,13,11] k(3,2) s(2,1) p(1,0)", dict(N=3, C=5, H=13, W=11, kernel=(3, 2), stride=(2, 1),
                                                      padding=(1, 0))),
        ],
        "linear_relu": [
            ("4096x4096x4096", dict(M=4096, K=4096, N=4096)),
            ("13x7x3", dict(M=13, K=7, N=3)),
        ],
        "softmax_xent": [
            ("[4096,32000]", dict(M=4096, V=32000)),  # bench's 8192 rows would need 2 GB per float64 copy
            ("[7,10]", dict(M=7, V=10)),
        ],
        # 2^22, not bench's 2^24: the numpy Philox reference costs seconds per 2^24 on a CPU core; an aligned offset
        # (production's four-outputs-per-Philox-call kernel) and an unaligned one (its per-element fallback)
        "dropout": [
            ("2^22 p0.1 offset 12344", dict(n=2**22, p=0.1, offset=12344)),
            ("1000003 p0.5 offset 2^40+3", dict(n=1_000_003, p=0.5, offset=2**40 + 3)),
        ],
    },
    "dry": {
        "conv2d": [("3->4 3x2 s(2,1) p(1,1) @7x6", dict(N=2, C=3, H=7, W=6, K=4, R=3, S=2, stride=(2, 1),
                                                         padding=(1, 1)))],
        "maxpool2d": [("[2,3,7,6] k(3,2) s(2,1) p(1,0)", dict(N=2, C=3, H=7, W=6, kernel=(3, 2), stride=(2, 1),
                                                              padding=(1, 0)))],
        "linear_relu": [("5x7x3", dict(M=5, K=7, N=3))],
        "softmax_xent": [("[6,11]", dict(M=6, V=11))],
        "dropout": [("1000 p0.3 offset 2^33+5", dict(n=1000, p=0.3, offset=2**33 + 5))],
    },
}


def tolerance(dtype: str, precision: str) -> float:
    """Largest accepted ``‖out − ref‖ / ‖ref‖``: 1e-2 for float16/bfloat16 storage, 1e-10 for float64,
    and for float32 1e-4 (IEEE products; also tf32x3) or 1e-3 (tf32)."""
    if dtype in ("float16", "bfloat16"):
        return 1e-2
    if dtype == "float64":
        return 1e-10
    return 1e-3 if precision == "tf32" else 1e-4


def check_seed(base_seed: int, *parts: str) -> int:
    """The seed of one check: a fixed function of the run's base seed and the check's name."""
    return (base_seed * 1_000_003 + zlib.crc32("/".join(parts).encode())) % 2**31


# ------------------------------------------------------------------------------------------ targets


@dataclass
class Target:
    """A kernel backend under test: its package, how torch tensors become its arrays and back, and the
    array library whose ``empty`` / ``empty_like`` its kernels allocate outputs with."""

    name: str
    module: Any
    to_native: Callable[[torch.Tensor], Any]
    to_torch: Callable[[Any], torch.Tensor]
    library: Any  # torch, cupy or numpy: poisoned by poisoned_allocations


def _numpy_target(name: str, module: Any) -> Target:
    return Target(name, module, lambda t: t.detach().cpu().contiguous().numpy(),
                  lambda a: torch.from_numpy(np.asarray(a, order="C")), np)  # not ascontiguousarray: 0-d stays 0-d


def load_target(name: str) -> Target:
    """``triton``, ``cupy`` (a GPU, or the CPU emulator under ``KERNELGRAD_CUDA_EMULATE=1``), ``numpy``, or a
    dotted module path of a kernels package with numpy arrays. Raises ImportError when it cannot load."""
    if name == "triton":
        module = importlib.import_module("kernels.triton")
        return Target(name, module, lambda t: t.contiguous(), lambda t: t, torch)
    if name == "cupy":
        module = importlib.import_module("kernels.cupy")
        from kernels.cupy._runtime import emulating

        if emulating():
            return _numpy_target(name, module)
        import cupy

        # Zero-copy both ways: __cuda_array_interface__ in, DLPack out; torch and CuPy share the legacy stream.
        return Target(name, module, lambda t: cupy.asarray(t.contiguous()), torch.from_dlpack, cupy)
    if name == "numpy":
        return _numpy_target(name, importlib.import_module("kernels.numpy"))
    return _numpy_target(name, importlib.import_module(name))


def _address(array: Any) -> int:
    if isinstance(array, torch.Tensor):
        return array.data_ptr()
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return array.data.ptr  # cupy


def _poison(array: Any, library: Any) -> None:
    dtype = array.dtype
    if library is torch:
        if dtype.is_floating_point:
            array.fill_(float("nan"))
        elif dtype != torch.bool:
            array.fill_(-1 if dtype.is_signed else torch.iinfo(dtype).max)
        return
    if np.issubdtype(dtype, np.floating):  # numpy's dtype tests also answer for CuPy arrays' dtypes
        array.fill(np.nan)
    elif np.issubdtype(dtype, np.integer):
        array.fill(-1 if np.issubdtype(dtype, np.signedinteger) else np.iinfo(dtype).max)


@contextlib.contextmanager
def poisoned_allocations(library: Any) -> Iterator[list[tuple[int, int]]]:
    """Within the block, ``library.empty`` and ``library.empty_like`` return poisoned arrays.

    Floats are filled with NaN and integers with -1 (unsigned: the largest value), so an output element a
    kernel never writes shows up as NaN or an impossible index. Yields the ``(address, nbytes)`` of every
    poisoned allocation, so a check can record whether each output came from one. The kernels look
    ``empty`` up on the library at call time (``torch.empty``, ``cupy.empty`` through ``_runtime.empty``),
    which is what makes this work without touching them.
    """
    allocations: list[tuple[int, int]] = []
    originals = {name: getattr(library, name) for name in ("empty", "empty_like")}

    def wrap(original):
        def poisoned(*args, **kwargs):
            array = original(*args, **kwargs)
            _poison(array, library)
            allocations.append((_address(array), array.nbytes))
            return array

        return poisoned

    for name, original in originals.items():
        setattr(library, name, wrap(original))
    try:
        yield allocations
    finally:
        for name, original in originals.items():
            setattr(library, name, original)


# ---------------------------------------------------------------------------------------- comparing


@dataclass
class Output:
    """One kernel output and its float64 reference; ``exact`` outputs must match element for element.
    ``derived`` outputs (dropout's mask) are torch tensors computed from a kernel output, not kernel arrays."""

    name: str
    ours: Any
    ref: torch.Tensor
    exact: bool = False
    derived: bool = False


#: What a family's check returns: its outputs, and the poisoned allocations made while its kernels ran.
Checked = tuple[list[Output], list[tuple[int, int]]]


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def compare(output: Output, target: Target, tol: float, allocations: list[tuple[int, int]]) -> dict[str, Any]:
    """Every element of one output against its reference: shape, non-finite count, relative error, and for
    exact outputs the number of mismatching elements. ``ok`` says whether it passes."""
    ours = (output.ours if output.derived else target.to_torch(output.ours)).to(output.ref.device)
    ref = output.ref
    poisoned = None if output.derived else any(start <= _address(output.ours) < start + n for start, n in allocations)
    result: dict[str, Any] = {
        "name": output.name, "shape": list(ref.shape), "dtype": str(ours.dtype).removeprefix("torch."),
        "poisoned": poisoned,
        "tol": "exact" if output.exact else tol, "rel_err": None, "nonfinite": None, "mismatches": None,
        "ok": False,
    }
    if tuple(ours.shape) != tuple(ref.shape):
        result["problem"] = f"shape {tuple(ours.shape)} != reference {tuple(ref.shape)}"
        return result
    ours64 = ours.double()
    ref64 = ref.double()
    if not bool(torch.isfinite(ref64).all()):
        result["problem"] = "the reference has non-finite values: the inputs are unsuitable"
        return result
    result["nonfinite"] = int((~torch.isfinite(ours64)).sum())
    ref_norm = float(torch.linalg.vector_norm(ref64))
    if ref_norm > 0:
        result["rel_err"] = _finite_or_none(float(torch.linalg.vector_norm(ours64 - ref64)) / ref_norm)
    elif not output.exact:
        result["problem"] = "the reference is all zeros: the comparison would prove nothing"
        return result
    if output.exact:
        result["mismatches"] = int((ours64 != ref64).sum())  # NaN != anything: counted
        result["ok"] = result["mismatches"] == 0
    else:
        result["ok"] = result["nonfinite"] == 0 and result["rel_err"] is not None and result["rel_err"] <= tol
    return result


# --------------------------------------------------------------------------------------- the checks


def _randn(shape, dtype: torch.dtype, gen: torch.Generator, device: str) -> torch.Tensor:
    # Drawn in float32, then rounded to the dtype once: the kernel and the reference see the same numbers.
    return torch.randn(shape, generator=gen, device=device, dtype=torch.float32).to(dtype)


def _grads(out: torch.Tensor, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(out, inputs, grad)


def check_conv2d(t: Target, dtype: torch.dtype, gen: torch.Generator, device: str, N, C, H, W, K, R, S, stride,
                 padding) -> Checked:
    """conv2d with bias: y, then dx, dw, db for a random upstream dy, against F.conv2d + autograd."""
    x = _randn((N, C, H, W), dtype, gen, device)
    w = (_randn((K, C, R, S), dtype, gen, device).float() / math.sqrt(C * R * S)).to(dtype)  # y ~ N(0, 1)
    b = _randn((K,), dtype, gen, device)
    x64, w64, b64 = (v.double().requires_grad_() for v in (x, w, b))
    y64 = F.conv2d(x64, w64, b64, stride=stride, padding=padding)
    dy = _randn(tuple(y64.shape), dtype, gen, device)
    dx64, dw64, db64 = _grads(y64, (x64, w64, b64), dy.double())
    kn = t.module.conv2d
    X, Wt, B, DY = (t.to_native(v) for v in (x, w, b, dy))
    with poisoned_allocations(t.library) as allocations:
        outs = [Output("y", kn.conv2d_forward(X, Wt, B, stride, padding), y64.detach()),
                Output("dx", kn.conv2d_backward_input(DY, Wt, (N, C, H, W), stride, padding), dx64),
                Output("dw", kn.conv2d_backward_weight(DY, X, (K, C, R, S), stride, padding), dw64),
                Output("db", kn.conv2d_backward_bias(DY), db64)]
    return outs, allocations


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def check_maxpool2d(t: Target, dtype: torch.dtype, gen: torch.Generator, device: str, N, C, H, W, kernel, stride,
                    padding) -> Checked:
    """max-pool: y and argmax exactly (argmax as the window position r*S + s), dx against autograd."""
    x = _randn((N, C, H, W), dtype, gen, device)
    x64 = x.double().requires_grad_()
    y64, flat = F.max_pool2d(x64, kernel, stride, padding, return_indices=True)
    dy = _randn(tuple(y64.shape), dtype, gen, device)
    (dx64,) = _grads(y64, (x64,), dy.double())
    # PyTorch's indices are flat positions in the H x W plane; the kernels store the position r*S + s inside
    # the window instead.
    (_, S), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    P, Q = y64.shape[-2:]
    p = torch.arange(P, device=device).view(P, 1)
    q = torch.arange(Q, device=device).view(1, Q)
    window = (flat // W - (p * sh - ph)) * S + (flat % W - (q * sw - pw))
    kn = t.module.maxpool2d
    X, DY = t.to_native(x), t.to_native(dy)
    with poisoned_allocations(t.library) as allocations:
        y, argmax = kn.maxpool2d_forward(X, kernel, stride, padding)
        dx = kn.maxpool2d_backward(DY, argmax, (N, C, H, W), kernel, stride, padding)
    outs = [Output("y", y, y64.detach(), exact=True), Output("argmax", argmax, window, exact=True),
            Output("dx", dx, dx64)]
    return outs, allocations


def check_linear_relu(t: Target, dtype: torch.dtype, gen: torch.Generator, device: str, M, K, N) -> Checked:
    """relu(x @ w.T + b): y, then dx, dw, db for a random dy (the backward gets our y), against autograd."""
    x = _randn((M, K), dtype, gen, device)
    w = (_randn((N, K), dtype, gen, device).float() / math.sqrt(K)).to(dtype)
    # |b|: about a quarter of the outputs are still negative (the ReLU mask is tested), but never all of them,
    # which on a small case would leave an all-zero reference that proves nothing.
    b = _randn((N,), dtype, gen, device).abs()
    dy = _randn((M, N), dtype, gen, device)
    x64, w64, b64 = (v.double().requires_grad_() for v in (x, w, b))
    y64 = torch.relu(x64 @ w64.T + b64)
    dx64, dw64, db64 = _grads(y64, (x64, w64, b64), dy.double())
    kn = t.module.linear_relu
    X, Wt, B, DY = (t.to_native(v) for v in (x, w, b, dy))
    with poisoned_allocations(t.library) as allocations:
        y = kn.linear_forward(X, Wt, B, True)
        dx, dw, db = kn.linear_backward(DY, X, Wt, y, True)  # our y's ReLU mask, as the framework passes it
    outs = [Output("y", y, y64.detach()), Output("dx", dx, dx64), Output("dw", dw, dw64), Output("db", db, db64)]
    return outs, allocations


def check_softmax_xent(t: Target, dtype: torch.dtype, gen: torch.Generator, device: str, M, V) -> Checked:
    """Mean cross-entropy with ~1/16 of the targets ignored: loss, dlogits and the scaled backward."""
    logits = (2 * _randn((M, V), dtype, gen, device).float()).to(dtype)
    target = torch.randint(0, V, (M,), generator=gen, device=device)
    ignored = torch.rand((M,), generator=gen, device=device) < 1 / 16
    ignored[0] = False  # at least one row counts
    target[ignored] = IGNORE_INDEX
    grad_loss = 0.5 + float(torch.rand((), generator=gen, device=device))
    logits64 = logits.double().requires_grad_()
    loss64 = F.cross_entropy(logits64, target, ignore_index=IGNORE_INDEX)
    (dlogits64,) = _grads(loss64, (logits64,), torch.ones((), dtype=torch.float64, device=device))
    kn = t.module.softmax_xent
    L, T = t.to_native(logits), t.to_native(target)
    with poisoned_allocations(t.library) as allocations:
        loss, dlogits = kn.softmax_cross_entropy_forward(L, T, IGNORE_INDEX)
        scaled = kn.softmax_cross_entropy_backward(dlogits, grad_loss)
    outs = [Output("loss", loss, loss64.detach()), Output("dlogits", dlogits, dlogits64),
            Output("backward", scaled, dlogits64 * grad_loss)]
    return outs, allocations


def _dropout_expected(values: torch.Tensor, keep: torch.Tensor, scale32: np.float32) -> torch.Tensor:
    """The numpy kernel's formula: x * float32(1 / (1 - p)) in float32 (float64 for float64), rounded once."""
    compute = torch.float64 if values.dtype == torch.float64 else torch.float32
    scaled = (values.to(compute) * float(scale32)).to(values.dtype)
    return torch.where(keep, scaled, torch.zeros((), dtype=values.dtype, device=values.device))


def check_dropout(t: Target, dtype: torch.dtype, gen: torch.Generator, device: str, n, p, offset) -> Checked:
    """Dropout y and dx bit for bit against the numpy kernel's formula, and the mask against its Philox."""
    from kernels.numpy.dropout import dropout_rand

    # 1 + U[0, 1): never zero in any dtype, so a zero in the output can only be a dropped element.
    x = (1 + torch.rand((n,), generator=gen, device=device)).to(dtype)
    dy = (1 + torch.rand((n,), generator=gen, device=device)).to(dtype)
    seed = int(torch.randint(0, 2**62, (), generator=gen, device=device))
    keep = torch.from_numpy(dropout_rand(seed, offset + np.arange(n, dtype=np.int64)) > np.float32(p)).to(device)
    scale32 = np.float32(1.0 / (1.0 - p))
    kn = t.module.dropout
    X, DY = t.to_native(x), t.to_native(dy)
    with poisoned_allocations(t.library) as allocations:
        y = kn.dropout_forward(X, p, seed, offset)
        dx = kn.dropout_backward(DY, p, seed, offset)
    y_ours = t.to_torch(y).to(device)
    outs = [Output("y", y, _dropout_expected(x, keep, scale32), exact=True),
            Output("mask", y_ours != 0, keep, exact=True, derived=True),
            Output("dx", dx, _dropout_expected(dy, keep, scale32), exact=True)]
    return outs, allocations


CHECKS = {"conv2d": check_conv2d, "maxpool2d": check_maxpool2d, "linear_relu": check_linear_relu,
          "softmax_xent": check_softmax_xent, "dropout": check_dropout}


def reference_device() -> str:
    """Where inputs are drawn and the float64 reference runs: the GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def run_check(target: Target, family: str, case: str, params: dict[str, Any], dtype: str, seed: int
              ) -> dict[str, Any]:
    """Run one check; returns its row (never raises for a kernel's failure: that is the row's ``error``)."""
    try:
        module = getattr(target.module, family)
    except Exception:  # the check below fails with the reason
        module = None
    precision = precision_mode(family, dtype, module)
    row: dict[str, Any] = {"family": family, "case": case, "params": params, "backend": target.name, "dtype": dtype,
                           "precision": precision, "seed": seed, "outputs": [], "error": None}
    if (target.name, dtype) in UNSUPPORTED:
        return dict(row, status="unsupported", error=UNSUPPORTED[target.name, dtype], seconds=0.0)
    device = reference_device()
    gen = torch.Generator(device=device).manual_seed(seed)
    tol = tolerance(dtype, precision)
    start = time.perf_counter()
    try:
        outs, allocations = CHECKS[family](target, getattr(torch, dtype), gen, device, **params)
        row["outputs"] = [compare(o, target, tol, allocations) for o in outs]
    except Exception as exc:  # a compile error, no config that fits, a launch failure, a contract mismatch
        row["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        row["traceback"] = traceback.format_exc()[-4000:]
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()  # the other workers share the GPU's memory
    row["seconds"] = time.perf_counter() - start
    row["status"] = "error" if row["error"] else ("pass" if all(o["ok"] for o in row["outputs"]) else "fail")
    return row


def planned_checks(suite: str, families: tuple[str, ...] = FAMILIES) -> list[tuple[str, str, dict[str, Any]]]:
    """``(family, case name, parameters)`` of every case of ``suite``, in the order they run."""
    return [(family, name, params) for family in families for name, params in SUITES[suite][family]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.correctness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", required=True, help="triton, cupy, numpy or a dotted kernels-package path")
    parser.add_argument("--dtype", required=True, choices=DTYPES)
    parser.add_argument("--suite", default="gpu", choices=sorted(SUITES))
    parser.add_argument("--family", action="append", choices=FAMILIES, default=None, help="repeatable; default all")
    parser.add_argument("--seed", type=int, default=0, help="base seed; each check's seed derives from it")
    parser.add_argument("--out", required=True, help="JSON-lines file; one row is appended per finished check")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        target = load_target(args.backend)
    except Exception as exc:  # ImportError, or a CUDA/toolchain error raised at import
        target, load_error = None, f"{type(exc).__name__}: {exc}"
    failed = False
    for family, case, params in planned_checks(args.suite, tuple(args.family or FAMILIES)):
        seed = check_seed(args.seed, family, case, args.backend, args.dtype)
        if target is None:
            row = {"family": family, "case": case, "params": params, "backend": args.backend, "dtype": args.dtype,
                   "precision": None, "seed": seed, "outputs": [], "status": "error", "seconds": 0.0,
                   "error": f"backend did not load: {load_error}"}
        else:
            row = run_check(target, family, case, params, args.dtype, seed)
        failed |= row["status"] in ("fail", "error")
        worst = max((o["rel_err"] or 0.0 for o in row["outputs"]), default=0.0)
        print(f"{row['status']:<11} {family:<12} {case:<34} {args.backend} {args.dtype} ({row['precision']}) "
              f"worst rel err {worst:.2e}  {row['seconds']:.1f} s" + (f"  {row['error']}" if row["error"] else ""),
              flush=True)
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
