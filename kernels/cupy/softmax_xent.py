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
- few long rows (:func:`split_chunk`: V >= SPLIT_MIN_V and M < SPLIT_MAX_ROWS_PER_SM x the SM count, a
  cached host query of the device's attributes; DEFAULT_SM_COUNT under the emulator) take the split-row
  kernels instead: a 256-thread block per (row, chunk of SPLIT_CHUNK_V columns) for the statistics, a
  thread per row merging them in chunk order, a block per (row, chunk) for dlogits (the .cu header).
  The chunk is a constant, so a row's result does not depend on M; tests lower SPLIT_MIN_V and
  SPLIT_CHUNK_V_EMULATED to reach the path with small shapes.

Output buffers: the forward's ``out`` receives dlogits and may be ``logits`` itself (the in-place
gradient: every kernel that writes an element has read it first, in the same thread) or memory disjoint
from the logits; the backward's ``out`` may be ``dlogits`` itself, and the scale kernel then does nothing
for a gradient of exactly 1.  The framework passes them only when nothing else reads the logits.

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
options: IEEE float32, no flush-to-zero) and nvcc the whole file for sm_75.  GPU execution and
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
SPLIT_THREADS = 256  # must match SPLIT_THREADS in softmax_xent.cu
COMBINE_THREADS = 128  # must match COMBINE_THREADS in softmax_xent.cu
#: The split-row path: columns per (row, chunk) block on a GPU and under the emulator (whose host threads make
#: every block expensive: one 1024-column tile per chunk there).
SPLIT_CHUNK_V = 8192
SPLIT_CHUNK_V_EMULATED = 1024
#: Split when V >= SPLIT_MIN_V (two chunks at least) and M < SPLIT_MAX_ROWS_PER_SM * SMs.
SPLIT_MIN_V = 2 * SPLIT_CHUNK_V
SPLIT_MAX_ROWS_PER_SM = 2
DEFAULT_SM_COUNT = 132  # an H100 / H200, where no GPU can be asked (the emulator)

_FORWARD_SHAPES = ((WARP, WARP_ROWS_PER_BLOCK), (256, 1), (1024, 1))  # (ROW_THREADS, ROWS_PER_BLOCK)
_TYPES = ("__half", "float", "double")
_SPLIT_KERNELS = ("softmax_xent_split_stats_kernel", "softmax_xent_split_combine_kernel",
                  "softmax_xent_split_grad_kernel")


def _forward_name(ctype: str, row_threads: int, rows_per_block: int) -> str:
    return f"softmax_xent_forward_kernel<{ctype}, {row_threads}, {rows_per_block}>"


