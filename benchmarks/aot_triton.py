"""Compile every Triton kernel ahead of time for Hopper (sm_90) and Ampere (sm_80) — no GPU needed.

The Triton interpreter that CI runs the kernels under checks their arithmetic, not whether they compile:
it never type-checks loop-carried values, never allocates registers or shared memory, never picks a
tensor-core instruction.  This script does what the first launch on a GPU would do, on a CPU machine:

1. **Capture.** Each launcher of ``kernels/triton`` (``conv2d_forward``, ``linear_backward``, ...) is
   called with realistic shapes on CPU tensors that are allocated but never read, with ``Autotuner.run``
   and ``JITFunction.run`` replaced by a recorder.  That yields the exact arguments and constexprs each
   kernel would be launched with — the launcher's own argument checks, dtype choices and block sizes
   included — for float16, bfloat16, float32 and float64.
2. **Compile.** For every recorded launch, every autotune config the autotuner can pick for it (after its
   ``prune_configs_by`` pruning: per-dtype config lists are applied here exactly as at run time) is
   compiled with Triton's own ``warmup`` path — the same binder, specialisation and compiler pipeline as
   a real launch — against ``GPUTarget("cuda", 90, 32)`` and ``GPUTarget("cuda", 80, 32)``, with the
   ptxas that ships in Triton's wheel.  A stand-in driver answers "which GPU is this?" with the target.
3. **Read the result.** ptxas's own report (``-v``, which Triton passes; captured with
   ``TRITON_DUMP_PTXAS_LOG``) gives registers and spill stores/loads; ``cuobjdump`` (also from Triton's
   wheel) gives the stack frame and the SASS, which says whether a ``tl.dot`` became tensor-core
   instructions (HGMMA = wgmma on sm_90, HMMA = mma.sync on sm_80; disassembled only for a kernel whose PTX has
   an ``mma`` instruction, the only source of either); Triton's metadata gives the dynamic
   shared memory.  A kernel found in Triton's cache was not run through ptxas this time: its report is
   kept beside the cache, keyed by the kernel's hash.

Output: a table on stdout and ``<--out>/aot-triton.json`` / ``.md`` (default ``runs/aot/``; the committed
report is ``benchmarks/results/``) (one row per kernel x dtype
x arch x config).  ``tests/kernels/test_aot_compile.py`` runs this and fails on a compile error, a kernel
with no config that fits the architecture's shared memory, a spill in any config the autotuner can pick
for float16/bfloat16/float32, or a half-precision ``tl.dot`` without tensor-core instructions.

What is compiled: with no options, everything above -- every launcher x dtype x autotune config for sm_90 and
sm_80, the ladder rungs below production (labelled launchers) for sm_90 in float16/bfloat16/float32.  CI's test
narrows sm_80 to ``CI_SM80_DTYPES`` (``--sm80-dtype float16 --sm80-dtype float32``) and the rungs to
``CI_LADDER_DTYPES`` (``--ladder-dtype float16 --ladder-dtype float32``); sm_90's production kernels keep every
dtype and config.  The triton-3.6 pass
in ``.ci/run`` compiles ``--arch sm_90 --production-only``.  A job whose compilation is identical to an earlier
one's (same kernel source, specialization, constexprs, options and arch: :func:`_compile_key`, e.g. a ladder rung
running production's kernel) is compiled once; its row copies the facts and says ``same_as``.

Regenerate the committed report::

    python -m benchmarks.aot_triton --out benchmarks/results   # both archs, every dtype; ~12 min on 2 cores cold
    python -m benchmarks.aot_triton --arch sm_90 --family conv2d --out /tmp/aot

Compiled kernels land in Triton's cache (``~/.triton/cache``), so a second run takes seconds.  What this
cannot tell: speed, occupancy under real launch sizes, or numerical results on the GPU.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from benchmarks._io import write_json, write_text

ARCHS = {"sm_90": 90, "sm_80": 80}
#: Largest dynamic shared memory one block may opt into (CUDA programming guide, compute capabilities).
SMEM_LIMIT = {90: 227 * 1024, 80: 163 * 1024}
DTYPES = ("float16", "bfloat16", "float32", "float64")
#: Spills fail the check for these; float64 runs on FMA/DMMA paths and is reported only.
SPILL_CHECKED_DTYPES = ("float16", "bfloat16", "float32")

#: A ladder rung below production (a launcher labelled "<rung>: ...") is compiled for Hopper only: the ladder is
#: about sm_90, and the rungs' sm_80 rows would add a fifth to every CI compile without guarding production.
#: The CUDA-graph step's device-offset dropout ("cuda_graph: ...") is labelled the same way, for the same reason.
LADDER_ARCHS = ("sm_90",)


#: ... and in the dtypes a ladder is about (float64 is a correctness dtype: production compiles it, spill-unchecked).
LADDER_DTYPES = ("float16", "bfloat16", "float32")


def labelled(launcher: str) -> bool:
    """Whether ``launcher`` is a ladder rung below production (or the CUDA-graph path): "<label>: <launcher>"."""
    return ": " in launcher


def launcher_archs(launcher: str, archs=tuple(ARCHS)) -> tuple[str, ...]:
    """The architectures ``launcher`` is compiled for, out of ``archs``."""
    return tuple(a for a in archs if a in LADDER_ARCHS) if labelled(launcher) else tuple(archs)


def launcher_dtypes(launcher: str, dtypes=DTYPES) -> tuple[str, ...]:
    """The dtypes ``launcher`` is compiled for, out of ``dtypes``."""
    return tuple(d for d in dtypes if d in LADDER_DTYPES) if labelled(launcher) else tuple(dtypes)
FAMILIES = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step")

#: The dtypes CI compiles for sm_80 (``--sm80-dtype``; a plain run compiles every dtype for both archs).  sm_90 --
#: H100/H200, the GPUs the project targets -- gets every production kernel x dtype x config; sm_80 (A100) keeps the
#: checks only it can fail: float16 for mma.sync (HMMA) and the 163 KB shared-memory limit on the half-precision
#: tiles, float32 for register pressure without tensor cores (a float32 spill that only sm_80 showed was found this
#: way).  Left to the full run: bfloat16, whose sm_80 rows in the committed report match float16's (spills, shared
#: memory, stack, tensor-core instruction) in 108 of 109 pairs -- the one difference a config over sm_80's shared
#: memory, which the autotuner cannot pick -- and float64 (a correctness dtype: spills unchecked, every config fits).
CI_SM80_DTYPES = ("float16", "float32")
#: The dtypes CI compiles the ladder rungs below production in (``--ladder-dtype``; a plain run: LADDER_DTYPES).  The
#: rungs are teaching kernels, never dispatched by the framework; their bfloat16 rows in the committed report match
#: float16's (spills, shared memory, stack, tensor-core instruction) in all 195 pairs.
CI_LADDER_DTYPES = ("float16", "float32")
#: Default output: git-ignored, so a run never overwrites the committed report in benchmarks/results/
#: (refresh that one on purpose with ``--out benchmarks/results``).
RESULTS = Path("runs") / "aot"


@dataclass
class Row:
    """One compiled (kernel, dtype, arch, config)."""

    family: str
    launcher: str
    kernel: str
    dtype: str
    arch: str
    config: str
    uses_dot: bool
    module: str = ""  # the module that defines the kernel (a ladder rung's kernels share production's names)
    signature: dict = field(default_factory=dict)
    constexprs: dict = field(default_factory=dict)
    registers: int | None = None
    spill_bytes: int | None = None  # ptxas: bytes spill stores
    stack_bytes: int | None = None  # cubin stack frame (spills, call frames)
    shared_bytes: int | None = None
    smem_limit: int | None = None
    tensor_core: str | None = None  # "HGMMA" / "HMMA" found in the SASS, else None
    error: str | None = None
    compile_s: float = 0.0
    same_as: str | None = None  # "<launcher> <dtype> <config>" of the row whose identical compilation this reuses

    @property
    def fits_smem(self) -> bool:
        return self.error is None and self.shared_bytes is not None and self.shared_bytes <= self.smem_limit


# -------------------------------------------------------------------------------- capture (step 1)


@dataclass
class Launch:
    family: str
    launcher: str
    dtype: str
    kernel: object  # an Autotuner or a JITFunction
    args: tuple
    kwargs: dict


def _launch_cases(torch, kt) -> list[tuple[str, str, Callable]]:
    """(family, launcher, call(dtype)) with the shapes the benchmark suite uses."""

    def t(*shape, dtype):
        return torch.empty(shape, dtype=dtype)  # allocated, never read: the kernels do not run

    def conv(fn):
        x = dict(N=32, C=64, H=56, W=56, K=64, R=3, S=3)

        def call(dt):
            X, Wt = t(x["N"], x["C"], x["H"], x["W"], dtype=dt), t(x["K"], x["C"], x["R"], x["S"], dtype=dt)
            dY = t(x["N"], x["K"], x["H"], x["W"], dtype=dt)
            if fn == "conv2d_forward":
                return kt.conv2d.conv2d_forward(X, Wt, t(x["K"], dtype=dt), 1, 1)
            if fn == "conv2d_backward_input":
                return kt.conv2d.conv2d_backward_input(dY, Wt, tuple(X.shape), 1, 1)
            if fn == "conv2d_backward_weight":
                return kt.conv2d.conv2d_backward_weight(dY, X, tuple(Wt.shape), 1, 1)
            return kt.conv2d.conv2d_backward_bias(dY)

        return call

    def pool_fwd(dt):
        return kt.maxpool2d.maxpool2d_forward(t(32, 64, 112, 112, dtype=dt), 3, 2, 1)

    def pool_bwd(dt):
        argmax = torch.zeros((32, 64, 56, 56), dtype=kt.maxpool2d.argmax_dtype(9))
        return kt.maxpool2d.maxpool2d_backward(t(32, 64, 56, 56, dtype=dt), argmax, (32, 64, 112, 112), 3, 2, 1)

    def pool_vector(dt):
        # VGG's 2x2 stride-2 pool: the 16-byte-load kernel (W = 224 is a multiple of 16 / itemsize for every dtype)
        return kt.maxpool2d.maxpool2d_forward(t(32, 64, 224, 224, dtype=dt), 2, 2, 0)

    def relu_pool_fwd(dt):
        # the ReLU fused in front of both forward kernels: the tile kernel (stem pool) and the 16-byte-load one
        kt.maxpool2d.relu_maxpool2d_forward(t(32, 64, 112, 112, dtype=dt), 3, 2, 1)
        return kt.maxpool2d.relu_maxpool2d_forward(t(32, 64, 224, 224, dtype=dt), 2, 2, 0)

    def relu_pool_bwd(dt):
        # the plain backward kernel (argmax -1 matches no window): the same compilation as maxpool2d_backward's
        argmax = torch.zeros((32, 64, 56, 56), dtype=kt.maxpool2d.argmax_dtype(9))
        return kt.maxpool2d.relu_maxpool2d_backward(t(32, 64, 56, 56, dtype=dt), argmax, (32, 64, 112, 112), 3, 2, 1)

    def pool_rung(rung, fn):
        # a rung of the max-pool ladder (kernels/triton/ladder/maxpool2d) below production, production's layer
        def call(dt):
            import importlib

            launcher = getattr(importlib.import_module("kernels.triton.ladder.maxpool2d").load(rung), fn)
            if fn == "maxpool2d_forward":
                return launcher(t(32, 64, 112, 112, dtype=dt), 3, 2, 1)
            argmax = torch.zeros((32, 64, 56, 56), dtype=kt.maxpool2d.argmax_dtype(9))
            return launcher(t(32, 64, 56, 56, dtype=dt), argmax, (32, 64, 112, 112), 3, 2, 1)

        return call

    def pool_rung_2x2(rung):
        def call(dt):
            import importlib

            launcher = importlib.import_module("kernels.triton.ladder.maxpool2d").load(rung).maxpool2d_forward
            return launcher(t(32, 64, 224, 224, dtype=dt), 2, 2, 0)

        return call

    def linear_fwd(dt):
        return kt.linear_relu.linear_forward(t(4096, 4096, dtype=dt), t(4096, 4096, dtype=dt), t(4096, dtype=dt), True)

    def linear_bwd(dt):
        x, w, y = t(4096, 4096, dtype=dt), t(4096, 4096, dtype=dt), t(4096, 4096, dtype=dt)
        return kt.linear_relu.linear_backward(t(4096, 4096, dtype=dt), x, w, y, True)

    def linear_split_fwd(dt):  # a 1024-feature head at batch 32: y has 8 tiles of 128 x 128, K = 8192 -> 8 splits
        return kt.linear_relu.linear_forward(t(32, 8192, dtype=dt), t(1024, 8192, dtype=dt), t(1024, dtype=dt), True)

    def linear_split_bwd(dt):  # a narrow input layer [4096, 64] -> 4096: dx and dw (with db) both split 4 ways
        x, w, y = t(4096, 64, dtype=dt), t(4096, 64, dtype=dt), t(4096, 4096, dtype=dt)
        return kt.linear_relu.linear_backward(t(4096, 4096, dtype=dt), x, w, y, True)

    def xent(M, V, in_place=False):
        def call(dt):
            logits, target = t(M, V, dtype=dt), torch.zeros(M, dtype=torch.int64)
            kt.softmax_xent.softmax_cross_entropy_forward(logits, target, need_grad=False)  # the loss alone
            loss, dlogits = kt.softmax_xent.softmax_cross_entropy_forward(logits, target)
            if in_place:  # out=logits launches the same kernels; the in-place scale kernel is its own
                kt.softmax_xent.softmax_cross_entropy_forward(logits, target, out=logits)
                kt.softmax_xent.softmax_cross_entropy_backward(dlogits, torch.ones((), dtype=dt), out=dlogits)
            return kt.softmax_xent.softmax_cross_entropy_backward(dlogits, torch.ones((), dtype=dt))

        return call

    def dropout(dt):
        return kt.dropout.dropout_forward(t(1 << 24, dtype=dt), 0.1, 1234, 0)

    def dropout_rows(dt):
        # rank 3 of 8 holding its [2048, 8192] rows of a global batch (the ROWS specialisation): row_stride and
        # offset as int32, then past 2**31 so Triton passes them as int64
        x = t(2048, 8192, dtype=dt)
        kt.dropout.dropout_forward(x, 0.1, 1234, 3 * 8192, row_len=8192, row_stride=8 * 8192)
        return kt.dropout.dropout_forward(x, 0.1, 1234, 2**40 + 3 * 8192, row_len=8192, row_stride=2**32)

    def dropout_unaligned(dt):
        # an offset that is not a multiple of 4: production's per-element fallback (_dropout_kernel), flat and rows
        kt.dropout.dropout_forward(t(1 << 24, dtype=dt), 0.1, 1234, 1)
        return kt.dropout.dropout_forward(t(2048, 8190, dtype=dt), 0.1, 1234, 3 * 8190, row_len=8190,
                                          row_stride=8 * 8190)

    def dropout_device_offset(dt):
        # the CUDA-graph step's dropout (framework.random.DevicePhilox): the offset is a device int64 the kernels
        # load (offset_ptr), flat, a rank's aligned rows, unaligned rows (the per-element fallback)
        off = t(1, dtype=torch.int64)
        kt.dropout.dropout_forward(t(1 << 24, dtype=dt), 0.1, 1234, off)
        kt.dropout.dropout_forward(t(2048, 8192, dtype=dt), 0.1, 1234, off, row_len=8192, row_stride=8 * 8192)
        return kt.dropout.dropout_forward(t(2048, 8190, dtype=dt), 0.1, 1234, off, row_len=8190,
                                          row_stride=4 * 8190)

    def dropout_add(dt):
        # the fused residual add, flat and aligned (the four-per-call tile)
        return kt.dropout.dropout_add_forward(t(1 << 24, dtype=dt), t(1 << 24, dtype=dt), 0.1, 1234, 0)

    def dropout_add_other(dt):
        # its three other specialisations: a rank's aligned rows, an unaligned flat offset, unaligned rows
        x = t(2048, 8192, dtype=dt)
        kt.dropout.dropout_add_forward(x, x, 0.1, 1234, 3 * 8192, row_len=8192, row_stride=8 * 8192)
        kt.dropout.dropout_add_forward(t(1 << 24, dtype=dt), t(1 << 24, dtype=dt), 0.1, 1234, 1)
        x = t(2048, 8190, dtype=dt)
        return kt.dropout.dropout_add_forward(x, x, 0.1, 1234, 3 * 8190, row_len=8190, row_stride=8 * 8190)

    # bias + ReLU + dropout in the linear epilogue (the dropout ladder's rung 3 = production): the tiled kernel with
    # DROPOUT at the 4096^3 layer (every dtype, sm_90 and sm_80); the persistent TMA kernel's epilogue with the TMA
    # device check answering yes (labelled: sm_90, float16 / bfloat16 -- float32 takes the tiled kernel there too);
    # after split-K only _sum_splits_kernel's dropout epilogue (the split GEMM is the DROPOUT=False kernel that
    # "linear_forward split-K" compiles; skipped here). The backward: linear_backward's kernels with SCALED (the tiled
    # ones under their own autotuners), tiled, TMA (labelled) and split-K.
    def linear_dropout(dt):
        x, w, b = t(4096, 4096, dtype=dt), t(4096, 4096, dtype=dt), t(4096, dtype=dt)
        return kt.dropout.linear_relu_dropout_forward(x, w, b, 0.1, 1234, 0)

    def linear_dropout_tma(dt):
        from unittest import mock

        x, w, b = t(4096, 4096, dtype=dt), t(4096, 4096, dtype=dt), t(4096, dtype=dt)
        with mock.patch.object(kt.linear_relu, "_tma_device", lambda device: True):
            return kt.dropout.linear_relu_dropout_forward(x, w, b, 0.1, 1234, 0)

    class _NoLaunch:
        def __getitem__(self, grid):
            return lambda *args, **kwargs: None

    def linear_dropout_split(dt):
        from unittest import mock

        x, w, b = t(32, 8192, dtype=dt), t(1024, 8192, dtype=dt), t(1024, dtype=dt)
        with mock.patch.object(kt.linear_relu, "_linear_forward_split_kernel", _NoLaunch()):
            return kt.dropout.linear_relu_dropout_forward(x, w, b, 0.1, 1234, 2**40 + 1)

    def linear_dropout_bwd(dt, tma=False, shape=(4096, 4096, 4096)):
        from unittest import mock

        M, N, K = shape
        x, w, y = t(M, K, dtype=dt), t(N, K, dtype=dt), t(M, N, dtype=dt)
        with mock.patch.object(kt.linear_relu, "_tma_device", lambda device: tma):
            return kt.dropout.linear_relu_dropout_backward(t(M, N, dtype=dt), x, w, y, 0.1)

    def dropout_rung(rung):
        # a rung of the dropout ladder (kernels/triton/ladder/dropout) below production: its own kernel
        def call(dt):
            import importlib

            launcher = importlib.import_module("kernels.triton.ladder.dropout").load(rung).dropout_forward
            launcher(t(1 << 24, dtype=dt), 0.1, 1234, 0)
            return launcher(t(2048, 8192, dtype=dt), 0.1, 1234, 3 * 8192, row_len=8192, row_stride=8 * 8192)

        return call

    def optim_lists(count, dt):
        # a model's parameter list: a big weight, a bias, an odd size and an empty tensor, one table entry each
        return [[t(n, dtype=dt) for n in (4096 * 4096, 4096, 1000, 0)] for _ in range(count)]

    def adam(amsgrad, decoupled, weight_decay, maximize=False):
        def call(dt):
            p, g, m, v, vmax = optim_lists(5, dt)
            return kt.optim_step.adam_step(p, g, m, v, vmax, step=3, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                           weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                                           decoupled=decoupled)

        return call

    def adam_capturable(dt):
        # the capturable variant (Adam(fused=True, capturable=True), what GraphStep records): PER_TENSOR, each
        # tensor's step_size / bias corrections read from a (T, 3) device buffer. float64 is a correctness dtype
        # here: its call is the host variant "adam_step(decoupled, AdamW)" (a cache hit), so this case adds
        # sm_90 + sm_80 x float16 / bfloat16 / float32 compiles only
        if dt == torch.float64:
            return adam(False, True, 1e-2)(dt)
        p, g, m, v, vmax = optim_lists(5, dt)
        steps, lr = torch.full((len(p),), 3.0, dtype=torch.float64), torch.tensor(1e-3, dtype=torch.float64)
        return kt.optim_step.adam_step(p, g, m, v, vmax, step=steps, lr=lr, beta1=0.9, beta2=0.999, eps=1e-8,
                                       weight_decay=1e-2, amsgrad=False, maximize=False, decoupled=True)

    def sgd(momentum, first_step, nesterov, weight_decay, maximize=False):
        def call(dt):
            p, g, buf = optim_lists(3, dt)
            return kt.optim_step.sgd_step(p, g, buf, lr=0.1, momentum=momentum, dampening=0.0,
                                          weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                                          first_step=first_step)

        return call

    def conv_rung(rung, fn, stride=1):
        # a rung of the conv2d ladder (kernels/triton/ladder/conv2d) below the production kernel, same layer
        def call(dt):
            import importlib

            launcher = getattr(importlib.import_module("kernels.triton.ladder.conv2d").load(rung), fn)
            PQ = (56 + 2 - 3) // stride + 1
            X, Wt = t(32, 64, 56, 56, dtype=dt), t(64, 64, 3, 3, dtype=dt)
            dY = t(32, 64, PQ, PQ, dtype=dt)
            if fn == "conv2d_forward":
                return launcher(X, Wt, t(64, dtype=dt), stride, 1)
            if fn == "conv2d_backward_input":
                return launcher(dY, Wt, tuple(X.shape), stride, 1)
            if fn == "conv2d_backward_weight":
                return launcher(dY, X, tuple(Wt.shape), stride, 1)
            return launcher(dY)

        return call

    cases = [("conv2d", fn, conv(fn)) for fn in
             ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias")]
    # batch 1: Triton compiles an int argument equal to 1 as a constant (no .to() on it: the bias kernel once broke)
    cases += [("conv2d", "conv2d_backward_bias batch 1",
               lambda dt: kt.conv2d.conv2d_backward_bias(t(1, 64, 56, 56, dtype=dt)))]
    cases += [("conv2d", f"rung0_direct: {fn}", conv_rung("rung0_direct", fn)) for fn in
              ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias")]
    # stride 1 is a compile-time constant (Triton specialises an int argument equal to 1): only a strided layer
    # compiles backward_input's divisions and exactness test
    cases += [("conv2d", "rung0_direct: conv2d_backward_input stride 2",
               conv_rung("rung0_direct", "conv2d_backward_input", stride=2))]
    # rung 2 has a backward_input of its own (the plain gather); production's (rung 3, by stride phase) compiles
    # its phase loop only at stride > 1 -- at stride 1 the phase geometry folds to constants
    cases += [("conv2d", "rung2_tap_major: conv2d_backward_input",
               conv_rung("rung2_tap_major", "conv2d_backward_input")),
              ("conv2d", "rung2_tap_major: conv2d_backward_input stride 2",
               conv_rung("rung2_tap_major", "conv2d_backward_input", stride=2)),
              ("conv2d", "conv2d_backward_input stride 2", conv_rung("rung3_stride_phase", "conv2d_backward_input",
                                                                     stride=2))]
    # the Hopper kernels run only on a TMA-capable GPU: captured with the device check answering yes, compiled for
    # sm_90 (the ": " label). Rung 6 is production (channels-last A, TMA weight), rung 5 (NCHW gather, TMA weight)
    # runs its own launchers; float32/float64 take production's general kernels in both (cache hits here).
    def hopper(rung, fn, stride):
        def call(dt):
            from unittest import mock

            with mock.patch.object(kt.conv2d, "_tma_device", lambda device: True):
                return conv_rung(rung, fn, stride=stride)(dt)

        return call

    cases += [("conv2d", f"{rung}: {fn}{' stride 2' if stride == 2 else ''}", hopper(rung, fn, stride))
              for rung in ("rung5_tma_persistent", "rung6_channels_last")
              for fn, stride in (("conv2d_forward", 1), ("conv2d_backward_input", 1), ("conv2d_backward_input", 2))]
    # rung 3 runs production's general kernels through its own launchers (labelled, so its facts find them)
    cases += [("conv2d", f"rung3_stride_phase: {fn}", conv_rung("rung3_stride_phase", fn)) for fn in
              ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")]
    cases += [("conv2d", f"rung1_implicit_gemm: {fn}", conv_rung("rung1_implicit_gemm", fn)) for fn in
              ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias")]
    # stride 2 compiles backward_input's per-element divisions by the stride (folded away at stride 1)
    cases += [("conv2d", "rung1_implicit_gemm: conv2d_backward_input stride 2",
               conv_rung("rung1_implicit_gemm", "conv2d_backward_input", stride=2))]

    # rung 4: ResNet-50's 1x1 bottleneck layers as batched GEMMs (imported directly: the ladder's RUNGS does not
    # list it yet); HW = 56*56 is a multiple of 16, so the pixel loads can vectorise
    def pointwise(fn, C, K):
        def call(dt):
            import importlib

            rung = importlib.import_module("kernels.triton.ladder.conv2d.rung4_pointwise_gemm")
            X, Wt, dY = t(32, C, 56, 56, dtype=dt), t(K, C, 1, 1, dtype=dt), t(32, K, 56, 56, dtype=dt)
            if fn == "conv2d_forward":
                return rung.conv2d_forward(X, Wt, t(K, dtype=dt), 1, 0)
            if fn == "conv2d_backward_input":
                return rung.conv2d_backward_input(dY, Wt, tuple(X.shape), 1, 0)
            return rung.conv2d_backward_weight(dY, X, tuple(Wt.shape), 1, 0)

        return call

    cases += [("conv2d", f"rung4_pointwise_gemm: {fn} {C}->{K} 1x1", pointwise(fn, C, K)) for C, K in
              ((256, 64), (64, 256)) for fn in ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")]
    # the max-pool ladder's own kernels: rung 0 (scalar loop + int64 index + conversion; atomic scatter), rung 1's
    # compact forward; rung 2's backward and rung 3 are production's (the unlabelled launches)
    cases += [("maxpool2d", f"{rung}: {fn}", pool_rung(rung, fn)) for rung, fn in
              (("rung0_naive", "maxpool2d_forward"), ("rung0_naive", "maxpool2d_backward"),
               ("rung1_compact_argmax", "maxpool2d_forward"))]
    # rung 3 runs production's tile kernel through its own launcher, also where production takes rung 4's 16-byte
    # loads (VGG's 2x2 stride-2 pool): labelled, so its facts find both
    cases += [("maxpool2d", "rung3_window_tile: maxpool2d_forward",
               pool_rung("rung3_window_tile", "maxpool2d_forward")),
              ("maxpool2d", "rung3_window_tile: maxpool2d_forward 2x2/s2", pool_rung_2x2("rung3_window_tile"))]
    # the softmax-cross-entropy ladder's own launchers (kernels/triton/ladder/softmax_xent), rungs 0-3 (rung 3: the
    # fused-row path of production, cache hits); rung 4 is production (the unlabelled launches below)
    def xent_rung(rung, M, V):
        def call(dt):
            import importlib

            ladder = importlib.import_module("kernels.triton.ladder.softmax_xent")
            launcher = ladder.load(rung).softmax_cross_entropy_forward
            logits, target = t(M, V, dtype=dt), torch.zeros(M, dtype=torch.int64)
            launcher(logits, target, need_grad=False)
            return launcher(logits, target)

        return call

    cases += [("softmax_xent", f"{rung}: softmax_cross_entropy_forward [{M}, {V}]", xent_rung(rung, M, V))
              for rung in ("rung0_three_pass", "rung1_online_stats", "rung2_fused_row", "rung3_packed_rows")
              for M, V in ((8192, 32000), (256, 10))]

    # the linear ladder's rungs below production (kernels/triton/ladder/linear_relu) at the 4096^3 layer,
    # through their own launchers: rung 0's naive kernels, rung 1's fixed-tile GEMM (+ rung 0's mask and column sum),
    # rung 2's masked GEMM, rung 3 both with GROUP_M = 8, rung 4 production's tiled kernels (cache hits), rung 5 with
    # the TMA device check answering yes (production's persistent TMA kernels, float16 / bfloat16; rung 4's otherwise)
    def linear_rung(rung, fn):
        def call(dt):
            import importlib
            from unittest import mock

            launcher = getattr(importlib.import_module("kernels.triton.ladder.linear_relu").load(rung), fn)
            x, w, y = t(4096, 4096, dtype=dt), t(4096, 4096, dtype=dt), t(4096, 4096, dtype=dt)
            tma = rung == "rung5_tma_persistent"
            with mock.patch.object(kt.linear_relu, "_tma_device", lambda device: tma):
                if fn == "linear_forward":
                    return launcher(x, w, t(4096, dtype=dt), True)
                return launcher(t(4096, 4096, dtype=dt), x, w, y, True)

        return call

    cases += [("linear_relu", f"{rung}: {fn}", linear_rung(rung, fn)) for rung in
              ("rung0_naive", "rung1_tiled", "rung2_fused_mask", "rung3_grouped", "rung4_autotuned",
               "rung5_tma_persistent") for fn in ("linear_forward", "linear_backward")
              if (rung, fn) != ("rung2_fused_mask", "linear_forward")]  # rung 2's forward is rung 1's
    cases += [
        ("maxpool2d", "maxpool2d_forward", pool_fwd),
        ("maxpool2d", "maxpool2d_backward", pool_bwd),
        ("maxpool2d", "maxpool2d_forward 2x2/s2 (16-byte loads)", pool_vector),
        ("maxpool2d", "relu_maxpool2d_forward", relu_pool_fwd),
        ("maxpool2d", "relu_maxpool2d_backward", relu_pool_bwd),
        ("linear_relu", "linear_forward", linear_fwd),
        ("linear_relu", "linear_backward", linear_bwd),
        ("linear_relu", "linear_forward split-K [32, 8192] -> 1024", linear_split_fwd),
        ("linear_relu", "linear_backward split-K [4096, 64] -> 4096", linear_split_bwd),
        ("softmax_xent", "softmax_cross_entropy_forward/backward [8192, 32000]", xent(8192, 32000)),
        ("softmax_xent", "softmax_cross_entropy_forward/backward [256, 10]", xent(256, 10)),
        # few rows of a Llama-3 vocabulary: the split-row kernels (M < 2 x 132 SMs), and the in-place gradient
        ("softmax_xent", "softmax_cross_entropy_forward/backward [64, 128256] (+ out=logits)", xent(64, 128256, True)),
        # dropout_backward is the same kernel with the same argument types (dy in place of x)
        ("dropout", "dropout_forward", dropout),
        ("dropout", "dropout_forward(row_len, row_stride)", dropout_rows),
        ("dropout", "dropout_forward(unaligned offset)", dropout_unaligned),
        ("dropout", "rung0_per_element: dropout_forward", dropout_rung("rung0_per_element")),
        # labelled like a rung so it compiles for sm_90 only (the captured step is a Hopper feature here)
        ("dropout", "cuda_graph: dropout_forward(device offset)", dropout_device_offset),
        ("dropout", "dropout_add_forward", dropout_add),
        ("dropout", "dropout_add_forward(rows, unaligned offset)", dropout_add_other),
        ("dropout", "linear_relu_dropout_forward", linear_dropout),
        ("dropout", "tma: linear_relu_dropout_forward", linear_dropout_tma),
        ("dropout", "linear_relu_dropout_forward split-K [32, 8192] -> 1024", linear_dropout_split),
        ("dropout", "linear_relu_dropout_backward", linear_dropout_bwd),
        ("dropout", "tma: linear_relu_dropout_backward", lambda dt: linear_dropout_bwd(dt, tma=True)),
        ("dropout", "linear_relu_dropout_backward split-K [4096, 64] -> 4096",
         lambda dt: linear_dropout_bwd(dt, shape=(4096, 4096, 64))),
        # the constexpr specialisations a training loop meets (each flag is a branch compiled in or out)
        ("optim_step", "adam_step", adam(False, False, 0.0)),
        ("optim_step", "adam_step(weight_decay, maximize)", adam(False, False, 1e-2, maximize=True)),
        ("optim_step", "adam_step(decoupled, AdamW)", adam(False, True, 1e-2)),
        ("optim_step", "adam_step(amsgrad, decoupled)", adam(True, True, 1e-2)),
        # no ": " in this name: that would label it a ladder rung (sm_90 only)
        ("optim_step", "adam_step(capturable, device step and lr, decoupled)", adam_capturable),
        ("optim_step", "sgd_step", sgd(0.0, False, False, 0.0)),
        ("optim_step", "sgd_step(momentum, first step)", sgd(0.9, True, False, 0.0)),
        ("optim_step", "sgd_step(momentum, weight_decay)", sgd(0.9, False, False, 1e-4)),
        ("optim_step", "sgd_step(nesterov, maximize)", sgd(0.9, False, True, 1e-4, maximize=True)),
    ]
    return cases


def _import_kernels_for_aot():
    """Import kernels.triton without a GPU and without the interpreter; launchers accept CPU tensors."""
    from unittest import mock

    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        raise RuntimeError("unset TRITON_INTERPRET: interpreted kernels cannot be compiled")
    import torch

    with mock.patch.object(torch.cuda, "is_available", lambda: True):  # kernels.triton refuses a CPU-only host
        import kernels.triton as kt
        from kernels.triton import _common

        for family in FAMILIES:
            getattr(kt, family)
    _common.expected_device_type = lambda: "cpu"  # the placement check: tensors stay on the host here
    return torch, kt


def capture(families=FAMILIES, dtypes=DTYPES, production_only: bool = False) -> list[Launch]:
    """Run each launcher once per dtype with kernel launches recorded instead of executed (``production_only``:
    not the labelled launchers, the ladder rungs below production and the CUDA-graph path)."""
    from unittest import mock

    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction

    torch, kt = _import_kernels_for_aot()
    launches: list[Launch] = []
    current: dict = {}

    def record(kernel, args, kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("grid", "warmup")}
        launches.append(Launch(current["family"], current["launcher"], current["dtype"], kernel, args, kwargs))

    def autotuner_run(self, *args, **kwargs):
        record(self, args, kwargs)

    def jit_run(self, *args, **kwargs):
        record(self, args, kwargs)

    with mock.patch.object(Autotuner, "run", autotuner_run), mock.patch.object(JITFunction, "run", jit_run):
        for family, launcher, call in _launch_cases(torch, kt):
            if family not in families or (production_only and labelled(launcher)):
                continue
            for dtype in launcher_dtypes(launcher, dtypes):
                current.update(family=family, launcher=launcher, dtype=dtype)
                call(getattr(torch, dtype))
    return launches


def _configs(launch: Launch) -> list:
    """The configs the autotuner can pick for this launch ([None] for a kernel without autotuning)."""
    from triton.runtime.autotuner import Autotuner

    if not isinstance(launch.kernel, Autotuner):
        return [None]
    tuner = launch.kernel
    tuner.nargs = dict(zip(tuner.arg_names, launch.args))
    try:
        return list(tuner.prune_configs(dict(launch.kwargs)))
    finally:
        tuner.nargs = None


def _jit_function(kernel):
    from triton.runtime.autotuner import Autotuner

    return kernel.fn if isinstance(kernel, Autotuner) else kernel


def _describe(config, kwargs) -> str:
    if config is None:
        opts = {k: kwargs[k] for k in ("num_warps", "num_stages") if k in kwargs}
        return ",".join(f"{k}={v}" for k, v in opts.items()) or "default"
    parts = [f"{k}={v}" for k, v in config.kwargs.items()]
    parts += [f"warps={config.num_warps}", f"stages={config.num_stages}"]
    return ",".join(parts)


# -------------------------------------------------------------------------------- compile (step 2-3)


class _TargetDriver:
    """Just enough of Triton's driver interface for ``JITFunction.warmup`` to compile for ``target``."""

    def __init__(self, target):
        self.target = target

    def get_current_device(self):
        return self.target.arch  # a distinct "device" per arch, so Triton's per-device binder caches differ

    def get_current_stream(self, device=None):
        return 0

    def get_current_target(self):
        return self.target


