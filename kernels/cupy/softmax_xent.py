"""Fused softmax + cross-entropy loss (mean reduction) and its gradient, in CUDA C through CuPy.

Math (same as ``kernels/numpy/softmax_xent.py`` and ``torch.nn.functional.cross_entropy``)::

    logits[M, V], target[M] (int)  ->  valid[m] = target[m] != ignore_index,  n = sum(valid)
    loss     = (1/n) * sum_{valid m} ( logsumexp(logits[m]) - logits[m, target[m]] )
    dlogits  = (softmax(logits[m]) - onehot(target[m])) / n   for valid rows, 0 for ignored rows

The kernels live in ``softmax_xent.cu`` (its header explains the algorithm: two streaming passes per
row with an online softmax over chunks, shuffle reductions, and the Triton kernel's log1p formulation
that keeps float32 accuracy on confident rows without float64 arithmetic).

Launch configuration (:func:`_launch_config`, pure Python):

- ``V <= 1024``: one warp per row, 4 rows per 128-thread block (no shared memory, no block barriers);
- ``1024 < V <= 8192``: one 256-thread block per row; ``V > 8192``: one 1024-thread block per row
  (more loads in flight for the long rows of a large vocabulary);
- grid = ``min(ceil(M / rows_per_block), 2**31 - 1)``; the kernel walks row groups with a grid-stride
  loop, so any M fits.  Row offsets are int64 on the device.
- the mean over rows is a second one-block kernel summing the per-row losses in float64 in a fixed
  order (deterministic, no atomics); the backward is a grid-stride scale kernel.

The wrapper converts ``target`` (any integer dtype) to int64 on the device and counts the valid rows
``n`` there too; the kernels read ``n`` from device memory, so a forward never waits for the GPU.
Target values are checked (ValueError naming the offending row) only when that costs no sync:
under the emulator, or on a GPU in debug mode ``KERNELGRAD_SYNC_CHECKS=1``
(:func:`kernels._args.value_checks_enabled`).  Unchecked, a valid row whose target is outside
[0, V) gets a NaN loss (so the mean loss is NaN) and an all-NaN dlogits row, and no out-of-bounds read
happens: the same contract as the Triton kernel.  If every row is ignored the loss is NaN and dlogits is
all zeros; M = 0 returns that without a launch.

Limits: logits / dlogits must be C-contiguous float16/float32/float64 (CuPy has no bfloat16; the .cu
file still instantiates it); target must be a C-contiguous 1-D integer array of the runtime (uint64
targets of 2**63 and above wrap when converted to int64 and are then reported as out of range).

Verification: values only under the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``, both value-check
modes); NVRTC compiles every name expression declared here for sm_80/sm_90 in CI (with this module's
options: IEEE float32, no flush-to-zero) and nvcc the whole file for sm_75/80/90.  GPU execution and
speed are unverified -- no GPU was available.
"""

from __future__ import annotations

import numpy as np

from .._args import softmax_xent_shapes, value_checks_enabled
from . import _runtime

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]

WARP = 32
WARP_ROWS_PER_BLOCK = 4  # rows per block on the warp-per-row path (128-thread blocks)
WARP_ROW_MAX_V = 1024  # a warp covers V <= 1024 in at most 8 chunks of 32 * ITEMS columns
BLOCK_ROW_MAX_V_256 = 8192  # 256-thread rows up to here, 1024-thread rows beyond
ITEMS = 4  # columns per thread per chunk; must match ITEMS in softmax_xent.cu
MEAN_THREADS = 256  # must match MEAN_THREADS in softmax_xent.cu
SCALE_THREADS = 256
SCALE_MAX_BLOCKS = 65536  # the scale kernel is grid-stride; more blocks than this add nothing
MAX_GRID_X = _runtime.MAX_GRID[0]

_FORWARD_SHAPES = ((WARP, WARP_ROWS_PER_BLOCK), (256, 1), (1024, 1))  # (ROW_THREADS, ROWS_PER_BLOCK)
_TYPES = ("__half", "float", "double")


def _forward_name(ctype: str, row_threads: int, rows_per_block: int) -> str:
    return f"softmax_xent_forward_kernel<{ctype}, {row_threads}, {rows_per_block}>"


MODULE = _runtime.SourceModule(
    "softmax_xent.cu",
    [_forward_name(t, r, b) for t in _TYPES for r, b in _FORWARD_SHAPES]
    + [f"softmax_xent_mean_kernel<{t}>" for t in _TYPES]
    + [f"softmax_xent_scale_kernel<{t}>" for t in _TYPES],
)


def _launch_config(M: int, V: int) -> tuple[tuple[int], tuple[int], int, int]:
    """``(grid, block, row_threads, rows_per_block)`` of the forward kernel for logits[M, V].

    Pure arithmetic (no GPU, no allocation).  ``row_threads`` threads own one row; a block holds
    ``rows_per_block`` rows; the grid is capped at the CUDA limit and the kernel strides over the rest.
    """
    if M < 1 or V < 1:
        raise ValueError(f"the forward kernel needs M >= 1 and V >= 1, got M={M}, V={V}")
    if V <= WARP_ROW_MAX_V:
        row_threads, rows_per_block = WARP, WARP_ROWS_PER_BLOCK
    elif V <= BLOCK_ROW_MAX_V_256:
        row_threads, rows_per_block = 256, 1
    else:
        row_threads, rows_per_block = 1024, 1
    grid = min(_runtime.cdiv(M, rows_per_block), MAX_GRID_X)
    return (grid,), (row_threads * rows_per_block,), row_threads, rows_per_block


