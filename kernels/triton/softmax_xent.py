"""Fused softmax + cross-entropy loss (mean reduction) and its gradient, in Triton.

Math (same as ``kernels/numpy/softmax_xent.py`` and ``torch.nn.functional.cross_entropy``)::

    logits[M, V], target[M] (int)  ->  valid[m] = target[m] != ignore_index,  n = sum(valid)
    loss     = (1/n) * sum_{valid m} ( logsumexp(logits[m]) - logits[m, target[m]] )
    dlogits  = (softmax(logits[m]) - onehot(target[m])) / n   for valid rows, 0 for ignored rows

Work split: one program per block of BLOCK_M rows (BLOCK_M = 1 for a large vocabulary, more rows
per program when V is small so tiny rows still fill a program), each walking its rows' vocabulary
in BLOCK_V chunks, so any V (256k and beyond) runs in bounded registers (block sizes and warps:
:func:`forward_launch_config`, sized so that no V spills registers):

- pass 1 (online softmax statistics): a running max m and a running sum s of exp(x - m); when a
  chunk raises the max, s is rescaled by exp(m_old - m_new).  The chunk tail is loaded as -inf so
  it contributes exp(-inf) = 0 and never wins the max.
- pass 2: re-reads the chunk and writes dlogits = (exp(x - m) / s - onehot) / n; ignored rows write
  zeros (a select, not a multiply, so inf/nan logits in an ignored row cannot leak).  Compiled out
  with ``need_grad=False`` (NEED_GRAD, a constexpr): a forward nobody differentiates reads the logits once.
- the per-row losses go to a [M] buffer; the mean over valid rows is a device reduction in the
  launcher.  n (the number of valid rows) is counted on the device and read by the kernel from
  memory, so no host round trip is needed for it.

Precision without float64: s is accumulated over the *non-target* classes only (s_other), and the
target's own term e_t = exp(x_t - m) is added afterwards.  Then

    loss_m   = (m - x_t) + log1p((e_t - 1) + s_other)
    dlogit_t = -s_other / (s * n),          s = e_t + s_other

For a confident prediction the target is the max, so e_t - 1 = 0 exactly and loss = log1p(s_other)
keeps full relative precision even when it is ~1e-5 (``log(s) + m - x_t`` in float32 would cancel
nearly all digits, as PyTorch's float32 result does); the target's gradient likewise never forms
p_t - 1.  If the target is not the max, another class has p >= 1/2, the loss is >= log 2 and nothing
cancels.  log1p is computed with Goldberg's trick (``log(w) * u / (w - 1)``, w = 1 + u), which needs
only ``tl.log``.  This keeps float32 math in float32 (fast on every GPU) instead of accumulating in
float64.  float64 logits compute in float64; float16/bfloat16 in float32, cast back.

Cost: about 6*M*V FLOPs plus 2*M*V exp; reads the logits twice (M*V each pass; pass 2 usually hits
L2 for moderate V) and writes dlogits once (M*V), plus O(M) for targets and row losses.

Layout / limits: logits [M, V] C-contiguous, float16/bfloat16/float32/float64; target [M] any
integer dtype (converted to int64).  Row offsets are int64 (row * V cannot overflow).
All rows ignored -> loss NaN (0/0, like the numpy reference and PyTorch), dlogits all zeros.
V = 1 gives loss 0.

Targets that are not classes, without a host sync.  Naming the bad row in a ValueError needs the
host to read the targets: a device-to-host copy that stalls a GPU stream every forward.  So the
launcher checks only where that is free -- under the interpreter -- or in debug mode
(``KERNELGRAD_SYNC_CHECKS=1``, :func:`kernels._args.value_checks_enabled`).  Unchecked (a GPU's
default), the kernel keeps the contract the CuPy kernel shares: a row whose target is neither
ignore_index nor in [0, V) is valid (it counts in n), its row loss is NaN -- so the mean is NaN --
and its whole dlogits row is NaN; its target is never used as an address.  No launcher here reads a
device value on the host (``n`` stays on the device; a host-scalar ``grad_loss`` becomes a fill
kernel's argument, not a blocking host-to-device copy).

NaN and inf (every backend alike, tested against numpy and PyTorch float64): a NaN or +inf logit
in a valid row makes that row's loss and its whole gradient row NaN, as in PyTorch; -inf logits are
finite (a -inf target gives an inf loss and gradient -1/n there).  Ignored rows never contribute,
whatever they hold, and get exact zeros (PyTorch's backward multiplies and gives them NaN rows).
On a GPU ``tl.exp`` is ``ex2.approx.f32`` and ``tl.log`` libdevice's ``logf`` (whose polynomial uses
``fma.rn.ftz`` on values it has already scaled out of the subnormal range), so float32 results can
differ from the interpreter's numpy exp/log by a few ulp; float64 ``tl.log`` (libdevice ``log``)
uses ``rcp.approx.ftz.f64`` only to seed a reciprocal that FMAs refine.

Why fast: a memory-bound op done in two streaming passes with the softmax, the loss and the
gradient fused (no [M, V] temporaries), coalesced BLOCK_V-wide loads, and no float64 arithmetic.

Few long rows: the split-row path (rung 4 of the ladder, docs/ladder/softmax_xent.md).  One program per
row cannot fill the GPU when a huge vocabulary comes with few rows (V = 128256 at 32 tokens: 32 programs
for 132 SMs).  When V >= SPLIT_MIN_V and M < SPLIT_MAX_ROWS_PER_SM x the SM count (read from the device's
properties, a host query: no sync; the launch shape never depends on M beyond this switch, so no kernel
is compiled per batch size), :func:`split_chunk` cuts each row into chunks of SPLIT_CHUNK_V columns and
three kernels run:

- ``_split_stats_kernel``, one program per (row, chunk): the chunk's online max m_c and its sum s_c of
  exp(x - m_c) over the non-target columns, to two [M, n_chunks] buffers;
- ``_split_combine_kernel``, BLOCK_M rows per program: merges a row's partials in chunk order 0, 1, ...
  (m = max m_c, s_other = sum_c s_c * exp(m_c - m): the online-softmax rescale across programs; a fixed
  order, no atomics, so the result is deterministic and does not depend on M), then the loss as above and,
  with the gradient, the row's (m, 1 / (s n), -s_other / (s n)) for the last kernel;
- ``_split_grad_kernel``, one program per (row, chunk): re-reads its chunk and writes dlogits.

The chunk size is a constant, so a row's result is the same whatever the batch.  Bytes: the logits are
read twice from DRAM with the gradient (the second sweep starts after the whole first one: no L2 reuse)
plus dlogits written, the [M, n_chunks] partials are noise.  Tests lower SPLIT_MIN_V and
SPLIT_CHUNK_V_INTERPRETER to reach the path with small shapes.

Output buffers (the in-place gradient).  ``out`` receives dlogits: it may be ``logits`` itself (the
gradient overwrites the logits: every kernel that writes an element has read it first, in the same
program and tile layout, and nothing reads it afterwards -- the fused kernel's pass 2, the split path's
grad kernel -- so no element is read after it was overwritten; x_t, which lanes read from another lane's
column, is read before a barrier that precedes pass 2, and in an earlier kernel on the split path) or
memory disjoint from the logits; a
partial overlap raises.  The backward's ``out`` may be ``dlogits`` itself: ``_scale_in_place_kernel``
reads grad_loss on the device and, when it is exactly 1 (``loss.backward()``), reads and writes nothing
(``x * 1 == x`` for every float, so the result is bit-identical).  The framework passes these buffers
only when it has proven that nothing else reads the logits (``F.cross_entropy(..., consume_input=True)``).

Verified: values under ``TRITON_INTERPRET=1`` against numpy and PyTorch float64.  Compiled ahead of
time for sm_90 and sm_80 with Triton 3.9 and its ptxas, float16 / bfloat16 / float32 / float64: in CI
by ``benchmarks/aot_triton.py`` ([8192, 32000] and [256, 10]), and once by hand for V = 1 ... 50257
through :func:`forward_launch_config`: no compile error, no spill (the former 4096-element, 16-warp
programs spilled for float32 at V = 33..256 and float64 at V < 1024).  The split-row kernels, the
barrier before pass 2 and the in-place scale kernel: the same AOT check at [64, 128256] (out=logits
included), sm_90 and sm_80, no error, no spill; values under the interpreter with lowered split
thresholds.  GPU execution and speed are unverified: no GPU was available.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from .._args import softmax_xent_shapes, value_checks_enabled
from ._common import check_float_tensor, check_placement, interpreting, tl_dtype

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]

MAX_BLOCK_V = 4096  # vocabulary chunk per pass on the GPU (the interpreter uses smaller chunks)
ROWS_PER_PROGRAM_ELEMENTS = 512  # when V is small, pack rows so a program handles ~this many elements
SCALE_BLOCK = 1024
SCALE_IN_PLACE_MAX_PROGRAMS = 4096  # the in-place scale is a grid-stride loop: a gradient of 1 costs ~one wave
#: The split-row path (few long rows): columns per program, on a GPU and under the interpreter (a multiple of the
#: program's BLOCK_V there: two 4096-wide tiles, two 64-wide tiles).
SPLIT_CHUNK_V = 8192
SPLIT_CHUNK_V_INTERPRETER = 128
#: The split path runs when V >= SPLIT_MIN_V (two chunks at least) and M < SPLIT_MAX_ROWS_PER_SM * SMs (rows too few
#: to fill the GPU one row per program); tests lower SPLIT_MIN_V to reach it with small shapes.
SPLIT_MIN_V = 2 * SPLIT_CHUNK_V
SPLIT_MAX_ROWS_PER_SM = 2
#: SMs assumed where the launcher cannot ask a GPU (the interpreter, ahead-of-time capture on CPU tensors): an
#: H100 / H200.
DEFAULT_SM_COUNT = 132
SPLIT_COMBINE_BLOCK_M = 128


@triton.jit
def _log1p(u):
    """log(1 + u) accurate for tiny u (Goldberg): log(w) * u / (w - 1) with w = fl(1 + u)."""
    w = 1.0 + u
    d = tl.where(w == 1.0, 1.0, w - 1.0)
    return tl.where(w == 1.0, u, tl.log(w) * (u / d))


@triton.jit
def _softmax_xent_forward_kernel(
    logits_ptr, target_ptr, n_valid_ptr, dlogits_ptr, row_loss_ptr, M, V, ignore_index,
    ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_V: tl.constexpr,
    NEED_GRAD: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < M
    cols = tl.arange(0, BLOCK_V).to(tl.int64)
    row_base = rows * V  # int64: M * V may exceed 2**31
    target = tl.load(target_ptr + rows, mask=row_ok, other=ignore_index)
    valid = row_ok & (target != ignore_index)
    # a valid row whose target is not a class (possible when the launcher skips its host check) counts
    # in n and gets a NaN loss and a NaN gradient row; it never addresses logits with its target
    bad = valid & ((target < 0) | (target >= V))
    t = tl.where(valid & ~bad, target, 0)  # an in-range column to gather for ignored and bad rows
    x_t = tl.load(logits_ptr + row_base + t, mask=row_ok, other=0.0).to(ACC_DTYPE)

    # pass 1: online max and sum over the non-target classes
    m = tl.full((BLOCK_M,), float("-inf"), ACC_DTYPE)
    s_other = tl.zeros((BLOCK_M,), ACC_DTYPE)
    for v0 in range(0, V, BLOCK_V):
        vs = v0 + cols
        in_row = row_ok[:, None] & (vs < V)[None, :]
        x = tl.load(logits_ptr + row_base[:, None] + vs[None, :], mask=in_row, other=float("-inf")).to(ACC_DTYPE)
        m_new = tl.maximum(m, tl.max(x, axis=1))
        # a row that is -inf so far (padding rows, or -inf logits) would give exp(-inf - -inf) = nan
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        e = tl.where(vs[None, :] != t[:, None], tl.exp(x - m_ref[:, None]), 0.0)
        s_other = s_other * tl.exp(m - m_ref) + tl.sum(e, axis=1)
        m = m_new

    m = tl.where(m == float("-inf"), 0.0, m)  # padding rows: keep their (discarded) math finite
    e_t = tl.exp(x_t - m)
    s = e_t + s_other
    loss = (m - x_t) + _log1p((e_t - 1.0) + s_other)
    loss = tl.where(bad, float("nan"), loss)
    tl.store(row_loss_ptr + rows, tl.where(valid, loss, 0.0), mask=row_ok)

    # pass 2: dlogits = (softmax - onehot) / n; n >= 1 whenever a row is valid, and only valid rows use it.
    # Compiled out when nobody needs the gradient (NEED_GRAD is a compile-time constant).
    if NEED_GRAD:
        n = tl.maximum(tl.load(n_valid_ptr), 1).to(ACC_DTYPE)
        inv = 1.0 / (s * n)
        g_t = -s_other * inv
        # dlogits may be the logits: every lane has read x_t (another lane's column) before any lane stores
        tl.debug_barrier()
        for v0 in range(0, V, BLOCK_V):
            vs = v0 + cols
            in_row = row_ok[:, None] & (vs < V)[None, :]
            offs = row_base[:, None] + vs[None, :]
            x = tl.load(logits_ptr + offs, mask=in_row, other=float("-inf")).to(ACC_DTYPE)
            g = tl.exp(x - m[:, None]) * inv[:, None]
            g = tl.where(vs[None, :] == t[:, None], g_t[:, None], g)
            g = tl.where(bad[:, None], float("nan"), g)
            g = tl.where(valid[:, None], g, 0.0)
            tl.store(dlogits_ptr + offs, g.to(OUT_DTYPE), mask=in_row)


@triton.jit
def _scale_kernel(src_ptr, scale_ptr, dst_ptr, numel, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
                  BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    scale = tl.load(scale_ptr).to(ACC_DTYPE)
    x = tl.load(src_ptr + offs, mask=mask, other=0.0).to(ACC_DTYPE)
    tl.store(dst_ptr + offs, (x * scale).to(OUT_DTYPE), mask=mask)


@triton.jit
def _scale_in_place_kernel(buf_ptr, scale_ptr, numel, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
                           BLOCK: tl.constexpr):
    scale = tl.load(scale_ptr).to(ACC_DTYPE)
    # x * 1 == x for every float (NaN, inf and -0.0 included): a gradient of exactly 1 leaves the buffer as it is
    if scale != 1.0:
        start = tl.program_id(0).to(tl.int64) * BLOCK
        step = tl.num_programs(0).to(tl.int64) * BLOCK
        for off in range(start, numel, step):
            offs = off + tl.arange(0, BLOCK)
            mask = offs < numel
            x = tl.load(buf_ptr + offs, mask=mask, other=0.0).to(ACC_DTYPE)
            tl.store(buf_ptr + offs, (x * scale).to(OUT_DTYPE), mask=mask)


@triton.jit
def _split_stats_kernel(logits_ptr, target_ptr, part_max_ptr, part_sum_ptr, V, CHUNK_V, n_chunks, ignore_index,
                        ACC_DTYPE: tl.constexpr, BLOCK_V: tl.constexpr):
    # program (row, chunk): the chunk's online max and its non-target sum of exp(x - max)
    pid = tl.program_id(0).to(tl.int64)
    row = pid // n_chunks
    c0 = (pid % n_chunks) * CHUNK_V
    c_end = tl.minimum(c0 + CHUNK_V, V)
    cols = tl.arange(0, BLOCK_V).to(tl.int64)
    row_base = row * V  # int64: M * V may exceed 2**31
    target = tl.load(target_ptr + row)
    t = tl.where((target != ignore_index) & (target >= 0) & (target < V), target, -1)  # -1: no column excluded
    m = tl.full((), float("-inf"), ACC_DTYPE)
    s_other = tl.zeros((), ACC_DTYPE)
    for v0 in range(c0, c_end, BLOCK_V):
        vs = v0 + cols
        x = tl.load(logits_ptr + row_base + vs, mask=vs < c_end, other=float("-inf")).to(ACC_DTYPE)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)  # nothing but -inf so far: keep exp(-inf - ref) = 0
        e = tl.where(vs != t, tl.exp(x - m_ref), 0.0)
        s_other = s_other * tl.exp(m - m_ref) + tl.sum(e, axis=0)
        m = m_new
    tl.store(part_max_ptr + pid, m)  # -inf for a chunk of nothing but -inf (its sum is 0)
    tl.store(part_sum_ptr + pid, s_other)


@triton.jit
def _split_combine_kernel(logits_ptr, target_ptr, n_valid_ptr, part_max_ptr, part_sum_ptr, row_loss_ptr,
                          row_max_ptr, row_inv_ptr, row_gt_ptr, M, V, n_chunks, ignore_index,
                          ACC_DTYPE: tl.constexpr, BLOCK_M: tl.constexpr, NEED_GRAD: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < M
    target = tl.load(target_ptr + rows, mask=row_ok, other=ignore_index)
    valid = row_ok & (target != ignore_index)
    bad = valid & ((target < 0) | (target >= V))  # unchecked only: a NaN row, never an address
    t = tl.where(valid & ~bad, target, 0)
    x_t = tl.load(logits_ptr + rows * V + t, mask=row_ok, other=0.0).to(ACC_DTYPE)
    # merge the chunks' (max, sum) pairs in chunk order: deterministic, no atomics
    m = tl.full((BLOCK_M,), float("-inf"), ACC_DTYPE)
    s_other = tl.zeros((BLOCK_M,), ACC_DTYPE)
    for c in range(0, n_chunks):
        m_c = tl.load(part_max_ptr + rows * n_chunks + c, mask=row_ok, other=float("-inf"))
        s_c = tl.load(part_sum_ptr + rows * n_chunks + c, mask=row_ok, other=0.0)
        m_new = tl.maximum(m, m_c)
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        s_other = s_other * tl.exp(m - m_ref) + tl.where(m_c == float("-inf"), 0.0, s_c * tl.exp(m_c - m_ref))
        m = m_new
    m = tl.where(m == float("-inf"), 0.0, m)  # an all -inf row (or padding): the fused kernel's reference
    e_t = tl.exp(x_t - m)
    s = e_t + s_other
    loss = (m - x_t) + _log1p((e_t - 1.0) + s_other)
    loss = tl.where(bad, float("nan"), loss)
    tl.store(row_loss_ptr + rows, tl.where(valid, loss, 0.0), mask=row_ok)
    if NEED_GRAD:
        n = tl.maximum(tl.load(n_valid_ptr), 1).to(ACC_DTYPE)
        inv = 1.0 / (s * n)
        tl.store(row_max_ptr + rows, m, mask=row_ok)
        tl.store(row_inv_ptr + rows, inv, mask=row_ok)
        tl.store(row_gt_ptr + rows, -s_other * inv, mask=row_ok)


@triton.jit
def _split_grad_kernel(logits_ptr, target_ptr, row_max_ptr, row_inv_ptr, row_gt_ptr, dlogits_ptr, V, CHUNK_V,
                       n_chunks, ignore_index, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
                       BLOCK_V: tl.constexpr):
    # program (row, chunk): dlogits of the chunk; each element is read, then written, by the same lane
    pid = tl.program_id(0).to(tl.int64)
    row = pid // n_chunks
    c0 = (pid % n_chunks) * CHUNK_V
    c_end = tl.minimum(c0 + CHUNK_V, V)
    cols = tl.arange(0, BLOCK_V).to(tl.int64)
    row_base = row * V
    target = tl.load(target_ptr + row)
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= V))
    t = tl.where(valid & ~bad, target, -1)
    m = tl.load(row_max_ptr + row)
    inv = tl.load(row_inv_ptr + row)
    g_t = tl.load(row_gt_ptr + row)
    for v0 in range(c0, c_end, BLOCK_V):
        vs = v0 + cols
        in_chunk = vs < c_end
        x = tl.load(logits_ptr + row_base + vs, mask=in_chunk, other=float("-inf")).to(ACC_DTYPE)
        g = tl.exp(x - m) * inv
        g = tl.where(vs == t, g_t, g)
        g = tl.where(bad, float("nan"), g)
        g = tl.where(valid, g, 0.0)  # a select: inf/nan logits of an ignored row cannot leak
        tl.store(dlogits_ptr + row_base + vs, g.to(OUT_DTYPE), mask=in_chunk)


def forward_launch_config(M: int, V: int, interpreter: bool = False) -> tuple[int, int, int]:
    """``(BLOCK_M, BLOCK_V, num_warps)`` of the forward kernel for logits[M, V].

    A vocabulary chunk of up to MAX_BLOCK_V; rows packed up to ROWS_PER_PROGRAM_ELEMENTS when V is
    small; 4 tile elements per thread (8 for a 4096 chunk).  Packed rows keep per-row vectors in every
    thread: the former 4096-element programs with 16 warps (8 per thread, a 128-register cap) spilled
    for float32 at V = 33..256 and for float64 at every V < 1024, and 1024-element programs still
    spilled float32 at V = 33..128 (AOT-compiled for sm_90); 512 elements compile spill-free for every
    dtype and V on sm_80 and sm_90.  The interpreter takes small chunks, so the chunk loop is exercised
    on the CPU, and one warp.
    """
    max_block_v = 64 if interpreter else MAX_BLOCK_V
    block_v = min(triton.next_power_of_2(V), max_block_v)
    block_m = min(triton.next_power_of_2(M), max(1, ROWS_PER_PROGRAM_ELEMENTS // block_v))
    num_warps = 1 if interpreter else min(16, max(1, block_m * block_v // 128))
    return block_m, block_v, num_warps


def split_chunk(M: int, V: int, sm_count: int, interpreter: bool = False) -> int | None:
    """The vocabulary chunk (columns per program) of the split-row path for logits[M, V] on a GPU with
    ``sm_count`` SMs, or None for the fused row path: split when V >= SPLIT_MIN_V, V spans two chunks or more,
    and M < SPLIT_MAX_ROWS_PER_SM * sm_count. Pure arithmetic; the module constants are read at each call."""
    chunk = SPLIT_CHUNK_V_INTERPRETER if interpreter else SPLIT_CHUNK_V
    if V < SPLIT_MIN_V or V <= chunk or M >= SPLIT_MAX_ROWS_PER_SM * sm_count:
        return None
    return chunk


def split_launch_config(chunk: int, interpreter: bool = False) -> tuple[int, int]:
    """``(BLOCK_V, num_warps)`` of the split path's stats and grad kernels for a chunk of ``chunk`` columns:
    the fused path's tile of up to MAX_BLOCK_V (64 under the interpreter) with its warps."""
    block_v = min(triton.next_power_of_2(chunk), 64 if interpreter else MAX_BLOCK_V)
    return block_v, 1 if interpreter else min(16, max(1, block_v // 128))


@functools.cache
def _device_sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def sm_count(device: torch.device) -> int:
    """The device's SM count (a cached host query, no sync); DEFAULT_SM_COUNT off a GPU."""
    if device.type != "cuda":
        return DEFAULT_SM_COUNT
    return _device_sm_count(device.index if device.index is not None else torch.cuda.current_device())


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _check_out(out: torch.Tensor, like: torch.Tensor, like_name: str) -> None:
    """``out`` must be a tensor of ``like``'s shape, dtype and device that is ``like`` itself (the same memory,
    in place) or disjoint from it."""
    check_float_tensor("out", out, 2)
    if tuple(out.shape) != tuple(like.shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {tuple(like.shape)} ({like_name}'s shape)")
    if out.dtype != like.dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {like_name}'s dtype {like.dtype}")
    if out.device != like.device:
        raise ValueError(f"out is on device {out.device}, {like_name} on {like.device} (must match)")
    a, b = out.data_ptr(), like.data_ptr()
    nbytes = like.numel() * like.element_size()
    if a != b and a < b + nbytes and b < a + nbytes:  # both contiguous: equal start = the same memory
        raise ValueError(f"out overlaps {like_name} without being {like_name} itself: it must be {like_name} "
                         f"(in place) or memory disjoint from it")


def _checked_forward_args(logits, target, ignore_index, need_grad, out) -> tuple[int, int, int, torch.Tensor]:
    """The forward's argument checks (every launcher's): ``(M, V, ignore_index, target as int64)``. Raises as
    :func:`softmax_cross_entropy_forward` documents."""
    check_float_tensor("logits", logits, 2)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise TypeError(f"target must have an integer dtype, got {target.dtype}")
    M, V = softmax_xent_shapes(logits.shape, target.shape, ignore_index)
    ignore_index = int(ignore_index)
    check_placement("target", target)
    if target.device != logits.device:
        raise ValueError(f"target is on device {target.device}, logits on {logits.device} (must match)")
    if out is not None:
        if not need_grad:
            raise ValueError("out receives dlogits: it needs need_grad=True (got need_grad=False)")
        _check_out(out, logits, "logits")
    target = target.to(torch.int64)
    # naming the bad row needs the host to read the targets: a device sync on a GPU, so there it runs
    # only under KERNELGRAD_SYNC_CHECKS=1; otherwise the kernel makes the row visible (NaN loss and row)
    if value_checks_enabled(on_host=interpreting() and target.device.type == "cpu"):
        bad = (target != ignore_index) & ((target < 0) | (target >= V))
        if bool(bad.any()):
            row = int(torch.argmax(bad.to(torch.int8)))
            raise ValueError(
                f"target[{row}] = {int(target[row])} is not a class index in [0, V={V}) "
                f"nor ignore_index={ignore_index}"
            )
    return M, V, ignore_index, target


def _fused_rows_forward(logits, target, ignore_index, need_grad, out) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The fused kernel, BLOCK_M rows per program (:func:`forward_launch_config`), on checked arguments."""
    M, V = logits.shape
    dtype = logits.dtype
    acc = _acc_dtype(dtype)
    dlogits = (out if out is not None else torch.empty_like(logits)) if need_grad else None
    if M == 0:
        return torch.full((), float("nan"), dtype=dtype, device=logits.device), dlogits
    n_valid = (target != ignore_index).sum(dtype=torch.int64).reshape(1)
    row_loss = torch.empty((M,), dtype=acc, device=logits.device)
    block_m, block_v, num_warps = forward_launch_config(M, V, interpreting())
    _softmax_xent_forward_kernel[(triton.cdiv(M, block_m),)](
        # without need_grad the dlogits pointer is never used: row_loss stands in for it
        logits, target, n_valid, dlogits if need_grad else row_loss, row_loss, M, V, ignore_index,
        ACC_DTYPE=tl_dtype(acc), OUT_DTYPE=tl_dtype(dtype), BLOCK_M=block_m, BLOCK_V=block_v, NEED_GRAD=bool(need_grad),
        num_warps=num_warps,
    )
    # mean over valid rows; 0 / 0 = nan when every row is ignored (the numpy reference's result)
    loss = (row_loss.sum(dtype=torch.float64) / n_valid[0]).to(dtype)
    return loss, dlogits


def _split_rows_forward(logits, target, ignore_index, need_grad, out, chunk: int
                        ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The split-row path (three kernels, ``chunk`` columns per program) on checked arguments, M >= 1."""
    M, V = logits.shape
    dtype, device = logits.dtype, logits.device
    acc = _acc_dtype(dtype)
    n_chunks = triton.cdiv(V, chunk)
    n_valid = (target != ignore_index).sum(dtype=torch.int64).reshape(1)
    part_max = torch.empty((M, n_chunks), dtype=acc, device=device)
    part_sum = torch.empty((M, n_chunks), dtype=acc, device=device)
    row_loss = torch.empty((M,), dtype=acc, device=device)
    # with the gradient: the row's max, 1 / (s n) and the target's gradient, for the grad kernel
    row_stats = torch.empty((3, M) if need_grad else (3, 1), dtype=acc, device=device)
    block_v, num_warps = split_launch_config(chunk, interpreting())
    ACC, OUT = tl_dtype(acc), tl_dtype(dtype)
    _split_stats_kernel[(M * n_chunks,)](
        logits, target, part_max, part_sum, V, chunk, n_chunks, ignore_index, ACC_DTYPE=ACC, BLOCK_V=block_v,
        num_warps=num_warps)
    block_m = min(triton.next_power_of_2(M), SPLIT_COMBINE_BLOCK_M)
    _split_combine_kernel[(triton.cdiv(M, block_m),)](
        logits, target, n_valid, part_max, part_sum, row_loss, row_stats[0], row_stats[1], row_stats[2], M, V,
        n_chunks, ignore_index, ACC_DTYPE=ACC, BLOCK_M=block_m, NEED_GRAD=bool(need_grad),
        num_warps=1 if interpreting() else 4)
    dlogits = None
    if need_grad:
        dlogits = out if out is not None else torch.empty_like(logits)
        _split_grad_kernel[(M * n_chunks,)](
            logits, target, row_stats[0], row_stats[1], row_stats[2], dlogits, V, chunk, n_chunks, ignore_index,
            ACC_DTYPE=ACC, OUT_DTYPE=OUT, BLOCK_V=block_v, num_warps=num_warps)
    loss = (row_loss.sum(dtype=torch.float64) / n_valid[0]).to(dtype)
    return loss, dlogits


def softmax_cross_entropy_forward(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100, need_grad: bool = True,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean cross-entropy of ``logits[M, V]`` against class indices ``target[M]``.

    Returns ``(loss, dlogits)``: loss is a 0-d tensor of logits' dtype, dlogits[M, V] the gradient of
    the loss w.r.t. logits, or None with ``need_grad=False`` (the kernels then skip the gradient: one
    read of the logits, no M*V write). ``out``: an [M, V] tensor of logits' dtype and device that receives
    dlogits and is returned as it; it may be ``logits`` itself (the gradient overwrites the logits) or
    memory disjoint from them. Few long rows take the split-row path (:func:`split_chunk`), the rest the
    fused kernel. Raises TypeError for non-tensor / non-float logits or out, a non-integer target or out of
    another dtype, ValueError for wrong shapes, device or layout, out with ``need_grad=False`` or partly
    overlapping logits, or -- where value checks run (the interpreter, or ``KERNELGRAD_SYNC_CHECKS=1``) -- a
    class index outside [0, V) that is not ignore_index; unchecked, such a row makes the loss NaN and its
    dlogits row NaN.
    """
    M, V, ignore_index, target = _checked_forward_args(logits, target, ignore_index, need_grad, out)
    chunk = split_chunk(M, V, sm_count(logits.device), interpreting()) if M else None
    if chunk is not None:
        return _split_rows_forward(logits, target, ignore_index, need_grad, out, chunk)
    return _fused_rows_forward(logits, target, ignore_index, need_grad, out)


def softmax_cross_entropy_backward(dlogits: torch.Tensor, grad_loss, out: torch.Tensor | None = None
                                   ) -> torch.Tensor:
    """Chain rule for the scalar loss: returns ``dlogits * grad_loss`` in dlogits' dtype.

    ``grad_loss`` is a Python/numpy scalar, a 0-d array or a 0-d tensor (read on the device, no
    sync). ``out``: a tensor of dlogits' shape, dtype and device that receives the result and is returned;
    it may be ``dlogits`` itself (scaled in place, and not touched at all when grad_loss is 1). Raises
    TypeError for non-tensor / non-float dlogits or out, or out of another dtype, and ValueError if grad_loss
    is not a scalar or out has another shape or device or partly overlaps dlogits.
    """
    check_float_tensor("dlogits", dlogits, 2)
    shape = tuple(grad_loss.shape) if hasattr(grad_loss, "shape") else ()
    if len(shape) != 0:
        raise ValueError(f"grad_loss must be a scalar or 0-d array, got shape {shape}")
    if out is not None:
        _check_out(out, dlogits, "dlogits")
    if isinstance(grad_loss, torch.Tensor) and grad_loss.device == dlogits.device:
        scale = grad_loss.to(dlogits.dtype).reshape(1)  # stays on the device
    else:
        # a host scalar becomes a fill kernel's argument: torch.as_tensor(x, device="cuda") would be a
        # blocking host-to-device copy
        scale = torch.full((1,), float(grad_loss), dtype=dlogits.dtype, device=dlogits.device)
    numel = dlogits.numel()
    ACC, OUT = tl_dtype(_acc_dtype(dlogits.dtype)), tl_dtype(dlogits.dtype)
    if out is not None and out.data_ptr() == dlogits.data_ptr() and numel:
        programs = min(triton.cdiv(numel, SCALE_BLOCK), SCALE_IN_PLACE_MAX_PROGRAMS)
        _scale_in_place_kernel[(programs,)](out, scale, numel, ACC_DTYPE=ACC, OUT_DTYPE=OUT, BLOCK=SCALE_BLOCK)
        return out
    if out is None:
        out = torch.empty_like(dlogits)
    if numel:
        _scale_kernel[(triton.cdiv(numel, SCALE_BLOCK),)](
            dlogits, scale, out, numel, ACC_DTYPE=ACC, OUT_DTYPE=OUT, BLOCK=SCALE_BLOCK,
        )
    return out