def _tool(name: str) -> str:
    import triton

    path = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this Triton wheel has no NVIDIA toolchain")
    return str(path)


def _cubin_facts(cubin: bytes, ptx: str) -> tuple[int, str | None]:
    """(stack frame bytes, tensor-core instruction) of a one-kernel cubin, read with cuobjdump.

    The SASS is disassembled only when the PTX has an ``mma`` instruction (``mma.sync``, ``wgmma.mma_async``,
    ``wmma.mma``): ptxas makes HMMA / HGMMA from those and from nothing else, so a kernel without one has no
    tensor-core instruction to find.  ``cuobjdump -sass`` is most of a cached compile's time (about 0.6-0.9 s
    a kernel on one core) and about two thirds of the rows (the elementwise, reduction and optimiser kernels,
    float32/float64 GEMMs on FMA) have no ``mma``; their ``tensor_core`` is None exactly as their SASS says.
    """
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        usage = subprocess.run([_tool("cuobjdump"), "--dump-resource-usage", f.name],
                               capture_output=True, text=True, check=True).stdout
        sass = "" if "mma" not in ptx else subprocess.run([_tool("cuobjdump"), "-sass", f.name],
                                                          capture_output=True, text=True, check=True).stdout
    fields = dict(tok.split(":", 1) for tok in usage.split() if ":" in tok and tok.split(":", 1)[1].isdigit())
    tensor_core = next((op for op in ("HGMMA", "HMMA") if op in sass), None)
    return int(fields["STACK"]), tensor_core