def _scale_launch_config(numel: int) -> tuple[tuple[int], tuple[int]]:
    """``(grid, block)`` of the grid-stride scale kernel for ``numel >= 1`` elements."""
    if numel < 1:
        raise ValueError(f"the scale kernel needs numel >= 1, got {numel}")
    return (min(_runtime.cdiv(numel, SCALE_THREADS), SCALE_MAX_BLOCKS),), (SCALE_THREADS,)


def _acc_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def softmax_cross_entropy_forward(logits, target, ignore_index: int = -100, need_grad: bool = True):
    """Mean cross-entropy of ``logits[M, V]`` against class indices ``target[M]``.

    Returns ``(loss, dlogits)``: loss is a 0-d array of logits' dtype, dlogits[M, V] the gradient of
    the loss w.r.t. logits (arrays of the runtime: cupy, or numpy under emulation), or None with
    ``need_grad=False`` (the kernel skips its second pass: one read of the logits, no M*V write).  Raises TypeError
    for a non-array / non-float logits or a non-integer target, ValueError for wrong shapes or layout,
    or a class index outside [0, V) that is not ignore_index.
    """
    _runtime.check_float_array("logits", logits, 2)
    _runtime.check_array("target", target)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"target must have an integer dtype, got {target.dtype}")
    M, V = softmax_xent_shapes(logits.shape, target.shape, ignore_index)
    ignore_index = int(ignore_index)

    xp = _runtime.xp()
    target64 = target.astype(np.int64, copy=False)
    # an ignore_index no int64 can equal ignores nothing: has_ignore_index = 0 tells the kernel so
    has_ignore_index = -(2**63) <= ignore_index < 2**63
    kernel_ignore = ignore_index if has_ignore_index else 0
    dtype = logits.dtype
    if M == 0:  # the mean over no rows (0 / 0), like the numpy reference; a grid of 0 blocks cannot launch
        return xp.full((), np.nan, dtype=dtype), _runtime.zeros((M, V), dtype) if need_grad else None
    valid = target64 != ignore_index if has_ignore_index else xp.ones((M,), dtype=bool)
    if value_checks_enabled(on_host=_runtime.emulating()):
        bad = valid & ((target64 < 0) | (target64 >= V))
        if bool(bad.any()):  # the host reads one flag: free under the emulator, a sync on a GPU (debug mode)
            row = int(xp.argmax(bad))
            raise ValueError(
                f"target[{row}] = {int(target[row])} is not a class index in [0, V={V}) nor ignore_index={ignore_index}"
            )
    n_valid = xp.asarray(valid.sum(dtype=np.int64)).reshape(1)  # stays on the device: the kernels read it

    ctype = _runtime.cuda_type(dtype)
    dlogits = _runtime.empty((M, V) if need_grad else (0,), dtype)  # (0,): a pointer the kernel never uses
    row_loss = _runtime.empty((M,), _acc_dtype(dtype))
    loss = _runtime.empty((), dtype)
    grid, block, row_threads, rows_per_block = _launch_config(M, V)
    MODULE.launch(
        _forward_name(ctype, row_threads, rows_per_block), grid, block,
        (logits, target64, dlogits, row_loss, np.int64(M), np.int64(V), np.int64(kernel_ignore),
         np.int32(has_ignore_index), n_valid, np.int32(bool(need_grad))),
    )  # fmt: skip
    MODULE.launch(f"softmax_xent_mean_kernel<{ctype}>", (1,), (MEAN_THREADS,), (row_loss, loss, np.int64(M), n_valid))
    return loss, dlogits if need_grad else None


def softmax_cross_entropy_backward(dlogits, grad_loss):
    """Chain rule for the scalar loss: returns ``dlogits * grad_loss`` in dlogits' dtype.

    ``grad_loss`` is a Python/numpy scalar or a 0-d array (a device array is read on the device, no
    host sync).  Raises TypeError for a non-array / non-float dlogits, ValueError for a non-contiguous
    dlogits or a grad_loss that is not a scalar.
    """
    _runtime.check_float_array("dlogits", dlogits, 2)
    shape = tuple(grad_loss.shape) if hasattr(grad_loss, "shape") else ()
    if len(shape) != 0:
        raise ValueError(f"grad_loss must be a scalar or 0-d array, got shape {shape}")
    xp = _runtime.xp()
    scale = xp.asarray(grad_loss, dtype=dlogits.dtype).reshape(1)  # rounded to dlogits' dtype, as numpy does
    out = _runtime.empty(dlogits.shape, dlogits.dtype)
    numel = int(dlogits.size)
    if numel:
        grid, block = _scale_launch_config(numel)
        MODULE.launch(
            f"softmax_xent_scale_kernel<{_runtime.cuda_type(dlogits.dtype)}>", grid, block,
            (dlogits, scale, out, np.int64(numel)),
        )
    return out