MODULE = _runtime.SourceModule(
    "softmax_xent.cu",
    [_forward_name(t, r, b) for t in _TYPES for r, b in _FORWARD_SHAPES]
    + [f"{k}<{t}>" for t in _TYPES for k in _SPLIT_KERNELS]
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


def split_chunk(M: int, V: int, sm_count: int, emulated: bool = False) -> int | None:
    """The vocabulary chunk (columns per block) of the split-row path for logits[M, V] on a GPU with ``sm_count``
    SMs, or None for the row kernels: split when V >= SPLIT_MIN_V, V spans two chunks or more and
    M < SPLIT_MAX_ROWS_PER_SM * sm_count. Pure arithmetic; the module constants are read at each call."""
    chunk = SPLIT_CHUNK_V_EMULATED if emulated else SPLIT_CHUNK_V
    if V < SPLIT_MIN_V or V <= chunk or M >= SPLIT_MAX_ROWS_PER_SM * sm_count:
        return None
    return chunk


def _split_launch_config(M: int, V: int, chunk: int) -> tuple[int, tuple[int], tuple[int], tuple[int], tuple[int]]:
    """``(n_chunks, grid, block, combine_grid, combine_block)`` of the split-row kernels (pure arithmetic)."""
    if M < 1 or V < 1 or chunk < 1:
        raise ValueError(f"the split kernels need M, V, chunk >= 1, got M={M}, V={V}, chunk={chunk}")
    n_chunks = _runtime.cdiv(V, chunk)
    grid = (min(M * n_chunks, MAX_GRID_X),)
    return n_chunks, grid, (SPLIT_THREADS,), (min(_runtime.cdiv(M, COMBINE_THREADS), MAX_GRID_X),), (COMBINE_THREADS,)


_SM_COUNTS: dict[int, int] = {}


def sm_count() -> int:
    """The current device's SM count (a cached host query of its attributes, no sync); DEFAULT_SM_COUNT under the
    emulator."""
    if _runtime.emulating():
        return DEFAULT_SM_COUNT
    import cupy

    device = cupy.cuda.Device()
    if device.id not in _SM_COUNTS:
        _SM_COUNTS[device.id] = int(device.attributes["MultiProcessorCount"])
    return _SM_COUNTS[device.id]


def _check_out(out, like, like_name: str) -> None:
    """``out`` must be an array of ``like``'s shape and dtype that is ``like`` itself (the same memory, in place) or
    disjoint from it (both are C-contiguous)."""
    _runtime.check_float_array("out", out, 2)
    if tuple(out.shape) != tuple(like.shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {tuple(like.shape)} ({like_name}'s shape)")
    if out.dtype != like.dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {like_name}'s dtype {like.dtype}")
    a, b = _data_pointer(out), _data_pointer(like)
    nbytes = int(like.nbytes)
    if a != b and a < b + nbytes and b < a + nbytes:
        raise ValueError(f"out overlaps {like_name} without being {like_name} itself: it must be {like_name} "
                         f"(in place) or memory disjoint from it")


def _data_pointer(a) -> int:
    """The address of ``a``'s first element (cupy or numpy)."""
    return int(a.data.ptr) if not isinstance(a, np.ndarray) else int(a.__array_interface__["data"][0])


def _scale_launch_config(numel: int) -> tuple[tuple[int], tuple[int]]:
    """``(grid, block)`` of the grid-stride scale kernel for ``numel >= 1`` elements."""
    if numel < 1:
        raise ValueError(f"the scale kernel needs numel >= 1, got {numel}")
    return (min(_runtime.cdiv(numel, SCALE_THREADS), SCALE_MAX_BLOCKS),), (SCALE_THREADS,)


def _acc_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _checked_forward_args(logits, target, ignore_index, need_grad, out) -> tuple[int, int, int]:
    """The forward's argument checks before any value check: ``(M, V, ignore_index)``."""
    _runtime.check_float_array("logits", logits, 2)
    _runtime.check_array("target", target)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"target must have an integer dtype, got {target.dtype}")
    M, V = softmax_xent_shapes(logits.shape, target.shape, ignore_index)
    if out is not None:
        if not need_grad:
            raise ValueError("out receives dlogits: it needs need_grad=True (got need_grad=False)")
        _check_out(out, logits, "logits")
    return M, V, int(ignore_index)


def softmax_cross_entropy_forward(logits, target, ignore_index: int = -100, need_grad: bool = True, out=None):
    """Mean cross-entropy of ``logits[M, V]`` against class indices ``target[M]``.

    Returns ``(loss, dlogits)``: loss is a 0-d array of logits' dtype, dlogits[M, V] the gradient of
    the loss w.r.t. logits (arrays of the runtime: cupy, or numpy under emulation), or None with
    ``need_grad=False`` (the kernels skip the gradient: one read of the logits, no M*V write).  ``out``: an
    [M, V] array of logits' dtype that receives dlogits and is returned as it; it may be ``logits`` itself (the
    gradient overwrites the logits) or memory disjoint from them.  Few long rows take the split-row kernels
    (:func:`split_chunk`).  Raises TypeError for a non-array / non-float logits or out, a non-integer target
    or out of another dtype, ValueError for wrong shapes or layout, out with ``need_grad=False`` or partly
    overlapping logits, or a class index outside [0, V) that is not ignore_index.
    """
    return _forward(logits, target, ignore_index, need_grad, out, split=True)


def _forward(logits, target, ignore_index, need_grad, out, split: bool):
    """The forward on any arguments; ``split=False``: the row kernels for every shape (the ladder's rung 3)."""
    M, V, ignore_index = _checked_forward_args(logits, target, ignore_index, need_grad, out)
    xp = _runtime.xp()
    target64 = target.astype(np.int64, copy=False)
    # an ignore_index no int64 can equal ignores nothing: has_ignore_index = 0 tells the kernel so
    has_ignore_index = -(2**63) <= ignore_index < 2**63
    kernel_ignore = ignore_index if has_ignore_index else 0
    dtype = logits.dtype
    if M == 0:  # the mean over no rows (0 / 0), like the numpy reference; a grid of 0 blocks cannot launch
        dlogits = (out if out is not None else _runtime.zeros((M, V), dtype)) if need_grad else None
        return xp.full((), np.nan, dtype=dtype), dlogits
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
    if need_grad:
        dlogits = out if out is not None else _runtime.empty((M, V), dtype)
    else:
        dlogits = _runtime.empty((0,), dtype)  # a pointer the kernels never use
    row_loss = _runtime.empty((M,), _acc_dtype(dtype))
    loss = _runtime.empty((), dtype)
    chunk = split_chunk(M, V, sm_count(), _runtime.emulating()) if split else None
    if chunk is None:
        grid, block, row_threads, rows_per_block = _launch_config(M, V)
        MODULE.launch(
            _forward_name(ctype, row_threads, rows_per_block), grid, block,
            (logits, target64, dlogits, row_loss, np.int64(M), np.int64(V), np.int64(kernel_ignore),
             np.int32(has_ignore_index), n_valid, np.int32(bool(need_grad))),
        )  # fmt: skip
    else:
        _split_forward(logits, target64, dlogits, row_loss, kernel_ignore, has_ignore_index, n_valid, need_grad,
                       chunk)
    MODULE.launch(f"softmax_xent_mean_kernel<{ctype}>", (1,), (MEAN_THREADS,), (row_loss, loss, np.int64(M), n_valid))
    return loss, dlogits if need_grad else None


def _split_forward(logits, target64, dlogits, row_loss, kernel_ignore, has_ignore_index, n_valid, need_grad, chunk):
    """The split-row kernels: row_loss and (need_grad) dlogits for logits[M, V], ``chunk`` columns per block."""
    M, V = logits.shape
    ctype, acc = _runtime.cuda_type(logits.dtype), _acc_dtype(logits.dtype)
    n_chunks, grid, block, combine_grid, combine_block = _split_launch_config(M, V, chunk)
    part_max = _runtime.empty((M, n_chunks), acc)
    part_sum = _runtime.empty((M, n_chunks), acc)
    row_stats = _runtime.empty((3 * M,) if need_grad else (1,), acc)  # max, 1 / (s n), the target's gradient
    MODULE.launch(f"softmax_xent_split_stats_kernel<{ctype}>", grid, block,
                  (logits, target64, part_max, part_sum, np.int64(M), np.int64(V), np.int64(chunk), np.int64(n_chunks)))
    MODULE.launch(
        f"softmax_xent_split_combine_kernel<{ctype}>", combine_grid, combine_block,
        (logits, target64, part_max, part_sum, row_loss, row_stats, np.int64(M), np.int64(V), np.int64(n_chunks),
         np.int64(kernel_ignore), np.int32(has_ignore_index), n_valid, np.int32(bool(need_grad))),
    )  # fmt: skip
    if need_grad:
        MODULE.launch(
            f"softmax_xent_split_grad_kernel<{ctype}>", grid, block,
            (logits, target64, row_stats, dlogits, np.int64(M), np.int64(V), np.int64(chunk), np.int64(n_chunks),
             np.int64(kernel_ignore), np.int32(has_ignore_index)),
        )  # fmt: skip


def softmax_cross_entropy_backward(dlogits, grad_loss, out=None):
    """Chain rule for the scalar loss: returns ``dlogits * grad_loss`` in dlogits' dtype.

    ``grad_loss`` is a Python/numpy scalar or a 0-d array (a device array is read on the device, no
    host sync).  ``out``: an array of dlogits' shape and dtype that receives the result and is returned; it may
    be ``dlogits`` itself (scaled in place; a gradient of exactly 1 then writes nothing).  Raises TypeError for a
    non-array / non-float dlogits or out, or out of another dtype, ValueError for a non-contiguous dlogits, a
    grad_loss that is not a scalar, or out of another shape or partly overlapping dlogits.
    """
    _runtime.check_float_array("dlogits", dlogits, 2)
    shape = tuple(grad_loss.shape) if hasattr(grad_loss, "shape") else ()
    if len(shape) != 0:
        raise ValueError(f"grad_loss must be a scalar or 0-d array, got shape {shape}")
    if out is not None:
        _check_out(out, dlogits, "dlogits")
    xp = _runtime.xp()
    scale = xp.asarray(grad_loss, dtype=dlogits.dtype).reshape(1)  # rounded to dlogits' dtype, as numpy does
    if out is None:
        out = _runtime.empty(dlogits.shape, dlogits.dtype)
    numel = int(dlogits.size)
    if numel:
        grid, block = _scale_launch_config(numel)
        MODULE.launch(
            f"softmax_xent_scale_kernel<{_runtime.cuda_type(dlogits.dtype)}>", grid, block,
            (dlogits, scale, out, np.int64(numel)),
        )
    return out