_PTXAS_USED = re.compile(r"Used (\d+) registers")
_PTXAS_SPILLS = re.compile(r"(\d+) bytes spill stores")


def _kept_log(compiled) -> Path:
    kept = Path(os.environ.get("TRITON_CACHE_DIR") or Path.home() / ".triton" / "cache") / "kernelgrad-ptxas"
    return kept / f"{compiled.hash}.log"


def _warmup_with_ptxas_log(jitfn, args, kwargs):
    """Compile through Triton's warmup path; returns (compiled kernel, ptxas -v report).

    Triton prints ptxas's report only when it runs ptxas (TRITON_DUMP_PTXAS_LOG), not for a kernel from its
    cache, so the report is kept beside the cache under the kernel's hash; a cached kernel without one is
    compiled again (TRITON_ALWAYS_COMPILE) to get it.
    """
    os.environ["TRITON_DUMP_PTXAS_LOG"] = "1"  # read by Triton at each compile
    for attempt in range(2):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            compiled = jitfn.warmup(*args, grid=(1,), **kwargs)
        log, path = out.getvalue(), _kept_log(compiled)
        if _PTXAS_USED.search(log):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(log)
            os.replace(tmp, path)
            return compiled, log
        if path.is_file():
            return compiled, path.read_text()
        if attempt == 0:  # from Triton's cache, no kept report: compile once more, bypassing both caches
            jitfn.device_caches.clear()
            os.environ["TRITON_ALWAYS_COMPILE"] = "1"
    os.environ.pop("TRITON_ALWAYS_COMPILE", None)
    raise RuntimeError(f"no ptxas report for {jitfn.__name__} (is TRITON_DUMP_PTXAS_LOG honoured?)")


def _launch_kwargs(launch: Launch, config) -> dict:
    """The launch's keyword arguments with ``config`` applied, as the autotuner applies it."""
    kwargs = dict(launch.kwargs)
    if config is not None:
        kwargs.update(config.all_kwargs())
        if config.pre_hook is not None:  # e.g. a tensor descriptor's block shape follows the config's tile
            config.pre_hook({**dict(zip(_jit_function(launch.kernel).arg_names, launch.args)), **kwargs})
    return kwargs


def _compile_key(launch: Launch, config, arch: str) -> str | None:
    """What Triton's cache tells compilations apart by, computed without compiling (None: it could not say).

    Triton's ``jit_cache_hook`` is called with the bound specialization (the kernel's name, signature,
    constexprs, alignment attributes and compile options, the called ``@triton.jit`` functions by their source
    hash) just before it would compile; returning True makes it skip the compile.  With the kernel's own source
    hash and the arch added, two jobs with the same key are the same compilation -- the one Triton's cache
    would hand the second of them -- e.g. a ladder rung that launches production's kernel with production's
    arguments, or float64's capturable Adam case, which is the host variant.
    """
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.runtime import driver

    jitfn = _jit_function(launch.kernel)
    seen: list[str] = []

    def probe(**kwargs):
        seen.append(kwargs["compile"]["specialization_data"])
        return True  # do not compile

    previous, previous_hook = driver._active, knobs.runtime.jit_cache_hook
    driver.set_active(_TargetDriver(GPUTarget("cuda", ARCHS[arch], 32)))
    knobs.runtime.jit_cache_hook = probe
    try:
        jitfn.warmup(*launch.args, grid=(1,), **_launch_kwargs(launch, config))
    except Exception:  # the compile itself reports it, per row
        return None
    finally:
        driver._active, knobs.runtime.jit_cache_hook = previous, previous_hook
    return f"{arch}|{jitfn.cache_key}|{seen[0]}" if len(seen) == 1 else None


def _compile(launch: Launch, config, arch: str) -> Row:
    from triton.backends.compiler import GPUTarget
    from triton.runtime import driver

    jitfn = _jit_function(launch.kernel)
    kwargs = _launch_kwargs(launch, config)
    cc = ARCHS[arch]
    row = Row(family=launch.family, launcher=launch.launcher, kernel=jitfn.__name__, dtype=launch.dtype, arch=arch,
              config=_describe(config, kwargs), uses_dot="tl.dot(" in jitfn.src, smem_limit=SMEM_LIMIT[cc],
              module=getattr(jitfn.fn, "__module__", "") or "")
    previous = driver._active  # reset_active() would create the real driver, which needs a GPU
    driver.set_active(_TargetDriver(GPUTarget("cuda", cc, 32)))
    start = time.perf_counter()
    try:
        compiled, log = _warmup_with_ptxas_log(jitfn, launch.args, kwargs)
        os.environ.pop("TRITON_ALWAYS_COMPILE", None)
        row.shared_bytes = int(compiled.metadata.shared)
        row.registers = int(_PTXAS_USED.search(log).group(1))
        row.spill_bytes = int(_PTXAS_SPILLS.search(log).group(1))
        row.stack_bytes, row.tensor_core = _cubin_facts(compiled.asm["cubin"], compiled.asm["ptx"])
        src = getattr(compiled, "src", None)
        if src is not None:
            row.signature = {k: str(v) for k, v in src.signature.items()}
            names = jitfn.arg_names
            row.constexprs = {names[k[0]] if isinstance(k, tuple) and len(k) == 1 else str(k): str(v)
                              for k, v in src.constants.items()}
    except Exception as exc:  # a compile error is a finding, reported per row
        row.error = f"{type(exc).__name__}: {str(exc).strip()[-1500:]}"
    finally:
        driver._active = previous
    row.compile_s = round(time.perf_counter() - start, 2)
    return row


# Work is spread over processes: each one captures once (cheap) and compiles the jobs it is handed.
_WORKER: dict = {}


def _worker_init(families, dtypes, production_only=False):
    os.environ.pop("TRITON_INTERPRET", None)
    _WORKER["launches"] = capture(families, dtypes, production_only)


def _worker_compile(job: tuple[int, int, str]) -> Row:
    launch_index, config_index, arch = job
    launch = _WORKER["launches"][launch_index]
    return _compile(launch, _configs(launch)[config_index], arch)


def run(families=FAMILIES, dtypes=DTYPES, archs=tuple(ARCHS), jobs: int | None = None,
        production_only: bool = False, sm80_dtypes=DTYPES, ladder_dtypes=LADDER_DTYPES) -> list[Row]:
    """Capture, then compile every (launch, config, arch) in ``jobs`` processes; returns one Row each.

    ``sm80_dtypes`` / ``ladder_dtypes``: the dtypes compiled for sm_80 / for the labelled launchers (all of them by
    default; CI narrows both: ``CI_SM80_DTYPES``, ``CI_LADDER_DTYPES``).  A job
    whose compilation (:func:`_compile_key`) equals an earlier job's is not compiled again: its row copies the
    earlier one's facts, names it in ``same_as`` and has ``compile_s`` 0.
    """
    os.environ.pop("TRITON_INTERPRET", None)
    launches = capture(families, dtypes, production_only)
    work = [(i, c, arch) for arch in archs for i, launch in enumerate(launches)
            if arch in launcher_archs(launch.launcher, archs) and (arch != "sm_80" or launch.dtype in sm80_dtypes)
            and (not labelled(launch.launcher) or launch.dtype in ladder_dtypes) for c in range(len(_configs(launch)))]
    first: dict[str, tuple[int, int, str]] = {}
    same_as: dict[tuple[int, int, str], tuple[int, int, str]] = {}
    for job in work:
        key = _compile_key(launches[job[0]], _configs(launches[job[0]])[job[1]], job[2])
        if key is not None and key in first:
            same_as[job] = first[key]
        elif key is not None:
            first[key] = job
    unique = [job for job in work if job not in same_as]
    jobs = jobs or os.cpu_count() or 1
    # longest first: the big GEMM configs dominate, so start them early
    unique.sort(key=lambda j: (launches[j[0]].family not in ("conv2d", "linear_relu"), j))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                                                initargs=(families, dtypes, production_only)) as pool:
        compiled = dict(zip(unique, pool.map(_worker_compile, unique, chunksize=1)))
    rows = list(compiled.values())
    for job, original in same_as.items():
        launch, src = launches[job[0]], compiled[original]
        config = _configs(launch)[job[1]]
        rows.append(replace(src, family=launch.family, launcher=launch.launcher, dtype=launch.dtype,
                            config=_describe(config, _launch_kwargs(launch, config)), compile_s=0.0,
                            same_as=f"{src.launcher} {src.dtype} {src.config}"))
    rows.sort(key=lambda r: (FAMILIES.index(r.family), r.launcher, r.kernel, DTYPES.index(r.dtype), r.arch, r.config))
    return rows


# -------------------------------------------------------------------------------------------- report


def findings(rows: list[Row]) -> list[str]:
    """Everything the check fails on, one line each (empty: all good)."""
    out = []
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault((r.kernel, r.launcher, r.dtype, r.arch), []).append(r)
        where = f"{r.kernel} [{r.launcher}] {r.dtype} {r.arch} {r.config}"
        if r.error:
            out.append(f"compile error: {where}: {r.error.splitlines()[-1] if r.error else ''}")
            continue
        if r.dtype in SPILL_CHECKED_DTYPES and r.spill_bytes and r.fits_smem:
            out.append(f"spills {r.spill_bytes} B: {where}")
        if r.uses_dot and r.dtype in ("float16", "bfloat16") and r.tensor_core is None:
            out.append(f"no tensor-core instruction for a half-precision tl.dot: {where}")
    for (kernel, launcher, dtype, arch), group in groups.items():
        if not any(r.fits_smem for r in group):
            out.append(f"no config fits {arch}'s shared memory: {kernel} [{launcher}] {dtype}")
    return out


def _versions() -> dict:
    """Triton's version and each ptxas in its wheel (which one compiles an arch is Triton's choice)."""
    import triton

    ptxas = {}
    for path in sorted((Path(triton.__file__).parent / "backends" / "nvidia" / "bin").glob("ptxas*")):
        lines = subprocess.run([str(path), "--version"], capture_output=True, text=True).stdout.strip().splitlines()
        ptxas[path.name] = lines[-1] if lines else None
    return {"triton": triton.__version__, "python": sys.version.split()[0], "ptxas": ptxas}


def write_report(rows: list[Row], out_dir: Path, elapsed_s: float) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    problems = findings(rows)
    doc = {
        "what": "ahead-of-time compile of every Triton kernel (no GPU): registers, spills, shared memory, "
                "tensor-core instructions per kernel x dtype x arch x autotune config",
        "command": "python -m benchmarks.aot_triton",
        "versions": _versions(),
        "smem_limit_bytes": {a: SMEM_LIMIT[c] for a, c in ARCHS.items()},
        "elapsed_s": round(elapsed_s, 1),
        "findings": problems,
        "rows": [{**asdict(r), "fits_smem": r.fits_smem} for r in rows],
    }
    json_path, md_path = out_dir / "aot-triton.json", out_dir / "aot-triton.md"
    write_json(json_path, doc, indent=1)
    write_text(md_path, _markdown(rows, doc))
    return json_path, md_path


def _markdown(rows: list[Row], doc: dict) -> str:
    v = doc["versions"]
    lines = [
        "# Triton kernels compiled ahead of time (no GPU)",
        "",
        f"`{doc['command']}` — triton {v['triton']}, ptxas in its wheel: "
        + "; ".join(f"{name} {version}" for name, version in v["ptxas"].items())
        + ". Registers and spill-store bytes from "
        "ptxas -v, stack frame from `cuobjdump --dump-resource-usage`, dynamic shared memory from Triton's "
        "metadata, tensor-core instruction from the SASS. One row per autotune config the autotuner can pick.",
        "",
        "Findings: " + ("none" if not doc["findings"] else ""),
        *[f"- {p}" for p in doc["findings"]],
        "",
        "| kernel | launcher | dtype | arch | config | regs | spill B | stack B | smem KB | fits | tensor core "
        "| error |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        smem = "" if r.shared_bytes is None else f"{r.shared_bytes / 1024:.0f}"
        err = (r.error or "").splitlines()[-1][:80] if r.error else ""
        lines.append(f"| {r.kernel} | {r.launcher} | {r.dtype} | {r.arch} | {r.config} | {r.registers or ''} | "
                     f"{'' if r.spill_bytes is None else r.spill_bytes} | "
                     f"{'' if r.stack_bytes is None else r.stack_bytes} | {smem} | {'yes' if r.fits_smem else 'no'} | "
                     f"{r.tensor_core or ''} | {err} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.aot_triton", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", action="append", choices=list(ARCHS), help="repeatable (default: all)")
    parser.add_argument("--family", action="append", choices=FAMILIES, help="repeatable (default: all)")
    parser.add_argument("--dtype", action="append", choices=DTYPES, help="repeatable (default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="compile processes (default: CPU count)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"output folder (default {RESULTS})")
    parser.add_argument("--production-only", action="store_true",
                        help="skip the ladder rungs below production and the CUDA-graph path (labelled launchers)")
    parser.add_argument("--sm80-dtype", action="append", choices=DTYPES,
                        help="repeatable: compile only these dtypes for sm_80 (default: every --dtype); CI passes "
                             f"{' '.join('--sm80-dtype ' + d for d in CI_SM80_DTYPES)}")
    parser.add_argument("--ladder-dtype", action="append", choices=LADDER_DTYPES,
                        help="repeatable: compile the ladder rungs below production only in these dtypes (default: "
                             f"{', '.join(LADDER_DTYPES)}); CI passes "
                             f"{' '.join('--ladder-dtype ' + d for d in CI_LADDER_DTYPES)}")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run(tuple(args.family or FAMILIES), tuple(args.dtype or DTYPES), tuple(args.arch or ARCHS), args.jobs,
               args.production_only, tuple(args.sm80_dtype or DTYPES), tuple(args.ladder_dtype or LADDER_DTYPES))
    json_path, md_path = write_report(rows, args.out, time.perf_counter() - start)
    problems = findings(rows)
    shared = sum(r.same_as is not None for r in rows)
    print(f"{len(rows)} rows, {len(rows) - shared} kernel compilations ({shared} rows share one) in "
          f"{time.perf_counter() - start:.0f} s; report: {json_path}, {md_path}")
    for p in problems:
        print("FINDING:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
